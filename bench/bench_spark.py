"""Spark engine vs single-process scoring on a synthetic long-tail table (itemknn, top-10).

    python bench/bench_spark.py --sizes 100000,300000,1000000 --items 100000

A seeded table: customers with 1 + Poisson(2) orders each, items drawn from a Zipf(1.1) popularity over
``--items`` products. itemknn is fitted once on the first ``--fit-customers`` customers and saved; then the
first N customers are scored single-process (``api.recommend``) and with the Spark engine on ``--master``
(``spark.recommend_data`` + ``spark.write_parquet``), each size in a fresh subprocess so peak memory is its own.
Peak RSS: the single process's ``ru_maxrss``; for Spark, /proc sampling every 0.2 s of the driver, the JVM
and the Python workers (the driver's process tree). The lists of the two engines are compared on each size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic_table(n_customers: int, n_items: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    per_customer = 1 + rng.poisson(2.0, n_customers)
    users = np.repeat(np.arange(n_customers), per_customer)
    ranks = np.arange(1, n_items + 1, dtype=np.float64)
    popularity = ranks**-1.1
    items = rng.choice(n_items, size=len(users), p=popularity / popularity.sum())
    days = rng.integers(0, 365, len(users))
    return pd.DataFrame(
        {
            "customer_id": np.char.add("C", users.astype(str)),
            "product_id": np.char.add("P", items.astype(str)),
            "order_time": pd.Timestamp("2025-01-01") + pd.to_timedelta(days, unit="D"),
        }
    )


def load(frame: pd.DataFrame):
    from aigc_biz.data.loading import load_interactions

    return load_interactions(frame, user_col="customer_id", item_col="product_id", time_col="order_time")


def _tree_rss(pid: int) -> dict[str, int]:
    """RSS in bytes of ``pid`` and every descendant, by role (driver, jvm, python workers)."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="ignore")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        names[int(entry)] = cmd
    out: dict[str, int] = {}
    stack = [pid]
    while stack:
        p = stack.pop()
        stack += children.get(p, [])
        try:
            rss = int(Path(f"/proc/{p}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
        cmd = names.get(p, "")
        role = "driver" if p == pid else "jvm" if "java" in cmd.split(" ")[0] else "python_worker"
        out[f"{role}:{p}"] = rss
    return out


def run_size(args) -> dict:
    from aigc_biz import api
    from aigc_biz import spark as engine

    frame = synthetic_table(args.customers_total, args.items, args.seed)
    wanted = set(np.char.add("C", np.arange(args.size).astype(str)))
    data = load(frame[frame["customer_id"].isin(wanted)].reset_index(drop=True))
    model = api.load_model(args.model)
    result = {"customers": data.n_users, "events": int(len(data.events)), "engine": args.engine}
    if args.engine == "single":
        started = time.perf_counter()
        recs = api.recommend(data, model, top_k=10)
        result["seconds"] = time.perf_counter() - started
        result["peak_rss_mb"] = {"single": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        recs.sort_values(["user_id", "rank"]).to_parquet(args.out, index=False)
    else:
        peaks: dict[str, int] = {}
        done = threading.Event()

        def sample():
            while not done.is_set():
                for key, rss in _tree_rss(os.getpid()).items():
                    peaks[key] = max(peaks.get(key, 0), rss)
                time.sleep(0.2)

        spark = engine.session(args.master)
        spark.sparkContext.setLogLevel("ERROR")
        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        started = time.perf_counter()
        engine.write_parquet(engine.recommend_data(data, args.model, 10, spark=spark, model=model), args.out)
        result["seconds"] = time.perf_counter() - started
        done.set()
        watcher.join()
        workers = [v for k, v in peaks.items() if k.startswith("python_worker")]
        result["peak_rss_mb"] = {
            "driver": peaks.get(f"driver:{os.getpid()}", 0) / 2**20,
            "jvm": max([v for k, v in peaks.items() if k.startswith("jvm")] or [0]) / 2**20,
            "python_worker_max": max(workers or [0]) / 2**20,
            "python_workers_seen": len(workers),
        }
        spark.stop()
    result["customers_per_s"] = data.n_users / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--fit-customers", type=int, default=200_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per size and engine")
    # internal: one size, one engine, in a subprocess
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--customers-total", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.size:
        print(json.dumps(run_size(args)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    total = max(sizes)
    from aigc_biz import api

    work = Path(tempfile.mkdtemp(prefix="bench_spark_"))
    started = time.perf_counter()
    frame = synthetic_table(total, args.items, args.seed)
    fit = load(frame[frame["customer_id"].isin(set(np.char.add("C", np.arange(args.fit_customers).astype(str))))])
    model_dir = work / "itemknn"
    api.train(fit, "itemknn", save=model_dir)
    print(
        f"table: {total:,} customers, {len(frame):,} events, {args.items:,} items; itemknn fitted on "
        f"{fit.n_users:,} customers x {fit.n_items:,} items in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    del frame, fit
    print(f"load: {os.getloadavg()}", flush=True)
    for size in sizes:
        row = {}
        for name in ("single", "spark"):
            out = work / (f"{name}_{size}" + (".parquet" if name == "spark" else ".pq"))
            cmd = [sys.executable, __file__, "--size", str(size), "--engine", name, "--model", str(model_dir)]
            cmd += ["--out", str(out), "--customers-total", str(total), "--items", str(args.items)]
            cmd += ["--master", args.master, "--seed", str(args.seed)]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                print(f"{size:,} {name}: did not finish in {args.timeout} s", flush=True)
                row[name] = None
                continue
            if proc.returncode != 0:
                print(f"{size:,} {name}: failed\n{proc.stderr[-3000:]}", flush=True)
                row[name] = None
                continue
            row[name] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{size:,} {name}: {json.dumps(row[name])}  load {os.getloadavg()}", flush=True)
        if row.get("single") and row.get("spark"):
            a = pd.read_parquet(work / f"single_{size}.pq")
            b = pd.read_parquet(work / f"spark_{size}.parquet").sort_values(["user_id", "rank"]).reset_index(drop=True)
            same = (
                len(a) == len(b)
                and (a["user_id"].to_numpy() == b["user_id"].to_numpy()).all()
                and (a["item_id"].to_numpy() == b["item_id"].to_numpy()).all()
                and np.allclose(a["score"], b["score"], rtol=1e-6, atol=1e-7)
            )
            ratio = row["spark"]["seconds"] / row["single"]["seconds"]
            print(f"{size:,}: identical lists: {same}; spark/single wall time {ratio:.2f}", flush=True)


if __name__ == "__main__":
    main()
