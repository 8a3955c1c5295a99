"""The shared torch training loop: devices, batches, validation slice, early stopping, checkpoints."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from aigc_biz.errors import ConfigError, ModelError
from aigc_biz.models.training import (
    CHECKPOINT_NAME,
    TrainingSettings,
    TrainingTask,
    carve_validation,
    dense_rows,
    resolve_device,
    resolve_precision,
    run_training,
    seed_everything,
)


def block_matrix(n_users: int = 40, n_items: int = 12, seed: int = 0) -> sp.csr_matrix:
    """Two groups of users, each taking 4-5 random items of its own half."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    half = n_items // 2
    for u in range(n_users):
        offset = 0 if u < n_users // 2 else half
        items = rng.choice(half, size=int(rng.integers(4, 6)), replace=False) + offset
        rows += [u] * len(items)
        cols += list(items)
    return sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_users, n_items))


class LinearAutoencoderTask(TrainingTask):
    """A one-layer item-to-item model with a softmax loss: the smallest real task for the loop."""

    def __init__(self, n_items: int, lr: float = 0.05):
        self.net = torch.nn.Linear(n_items, n_items)
        self.modules = {"net": self.net}
        self.optimizers = {"adam": torch.optim.Adam(self.net.parameters(), lr=lr)}
        self.epochs_started = []

    def start_epoch(self, epoch):
        self.epochs_started.append(epoch)

    def train_batch(self, batch, context, runtime, step):
        x = F.dropout(batch, p=0.5, training=True)
        with runtime.autocast():
            logits = self.net(x)
        loss = -(F.log_softmax(logits.float(), dim=1) * batch).sum(dim=1).mean()
        runtime.step(loss, self.optimizers["adam"])
        return float(loss.detach())

    def score(self, batch, context):
        return self.net(batch)


def make_task(n_items: int, seed: int = 0, **kwargs) -> tuple[LinearAutoencoderTask, np.random.Generator]:
    rng = seed_everything(seed)
    return LinearAutoencoderTask(n_items, **kwargs), rng


def weights_of(task) -> dict:
    return {k: v.clone() for k, v in task.weights().items()}


# --- devices and precision ---------------------------------------------------------------------------
def test_resolve_device_choices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback on a machine without CUDA")
def test_cuda_without_gpu_warns_and_falls_back_to_cpu():
    with pytest.warns(RuntimeWarning, match="CUDA is not available"):
        assert resolve_device("cuda") == torch.device("cpu")


def test_precision_is_fp32_on_cpu_and_checked():
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert resolve_precision("bf16", torch.device("cpu")) == "fp32"
    with pytest.raises(ConfigError, match="precision"):
        resolve_precision("int8", torch.device("cpu"))


# --- batches and the validation slice ----------------------------------------------------------------
def test_dense_rows_matches_the_sparse_rows():
    matrix = block_matrix()
    rows = np.array([5, 0, 39, 5])
    dense = dense_rows(matrix, rows, torch.device("cpu"))
    np.testing.assert_array_equal(dense.numpy(), matrix[rows].toarray())
    assert dense.dtype == torch.float32


def test_carve_validation_holds_out_items_of_sampled_users_only():
    matrix = block_matrix(n_users=60)
    val = carve_validation(matrix, user_fraction=0.25, item_fraction=0.2, seed=3)
    assert len(val.users) == 15 and len(set(val.users)) == 15
    # train + held-out items give back exactly the original matrix
    restored = val.train.tolil()
    for pos, user in enumerate(val.users):
        for item in val.target[pos].indices:
            assert val.train[user, item] == 0
            restored[user, item] = 1.0
    assert (sp.csr_matrix(restored) != matrix).nnz == 0
    untouched = np.setdiff1d(np.arange(60), val.users)
    assert (val.train[untouched] != matrix[untouched]).nnz == 0
    assert (np.diff(val.target.indptr) >= 1).all()
    assert (np.diff(val.train[val.users].indptr) >= 1).all(), "every validation user keeps fold-in items"


def test_carve_validation_is_seeded_and_can_be_off():
    matrix = block_matrix()
    a, b = carve_validation(matrix, 0.2, seed=1), carve_validation(matrix, 0.2, seed=1)
    np.testing.assert_array_equal(a.users, b.users)
    assert (a.target != b.target).nnz == 0
    assert carve_validation(matrix, 0.0) is None
    with pytest.raises(ConfigError, match="val_fraction"):
        carve_validation(matrix, 1.5)


# --- the loop ----------------------------------------------------------------------------------------
def test_progress_reports_one_dict_per_epoch():
    matrix = block_matrix()
    val = carve_validation(matrix, 0.25, seed=0)
    task, rng = make_task(matrix.shape[1])
    seen = []
    report = run_training(
        task,
        val.train,
        TrainingSettings(epochs=3, batch_size=8, device="cpu", val_k=5),
        validation=val,
        progress=seen.append,
        rng=rng,
    )
    assert [r["epoch"] for r in seen] == [1, 2, 3]
    for record in seen:
        assert set(record) == {"epoch", "epochs", "loss", "val_ndcg", "seconds"}
        assert record["epochs"] == 3 and np.isfinite(record["loss"]) and 0.0 <= record["val_ndcg"] <= 1.0
    assert report.n_epochs == 3 and task.epochs_started == [0, 1, 2]
    assert report.curve == seen


