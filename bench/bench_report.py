"""Build time and file size of the analyst report on synthetic data of a given size.

Usage::

    python bench/bench_report.py                      # 2,000 and 100,000 customers
    python bench/bench_report.py --customers 20000 --locale zh

Prints one line per size: customers, items, interactions, recommendation rows, build seconds,
HTML bytes, JSON bytes. The recommendation and copy tables cover every customer (as the CLI
passes them); the per-customer section stays sampled.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from aigc_biz.data import Interactions
from aigc_biz.reporting import build_report

SEGMENTS = ["new", "regular", "vip", "lapsed"]
REGIONS = ["north", "south", "east", "west"]
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55+"]
CATEGORIES = [
    "服饰 apparel",
    "beauty",
    "electronics",
    "home",
    "grocery",
    "sports",
    "toys",
    "books",
    "garden",
    "pets",
    "auto",
    "health",
]


def synthetic_run(n_customers: int, n_items: int, events_per_customer: float = 12.0, k: int = 10, seed: int = 0):
    """Interactions with power-law activity and popularity, plus recs, a leaderboard and copy for everyone."""
    rng = np.random.default_rng(seed)
    activity = np.maximum(1, rng.zipf(1.8, n_customers).clip(max=400) * events_per_customer / 4).astype(int)
    user_idx = np.repeat(np.arange(n_customers), activity)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    item_idx = rng.choice(n_items, size=len(user_idx), p=popularity / popularity.sum())
    times = np.datetime64("2025-01-01") + rng.integers(0, 365 * 24 * 3600, len(user_idx)).astype("timedelta64[s]")
    user_ids = np.array([f"C{u:07d}" for u in range(n_customers)], dtype=object)
    item_ids = np.array([f"SKU{i:06d}" for i in range(n_items)], dtype=object)
    item_category = rng.integers(0, len(CATEGORIES), n_items)
    frame = pd.DataFrame(
        {
            "customer": user_ids[user_idx],
            "sku": item_ids[item_idx],
            "ts": times,
            "segment": np.array(SEGMENTS, dtype=object)[user_idx % len(SEGMENTS)],
            "region": np.array(REGIONS, dtype=object)[(user_idx // 7) % len(REGIONS)],
            "age_band": np.array(AGE_BANDS, dtype=object)[(user_idx // 3) % len(AGE_BANDS)],
            "name": np.array([f"Product {i} 商品" for i in range(n_items)], dtype=object)[item_idx],
            "cat": np.array(CATEGORIES, dtype=object)[item_category][item_idx],
            "price": np.round(5 + 95 * rng.random(n_items), 2)[item_idx],
        }
    )
    data = Interactions.from_frame(
        frame,
        "customer",
        "sku",
        time_col="ts",
        user_attr_cols=["segment", "region", "age_band"],
        item_attr_cols={"name": "title", "cat": "category", "price": "price"},
        source=f"synthetic-{n_customers}",
    )
    # recommendations lean to popular items, as most models do
    rec_items = rng.choice(n_items, size=(data.n_users, k), p=popularity**1.3 / (popularity**1.3).sum())
    recs = pd.DataFrame(
        {
            "user_id": np.repeat(data.user_ids, k),
            "rank": np.tile(np.arange(1, k + 1), data.n_users),
            "item_id": data.item_ids[rec_items.ravel()],
            "score": np.tile(np.linspace(1, 0.1, k), data.n_users),
        }
    )
    first_item = data.item_ids[rec_items[:, 0]]
    copy = pd.DataFrame(
        {
            "user_id": data.user_ids,
            "channel": "sms",
            "locale": "zh",
            "variant": "A",
            "subject": "",
            "body": ["您好，为您推荐 " + str(i) + "，回T退订" for i in first_item],
            "item_ids": [[str(i)] for i in first_item],
            "chars": 20,
            "sms_parts": 1,
            "warnings": "",
        }
    )
    models = []
    for name, base in (("pop", 0.05), ("itemknn", 0.09), ("ease", 0.11), ("cvae", 0.12)):
        metrics = {
            f"{m}@{kk}": {"mean": base * f, "low": base * f * 0.95, "high": base * f * 1.05}
            for m, f0 in (("ndcg", 1.0), ("recall", 1.4))
            for kk, f in ((10, f0), (20, f0 * 1.2), (50, f0 * 1.5))
        }
        metrics["coverage"] = {"mean": base * 3, "low": base * 2.9, "high": base * 3.1}
        models.append(
            {
                "model": name,
                "params": {"k": k},
                "metrics": metrics,
                "fit_seconds": base * 100,
                "score_seconds": base * 10,
            }
        )
    leaderboard = {
        "split": "temporal 80/20",
        "ks": [10, 20, 50],
        "models": models,
        "winner": "cvae",
        "by_segment": {
            m["model"]: {s: m["metrics"]["ndcg@10"]["mean"] * (1 + 0.1 * j) for j, s in enumerate(SEGMENTS)}
            for m in models
        },
        "seed": seed,
    }
    return data, recs, leaderboard, copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="*", default=[2_000, 100_000])
    parser.add_argument("--locale", default="en")
    args = parser.parse_args()
    print(
        f"{'customers':>10} {'items':>7} {'interactions':>12} {'rec rows':>9} {'build s':>8} "
        f"{'html bytes':>11} {'json bytes':>10}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for n in args.customers:
            data, recs, board, copy = synthetic_run(n, n_items=max(200, n // 20))
            started = time.perf_counter()
            result = build_report(
                data, Path(folder) / f"report_{n}.html", recs=recs, leaderboard=board, copy=copy, locale=args.locale
            )
            seconds = time.perf_counter() - started
            print(
                f"{data.n_users:>10,} {data.n_items:>7,} {data.nnz:>12,} {len(recs):>9,} {seconds:>8.2f} "
                f"{result.bytes:>11,} {result.json_path.stat().st_size:>10,}"
            )


if __name__ == "__main__":
    main()
