"""SDV peers for ``bench_synth.py``: fit + sample CTGAN (and GaussianCopula) on the same first 80 %.

SDV is under the Business Source License: it is measured as a peer, never a dependency. Run this script
with a separate venv that has sdv (never the project's), then score its output with the project's venv:

    python3 -m venv SDVENV && SDVENV/bin/pip install torch==2.13.0 && SDVENV/bin/pip install sdv "torch==2.13.0"
    SDVENV/bin/python bench/bench_synth_sdv.py sample_data/retail_orders.csv --out OUT --epochs 300
    PYTHONPATH=$PWD python bench/bench_synth.py sample_data/retail_orders.csv --score OUT/ctgan.csv

The split is the same as bench_synth.py's (rows before the 80 % quantile of the timestamps). SDV sees
one flat table (customer and product ids as categories, attributes, quantity, price, time), as its
single-table synthesizers need; as many rows are sampled as the first part has.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

# the sample shop's columns; Online Retail's are mapped onto the same roles
ROLES = {
    "retail_orders": {
        "id": ["customer_id", "product_id"],
        "categorical": ["segment", "region", "age_band", "category"],
        "numerical": ["quantity", "price"],
        "time": "order_time",
        "time_format": "%Y-%m-%d %H:%M",
    },
}


def first_part(path: str, time_col: str) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    times = pd.to_datetime(frame[time_col]).to_numpy("datetime64[ns]")
    cut = np.quantile(times.astype("int64"), 0.8).astype("datetime64[ns]")
    return frame[times < cut].reset_index(drop=True)


def _time_ctgan_transformer() -> list[float]:
    """Seconds ctgan spends in its DataTransformer (one-hot, per-column Gaussian mixtures) before the
    epochs: wraps the class ctgan uses, so the rest of the fit is the epochs alone."""
    import ctgan.synthesizers.ctgan as module

    spent = [0.0]
    base = module.DataTransformer

    def timed(method):
        def wrapper(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - started

        return wrapper

    class Timed(base):
        fit = timed(base.fit)
        transform = timed(base.transform)

    module.DataTransformer = Timed
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--models", default="gaussiancopula,ctgan")
    args = parser.parse_args()
    import torch
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer

    torch.set_num_threads(2)
    transformer_s = _time_ctgan_transformer()
    roles = ROLES[Path(args.data).stem]
    frame = first_part(args.data, roles["time"])
    table = frame[roles["id"] + roles["categorical"] + roles["numerical"] + [roles["time"]]].copy()
    for column in roles["numerical"]:
        table[column] = pd.to_numeric(table[column])
    table[roles["time"]] = pd.to_datetime(table[roles["time"]])
    metadata = Metadata.load_from_dict(
        {
            "tables": {
                "orders": {
                    "columns": {
                        **{c: {"sdtype": "categorical"} for c in roles["id"] + roles["categorical"]},
                        **{c: {"sdtype": "numerical"} for c in roles["numerical"]},
                        roles["time"]: {"sdtype": "datetime", "datetime_format": roles["time_format"]},
                    }
                }
            }
        }
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.models.split(","):
        started = time.perf_counter()
        if name == "ctgan":
            model = CTGANSynthesizer(metadata, epochs=args.epochs, verbose=False, enforce_rounding=True)
        else:
            model = GaussianCopulaSynthesizer(metadata)
        # fit = preprocess (SDV's transformers: one-hot ids, mode-specific normalisation) + training
        processed = model.preprocess({"orders": table})
        preprocessed = time.perf_counter() - started
        model.fit_processed_data(processed)
        fitted = time.perf_counter() - started
        sample = model.sample(len(table))
        sample = sample["orders"] if isinstance(sample, dict) else sample
        seconds = time.perf_counter() - started
        sample[roles["time"]] = pd.to_datetime(sample[roles["time"]]).dt.strftime(roles["time_format"])
        sample.to_csv(out / f"{name}.csv", index=False)
        record = {
            "model": name,
            "rows": len(table),
            "preprocess_s": round(preprocessed, 1),
            "train_s": round(fitted - preprocessed, 1),
            "fit_s": round(fitted, 1),
            "sample_s": round(seconds - fitted, 1),
            "fit_sample_s": round(seconds, 1),
        }
        if name == "ctgan":
            # train = ctgan's own DataTransformer (fit + transform, timed) + the epochs
            record["transformer_s"] = round(transformer_s[0], 1)
            record["epochs"] = args.epochs
            record["per_epoch_s"] = round((fitted - preprocessed - transformer_s[0]) / max(args.epochs, 1), 1)
        print(json.dumps(record), flush=True)
        (out / f"{name}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main()