def test_training_learns_the_block_structure():
    matrix = block_matrix()
    task, rng = make_task(matrix.shape[1])
    run_training(task, matrix, TrainingSettings(epochs=30, batch_size=8, device="cpu"), rng=rng)
    with torch.no_grad():
        scores = task.score(torch.as_tensor(matrix.toarray()), None)
    group_a = scores[:20, :6].mean() - scores[:20, 6:].mean()
    group_b = scores[20:, 6:].mean() - scores[20:, :6].mean()
    assert group_a > 1.0 and group_b > 1.0


def test_same_seed_same_weights_other_seed_other_weights():
    matrix = block_matrix()
    runs = []
    for seed in (4, 4, 5):
        task, rng = make_task(matrix.shape[1], seed=seed)
        run_training(task, matrix, TrainingSettings(epochs=2, batch_size=8, device="cpu", seed=seed), rng=rng)
        runs.append(task.net.weight.detach().clone())
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_early_stopping_stops_and_restores_the_best_weights():
    matrix = block_matrix(n_users=80)
    val = carve_validation(matrix, 0.3, seed=0)
    # a large learning rate makes validation peak early, then wander
    task, rng = make_task(matrix.shape[1], lr=0.5)
    best = {}

    def remember(record):
        if record["val_ndcg"] is not None and record["val_ndcg"] > best.get("ndcg", -1):
            best.update(ndcg=record["val_ndcg"], weights=weights_of(task))

    report = run_training(
        task,
        val.train,
        TrainingSettings(epochs=200, batch_size=8, patience=3, device="cpu", val_k=5),
        validation=val,
        progress=remember,
        rng=rng,
    )
    assert report.stopped_early and report.n_epochs < 200
    assert report.n_epochs == report.best_epoch + 3
    assert report.best_val_ndcg == pytest.approx(best["ndcg"])
    for key, value in best["weights"].items():
        assert torch.equal(task.weights()[key], value), "the best epoch's weights are restored"


def test_checkpoint_resume_equals_a_straight_run(tmp_path):
    matrix = block_matrix()
    settings = dict(batch_size=8, device="cpu", checkpoint_dir=tmp_path / "ckpt")

    task, rng = make_task(matrix.shape[1])
    first = run_training(task, matrix, TrainingSettings(epochs=2, **settings), rng=rng)
    assert first.n_epochs == 2
    saved = torch.load(tmp_path / "ckpt" / CHECKPOINT_NAME, weights_only=True)
    assert saved["epoch"] == 2

    # a fresh process would rebuild the task from the seed, then resume from the checkpoint
    resumed_task, rng = make_task(matrix.shape[1])
    resumed = run_training(resumed_task, matrix, TrainingSettings(epochs=4, resume=True, **settings), rng=rng)
    assert [r["epoch"] for r in resumed.curve] == [1, 2, 3, 4]
    assert resumed_task.epochs_started == [2, 3], "only the missing epochs run"

    straight_task, rng = make_task(matrix.shape[1])
    run_training(straight_task, matrix, TrainingSettings(epochs=4, batch_size=8, device="cpu"), rng=rng)
    for key, value in straight_task.weights().items():
        torch.testing.assert_close(resumed_task.weights()[key], value, rtol=0, atol=1e-6)


def test_resume_without_checkpoint_starts_from_scratch(tmp_path):
    matrix = block_matrix()
    task, rng = make_task(matrix.shape[1])
    report = run_training(
        task,
        matrix,
        TrainingSettings(epochs=1, batch_size=8, device="cpu", resume=True, checkpoint_dir=tmp_path / "new"),
        rng=rng,
    )
    assert report.n_epochs == 1 and (tmp_path / "new" / CHECKPOINT_NAME).is_file()


def test_bad_settings_and_empty_data_are_refused():
    matrix = block_matrix()
    task, rng = make_task(matrix.shape[1])
    with pytest.raises(ConfigError):
        run_training(task, matrix, TrainingSettings(epochs=1, batch_size=0, device="cpu"), rng=rng)
    with pytest.raises(ModelError, match="no user"):
        run_training(task, sp.csr_matrix(matrix.shape, dtype=np.float32), TrainingSettings(epochs=1), rng=rng)


def test_diverging_loss_raises_a_model_error():
    matrix = block_matrix()
    task, rng = make_task(matrix.shape[1])
    with torch.no_grad():
        task.net.weight.fill_(float("nan"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ModelError, match="diverged"):
            run_training(task, matrix, TrainingSettings(epochs=1, batch_size=8, device="cpu"), rng=rng)
