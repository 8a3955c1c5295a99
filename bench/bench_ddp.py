"""cvae trained by one process and by two ``torchrun`` processes on the DiffRec ML-1M clean split: time
per epoch and test NDCG of each, measured in the same run.

    python bench/bench_ddp.py ../shared/data/diffrec-ml-1m/ml-1m_clean --epochs 20 --seeds 0,1

Each configuration trains ``cvae`` with its defaults for a fixed number of epochs (``patience`` =
``epochs``, so early stopping never ends a run; the best validation epoch is still the one kept),
through ``api.train_job`` as ``aigc-biz train`` does, then rank 0 scores the test list by the protocol of
``bench_diffrec.py`` (train items as input, train + valid masked, every item ranked). Configurations,
so that each uses the same two cores:

- ``1 proc x 2 threads``: one process, ``torch.set_num_threads(2)`` (what a plain run does here);
- ``2 procs x 1 thread``: ``python -m torch.distributed.run --nproc_per_node 2``, one thread each (gloo);
- ``1 proc x 1 thread``: the work one of the two processes would do alone, for the scaling ratio.

Seconds per epoch are rank 0's wall time of each epoch (the gradient all-reduce and rank 0's validation
included), median over the epochs. The table goes to ``bench/RESULTS.md`` between its ``ddp`` markers
and ``bench/results/ddp.json``. On a shared machine run heavy benchmarks one at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # run from a checkout without installing

from bench_diffrec import KS, load_split  # noqa: E402
from results_table import replace_section, system_line  # noqa: E402

RESULTS_JSON = BENCH / "results" / "ddp.json"
#: (label, processes, threads per process)
CONFIGS = (("1 proc x 2 threads", 1, 2), ("2 procs x 1 thread", 2, 1), ("1 proc x 1 thread", 1, 1))


def worker(folder: Path, epochs: int, seed: int, threads: int, out: Path) -> None:
    """One training run (every rank of a launch runs this); rank 0 scores and writes ``out``."""
    import torch

    torch.set_num_threads(threads)
    from aigc_biz import api
    from aigc_biz.data.splits import Split
    from aigc_biz.evaluation.protocol import score_split

    data, train, valid, test = load_split(folder)
    started = time.perf_counter()
    result = api.train_job(data, model="cvae", params={"epochs": epochs, "patience": epochs}, device="cpu", seed=seed)
    fit_seconds = time.perf_counter() - started
    if result.rank:
        return
    model = result.model
    split = Split(train=data, test_input=train, test_target=test, name=folder.name, test_events=data.events)
    scored = score_split(model, split, KS, fit=False, exclude=train + valid, n_boot=200, seed=0)
    seconds = [record["seconds"] for record in model.training_curve_]
    report = {
        "seed": seed,
        "fit_seconds": fit_seconds,
        "epoch_seconds": seconds,
        "median_epoch_seconds": statistics.median(seconds),
        "best_epoch": model.best_epoch_,
        "best_val_ndcg": model.best_val_ndcg_,
        "metrics": {key: scored["metrics"][key] for key in ("ndcg@10", "ndcg@20", "recall@20")},
        "threads": torch.get_num_threads(),
    }
    out.write_text(json.dumps(report, default=float))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(folder: Path, processes: int, threads: int, epochs: int, seed: int) -> dict:
    """Run :func:`worker` as ``processes`` processes of ``threads`` threads; rank 0's report."""
    with tempfile.TemporaryDirectory(prefix="aigc-ddp-") as tmp:
        out = Path(tmp) / "report.json"
        args = [str(Path(__file__).resolve()), str(folder), "--worker", str(out)]
        args += ["--epochs", str(epochs), "--seeds", str(seed), "--threads", str(threads)]
        command = [sys.executable, *args]
        if processes > 1:
            command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes)]
            command += ["--master_addr", "127.0.0.1", "--master_port", str(free_port()), *args]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(BENCH.parent)}
        for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
            env.pop(key, None)
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            sys.exit(f"error: {' '.join(command)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        return json.loads(out.read_text())


def markdown(rows: list[dict], command: str, load: tuple[float, float]) -> str:
    reference = statistics.mean(r["median_epoch_seconds"] for r in rows if r["config"] == CONFIGS[0][0])
    lines = [
        "## Multi-process training: cvae, one process vs two under torchrun (`bench_ddp.py`)",
        "",
        f"{system_line()}; load average {load[0]:.1f} before, {load[1]:.1f} after. DiffRec ML-1M clean split "
        "(5,949 users x 2,810 items), cvae defaults (hidden 600, latent 200, item-item path, batch 500 = 12 "
        "steps an epoch) for a fixed number of epochs (no early stop; the best validation epoch is kept), "
        "scored on `test_list` with train + valid masked. s/epoch: median of rank 0's epoch wall times; "
        "ratio: to `1 proc x 2 threads` in the same run (lower is faster).",
        "",
        f"    {command}",
        "",
        "| configuration | seed | s/epoch | x 1 proc x 2 threads | fit s | best epoch | val NDCG@20 "
        "| NDCG@10 | NDCG@20 | NDCG@20 95% CI | Recall@20 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        m = r["metrics"]
        ci = f"{m['ndcg@20']['low']:.4f}–{m['ndcg@20']['high']:.4f}"
        lines.append(
            f"| {r['config']} | {r['seed']} | {r['median_epoch_seconds']:.2f} "
            f"| {r['median_epoch_seconds'] / reference:.2f} | {r['fit_seconds']:.1f} | {r['best_epoch']} "
            f"| {r['best_val_ndcg']:.4f} | {m['ndcg@10']['mean']:.4f} | {m['ndcg@20']['mean']:.4f} | {ci} "
            f"| {m['recall@20']['mean']:.4f} |"
        )
    lines.append("")
    lines.append(f"Measured {datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M')} UTC.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="DiffRec split folder with train/valid/test_list.npy")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, each run in every configuration")
    parser.add_argument("--threads", type=int, default=2, help="(worker) torch threads of this process")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.worker is not None:
        worker(args.folder, args.epochs, seeds[0], args.threads, args.worker)
        return 0
    command = f"python bench/bench_ddp.py ../shared/data/diffrec-ml-1m/{args.folder.name} --epochs {args.epochs}"
    command += f" --seeds {args.seeds}"
    load_before = os.getloadavg()[0]
    rows = []
    for seed in seeds:
        for label, processes, threads in CONFIGS:
            report = launch(args.folder, processes, threads, args.epochs, seed)
            row = {"config": label, "processes": processes, "threads": threads, **report}
            rows.append(row)
            print(
                f"{label}, seed {seed}: {row['median_epoch_seconds']:.2f} s/epoch, fit {row['fit_seconds']:.1f} s, "
                f"NDCG@10 {row['metrics']['ndcg@10']['mean']:.4f}, NDCG@20 {row['metrics']['ndcg@20']['mean']:.4f}",
                flush=True,
            )
    table = markdown(rows, command, (load_before, os.getloadavg()[0]))
    print(table)
    if not args.no_write:
        RESULTS_JSON.parent.mkdir(exist_ok=True)
        RESULTS_JSON.write_text(json.dumps({"command": command, "rows": rows}, indent=2, default=float) + "\n")
        replace_section(BENCH / "RESULTS.md", "ddp", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
