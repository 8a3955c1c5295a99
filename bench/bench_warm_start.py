"""Warm start vs training from scratch when a month of new data arrives (UCI Online Retail).

A model is trained on the purchases up to the end of month m (``--month-end``). When month m+1 has
come in, either (a) a new model is fitted from scratch on everything up to the end of m+1, or (b)
the month-m model is warm-started on the same data (``aigc_biz.api.train(..., warm_start=...)``:
new items and countries get new slots, ``warm_start_epochs`` epochs by default, early stopping on a
validation slice carved from the training data). Both are scored on the purchases after m+1
(December 2011): customers and items known at the end of m+1, items new to the customer, NDCG@20
over the whole catalogue. EASE is fitted on the same data as the timing reference.

Usage::

    python bench/bench_warm_start.py ../shared/data/online-retail/online_retail.csv.gz

Writes the ``warm-start`` section of bench/RESULTS.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # run from a checkout without installing

from results_table import replace_section, system_line  # noqa: E402

from aigc_biz import api  # noqa: E402
from aigc_biz.data import Interactions  # noqa: E402
from aigc_biz.evaluation.protocol import metrics_from_topk  # noqa: E402

TARGET_NDCG_GAP = 0.01  # warm NDCG at least 99 % of from-scratch
TARGET_TIME_SHARE = 1 / 3
#: the recorded run of this command before a warm start computed one closed form (commit 056efb5):
#: warm NDCG@20, fit s, x EASE fit, epochs, and the from-scratch NDCG@20 and fit s of that run
BEFORE = (0.0877, 64.6, 4.8, 2, 0.0875, 136.2)


def events_frame(data: Interactions) -> pd.DataFrame:
    """The loaded events with ids and the user attributes back on them (one row per source line)."""
    ev = data.events
    frame = pd.DataFrame(
        {
            "user": data.user_ids[ev["user_idx"].to_numpy()],
            "item": data.item_ids[ev["item_idx"].to_numpy()],
            "weight": ev["weight"].to_numpy(),
            "time": ev["time"].to_numpy(),
        }
    )
    for column in data.user_features.columns:
        frame[column] = data.user_features[column].to_numpy()[ev["user_idx"].to_numpy()]
    return frame


def until(frame: pd.DataFrame, end: pd.Timestamp, attrs: list[str]) -> Interactions:
    """Interactions of the events up to ``end``: only the customers and items seen by then."""
    part = frame[frame["time"] <= end]
    return Interactions.from_frame(part, "user", "item", weight_col="weight", time_col="time", user_attr_cols=attrs)


def test_target(frame: pd.DataFrame, train: Interactions, after: pd.Timestamp) -> sp.csr_matrix:
    """Purchases after ``after`` by known customers of known items they had not bought (train's space)."""
    later = frame[frame["time"] > after]
    users, items = train.user_index(later["user"]), train.item_index(later["item"])
    keep = (users >= 0) & (items >= 0)
    target = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (users[keep], items[keep])), shape=train.matrix.shape
    )
    target.data[:] = 1.0
    seen = train.binary()
    target = target - target.multiply(seen)
    target.eliminate_zeros()
    return sp.csr_matrix(target)


def ndcg20(model, data: Interactions, target: sp.csr_matrix) -> tuple[float, int]:
    rows = np.flatnonzero(np.diff(target.indptr) > 0)
    top = model.recommend_topk(data, data.user_ids[rows], k=20)
    to_data = data.item_index(model.item_ids_)
    topk = np.where(top.indices >= 0, to_data[np.clip(top.indices, 0, None)], -1)
    metrics, _ = metrics_from_topk(topk, target[rows], data.matrix, ks=(20,), n_boot=200)
    return metrics["ndcg@20"]["mean"], len(rows)


