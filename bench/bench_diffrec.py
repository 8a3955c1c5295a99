"""aigc-biz models on the DiffRec/GiffCF ML-1M split, scored exactly as those papers score.

Protocol (DiffRec ``main.py`` / ``evaluate_utils.py``): fit on ``train_list``; the model's input is the
user's train items; train + valid items are masked; every item is ranked; Recall@K = hits / test items,
NDCG@K with the ideal DCG over min(K, test items). Each model runs in its own child process so its
peak memory (``ru_maxrss``) is its own.

Usage::

    python bench/bench_diffrec.py ../shared/data/diffrec-ml-1m/ml-1m_clean --models pop,itemknn,ease
    python bench/bench_diffrec.py DATA --models cvae --param cvae.epochs=30
    python bench/bench_diffrec.py DATA --cli --cli-model cvae      # through the `aigc-biz` command

Results are printed and merged into ``bench/results/diffrec.json``; ``bench/RESULTS.md`` gets the
regenerated table (between its ``diffrec`` markers) next to the published figures. The data folder
is only read: nothing from it is copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy.sparse as sp

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]  # run from a checkout without installing

from results_table import replace_section, system_line  # noqa: E402

KS = (10, 20)
RESULTS_JSON = BENCH / "results" / "diffrec.json"
#: (model, Recall@10, Recall@20, NDCG@10, NDCG@20, source) reported on these very files
PUBLISHED = [
    ("DiffRec (SIGIR 2023)", 0.1021, 0.1763, 0.0877, 0.1131, "DiffRec paper, as tabulated by later work"),
    ("GiffCF (SIGIR 2024), paper", 0.1251, 0.1947, 0.0962, 0.1221, "GiffCF repository README"),
    ("GiffCF, updated code", 0.1308, 0.2024, 0.1002, 0.1272, "GiffCF repository README"),
    ("EASE, tuned (published reference)", 0.107, 0.182, 0.091, 0.117, "approximate published reference"),
]


# --- data -----------------------------------------------------------------------------------------


def load_split(folder: Path):
    """Interactions of ``train_list`` and the csr matrices of train, valid and test (users x items)."""
    from aigc_biz.data.interactions import Interactions

    arrays = {}
    for part in ("train", "valid", "test"):
        path = folder / f"{part}_list.npy"
        if not path.exists():
            sys.exit(f"error: {path} not found (expected the DiffRec folder with train/valid/test_list.npy)")
        arrays[part] = np.load(path, allow_pickle=False)
    n_users = int(max(a[:, 0].max() for a in arrays.values())) + 1
    n_items = int(max(a[:, 1].max() for a in arrays.values())) + 1

    def csr(pairs):
        return sp.csr_matrix(
            (np.ones(len(pairs), dtype=np.float32), (pairs[:, 0], pairs[:, 1])), shape=(n_users, n_items)
        )

    train, valid, test = (csr(arrays[p]) for p in ("train", "valid", "test"))
    # train_list lists each user's items in time order: kept as the event log (file order), so models
    # that use order (recency_half_life in events, sasrec) can; order-blind models ignore it
    import pandas as pd

    events = pd.DataFrame(
        {
            "user_idx": arrays["train"][:, 0].astype(np.int32),
            "item_idx": arrays["train"][:, 1].astype(np.int32),
            "weight": np.ones(len(arrays["train"]), dtype=np.float32),
        }
    )
    data = Interactions(
        matrix=train,
        user_ids=[f"u{u}" for u in range(n_users)],
        item_ids=[f"m{i}" for i in range(n_items)],
        events=events,
        source=str(folder),
    )
    return data, train, valid, test


# --- compute figures ------------------------------------------------------------------------------


def matmul_gflops(size: int = 4096, repeats: int = 2) -> float:
    """Measured fp32 ``torch.mm`` throughput of this machine (2 n^3 flops per product)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)  # warm-up: thread pool and allocator
    started = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def training_flops(model, n_rows: int) -> tuple[float | None, str]:
    """FLOPs of the fit: the model's own ``flops_per_epoch_`` when it has one, else ~6 x params x rows x epochs."""
    epochs = getattr(model, "n_epochs_", None)
    if epochs is None:
        return None, ""
    per_epoch = getattr(model, "flops_per_epoch_", None)
    if per_epoch is not None:
        return float(per_epoch) * epochs, "model's flops_per_epoch_"
    import torch

    params = 0
    for name, value in vars(model).items():
        if name.endswith("_") and isinstance(value, torch.nn.Module):
            params += sum(p.numel() for p in value.parameters())
    if params == 0:
        return None, ""
    # forward 2 flops per weight and row, backward twice that (dense layers dominate)
    return 6.0 * params * n_rows * epochs, "~6 x params x rows x epochs"


