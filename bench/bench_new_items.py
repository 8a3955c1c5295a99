"""New products (item cold start): how often the content path recommends them and how often they hit.

The newest ``--new-fraction`` of products (by first sale) are dropped from the training rows; the
test is the last ``--test-days`` days (the customer/product pairs first bought then). Every model is
fitted on the rest, then scored from each customer's pre-cutoff history twice, in the same run:
without the content path (new products cannot be recommended) and with it (the held-out products
given with their title/price; the shrink picked on a validation slice of training items only).

Usage::

    python bench/bench_new_items.py ../shared/data/online-retail/online_retail.csv.gz
    python bench/bench_new_items.py orders.csv --models ease,cvae --cvae-epochs 15 --no-write

Writes the ``new-items`` section of bench/RESULTS.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # run from a checkout without installing

from results_table import replace_section, system_line  # noqa: E402

K = 20


class ShrinkLog(logging.Handler):
    """Keeps the content path's 'shrink' log line (the value chosen on validation)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.shrink = None

    def emit(self, record):
        if "content path" in record.getMessage():
            self.shrink = record.args[1]


def held_out_setup(data, new_fraction: float, test_days: int):
    """(train Interactions without new products, new-products frame, test users, target pairs frame)."""
    from aigc_biz.data.interactions import Interactions

    ev = data.events
    first = ev.groupby("item_idx")["time"].min().sort_values(kind="stable")
    n_new = int(round(new_fraction * len(first)))
    new_idx = first.index.to_numpy()[-n_new:]
    cutoff = ev["time"].max() - pd.Timedelta(days=test_days)
    frame = pd.DataFrame(
        {
            "user": data.user_ids[ev["user_idx"].to_numpy()],
            "item": data.item_ids[ev["item_idx"].to_numpy()],
            "weight": ev["weight"].to_numpy(),
            "time": ev["time"].to_numpy(),
        }
    )
    attrs = data.item_features.reset_index(drop=True)
    for column in attrs.columns:
        frame[column] = attrs[column].to_numpy()[ev["item_idx"].to_numpy()]
    before = (frame["time"] < cutoff).to_numpy()
    is_new = np.isin(ev["item_idx"].to_numpy(), new_idx)
    train = Interactions.from_frame(
        frame[before & ~is_new],
        "user",
        "item",
        weight_col="weight",
        time_col="time",
        item_attr_cols={c: c for c in attrs.columns},
    )
    trained_pairs = set(zip(frame.loc[before, "user"], frame.loc[before, "item"]))
    after = frame.loc[~before, ["user", "item"]].drop_duplicates()
    after = after[[pair not in trained_pairs for pair in zip(after["user"], after["item"])]]
    after = after[train.user_index(after["user"]) >= 0]
    new_items = attrs.iloc[new_idx].copy()
    new_items.insert(0, "item_id", data.item_ids[new_idx])
    return train, new_items.reset_index(drop=True), cutoff, after