def _fmt(value) -> str:
    return "none" if value is None else f"{value:.3g}"


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data")
    parser.add_argument("--month-end", default="2011-10-31", help="end of month m (the old model's data)")
    parser.add_argument("--next-end", default="2011-11-30", help="end of month m+1 (the new data)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--param", "-p", action="append", default=[], help="cvae key=value for all three fits")
    parser.add_argument("--warm-param", action="append", default=[], help="extra key=value for the warm fit")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    from aigc_biz.models.registry import parse_params

    params = {"device": args.device, **parse_params(args.param)}
    warm_params = parse_params(args.warm_param)

    full = api.load(args.data)
    attrs = [str(c) for c in full.user_features.columns]
    frame = events_frame(full)
    m_end = pd.Timestamp(args.month_end) + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    next_end = pd.Timestamp(args.next_end) + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    old, new = until(frame, m_end, attrs), until(frame, next_end, attrs)
    target = test_target(frame, new, next_end)
    new_items = int((~np.isin(new.item_ids, old.item_ids)).sum())
    print(
        f"month m: {old.n_users:,} customers x {old.n_items:,} items; m+1: {new.n_users:,} x {new.n_items:,} "
        f"({new_items} new items); test: {int((np.diff(target.indptr) > 0).sum()):,} customers",
        flush=True,
    )

    log = lambda name: lambda d: print(f"  [{name}] epoch {d['epoch']} val {d['val_ndcg']}", flush=True)  # noqa: E731
    ease, ease_s = timed(lambda: api.train(new, "ease"))
    a0, a0_s = timed(lambda: api.train(old, "cvae", params, progress=log("a0")))
    scratch, scratch_s = timed(lambda: api.train(new, "cvae", params, progress=log("scratch")))
    warm, warm_s = timed(
        lambda: api.train(
            new,
            "cvae",
            {**params, **warm_params} if warm_params else None,
            warm_start=a0,
            device=args.device,
            progress=log("warm"),
        )
    )
    rows = []
    for name, model, seconds in (
        ("EASE (reference)", ease, ease_s),
        ("cvae month m (a0)", a0, a0_s),
        ("cvae from scratch (a)", scratch, scratch_s),
        ("cvae warm-started from a0 (b)", warm, warm_s),
    ):
        value, n_users = ndcg20(model, new, target)
        epochs = getattr(model, "n_epochs_", None)
        rows.append((name, value, seconds, epochs))
        print(f"{name}: NDCG@20 {value:.4f} ({n_users} customers), fit {seconds:.1f} s, epochs {epochs}", flush=True)
    scratch_ndcg, warm_ndcg = rows[2][1], rows[3][1]
    gap = 1 - warm_ndcg / scratch_ndcg
    share = warm_s / scratch_s
    met = gap <= TARGET_NDCG_GAP and share <= TARGET_TIME_SHARE
    print(f"warm/scratch: NDCG {warm_ndcg / scratch_ndcg:.3f}, time {share:.2f} -> target {'met' if met else 'missed'}")
    if args.no_write:
        return 0
    command = "python bench/bench_warm_start.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    lines = [
        "## Warm start vs from scratch (one new month, Online Retail)",
        "",
        f"`{command}`",
        "",
        f"System: {system_line()}. Old data to {args.month_end} ({old.n_users:,} customers x {old.n_items:,} items); "
        f"new data to {args.next_end} ({new.n_users:,} x {new.n_items:,}, {new_items} new items). Test: purchases "
        f"after {args.next_end} (December 2011) by known customers of known items new to them, "
        f"{int((np.diff(target.indptr) > 0).sum()):,} customers, NDCG@20 over the full catalogue. "
        f"cvae params: {params}{', warm: ' + str(warm_params) if warm_params else ''}; epochs chosen by early "
        "stopping on a validation slice of the training data.",
        "",
        "| model | NDCG@20 (Dec 2011) | fit s | x EASE fit | epochs |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, value, seconds, epochs in rows:
        lines.append(
            f"| {name} | {value:.4f} | {seconds:.1f} | {seconds / ease_s:.1f} | {'' if epochs is None else epochs} |"
        )
    b_ndcg, b_s, b_x, b_epochs, b_scratch, b_scratch_s = BEFORE
    lines.append(
        f"| before (056efb5, recorded run): warm-started | {b_ndcg:.4f} | {b_s:.1f} | {b_x:.1f} | {b_epochs} |"
    )
    lines += [
        "",
        f"Warm vs scratch: NDCG ratio {warm_ndcg / scratch_ndcg:.3f} (target >= {1 - TARGET_NDCG_GAP:.2f}), "
        f"time ratio {share:.2f} (target <= {TARGET_TIME_SHARE:.2f}): **target {'met' if met else 'missed'}**. "
        f"Before: NDCG ratio {b_ndcg / b_scratch:.3f}, time ratio {b_s / b_scratch_s:.2f} (same command).",
        "",
        f"Warm fit: item-item softmax scale {_fmt(getattr(warm, 'linear_scale_', None))} and fusion weight "
        f"{_fmt(getattr(warm, 'linear_mix_', None))} (month-m model: {_fmt(getattr(a0, 'linear_scale_', None))}, "
        f"{_fmt(getattr(a0, 'linear_mix_', None))}; from scratch: {_fmt(getattr(scratch, 'linear_scale_', None))}, "
        f"{_fmt(getattr(scratch, 'linear_mix_', None))}).",
    ]
    replace_section(BENCH / "RESULTS.md", "warm-start", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