def peak_rss_mib() -> float:
    """Peak resident memory of this process image (VmHWM; ``ru_maxrss`` would include the parent's at fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


# --- one model (child process) ----------------------------------------------------------------


def run_one(folder: Path, name: str, params: dict, n_boot: int) -> dict:
    from aigc_biz.data.splits import Split
    from aigc_biz.evaluation.protocol import score_split
    from aigc_biz.models.registry import create_model

    data, train, valid, test = load_split(folder)
    baseline = peak_rss_mib()
    model = create_model(name, **params)
    split = Split(train=data, test_input=train, test_target=test, name=folder.name, test_events=data.events)
    scored = score_split(model, split, KS, exclude=(train + valid), n_boot=n_boot, seed=0)
    flops, flops_how = training_flops(model, int((np.diff(train.indptr) > 0).sum()))
    metrics = {
        key: scored["metrics"][key]
        for key in ("recall@10", "recall@20", "ndcg@10", "ndcg@20", "coverage@20", "novelty@20")
    }
    return {
        "model": name,
        "params": json.loads(json.dumps(model.get_params(), default=str)),
        "metrics": metrics,
        "fit_seconds": scored["fit_seconds"],
        "score_seconds": scored["score_seconds"],
        "users": scored["users_evaluated"],
        "peak_rss_mib": peak_rss_mib(),
        "data_rss_mib": baseline,
        "epochs": getattr(model, "n_epochs_", None),
        "best_epoch": getattr(model, "best_epoch_", None),
        "achieved_gflops": None if flops is None else flops / scored["fit_seconds"] / 1e9,
        "flops_how": flops_how,
    }


def run_in_child(folder: Path, name: str, params: dict, n_boot: int, timeout: float) -> dict | None:
    """Run :func:`run_one` in a fresh interpreter and read its JSON answer from the last stdout line."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        str(folder),
        "--worker",
        name,
        "--worker-params",
        json.dumps(params),
        "--n-boot",
        str(n_boot),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  {name}: stopped after {timeout:.0f} s (raise --timeout or lower epochs)")
        return None
    if done.returncode != 0:
        print(f"  {name}: failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:] or ''}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- through the command line -----------------------------------------------------------------


def read_recommendations(path: Path, n_users: int, n_items: int, exclude: sp.csr_matrix, k: int) -> np.ndarray:
    """Top-``k`` index lists from a recommendations CSV, dropping masked items (valid) the CLI did not know."""
    import pandas as pd

    recs = pd.read_csv(path, dtype=str)
    user_col = next((c for c in recs.columns if "user" in c.lower()), None)
    item_col = next((c for c in recs.columns if "item" in c.lower() and "score" not in c.lower()), None)
    if user_col is None or item_col is None:
        raise SystemExit(f"error: {path} has no user/item columns: {list(recs.columns)}")
    if "rank" in recs.columns:
        recs = recs.assign(rank=pd.to_numeric(recs["rank"])).sort_values([user_col, "rank"], kind="stable")
    users = recs[user_col].str.lstrip("u").astype(int).to_numpy()
    items = recs[item_col].str.lstrip("m").astype(int).to_numpy()
    topk = np.full((n_users, k), -1, dtype=np.int64)
    filled = np.zeros(n_users, dtype=np.int64)
    for u, i in zip(users, items):
        if filled[u] < k and exclude[u, i] == 0:
            topk[u, filled[u]] = i
            filled[u] += 1
    return topk


def run_cli(folder: Path, model: str, top_k: int, extra: list[str], timeout: float) -> dict | None:
    """``aigc-biz recommend train.csv --model MODEL --top-k N -o recs.csv``, then score recs.csv."""
    from aigc_biz.evaluation.protocol import metrics_from_topk

    executable = shutil.which("aigc-biz") or str(Path(sys.executable).with_name("aigc-biz"))
    if not Path(executable).exists():
        print("skipped --cli: the `aigc-biz` command is not installed (pip install -e . in the venv)")
        return None
    data, train, valid, test = load_split(folder)
    with tempfile.TemporaryDirectory(prefix="aigc-bench-") as tmp:
        coo = train.tocoo()
        train_csv, recs_csv = Path(tmp) / "train.csv", Path(tmp) / "recs.csv"
        with train_csv.open("w", encoding="utf-8") as out:
            out.write("user_id,item_id\n")
            out.writelines(f"u{u},m{i}\n" for u, i in zip(coo.row, coo.col))
        command = [
            executable,
            "recommend",
            str(train_csv),
            "--model",
            model,
            "--top-k",
            str(top_k),
            "-o",
            str(recs_csv),
            *extra,
        ]
        print("  $", shlex.join(command))
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"skipped --cli: the command ran past {timeout:.0f} s")
            return None
        seconds = time.perf_counter() - started
        if done.returncode != 0 or not recs_csv.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            print(f"skipped --cli: the command failed (exit {done.returncode}): " + " | ".join(tail))
            return None
        topk = read_recommendations(recs_csv, train.shape[0], train.shape[1], train + valid, max(KS))
    metrics, _ = metrics_from_topk(topk, test, train, KS, n_boot=200)
    return {
        "model": f"{model} via CLI (top-{top_k}, valid dropped)",
        "params": {"args": extra},
        "metrics": {k: metrics[k] for k in ("recall@10", "recall@20", "ndcg@10", "ndcg@20")},
        "fit_seconds": seconds,
        "score_seconds": None,
        "users": int((np.diff(test.indptr) > 0).sum()),
        "peak_rss_mib": None,
        "achieved_gflops": None,
        "flops_how": "whole command, wall time",
    }


