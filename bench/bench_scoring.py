"""Batch scoring throughput: top-10 for many users over a large catalogue, in bounded memory.

A nightly job recommends for every customer. This script builds a synthetic table (Zipf-like item
popularity, ~20 items per user, a ``segment`` attribute), fits a model on a slice of the users
(the default cvae: 600-unit dense encoder and decoder, no item-item path, one epoch: real fitted
weights, a realistic scoring cost), then times ``recommend_topk`` for all users with their
history masked: the one scoring path of the library, the CLI and evaluation (history taken from the
data handed in, mapped to the model's items; sequences for sequence models).

Usage::

    python bench/bench_scoring.py --users 100000 --items 20000
    python bench/bench_scoring.py --users 100000 --items 20000 --model itemknn --batch-size 2048

Reports users/s, the resident memory before scoring and its peak during scoring (sampled after each
batch), and writes the ``scoring`` section of bench/RESULTS.md unless ``--no-write``.
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
import scipy.sparse as sp

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # run from a checkout without installing

from results_table import replace_section, system_line  # noqa: E402

DEFAULT_PARAMS = {
    "cvae": {"hidden": 600, "latent": 200, "linear_path": False, "epochs": 1, "val_fraction": 0.0, "device": "cpu"}
}
TARGET_USERS_PER_SECOND = 1000


def synthetic_interactions(n_users: int, n_items: int, mean_items: float, seed: int):
    """Timed purchases with Zipf(0.8)-like item popularity and a 5-value segment per user."""
    from aigc_biz.data.interactions import Interactions

    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity /= popularity.sum()
    counts = rng.poisson(mean_items - 1, size=n_users) + 1
    rows = np.repeat(np.arange(n_users), counts)
    cols = rng.choice(n_items, size=len(rows), p=popularity)
    segments = np.array(["new", "regular", "vip", "dormant", "at_risk"], dtype=object)
    user_segment = segments[rng.integers(0, len(segments), n_users)]
    frame = pd.DataFrame(
        {
            "user": np.char.add("c", np.char.zfill(rows.astype(str), 7)),
            "item": np.char.add("p", np.char.zfill(cols.astype(str), 6)),
            "time": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 365 * 86400, len(rows)), unit="s"),
            "segment": user_segment[rows],
        }
    )
    return Interactions.from_frame(frame, "user", "item", time_col="time", user_attr_cols=["segment"])


def current_rss_mib() -> float:
    """Resident memory now (Linux /proc), falling back to the peak so far."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--mean-items", type=float, default=20.0, help="average items per user")
    parser.add_argument("--fit-users", type=int, default=5000, help="users the model is fitted on")
    parser.add_argument("--model", default="cvae")
    parser.add_argument("--param", action="append", default=[], help="key=value for the model, e.g. hidden=400")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md")
    args = parser.parse_args(argv)

    import torch

    from aigc_biz.models.registry import create_model, parse_params

    started = time.perf_counter()
    data = synthetic_interactions(args.users, args.items, args.mean_items, args.seed)
    print(
        f"synthetic data: {data.n_users} users x {data.n_items} items, {data.nnz} pairs "
        f"({time.perf_counter() - started:.1f} s)"
    )
    params = {**DEFAULT_PARAMS.get(args.model, {}), **parse_params(args.param)}
    model = create_model(args.model, **params)
    fit_rows = np.arange(min(args.fit_users, data.n_users))
    from aigc_biz.data.splits import _events_of

    keep = np.zeros(data.n_users, dtype=np.float32)
    keep[fit_rows] = 1.0
    fit_matrix = sp.csr_matrix(sp.diags(keep) @ data.matrix, dtype=np.float32)
    fit_matrix.eliminate_zeros()
    fit_data = data.with_matrix(fit_matrix, events=_events_of(data, fit_matrix))
    started = time.perf_counter()
    model.fit(fit_data)
    fit_seconds = time.perf_counter() - started
    print(f"fitted {model!r} on {len(fit_rows)} users in {fit_seconds:.1f} s")

    rss_before = current_rss_mib()
    rss_peak = [rss_before]

    def sample_memory(_rows: int) -> None:
        rss_peak[0] = max(rss_peak[0], current_rss_mib())

    def cpu_seconds() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    cpu_started, started = cpu_seconds(), time.perf_counter()
    idx = model.recommend_topk(data, k=args.k, batch_size=args.batch_size, progress=sample_memory).indices
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    per_second = data.n_users / seconds
    load = os.getloadavg()[0]
    seen = data.matrix[np.arange(len(idx))[:, None].repeat(args.k, 1).ravel(), idx.ravel()]
    if idx.shape != (data.n_users, args.k) or (idx < 0).any() or seen.sum() != 0:
        print("error: the lists are short or hold items the user already has")
        return 1
    verdict = "meets" if per_second >= TARGET_USERS_PER_SECOND else "misses"
    process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = (
        f"top-{args.k} for {data.n_users:,} users x {data.n_items:,} items with {args.model}: "
        f"{seconds:.1f} s = **{per_second:,.0f} users/s** ({verdict} the {TARGET_USERS_PER_SECOND:,} "
        f"users/s target; {cpu:.1f} CPU-s = {data.n_users / cpu:,.0f} users per CPU-second, "
        f"{os.cpu_count()} cores, load average {load:.1f}); resident memory {rss_before:,.0f} MiB "
        f"before scoring, peak {rss_peak[0]:,.0f} MiB during (+{rss_peak[0] - rss_before:,.0f} MiB, "
        f"batch {args.batch_size}); process peak {process_peak:,.0f} MiB"
    )
    print(summary.replace("**", ""))
    if not args.no_write:
        command = "python bench/bench_scoring.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        stamp = datetime.now(timezone.utc).isoformat(timespec="minutes")
        replace_section(
            BENCH / "RESULTS.md",
            f"scoring-{args.model}",
            f"- {summary}; fit on {len(fit_rows):,} users took {fit_seconds:.1f} s "
            f"(params {params}).\n  Measured {stamp} with `{command}` on {system_line()}, "
            f"torch threads {torch.get_num_threads()}.\n",
        )
        print("wrote the scoring section in bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
