"""The validation curve of a torch model on the DiffRec split's own ``valid_list``, to choose epochs and seed.

The CLI's fits stop early on a slice carved from the training data (a random 20 % of the items of 10 % of
the customers), because a user's table has nothing else. On the DiffRec ML-1M split that slice keeps
rewarding longer training while the chronologically later valid and test lists do not
(bench/RESULTS.md), and the papers choose their epoch on ``valid_list``. This script fits the model
through the library on all of ``train_list`` and, after every epoch, scores ``--users`` customers of
``valid_list`` (their train items masked): the same NDCG@20 the training loop watches, on the split's
validation list instead of a carved slice. ``test_list`` is never read.

The epoch (and, over several ``--param seed=S`` curves, the seed) with the best valid NDCG is then a
hyper-parameter of the CLI run scored on the test list, which trains on all of ``train_list`` without a
carve for exactly that many epochs::

    python bench/bench_valid_curve.py ../shared/data/diffrec-ml-1m/ml-1m_clean --model diffrec --epochs 60
    python bench/bench_diffusion.py ../shared/data/diffrec-ml-1m/ml-1m_clean --models diffrec \\
        --param diffrec.epochs=E --param diffrec.val_fraction=0

Prints one line per epoch and, with ``--out``, rewrites the curve as JSON after every epoch (so a run
stopped by hand keeps what it measured; ``finished`` says whether it ran to the end).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from bench_diffrec import load_split  # noqa: E402

from aigc_biz.errors import InputError  # noqa: E402
from aigc_biz.models.registry import parse_params  # noqa: E402


def valid_list_model(name: str, valid: sp.csr_matrix, users: np.ndarray):
    """The registered model ``name`` whose early-stopping validation is ``valid_list`` for ``users``
    (history: all of their training items) instead of a carve of the training data."""
    from aigc_biz.models.registry import get_model_class
    from aigc_biz.models.training import ValidationSlice

    base = get_model_class(name)
    target = sp.csr_matrix(valid[users], dtype=np.float32)

    class ValidListModel(base):
        def validation_slice(self, data, matrix):
            return ValidationSlice(train=sp.csr_matrix(matrix, dtype=np.float32), users=users, target=target)

    ValidListModel.__name__ = ValidListModel.__qualname__ = f"ValidList{base.__name__}"
    return ValidListModel


def reference_ndcg(name: str, data, train: sp.csr_matrix, valid: sp.csr_matrix, users: np.ndarray) -> float:
    """NDCG@20 on ``valid_list`` of the same ``users`` for the registered model ``name`` with its defaults
    (EASE by default): the same-sample yardstick, since a curve's level moves with the sample of customers."""
    from aigc_biz.metrics_core import ndcg_at_k
    from aigc_biz.models.registry import create_model

    history = train[users]
    top, _ = create_model(name).fit(data).recommend_indices(history, k=20, exclude=history)
    return float(np.nanmean(ndcg_at_k(top, sp.csr_matrix(valid[users]), 20)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the DiffRec folder (train/valid/test_list.npy)")
    parser.add_argument("--model", required=True)
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--epochs", type=int, required=True, help="epochs to run (no early stop before)")
    parser.add_argument("--users", type=int, default=1000, help="valid_list customers scored each epoch")
    parser.add_argument("--seed", type=int, default=0, help="seed of the customer sample")
    parser.add_argument("--reference", default="ease", help="model scored on the same customers (default ease)")
    parser.add_argument("--out", type=Path, help="write the curve here as JSON")
    args = parser.parse_args(argv)
    try:  # before any data is read, so a typo costs nothing
        params = {**parse_params(args.param), "epochs": args.epochs, "patience": args.epochs}
    except InputError as error:
        sys.exit(f"error: {error}")

    data, train, valid, _test = load_split(args.data)  # the test list is never looked at here
    has_valid = np.flatnonzero(np.diff(valid.indptr) > 0)
    rng = np.random.default_rng(args.seed)
    users = np.sort(rng.choice(has_valid, size=min(args.users, len(has_valid)), replace=False))
    reference = reference_ndcg(args.reference, data, train, valid, users)
    print(f"{args.reference} (defaults) valid_list NDCG@20 {reference:.4f} on the same {len(users)} customers")
    model = valid_list_model(args.model, valid, users)(**params)
    started = time.perf_counter()
    curve: list[dict] = []
    summary = {
        "model": args.model,
        "params": params,
        "valid_users": len(users),
        "reference": {"model": args.reference, "valid_ndcg20": reference},
    }

    def write(done: bool) -> None:
        """The curve so far (a run stopped by hand keeps what it measured), then with its best epoch."""
        best = max(curve, key=lambda r: r["valid_ndcg20"]) if curve else None
        summary.update(
            best_epoch=best and best["epoch"],
            best_valid_ndcg20=best and best["valid_ndcg20"],
            seconds=time.perf_counter() - started,
            finished=done,
            curve=curve,
        )
        if args.out:
            tmp = args.out.with_name(args.out.name + ".tmp")
            tmp.write_text(json.dumps(summary, indent=1), encoding="utf-8")
            tmp.replace(args.out)

    def progress(record: dict) -> None:
        print(
            f"epoch {record['epoch']:4d}  loss {record['loss']:.4f}  valid_list NDCG@20 {record['val_ndcg']:.4f}"
            f"  {record['seconds']:.1f} s",
            flush=True,
        )
        curve.append({"epoch": record["epoch"], "valid_ndcg20": record["val_ndcg"]})
        write(done=False)

    model.fit(data, progress=progress)
    write(done=True)
    print(
        f"best epoch {summary['best_epoch']} (valid_list NDCG@20 {summary['best_valid_ndcg20']:.4f} "
        f"on {len(users)} customers)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