def evaluate_lists(top, target_pairs, users, n_new_start):
    from aigc_biz.evaluation.metrics import hits_matrix, ndcg_at_k, recall_at_k

    position = {t: i for i, t in enumerate(top.item_ids)}
    row_of = {u: i for i, u in enumerate(users)}
    cols = np.array([position.get(t, -1) for t in target_pairs["item"]])
    rows = np.array([row_of[u] for u in target_pairs["user"]])
    # targets outside the scored catalogue still count in recall's denominator (a column past the end)
    cols = np.where(cols < 0, len(top.item_ids), cols)
    target = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(users), len(top.item_ids) + 1))
    target.sum_duplicates()
    target.data[:] = 1.0
    idx = top.indices[:, :K]
    hits = hits_matrix(idx, target, K)
    on_new = idx >= n_new_start
    return {
        "ndcg": float(np.nanmean(ndcg_at_k(idx, target, K))),
        "recall": float(np.nanmean(recall_at_k(idx, target, K))),
        "lists_with_new": float(on_new.any(axis=1).mean()),
        "slots_new": float(on_new.sum() / max((idx >= 0).sum(), 1)),
        "new_hit_rate": float(hits[on_new].sum() / on_new.sum()) if on_new.any() else float("nan"),
        "hit_rate_known": float(hits[(idx >= 0) & ~on_new].mean()),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--models", default="ease,cvae")
    parser.add_argument("--new-fraction", type=float, default=0.1)
    parser.add_argument("--test-days", type=int, default=30)
    parser.add_argument("--cvae-epochs", type=int, default=15)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    import sklearn.linear_model  # noqa: F401

    import aigc_biz.api as ab
    import aigc_biz.evaluation.metrics  # noqa: F401  (imported before any timing: the content path uses it)
    from aigc_biz.ranking import recommend_with_rules

    shrink_log = ShrinkLog()
    logging.getLogger("aigc_biz.ranking.new_items").addHandler(shrink_log)
    logging.getLogger("aigc_biz.ranking.new_items").setLevel(logging.INFO)
    data = ab.load(args.data)
    train, new_items, cutoff, target_pairs = held_out_setup(data, args.new_fraction, args.test_days)
    users = np.asarray(sorted(set(target_pairs["user"])), dtype=object)
    new_ids = set(new_items["item_id"])
    n_target_new = int(target_pairs["item"].isin(new_ids).sum())
    print(
        f"train {train.n_users:,} customers x {train.n_items:,} items ({train.nnz:,} pairs, cutoff {cutoff}); "
        f"{len(new_items):,} new products; {len(users):,} test customers, {len(target_pairs):,} target pairs, "
        f"{n_target_new:,} on new products",
        flush=True,
    )
    params = {"ease": {}, "cvae": {"epochs": args.cvae_epochs, "device": "cpu", "seed": 0}}
    rows = []
    ease_fit = None
    for name in args.models.split(","):
        started = time.perf_counter()
        model = ab.train(train, name, params.get(name, {}), seed=0)
        fit_s = time.perf_counter() - started
        if name == "ease":
            ease_fit = fit_s
        started = time.perf_counter()
        plain = recommend_with_rules(model, train, users, k=K)
        plain_s = time.perf_counter() - started
        started = time.perf_counter()
        content = recommend_with_rules(model, train, users, k=K, new_items=new_items)
        content_s = time.perf_counter() - started
        for label, top, seconds in (("without", plain, plain_s), ("content path", content, content_s)):
            row = {
                "model": name,
                "run": label,
                **evaluate_lists(top, target_pairs, users, model.n_items),
                "fit_s": fit_s,
                "recommend_s": seconds,
                "shrink": shrink_log.shrink if label == "content path" else None,
            }
            rows.append(row)
            print(row, flush=True)
    table = pd.DataFrame(rows)
    ref = ease_fit or float(table["fit_s"].iloc[0])
    lines = [
        "| model | run | NDCG@20 | recall@20 | lists with a new product | slots to new products "
        "| hit rate of new-product slots | hit rate of known-product slots | shrink | recommend s (x EASE fit) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        hit_new = "–" if np.isnan(r["new_hit_rate"]) else f"{r['new_hit_rate']:.4f}"
        lines.append(
            f"| {r['model']} | {r['run']} | {r['ndcg']:.4f} | {r['recall']:.4f} | {r['lists_with_new']:.1%} "
            f"| {r['slots_new']:.2%} | {hit_new} | {r['hit_rate_known']:.4f} "
            f"| {'–' if r['shrink'] is None else r['shrink']} "
            f"| {r['recommend_s']:.1f} ({r['recommend_s'] / ref:.2f}x) |"
        )
    command = "python bench/" + Path(__file__).name + " " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    fits = ", ".join(f"{r['model']} {r['fit_s']:.1f} s" for r in rows if r["run"] == "without")
    body = "\n".join(
        [
            f"`{command}` — {datetime.now(timezone.utc):%Y-%m-%d}, {system_line()}",
            "",
            f"Train: {train.n_users:,} customers x {train.n_items:,} products ({train.nnz:,} pairs) before {cutoff:%Y-%m-%d}, "
            f"without the newest {args.new_fraction:.0%} of products by first sale ({len(new_items):,}, their rows dropped). "
            f"Test: {len(users):,} customers' {len(target_pairs):,} pairs first bought in the last {args.test_days} days, "
            f"{n_target_new:,} ({n_target_new / len(target_pairs):.1%}) of them on the new products. "
            f"cvae: {args.cvae_epochs} epochs, default size. Fit: {fits}. Shrink chosen on the newest tenth of *training* "
            f"products (validation slice), never on the test.",
            "",
            *lines,
        ]
    )
    print(body)
    if not args.no_write:
        replace_section(
            BENCH / "RESULTS.md", "new-items", "## New products, content path (`bench_new_items.py`)\n\n" + body
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
