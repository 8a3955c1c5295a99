"""Peak memory and rows/s of loading a large order table, read in chunks and read whole.

Usage::

    python bench/bench_streaming.py [--rows 10000000] [--whole-rows 1000000,3000000] [--dir DIR]

Writes a seeded orders table (user_id, item_id, order_time, quantity, price: ~1M customers with a
skewed number of orders, ~100k products with a long tail, a 2-year span, 1 % returns) as Parquet and as
CSV, in chunks, so the generator itself stays small; the files go to ``--dir`` (a temp dir by default),
never into the repository. Each load runs :func:`aigc_biz.api.load` in a fresh Python process and reports
its peak RSS (``ru_maxrss``), wall seconds and rows/s. ``--whole-rows`` loads the first N rows of the
same table the old way (``chunk_rows=None``: the table read whole as text) to show how its memory grows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
N_USERS, N_ITEMS = 1_000_000, 100_000
GEN_CHUNK = 1_000_000

CHILD = """
import json, resource, sys, time
started = time.perf_counter()
from aigc_biz import api
from aigc_biz.data.loading import load_interactions
path, chunk_rows = sys.argv[1], sys.argv[2]
loaded = time.perf_counter()
if chunk_rows == "default":
    data = api.load(path)
else:
    data = load_interactions(path, chunk_rows=None if chunk_rows == "none" else int(chunk_rows))
done = time.perf_counter()
print(json.dumps({"events": len(data.events), "users": data.n_users, "items": data.n_items, "nnz": data.nnz,
                  "load_s": done - loaded, "warnings": data.warnings,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def order_chunks(rows: int, seed: int = 0):
    """``rows`` order lines as Arrow tables of GEN_CHUNK rows; the same seed gives the same table."""
    rng = np.random.default_rng(seed)
    # skewed activity: a customer's share of orders ~ lognormal; a product's ~ Zipf (long tail)
    user_p = rng.lognormal(0.0, 1.0, N_USERS)
    user_p /= user_p.sum()
    item_p = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.9
    item_p /= item_p.sum()
    item_perm = rng.permutation(N_ITEMS)
    prices = np.round(rng.lognormal(3.0, 0.8, N_ITEMS), 1) + 0.9
    start = np.datetime64("2023-01-01T00:00:00", "s")
    span = 2 * 365 * 86_400
    done = 0
    while done < rows:
        n = min(GEN_CHUNK, rows - done)
        users = rng.choice(N_USERS, n, p=user_p)
        items = item_perm[rng.choice(N_ITEMS, n, p=item_p)]
        times = start + np.sort(rng.integers(0, span, n)).astype("timedelta64[s]")
        quantity = rng.integers(1, 4, n)
        quantity[rng.random(n) < 0.01] *= -1  # returns
        yield pa.table(
            {
                "user_id": pa.array(np.char.add("C", np.char.zfill(users.astype(str), 7))),
                "item_id": pa.array(np.char.add("SKU-", np.char.zfill(items.astype(str), 6))),
                "order_time": pa.array(np.char.replace(np.datetime_as_string(times, unit="s"), "T", " ")),
                "quantity": pa.array(quantity.astype(str)),
                "price": pa.array(np.char.mod("%.2f", prices[items])),
            }
        )
        done += n


def write_tables(rows: int, folder: Path) -> tuple[Path, Path]:
    parquet, csv = folder / f"orders_{rows}.parquet", folder / f"orders_{rows}.csv"
    if parquet.exists() and csv.exists():
        return parquet, csv
    started = time.perf_counter()
    writer = None
    with open(csv, "wb") as csv_handle:
        for k, table in enumerate(order_chunks(rows)):
            if writer is None:
                writer = pq.ParquetWriter(parquet, table.schema)
            writer.write_table(table, row_group_size=GEN_CHUNK)
            options = pacsv.WriteOptions(include_header=k == 0, quoting_style="none")
            pacsv.write_csv(table, csv_handle, write_options=options)
    writer.close()
    print(
        f"wrote {rows:,} rows in {time.perf_counter() - started:.0f} s: {parquet.stat().st_size / 2**20:.0f} MiB "
        f"Parquet, {csv.stat().st_size / 2**20:.0f} MiB CSV in {folder}",
        file=sys.stderr,
    )
    return parquet, csv


def head_copy(source: Path, rows: int, folder: Path) -> Path:
    """The first ``rows`` rows (a multiple of GEN_CHUNK) of a Parquet table, as Parquet."""
    out = folder / f"head_{rows}{source.suffix}"
    if not out.exists():
        pq.write_table(pq.ParquetFile(source).read_row_groups(range(rows // GEN_CHUNK)), out)
    return out


def measure(path: Path, chunk_rows: str, rows: int) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), chunk_rows], capture_output=True, text=True, env=env
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        return {"file": path.name, "mode": chunk_rows, "error": result.stderr.strip().splitlines()[-1:]}
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures.update(file=path.name, mode=chunk_rows, wall_s=wall, rows=rows, rows_per_s=rows / figures["load_s"])
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--whole-rows", default="1000000,3000000", help="row counts also loaded whole (old path)")
    parser.add_argument("--dir", type=Path, default=None, help="where the generated tables go (default: a temp dir)")
    args = parser.parse_args(argv)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench_streaming_"))
    folder.mkdir(parents=True, exist_ok=True)
    parquet, csv = write_tables(args.rows, folder)
    runs = [(parquet, "default", args.rows), (csv, "default", args.rows)]
    for n in [int(v) for v in args.whole_rows.split(",") if v]:
        head = head_copy(parquet, n, folder)
        runs += [(head, "default", n), (head, "none", n)]
    print(f"load average before: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    print("| file | rows | read | peak RSS MiB | load s | rows/s | events kept | users | items | nnz |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path, mode, rows in runs:
        r = measure(path, mode, rows)
        if "error" in r:
            print(f"| {r['file']} | {rows:,} | {mode} | failed: {r['error']} | | | | | | |", flush=True)
            continue
        read = "whole (`chunk_rows=None`)" if mode == "none" else "chunks (default)"
        print(
            f"| {r['file']} | {rows:,} | {read} | {r['peak_rss_mib']:,.0f} | {r['load_s']:.1f} | {r['rows_per_s']:,.0f} "
            f"| {r['events']:,} | {r['users']:,} | {r['items']:,} | {r['nnz']:,} |",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
