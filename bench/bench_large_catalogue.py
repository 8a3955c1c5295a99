"""Large catalogue: itemknn and cvae (sampled softmax) on 100,000 items, fitted, scored in blocks, compared.

A retailer with 100,000 products: this script builds a synthetic long-tail table with taste structure
(each customer belongs to one of ``--groups`` groups; 70% of their purchases come from their group's
items, 30% from the whole catalogue, both Zipf(0.8)-like), holds out one random purchase of
``--test-users`` customers, fits ``itemknn`` and ``cvae`` (sampled softmax with logQ correction, no
dense item-item path) on the rest, and scores the held-out customers through ``recommend_topk`` (score
blocks bounded by ``SCORE_BLOCK_CELLS``). Reported: fit seconds, scoring customers/s, resident memory
after each step and the process peak, the largest array each model holds (against the n_items^2 a dense
item-item model would need), and HR@20 / NDCG@20 of the held-out purchase against popularity.
Timings come with a matmul rate measured in the same run and the load average.

Usage::

    python bench/bench_large_catalogue.py --users 200000 --items 100000
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # run from a checkout without installing

from bench_scoring import current_rss_mib  # noqa: E402
from results_table import replace_section, system_line  # noqa: E402

CVAE_PARAMS = {"hidden": 200, "latent": 64, "epochs": 3, "val_fraction": 0.0, "linear_path": False, "device": "cpu"}
K = 20


def long_tail_table(n_users: int, n_items: int, mean_items: float, groups: int, seed: int) -> pd.DataFrame:
    """``user, item`` purchases: a group's own items (70%) or any item (30%), Zipf(0.8) within each."""
    rng = np.random.default_rng(seed)
    item_group = rng.integers(0, groups, n_items)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity /= popularity.sum()
    user_group = rng.integers(0, groups, n_users)
    counts = rng.poisson(mean_items - 1, size=n_users) + 1
    rows = np.repeat(np.arange(n_users), counts)
    cols = rng.choice(n_items, size=len(rows), p=popularity)
    own = rng.random(len(rows)) < 0.7
    for g in range(groups):  # the group's items, in the same long-tailed order
        members = np.flatnonzero(item_group == g)
        p = popularity[members] / popularity[members].sum()
        pick = own & (user_group[rows] == g)
        cols[pick] = rng.choice(members, size=int(pick.sum()), p=p)
    frame = pd.DataFrame({"user": np.char.add("c", rows.astype(str)), "item": np.char.add("p", cols.astype(str))})
    return frame.drop_duplicates()


