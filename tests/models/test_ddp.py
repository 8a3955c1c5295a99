"""Multi-process training: two CPU processes under torchrun (gloo) train cvae as well as one process,
keep identical replicas, and only rank 0 writes; other jobs refuse to run under torchrun."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aigc_biz import api
from aigc_biz.errors import ConfigError
from aigc_biz.models.distributed import ProcessGroup, launch

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "retail_orders.csv"
#: small and fast, without the item-item path so the ranking quality is the VAE's own training
PARAMS = ["hidden=64", "latent=16", "linear_path=false", "batch_size=100", "epochs=20", "patience=20"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --nproc_per_node 2 ARGS`` (what ``torchrun`` runs), one thread each."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_addr", "127.0.0.1", "--master_port", str(free_port()), *args]
    with subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            out, err = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            proc.terminate()  # torchrun stops its workers on SIGTERM (they run in sessions of their own)
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            pytest.fail(f"torchrun hung: {err[-2000:]}")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


@pytest.mark.slow
def test_two_processes_train_cvae_through_the_cli_as_well_as_one(tmp_path):
    params = [arg for p in PARAMS for arg in ("-p", p)]
    done = torchrun(
        ["-m", "aigc_biz.cli", "train", str(SAMPLE), "--model", "cvae", *params, "--device", "cpu"]
        + ["--checkpoint-dir", "ck", "-o", "model"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # rank 0 wrote the model folder and the checkpoint, rank 1 nothing; one process reported
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck", "model"]
    assert [p.name for p in (tmp_path / "ck").iterdir()] == ["checkpoint.pt"]
    assert done.stderr.count("Saved cvae to model") == 1
    assert done.stderr.count("epoch 20/20") == 1
    two = api.load_model(tmp_path / "model")
    assert two.n_epochs_ == 20

    # the noise band: one process, same settings, three seeds (seed 0 is the torchrun run's seed)
    ones = [
        api.train_job(SAMPLE, model="cvae", params=PARAMS, device="cpu", seed=seed).model.best_val_ndcg_
        for seed in range(3)
    ]
    margin = max(ones) - min(ones) + 0.01
    assert min(ones) - margin <= two.best_val_ndcg_ <= max(ones) + margin, (two.best_val_ndcg_, ones)
    assert abs(two.best_val_ndcg_ - ones[0]) <= margin  # same seed, same validation customers
    assert two.best_val_ndcg_ > 0.2  # it learnt: the first epochs sit near 0.11


@pytest.mark.slow
def test_replicas_stay_identical_and_a_task_that_steps_alone_is_refused(tmp_path):
    done = torchrun([str(ROOT / "tests" / "models" / "ddp_worker.py"), str(tmp_path)], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    first, second = (np.load(tmp_path / f"weights-{rank}.npz") for rank in (0, 1))
    assert sorted(first.files) == sorted(second.files) and first.files
    for key in first.files:
        assert np.array_equal(first[key], second[key]), key
    reports = [json.loads((tmp_path / f"rank-{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["rank"] for r in reports] == [0, 1]
    assert reports[0]["path"] is not None and reports[1]["path"] is None
    assert (tmp_path / "model" / "model.json").exists()
    # rank 1 had no validation customer yet both took the decision of rank 0's one
    assert reports[0]["val_curve"] == reports[1]["val_curve"] and None not in reports[0]["val_curve"]
    for report in reports:  # both processes stop with the same one-line error, none hangs
        assert report["refused"] and "different weights" in report["refused"]


def test_launch_is_read_from_the_torchrun_environment(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert launch() is None
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert launch() is None
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(ConfigError, match="RANK"):
        launch()
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ConfigError, match="do not fit"):
        launch()
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    where = launch()
    assert (where.rank, where.local_rank, where.world_size) == (1, 1, 2)
    rows = np.arange(7)
    parts = [ProcessGroup(type(where)(r, r, 2), None).shard(rows) for r in (0, 1)]
    assert [len(p) for p in parts] == [4, 3] and np.array_equal(np.concatenate(parts), rows)


def test_under_torchrun_only_train_runs_and_other_ranks_write_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(ConfigError, match="only `train`"):
        api.recommend_job(SAMPLE, model="pop", output=tmp_path / "recs.csv")
    assert list(tmp_path.iterdir()) == []
    # a model that trains without the torch loop still runs on every rank; rank 1 saves nothing
    result = api.train_job(SAMPLE, model="pop", output=tmp_path / "model")
    assert result.rank == 1 and result.path is None
    assert list(tmp_path.iterdir()) == []