# --- report -----------------------------------------------------------------------------------


def _fmt(value, digits=4):
    return "–" if value is None else f"{value:.{digits}f}"


def _baseline(row: dict) -> str:
    """Peak RSS of the child before the model was created (interpreter, torch, data)."""
    return f" (before fit {row['data_rss_mib']:.0f})" if row.get("data_rss_mib") else ""


def markdown_table(rows: list[dict], gflops: dict | None) -> str:
    if isinstance(gflops, (int, float)):
        gflops = {"gflops": float(gflops), "load": float("nan")}
    lines = [
        "| model | Recall@10 | Recall@20 | NDCG@10 | NDCG@20 | NDCG@20 95% CI | fit s | score s "
        "| peak RSS MiB | GFLOP/s achieved | source |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r10, r20, n10, n20, source in PUBLISHED:
        lines.append(f"| {name} | {r10} | {r20} | {n10} | {n20} | | | | | | {source} |")
    for row in rows:
        m = row["metrics"]
        ci = f"{m['ndcg@20']['low']:.4f}–{m['ndcg@20']['high']:.4f}" if m["ndcg@20"].get("low") is not None else ""
        params = ", ".join(f"{k}={v}" for k, v in row.get("params", {}).items() if k in row.get("changed", []))
        lines.append(
            f"| **{row['model']}**{f' ({params})' if params else ''} | {_fmt(m['recall@10']['mean'])} "
            f"| {_fmt(m['recall@20']['mean'])} | {_fmt(m['ndcg@10']['mean'])} | {_fmt(m['ndcg@20']['mean'])} "
            f"| {ci} | {_fmt(row.get('fit_seconds'), 1)} | {_fmt(row.get('score_seconds'), 2)} "
            f"| {_fmt(row.get('peak_rss_mib'), 0)}{_baseline(row)} | {_fmt(row.get('achieved_gflops'), 1)} "
            f"| measured {row.get('measured_at', '')[:16]}: `{row.get('command', '')}` |"
        )
    note = (
        f"\n\nMeasured fp32 matmul (torch.mm 4096²) on this machine: **{gflops['gflops']:.1f} GFLOP/s** "
        f"(load average {gflops['load']:.1f} at the time)."
        if gflops
        else ""
    )
    return "\n".join(lines) + note + "\n"


def store_rows(rows: list[dict], gflops: float | None) -> dict:
    """Merge ``rows`` into bench/results/diffrec.json (a model's newest run replaces its older one)."""
    stored = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {"rows": []}
    fresh = {row["model"] for row in rows}
    stored["rows"] = [r for r in stored["rows"] if r["model"] not in fresh] + rows
    if gflops:
        stored["matmul_gflops"] = {"gflops": gflops, "load": os.getloadavg()[0]}
    stored["system"] = system_line()
    RESULTS_JSON.parent.mkdir(exist_ok=True)
    tmp = RESULTS_JSON.with_name(RESULTS_JSON.name + ".tmp")
    tmp.write_text(json.dumps(stored, indent=2) + "\n")
    tmp.replace(RESULTS_JSON)
    return stored


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="DiffRec split folder, e.g. .../diffrec-ml-1m/ml-1m_clean")
    parser.add_argument("--models", default="pop,itemknn,ease,cvae,cgan", help="comma-separated registry names")
    parser.add_argument("--param", action="append", default=[], help="MODEL.key=value, e.g. cvae.epochs=30")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the intervals")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per model before it is stopped")
    parser.add_argument("--matmul-size", type=int, default=4096, help="0 skips the matmul throughput figure")
    parser.add_argument("--cli", action="store_true", help="also run the `aigc-biz recommend` command and score it")
    parser.add_argument("--cli-model", default="cvae")
    parser.add_argument("--cli-top-k", type=int, default=100)
    parser.add_argument("--cli-args", default="", help="extra arguments for the command, e.g. '--param epochs=20'")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/results and RESULTS.md")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-params", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(run_one(args.folder, args.worker, json.loads(args.worker_params), args.n_boot)))
        return 0

    from aigc_biz.models.registry import available_models, parse_params

    params: dict[str, dict] = {}
    for pair in args.param:
        model, _, rest = pair.partition(".")
        params.setdefault(model.strip().lower(), {}).update(parse_params([rest]))
    command = "python bench/bench_diffrec.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    gflops = matmul_gflops(args.matmul_size) if args.matmul_size else None
    if gflops:
        print(f"fp32 matmul {args.matmul_size}²: {gflops:.1f} GFLOP/s")
    rows = []
    for name in [m.strip().lower() for m in args.models.split(",") if m.strip()]:
        if name not in available_models():
            print(f"  {name}: not a registered model, skipped")
            continue
        print(f"  {name}: fitting ...", flush=True)
        row = run_in_child(args.folder, name, params.get(name, {}), args.n_boot, args.timeout)
        if row is not None:
            row["changed"] = sorted(params.get(name, {}))
            rows.append(row)
    if args.cli:
        row = run_cli(args.folder, args.cli_model, args.cli_top_k, shlex.split(args.cli_args), args.timeout)
        if row is not None:
            row["changed"] = []
            rows.append(row)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for row in rows:
        row.update(command=command, measured_at=stamp)
        m = row["metrics"]
        print(
            f"{row['model']:>28}: R@10 {m['recall@10']['mean']:.4f}  R@20 {m['recall@20']['mean']:.4f}  "
            f"N@10 {m['ndcg@10']['mean']:.4f}  N@20 {m['ndcg@20']['mean']:.4f}  "
            f"fit {_fmt(row['fit_seconds'], 1)} s  score {_fmt(row['score_seconds'], 2)} s  "
            f"peak {_fmt(row['peak_rss_mib'], 0)} MiB  GFLOP/s {_fmt(row['achieved_gflops'], 1)}"
        )
    if args.no_write or not rows:
        return 0 if rows else 1
    stored = store_rows(rows, gflops)
    table = markdown_table(stored["rows"], stored.get("matmul_gflops"))
    replace_section(BENCH / "RESULTS.md", "diffrec", table + f"\nMachine: {stored['system']}.\n")
    print(f"wrote {RESULTS_JSON.relative_to(BENCH.parent)} and the diffrec table in bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