def hold_out(frame: pd.DataFrame, n_test: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One random purchase of ``n_test`` customers with 3+ items is held out (the rest is training data)."""
    rng = np.random.default_rng(seed + 1)
    sizes = frame.groupby("user").size()
    users = rng.choice(sizes.index[sizes >= 3].to_numpy(), size=n_test, replace=False)
    candidates = frame[frame["user"].isin(users)].sample(frac=1.0, random_state=seed)
    test = candidates.drop_duplicates("user")
    return frame.drop(index=test.index), test


def hit_ndcg(top_items: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: hit@K and NDCG@K of its one held-out item."""
    hit = top_items == truth[:, None]
    rank = np.argmax(hit, axis=1)
    found = hit.any(axis=1)
    return found.astype(np.float64), np.where(found, 1.0 / np.log2(rank + 2), 0.0)


def paired_interval(a: np.ndarray, b: np.ndarray, seed: int, n_boot: int = 2000) -> tuple[float, float, float]:
    """Mean of ``a - b`` and its 95% paired bootstrap interval (customers resampled)."""
    diff = a - b
    rng = np.random.default_rng(seed)
    means = np.array([diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(n_boot)])
    return float(diff.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def matmul_gflops() -> float:
    """Float32 matmul rate of this machine now (a 2048^2 product, best of 3): the timings' reference."""
    import torch

    a = torch.randn(2048, 2048)
    best = np.inf
    for _ in range(3):
        started = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - started)
    return 2 * 2048**3 / best / 1e9


def largest_array_cells(model) -> int:
    return max(int(np.asarray(v).size) for v in model._state().values())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--mean-items", type=float, default=8.0)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--test-users", type=int, default=10_000)
    parser.add_argument("--cvae-epochs", type=int, default=CVAE_PARAMS["epochs"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md")
    args = parser.parse_args(argv)

    import torch

    from aigc_biz.data.interactions import Interactions
    from aigc_biz.models.large_catalogue import SCORE_BLOCK_CELLS, rows_per_block
    from aigc_biz.models.registry import create_model

    gflops = matmul_gflops()
    frame = long_tail_table(args.users, args.items, args.mean_items, args.groups, args.seed)
    train_frame, test = hold_out(frame, args.test_users, args.seed)
    train = Interactions.from_frame(train_frame, "user", "item")
    print(
        f"data: {train.n_users:,} customers x {train.n_items:,} items, {train.nnz:,} pairs; rss {current_rss_mib():,.0f} MiB"
    )
    users = test["user"].to_numpy(dtype=object)
    block = rows_per_block(1024, train.n_items, SCORE_BLOCK_CELLS)
    rows, ndcgs, fits, rates = [], {}, {}, {}
    params = {"pop": {}, "itemknn": {"k_neighbours": 100}, "cvae": {**CVAE_PARAMS, "epochs": args.cvae_epochs}}
    for name, kw in params.items():
        torch.manual_seed(args.seed)
        model = create_model(name, **kw)
        started = time.perf_counter()
        model.fit(train, progress=lambda r: "loss" in r and print(f"  {name} epoch {r['epoch']}: {r}", flush=True))
        fit_seconds = time.perf_counter() - started
        rss_fit = current_rss_mib()
        started = time.perf_counter()
        top = model.recommend_topk(train, users, k=K)
        score_seconds = time.perf_counter() - started
        items = np.asarray(top.item_ids, dtype=object)[top.indices]
        hits, ndcgs[name] = hit_ndcg(items, test["item"].to_numpy(dtype=object))
        hr, ndcg = hits.mean(), ndcgs[name].mean()
        fits[name], rates[name] = fit_seconds, len(users) / score_seconds
        cells = largest_array_cells(model)
        note = "sampled softmax" if name == "cvae" and not model.full_softmax_ else ""
        print(
            f"{name}: fit {fit_seconds:.1f} s, scoring {len(users) / score_seconds:,.0f} customers/s, "
            f"largest array {cells:,} cells ({cells / train.n_items**2:.2%} of n_items^2), rss {rss_fit:,.0f} MiB, "
            f"HR@{K} {hr:.4f} NDCG@{K} {ndcg:.4f} {note}"
        )
        rows.append(
            f"| {name} | {fit_seconds:.1f} s | {len(users) / score_seconds:,.0f} | {cells / train.n_items:,.0f} x n_items "
            f"({cells * 4 / 2**20:,.0f} MiB) | {rss_fit:,.0f} MiB | {hr:.4f} | {ndcg:.4f} |"
        )
        del model, top
    diff, low, high = paired_interval(ndcgs["cvae"], ndcgs["itemknn"], args.seed)
    versus = (
        f"cvae - itemknn NDCG@{K}: {diff:+.4f} [{low:+.4f}, {high:+.4f}] (paired 95% bootstrap); cvae's fit takes "
        f"{fits['cvae'] / fits['itemknn']:.0f}x itemknn's, it scores {rates['cvae'] / rates['itemknn']:.2f}x as many "
        "customers a second"
    )
    print(versus)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()
    summary = (
        f"{train.n_users:,} customers x {train.n_items:,} items ({train.nnz:,} training pairs, {args.groups} taste groups), "
        f"one held-out purchase of {len(users):,} customers, every item ranked, seen items excluded; scoring blocks of "
        f"{block} customers ({SCORE_BLOCK_CELLS:,} cells). Process peak RSS {peak:,.0f} MiB (a dense float32 "
        f"n_items^2 matrix alone would be {train.n_items**2 * 4 / 2**30:,.1f} GiB). Matmul rate in the same run "
        f"{gflops:,.0f} GFLOP/s; load average {load[0]:.1f} / {load[1]:.1f}."
    )
    print(summary)
    if not args.no_write:
        command = "python bench/bench_large_catalogue.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        stamp = datetime.now(timezone.utc).isoformat(timespec="minutes")
        table = "\n".join(
            [
                f"| model | fit | customers/s scored | largest array held | RSS after fit | HR@{K} | NDCG@{K} |",
                "|---|---|---|---|---|---|---|",
                *rows,
            ]
        )
        body = (
            f"{table}\n\n- {versus}.\n- {summary}\n- cvae params {params['cvae']}, itemknn {params['itemknn']}.\n"
            f"  Measured {stamp} with `{command}` on {system_line()}.\n"
        )
        replace_section(BENCH / "RESULTS.md", "large-catalogue", body)
        print("wrote the large-catalogue section in bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
