"""Rows per second of :func:`aigc_biz.io.sql.write_table` for a recommendations frame.

Usage::

    python bench/bench_sql.py [--rows 1000000] [--chunksize 2000,10000,50000] URL [URL ...]
    python bench/bench_sql.py sqlite:///bench/_work/bench.db \
        postgresql+psycopg://postgres@127.0.0.1:5432/test mysql+pymysql://root@127.0.0.1:3306/test

Each URL gets a fresh table ``bench_recs`` (dropped afterwards); the first write creates the table,
then every chunk size is timed on a re-run of the same run_id (delete + insert, as in a nightly job).
Times are end to end: checking and converting the frame, the transaction, the commit.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from aigc_biz.io.sql import make_engine, safe_url, write_table

TABLE = "bench_recs"


def recommendations_frame(rows: int, top_k: int = 10, seed: int = 0) -> pd.DataFrame:
    """``rows`` recommendation rows: rows/top_k users with top_k items each, titles and categories."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(rows // top_k + 1), top_k)[:rows]
    items = rng.integers(0, 50_000, rows)
    titles = np.array([f"商品 {i} · product title" for i in range(50_000)], dtype=object)
    return pd.DataFrame(
        {
            "user_id": pd.Series(users).map("{:08d}".format),
            "rank": np.tile(np.arange(1, top_k + 1), rows // top_k + 1)[:rows],
            "item_id": pd.Series(items).map("SKU{:06d}".format),
            "score": rng.random(rows),
            "title": titles[items],
            "category": pd.Series(items % 40).map("category {}".format),
        }
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--chunksize",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[10_000],
        help="comma-separated chunk sizes to time, e.g. 2000,10000,50000",
    )
    args = parser.parse_args(argv)
    frame = recommendations_frame(args.rows)
    print(
        f"# {args.rows:,} recommendation rows; {os.cpu_count()} CPUs, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + "; client CPU seconds in brackets",
        flush=True,
    )
    for url in args.urls:
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))  # fixed name, not user input
        try:
            cpu = time.process_time()
            first = write_table(frame, engine, TABLE, run_id="bench", model="cvae")
            print(
                f"{safe_url(url)}  first write (creates table)  {first.rows:,} rows  "
                f"{first.seconds:6.2f} s [{time.process_time() - cpu:5.2f}]  {first.rows_per_second:10,.0f} rows/s",
                flush=True,
            )
            for chunksize in args.chunksize:
                cpu = time.process_time()
                res = write_table(frame, engine, TABLE, run_id="bench", model="cvae", chunksize=chunksize)
                print(
                    f"{safe_url(url)}  re-run chunksize={chunksize:<7}  {res.rows:,} rows  "
                    f"{res.seconds:6.2f} s [{time.process_time() - cpu:5.2f}]  {res.rows_per_second:10,.0f} rows/s",
                    flush=True,
                )
            with engine.connect() as conn:
                count = conn.execute(sa.text(f"SELECT COUNT(*) FROM {TABLE}")).scalar()
            assert count == args.rows, (count, args.rows)
        finally:
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))
            engine.dispose()
    return 0


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"total {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    sys.exit(code)
