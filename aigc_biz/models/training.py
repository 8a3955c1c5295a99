"""The one training loop every torch model uses: device, seeds, mini-batches, precision,
validation with early stopping, checkpoints and progress reports.

A model describes *what* one optimisation step is by subclassing :class:`TrainingTask`; the
:func:`run_training` loop decides *when* steps run, evaluates, checkpoints and stops. The library never
prints: progress goes to a callback that receives one dict per epoch.
"""
from __future__ import annotations

import contextlib
import time
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import scipy.sparse as sp
import torch

from aigc_biz.data.splits import holdout_items
from aigc_biz.errors import ConfigError, ModelError
from aigc_biz.metrics_core import ndcg_at_k

CHECKPOINT_NAME = "checkpoint.pt"


# --- device, seeds, batches ----------------------------------------------------------------------
def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available else CPU; ``"cuda"`` without a GPU warns and falls back to CPU."""
    if isinstance(device, torch.device):
        device = str(device)
    name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            warnings.warn(f"device {device!r} requested but CUDA is not available; training on CPU",
                          RuntimeWarning, stacklevel=2)
            return torch.device("cpu")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"unknown device {device!r}", hint='use "auto", "cpu" or "cuda"')


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch (CPU and CUDA) and return the numpy Generator the loop shuffles with."""
    torch.manual_seed(int(seed))
    return np.random.default_rng(int(seed))


