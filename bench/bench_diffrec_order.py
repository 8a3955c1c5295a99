"""The DiffRec ML-1M split *with* the train list's time order: recency settings chosen on a carved validation.

``train_list.npy`` lists each user's training items chronologically (see ../shared/data/README.md), so a
model may use that order as a business table's timestamps would give it. This script selects the
recency half-life (in events) and EASE's l2 on a validation carved from the train list only (each
user's last ``--carve`` share of training events is the target, the rest the input and the fit), then
refits on the whole train list with the chosen setting and scores the test list exactly as
``bench_diffrec.py`` does (train items as input, train + valid masked, every item ranked).

DiffRec's own ``valid_list`` is not used for the choice: it does not follow the train list in time
(recency weighting lowers NDCG on it while raising it on the test list; printed with ``--show-valid``),
so it cannot select a time-aware setting. The test list is never looked at before the choice is made.

Usage::

    python bench/bench_diffrec_order.py ../shared/data/diffrec-ml-1m/ml-1m_clean
    python bench/bench_diffrec_order.py DATA --sasrec-epochs 20     # also sasrec (uses order)
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # run from a checkout without installing

from bench_diffrec import load_split, matmul_gflops, peak_rss_mib  # noqa: E402

KS = (10, 20)


def carve(data, share: float):
    """(fit data, held-out target) from each user's last ``share`` of training events, in file order."""
    from aigc_biz.data.interactions import Interactions

    events = data.events.reset_index(drop=True)
    position = events.groupby("user_idx").cumcount().to_numpy()
    length = events.groupby("user_idx")["user_idx"].transform("size").to_numpy()
    held = position >= np.ceil(length * (1.0 - share))
    shape = data.matrix.shape

    def csr(part: pd.DataFrame) -> sp.csr_matrix:
        ones = np.ones(len(part), dtype=np.float32)
        return sp.csr_matrix((ones, (part["user_idx"], part["item_idx"])), shape=shape)

    kept = events[~held].reset_index(drop=True)
    fit = Interactions(matrix=csr(kept), user_ids=data.user_ids, item_ids=data.item_ids, events=kept, source="carved")
    return fit, csr(events[held])


def score(name: str, params: dict, train_data, target, exclude, n_boot: int) -> dict:
    from aigc_biz.data.splits import Split
    from aigc_biz.evaluation.protocol import score_split
    from aigc_biz.models.registry import create_model

    model = create_model(name, **params)
    split = Split(
        train=train_data,
        test_input=train_data.matrix,
        test_target=target,
        name="carved",
        test_events=train_data.events,
    )
    scored = score_split(model, split, KS, exclude=exclude, n_boot=n_boot, seed=0)
    return {
        "metrics": {k: scored["metrics"][k]["mean"] for k in ("recall@10", "recall@20", "ndcg@10", "ndcg@20")},
        "interval": (scored["metrics"]["ndcg@20"].get("low"), scored["metrics"]["ndcg@20"].get("high")),
        "fit_seconds": scored["fit_seconds"],
        "epochs": getattr(model, "n_epochs_", None),
        "best_epoch": getattr(model, "best_epoch_", None),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="DiffRec split folder, e.g. .../diffrec-ml-1m/ml-1m_clean")
    parser.add_argument("--carve", type=float, default=0.2, help="share of each user's last train events held out")
    parser.add_argument("--half-lives", default="2,3,5,8,20", help="recency half-lives (events) to choose from")
    parser.add_argument("--l2", default="500,1000", help="EASE l2 values to choose from")
    parser.add_argument("--sasrec-epochs", type=int, default=0, help="also fit sasrec for up to this many epochs")
    parser.add_argument("--show-valid", action="store_true", help="also print NDCG@20 on DiffRec's valid_list")
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--json", type=Path, help="write the rows here as JSON")
    args = parser.parse_args(argv)

    command = "python bench/bench_diffrec_order.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    gflops = matmul_gflops(2048)
    print(f"$ {command}\nfp32 matmul 2048²: {gflops:.1f} GFLOP/s", flush=True)
    data, train, valid, test = load_split(args.folder)
    fit_data, held = carve(data, args.carve)
    half_lives = [float(h) for h in args.half_lives.split(",")]
    grids = {
        "ease": [{"l2": float(l2), "recency_half_life": h} for l2 in args.l2.split(",") for h in half_lives],
        "itemknn": [{"recency_half_life": h} for h in half_lives],
    }
    rows = []
    for name, grid in grids.items():
        base = {"l2": 500.0} if name == "ease" else {}
        blind = score(name, base, data, test, train + valid, args.n_boot)
        rows.append({"model": f"{name} (order-blind)", "params": base, **blind})
        print(f"{name} order-blind: test NDCG@20 {blind['metrics']['ndcg@20']:.4f}", flush=True)
        chosen, best = None, -1.0
        for params in grid:
            valid_ndcg = score(name, params, fit_data, held, fit_data.matrix, 20)["metrics"]["ndcg@20"]
            line = f"  {name} {params}: carved-validation NDCG@20 {valid_ndcg:.4f}"
            if args.show_valid:
                diffrec_valid = score(name, params, data, valid, train, 20)["metrics"]["ndcg@20"]
                line += f"  (DiffRec valid_list {diffrec_valid:.4f})"
            print(line, flush=True)
            if valid_ndcg > best:
                chosen, best = params, valid_ndcg
        row = score(name, chosen, data, test, train + valid, args.n_boot)
        rows.append({"model": f"{name}+recency (uses order)", "params": chosen, "carved_valid": best, **row})
        print(f"{name} chosen {chosen}: test NDCG@20 {row['metrics']['ndcg@20']:.4f}", flush=True)
    if args.sasrec_epochs:
        params = {"epochs": args.sasrec_epochs}
        started = time.perf_counter()
        row = score("sasrec", params, data, test, train + valid, args.n_boot)
        row["wall_seconds"] = time.perf_counter() - started
        rows.append({"model": "sasrec (uses order)", "params": params, **row})
        print(f"sasrec: test NDCG@20 {row['metrics']['ndcg@20']:.4f}, best epoch {row['best_epoch']}", flush=True)
    ease_fit = next(r["fit_seconds"] for r in rows if r["model"] == "ease (order-blind)")
    print("\n| model | setting (chosen on carved validation) | R@10 | R@20 | N@10 | N@20 [95% CI] | fit s (× EASE) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        m, (low, high) = row["metrics"], row["interval"]
        setting = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in row["params"].items())
        print(
            f"| {row['model']} | {setting} | {m['recall@10']:.4f} | {m['recall@20']:.4f} | {m['ndcg@10']:.4f} "
            f"| {m['ndcg@20']:.4f} [{low:.4f}, {high:.4f}] | {row['fit_seconds']:.1f} ({row['fit_seconds'] / ease_fit:.1f}×) |"
        )
    print(f"\npeak RSS {peak_rss_mib():.0f} MiB; matmul {gflops:.1f} GFLOP/s")
    if args.json:
        args.json.write_text(json.dumps({"command": command, "gflops": gflops, "rows": rows}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