def dense_rows(matrix: sp.csr_matrix, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Rows of a CSR matrix as one dense float32 tensor on ``device`` (only these rows are densified)."""
    part = matrix[rows]
    out = torch.zeros((len(rows), matrix.shape[1]), dtype=torch.float32)
    if part.nnz:
        counts = np.diff(part.indptr)
        row_idx = torch.from_numpy(np.repeat(np.arange(len(rows)), counts).astype(np.int64))
        out[row_idx, torch.from_numpy(part.indices.astype(np.int64))] = torch.from_numpy(
            part.data.astype(np.float32))
    return out.to(device, non_blocking=True)


def iterate_batches(order: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


# --- validation slice carved from the training data ------------------------------------------------
@dataclass
class ValidationSlice:
    """Training rows with some items held out, to watch ranking quality while fitting.

    Attributes
    ----------
    train : csr (n_users, n_items)
        The training matrix without the held-out items; what the model is fitted on.
    users : int array (n_val,)
        Rows of the validation users.
    target : csr (n_val, n_items)
        Their held-out items (the ground truth of validation NDCG).
    """

    train: sp.csr_matrix
    users: np.ndarray
    target: sp.csr_matrix


def carve_validation(matrix: sp.csr_matrix, user_fraction: float, item_fraction: float = 0.2,
                     seed: int = 0, min_items: int = 3, max_users: int = 5000) -> ValidationSlice | None:
    """Hold out ``item_fraction`` of the items of a sample of users with ``min_items`` or more items.

    ``user_fraction`` of the users (at most ``max_users``) are sampled; returns ``None`` when there
    are too few eligible users (fewer than 2) or ``user_fraction`` is 0, so training runs without it.
    The carve itself is :func:`aigc_biz.data.splits.holdout_items` (the one ``validation_split`` uses).
    """
    if not 0.0 <= user_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {user_fraction}")
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    if user_fraction == 0.0:
        return None
    held, users = holdout_items(matrix, item_fraction, seed, min_items=min_items, user_fraction=user_fraction,
                                max_users=max_users)
    if len(users) == 0:
        return None
    coo = matrix.tocoo()
    train = sp.csr_matrix((coo.data[~held], (coo.row[~held], coo.col[~held])), shape=matrix.shape)
    rows = np.searchsorted(users, coo.row[held])
    target = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, coo.col[held])),
                           shape=(len(users), matrix.shape[1]))
    return ValidationSlice(train=train, users=users, target=target)


# --- what a model supplies ------------------------------------------------------------------------
class TrainingRuntime:
    """What a task needs during a step: the device, autocast and a scaled backward/step."""

    def __init__(self, device: torch.device, precision: str):
        self.device = device
        self.precision = precision
        self._dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    def autocast(self):
        """Mixed precision on CUDA only; a no-op context in fp32."""
        if self._dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self._dtype)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """zero_grad, backward (scaled in fp16), optimizer step."""
        optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()


class TrainingTask(ABC):
    """One model's optimisation step and scoring; :func:`run_training` drives it.

    Subclasses fill ``modules`` (name -> nn.Module whose weights are the model) and ``optimizers``
    (name -> optimizer) before training starts.
    """

    modules: dict[str, torch.nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    @abstractmethod
    def train_batch(self, batch: torch.Tensor, context: torch.Tensor | None, runtime: TrainingRuntime,
                    step: int) -> float:
        """One optimisation step on a dense batch of history rows; returns the batch loss."""

    @abstractmethod
    def score(self, batch: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """Scores (rows, n_items), higher is better; called in eval mode under inference_mode."""

    def score_variants(self, batch: torch.Tensor, context: torch.Tensor | None) -> dict:
        """Alternative scorings to validate side by side (e.g. fusion weights); the best one counts.

        Keys must be JSON-able scalars; the key of the best epoch's best variant is reported as
        ``TrainingReport.best_variant``. Default: the single variant ``None`` = :meth:`score`.
        """
        return {None: self.score(batch, context)}

    def start_epoch(self, epoch: int) -> None:
        """Hook before each epoch (e.g. schedules); default does nothing."""

    def weights(self) -> dict[str, torch.Tensor]:
        return {f"{name}.{key}": value for name, module in self.modules.items()
                for key, value in module.state_dict().items()}

    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        for name, module in self.modules.items():
            prefix = name + "."
            module.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})

    def set_mode(self, training: bool) -> None:
        for module in self.modules.values():
            module.train(training)


# --- the loop -------------------------------------------------------------------------------------
@dataclass
class TrainingSettings:
    """How to train (shared by every torch model; each model exposes these as hyper-parameters)."""

    epochs: int = 100
    batch_size: int = 500
    patience: int = 10
    device: str = "auto"
    seed: int = 0
    #: "auto" (bf16 on CUDA when supported, else fp16; fp32 on CPU), "fp32", "bf16", "fp16"
    precision: str = "auto"
    checkpoint_dir: str | Path | None = None
    resume: bool = False
    #: k of the validation NDCG@k that early stopping watches
    val_k: int = 20


@dataclass
class TrainingReport:
    n_epochs: int
    best_epoch: int
    best_val_ndcg: float | None
    stopped_early: bool
    curve: list[dict] = field(default_factory=list)
    device: str = "cpu"
    precision: str = "fp32"
    #: key of the best score variant at the best epoch (see TrainingTask.score_variants)
    best_variant: object = None


def resolve_precision(precision: str, device: torch.device) -> str:
    name = str(precision).lower()
    if name not in ("auto", "fp32", "bf16", "fp16"):
        raise ConfigError(f"unknown precision {precision!r}", hint='use "auto", "fp32", "bf16" or "fp16"')
    if device.type != "cuda":
        return "fp32"
    if name == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return name


def validation_ndcg(task: TrainingTask, validation: ValidationSlice, matrix: sp.csr_matrix,
                    context: torch.Tensor | None, k: int, batch_size: int, device: torch.device
                    ) -> tuple[float, object]:
    """Mean NDCG@k of the held-out items (all items ranked except the user's fold-in items).

    Returns the best value over the task's score variants and that variant's key.
    """
    task.set_mode(False)
    tops: dict = {}
    with torch.inference_mode():
        for rows in iterate_batches(validation.users, batch_size):
            batch = dense_rows(matrix, rows, device)
            ctx = None if context is None else context[torch.from_numpy(rows)].to(device)
            for key, scores in task.score_variants(batch, ctx).items():
                scores = scores.float().masked_fill(batch > 0, -torch.inf)
                top = torch.topk(scores, min(k, scores.shape[1]), dim=1).indices.cpu().numpy()
                tops.setdefault(key, []).append(top)
    task.set_mode(True)
    values = {key: float(np.nanmean(ndcg_at_k(np.vstack(parts), validation.target, k)))
              for key, parts in tops.items()}
    best = max(values, key=lambda key: values[key])
    return values[best], best


def _checkpoint_state(task, epoch, rng, best_state, best_score, best_epoch, best_variant, bad_epochs, curve,
                      done) -> dict:
    return {
        "epoch": epoch, "weights": task.weights(), "best_variant": best_variant,
        "optimizers": {n: o.state_dict() for n, o in task.optimizers.items()},
        "best_weights": best_state, "best_score": best_score, "best_epoch": best_epoch,
        "bad_epochs": bad_epochs, "curve": curve, "done": done,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        # the numpy state holds 128-bit ints; strings keep the file loadable with weights_only=True
        "numpy_rng": {k: str(v) for k, v in rng.bit_generator.state["state"].items()},
        "numpy_rng_extra": [int(rng.bit_generator.state["has_uint32"]), int(rng.bit_generator.state["uinteger"])],
    }


def _restore_rng(rng: np.random.Generator, saved: dict) -> None:
    state = rng.bit_generator.state
    state["state"] = {k: int(v) for k, v in saved["numpy_rng"].items()}
    state["has_uint32"], state["uinteger"] = saved["numpy_rng_extra"]
    rng.bit_generator.state = state
    torch.set_rng_state(saved["torch_rng"])
    if saved["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["cuda_rng"])


def _save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: an interrupted save never leaves a half-written checkpoint


def _clone_weights(task: TrainingTask) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in task.weights().items()}


def run_training(task: TrainingTask, matrix: sp.csr_matrix, settings: TrainingSettings,
                 context: torch.Tensor | None = None, validation: ValidationSlice | None = None,
                 progress: Callable[[dict], None] | None = None,
                 rng: np.random.Generator | None = None) -> TrainingReport:
    """Train ``task`` on the rows of ``matrix`` (users without items are skipped).

    The task's modules and optimizers must already live on the device
    (``resolve_device(settings.device)``) and torch must be seeded (:func:`seed_everything`) before
    the task is built, so that initial weights are reproducible; ``rng`` is the numpy Generator
    from that call. With ``validation`` the loop keeps the weights of the best validation NDCG,
    stops after ``patience`` epochs without improvement and restores the best weights at the end.

    ``progress`` receives ``{epoch, epochs, loss, val_ndcg, seconds}`` after each epoch (epoch is 1-based).

    With ``checkpoint_dir`` the full state (weights, optimizers, RNG states, best weights, curve) is
    written after every epoch; ``resume=True`` continues from it up to ``epochs`` (a run that already
    stopped early stays stopped). The caller must pass the same data, seed and settings.
    """
    if settings.epochs < 0 or settings.batch_size < 1 or settings.patience < 1:
        raise ConfigError("epochs must be >= 0, batch_size and patience >= 1",
                          hint=f"got epochs={settings.epochs}, batch_size={settings.batch_size}, "
                               f"patience={settings.patience}")
    device = resolve_device(settings.device)
    precision = resolve_precision(settings.precision, device)
    runtime = TrainingRuntime(device, precision)
    rng = np.random.default_rng(settings.seed) if rng is None else rng
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    active = np.flatnonzero(np.diff(matrix.indptr) > 0)
    if len(active) == 0:
        raise ModelError("no user has any interaction to train on")

    start, curve, best_state, best_score, best_epoch, bad_epochs, done = 0, [], None, None, 0, 0, False
    best_variant = None
    checkpoint = None
    if settings.checkpoint_dir is not None:
        folder = Path(settings.checkpoint_dir)
        folder.mkdir(parents=True, exist_ok=True)
        checkpoint = folder / CHECKPOINT_NAME
        if settings.resume and checkpoint.exists():
            saved = torch.load(checkpoint, map_location=device, weights_only=True)
            task.load_weights(saved["weights"])
            for name, optimizer in task.optimizers.items():
                optimizer.load_state_dict(saved["optimizers"][name])
            _restore_rng(rng, saved)
            start, curve = int(saved["epoch"]), list(saved["curve"])
            best_state, best_score = saved["best_weights"], saved["best_score"]
            best_epoch, bad_epochs, done = int(saved["best_epoch"]), int(saved["bad_epochs"]), bool(saved["done"])
            best_variant = saved["best_variant"]

    n_batches = -(-len(active) // settings.batch_size)
    task.set_mode(True)
    for epoch in range(start, settings.epochs):
        if done:
            break
        began = time.perf_counter()
        task.start_epoch(epoch)
        order = rng.permutation(active)
        total, count = 0.0, 0
        for i, rows in enumerate(iterate_batches(order, settings.batch_size)):
            batch = dense_rows(matrix, rows, device)
            ctx = None if context is None else context[torch.from_numpy(rows)].to(device)
            loss = task.train_batch(batch, ctx, runtime, epoch * n_batches + i)
            if not np.isfinite(loss):
                raise ModelError(f"training diverged at epoch {epoch + 1} (loss is {loss})",
                                 hint="lower lr or use precision='fp32'")
            total += loss * len(rows)
            count += len(rows)
        val = None
        if validation is not None:
            val, variant = validation_ndcg(task, validation, matrix, context, settings.val_k,
                                           max(settings.batch_size, 1024), device)
            if best_score is None or val > best_score:
                best_score, best_epoch, best_variant, bad_epochs = val, epoch + 1, variant, 0
                best_state = _clone_weights(task)
            else:
                bad_epochs += 1
                done = bad_epochs >= settings.patience
        else:
            best_epoch = epoch + 1
        record = {"epoch": epoch + 1, "epochs": settings.epochs, "loss": total / max(count, 1),
                  "val_ndcg": val, "seconds": time.perf_counter() - began}
        curve.append(record)
        if checkpoint is not None:
            _save_checkpoint(checkpoint, _checkpoint_state(task, epoch + 1, rng, best_state, best_score,
                                                           best_epoch, best_variant, bad_epochs, curve, done))
        if progress is not None:
            progress(dict(record))
    if best_state is not None:
        task.load_weights({k: v.to(device) for k, v in best_state.items()})
    task.set_mode(False)
    return TrainingReport(n_epochs=len(curve), best_epoch=best_epoch, best_val_ndcg=best_score,
                          stopped_early=done and len(curve) < settings.epochs, curve=curve,
                          device=str(device), precision=precision, best_variant=best_variant)


@dataclass
class PreparedFit:
    """What every torch model's ``_fit`` starts from: binary history, context, validation, device, seed."""

    matrix: sp.csr_matrix
    train: sp.csr_matrix
    context: torch.Tensor | None
    validation: ValidationSlice | None
    device: torch.device
    rng: np.random.Generator
    settings: TrainingSettings

    @property
    def n_context(self) -> int:
        return 0 if self.context is None else int(self.context.shape[1])


def prepare_fit(model, data) -> PreparedFit:
    """Binarise ``data``'s matrix, encode its user attributes as context (sets ``model.context_encoder_``), carve the
    validation slice from the training data, pick the device, seed everything, collect the settings.

    ``model`` is a fitted-in-progress torch Recommender with the shared hyper-parameters
    (epochs, batch_size, patience, val_fraction, device, precision, seed, checkpoint_dir, resume).
    """
    from aigc_biz.models.context import ContextEncoder
    matrix = data.binary()
    features = data.user_features.reset_index(drop=True)
    model.context_encoder_ = ContextEncoder().fit(features)
    context = model.context_encoder_.transform(features) if model.context_encoder_.n_features_ else None
    validation = carve_validation(matrix, model.val_fraction, seed=model.seed)
    settings = TrainingSettings(epochs=int(model.epochs), batch_size=int(model.batch_size),
                                patience=int(model.patience), device=str(resolve_device(model.device)),
                                seed=int(model.seed), precision=model.precision,
                                checkpoint_dir=model.checkpoint_dir, resume=bool(model.resume))
    return PreparedFit(matrix=matrix, train=matrix if validation is None else validation.train, context=context,
                       validation=validation, device=torch.device(settings.device),
                       rng=seed_everything(model.seed), settings=settings)


def record_report(model, report: TrainingReport) -> None:
    """The fitted attributes every torch model exposes after training."""
    model.device_ = report.device
    model.n_epochs_ = report.n_epochs
    model.best_epoch_ = report.best_epoch
    model.best_val_ndcg_ = report.best_val_ndcg
    model.training_curve_ = report.curve
