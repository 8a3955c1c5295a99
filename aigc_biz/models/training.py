"""The one training loop every torch model uses: device, seeds, mini-batches, precision,
validation with early stopping, checkpoints and progress reports.

A model describes *what* one optimisation step is by subclassing :class:`TrainingTask`; the
:func:`run_training` loop decides *when* steps run, evaluates, checkpoints and stops. The library never
prints: progress goes to a callback that receives one dict per epoch.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Iterator

import numpy as np
import scipy.sparse as sp
import torch

from aigc_biz.data.splits import holdout_items
from aigc_biz.errors import ConfigError, ModelError
from aigc_biz.metrics_core import ndcg_at_k
from aigc_biz.models.base import Recommender
from aigc_biz.models.distributed import ProcessGroup, local_device, open_group

log = logging.getLogger(__name__)

#: how ``restarts`` fits become one model: the best on validation, or the mean of their scores
RESTART_COMBINES = ("best", "mean", "select")
#: the combines that keep more than one restart for scoring
_AVERAGING = ("mean", "select")
#: prefix of an averaged restart's arrays in a saved model (``averaged1.net.weight``...)
_MEMBER = "averaged"

CHECKPOINT_NAME = "checkpoint.pt"


# --- device, seeds, batches ----------------------------------------------------------------------
def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available else CPU; ``"cuda"`` without a GPU warns and falls back to CPU.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) ``"auto"`` and ``"cuda"`` mean the GPU of ``LOCAL_RANK``.
    """
    if isinstance(device, torch.device):
        device = str(device)
    name = str(device).strip().lower()
    if name == "auto":
        return local_device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            warnings.warn(
                f"device {device!r} requested but CUDA is not available; training on CPU", RuntimeWarning, stacklevel=2
            )
            return torch.device("cpu")
        return local_device("cuda") if name == "cuda" else torch.device(name)
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
        out[row_idx, torch.from_numpy(part.indices.astype(np.int64))] = torch.from_numpy(part.data.astype(np.float32))
    return out.to(device, non_blocking=True)


def iterate_batches(order: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


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


def carve_validation(
    matrix: sp.csr_matrix,
    user_fraction: float,
    item_fraction: float = 0.2,
    seed: int = 0,
    min_items: int = 3,
    max_users: int = 5000,
) -> ValidationSlice | None:
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
    held, users = holdout_items(
        matrix, item_fraction, seed, min_items=min_items, user_fraction=user_fraction, max_users=max_users
    )
    if len(users) == 0:
        return None
    coo = matrix.tocoo()
    train = sp.csr_matrix((coo.data[~held], (coo.row[~held], coo.col[~held])), shape=matrix.shape)
    rows = np.searchsorted(users, coo.row[held])
    target = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, coo.col[held])), shape=(len(users), matrix.shape[1])
    )
    return ValidationSlice(train=train, users=users, target=target)


# --- what a model supplies ------------------------------------------------------------------------
class TrainingRuntime:
    """What a task needs during a step: the device, autocast and a scaled backward/step.

    With a ``group`` (several processes, see :mod:`aigc_biz.models.distributed`) :meth:`step` averages
    the gradients over the processes before the optimizers step, so every task trains data-parallel
    as long as it steps its optimizers through :meth:`step`.
    """

    def __init__(self, device: torch.device, precision: str, group: ProcessGroup | None = None):
        self.device = device
        self.precision = precision
        self.group = group
        self._dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    def autocast(self):
        """Mixed precision on CUDA only; a no-op context in fp32."""
        if self._dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self._dtype)

    def step(self, loss: torch.Tensor, *optimizers: torch.optim.Optimizer) -> None:
        """zero_grad, backward (scaled in fp16), gradients averaged over the processes, optimizer step;
        several optimizers (one per part of a network) all step on the one backward pass."""
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()
        if self.group is not None:
            for optimizer in optimizers:
                self.group.average_gradients(optimizer)
        for optimizer in optimizers:
            if self.scaler is None:
                optimizer.step()
            else:
                self.scaler.step(optimizer)
        if self.scaler is not None:
            self.scaler.update()


class TrainingTask(ABC):
    """One model's optimisation step and scoring; :func:`run_training` drives it.

    Subclasses fill ``modules`` (name -> nn.Module whose weights are the model) and ``optimizers``
    (name -> optimizer) before training starts.
    """

    modules: dict[str, torch.nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    def batch_input(self, matrix: sp.csr_matrix, rows: np.ndarray, device: torch.device) -> torch.Tensor:
        """What :meth:`train_batch` and :meth:`score` receive for these rows of the training matrix:
        by default the dense history rows; a sequence model returns the row indices and reads its
        own ordered sequences instead."""
        return dense_rows(matrix, rows, device)

    @abstractmethod
    def train_batch(
        self, batch: torch.Tensor, context: torch.Tensor | None, runtime: TrainingRuntime, step: int
    ) -> float:
        """One optimisation step on a batch (:meth:`batch_input` of the rows); returns the batch loss."""

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
        return {
            f"{name}.{key}": value
            for name, module in self.modules.items()
            for key, value in module.state_dict().items()
        }

    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        for name, module in self.modules.items():
            prefix = name + "."
            module.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})

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
    #: processes that trained together (``torchrun``), 1 in a single process
    processes: int = 1


def resolve_precision(precision: str, device: torch.device) -> str:
    name = str(precision).lower()
    if name not in ("auto", "fp32", "bf16", "fp16"):
        raise ConfigError(f"unknown precision {precision!r}", hint='use "auto", "fp32", "bf16" or "fp16"')
    if device.type != "cuda":
        return "fp32"
    if name == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return name


def validation_ndcg(
    task: TrainingTask,
    validation: ValidationSlice,
    matrix: sp.csr_matrix,
    context: torch.Tensor | None,
    k: int,
    batch_size: int,
    device: torch.device,
    group: ProcessGroup | None = None,
) -> tuple[float, object]:
    """Mean NDCG@k of the held-out items (all items ranked except the user's fold-in items).

    Returns the best value over the task's score variants and that variant's key. With a ``group``
    each process scores its share of the validation customers and the sums are added up, so every
    process gets the same values and takes the same early-stopping decision.
    """
    users, target = validation.users, validation.target
    if group is not None:
        share = group.shard(np.arange(len(users)))
        users, target = users[share], target[share]
    task.set_mode(False)
    tops: dict = {}
    with torch.inference_mode():
        # at least one (maybe empty) batch, so a process without validation customers still knows the variants
        for rows in list(iterate_batches(users, batch_size)) or [users]:
            batch = task.batch_input(matrix, rows, device)
            ctx = None if context is None else context[torch.from_numpy(rows)].to(device)
            # the seen mask comes from the sparse rows, whatever form the task's input takes
            seen = matrix[rows].tocoo()
            seen_at = (
                torch.from_numpy(seen.row.astype(np.int64)).to(device),
                torch.from_numpy(seen.col.astype(np.int64)).to(device),
            )
            for key, scores in task.score_variants(batch, ctx).items():
                scores = scores.float().clone()
                scores[seen_at] = -torch.inf
                top = torch.topk(scores, min(k, scores.shape[1]), dim=1).indices.cpu().numpy()
                tops.setdefault(key, []).append(top)
    task.set_mode(True)
    per_user = {key: ndcg_at_k(np.vstack(parts), target, k) for key, parts in tops.items()}
    if group is None:
        values = {key: float(np.nanmean(ndcg)) for key, ndcg in per_user.items()}
    else:
        parts = [x for ndcg in per_user.values() for x in (np.nansum(ndcg), np.count_nonzero(~np.isnan(ndcg)))]
        sums = group.sum(*parts)
        values = {key: sums[2 * i] / max(sums[2 * i + 1], 1.0) for i, key in enumerate(per_user)}
    best = max(values, key=lambda key: values[key])
    return values[best], best


@dataclass
class LoopState:
    """Where :func:`run_training` stands: what a checkpoint holds besides the task's weights and optimizers.

    Attributes
    ----------
    epoch : int
        Epochs completed.
    curve : list of dict
        One progress record per completed epoch.
    best_weights : dict or None
        CPU copy of the weights of the best validation epoch (None without validation).
    best_score, best_epoch, best_variant :
        Best validation NDCG, its 1-based epoch and the key of its best score variant.
    bad_epochs : int
        Epochs since the best one; ``done`` once it reaches ``patience``.
    """

    epoch: int = 0
    curve: list = field(default_factory=list)
    best_weights: dict | None = None
    best_score: float | None = None
    best_epoch: int = 0
    best_variant: object = None
    bad_epochs: int = 0
    done: bool = False

    def observe(self, val: float | None, variant: object, task: "TrainingTask", patience: int) -> None:
        """Record one epoch's validation NDCG (None: no validation, the last epoch counts)."""
        if val is None:
            self.best_epoch = self.epoch + 1
        elif self.best_score is None or val > self.best_score:
            self.best_score, self.best_epoch, self.best_variant, self.bad_epochs = val, self.epoch + 1, variant, 0
            self.best_weights = _clone_weights(task)
        else:
            self.bad_epochs += 1
            self.done = self.bad_epochs >= patience

    def to_checkpoint(self, task: "TrainingTask", rng: np.random.Generator) -> dict:
        """Everything needed to continue: this state, the task's weights and optimizers, every RNG state."""
        return {
            "epoch": self.epoch,
            "weights": task.weights(),
            "best_variant": self.best_variant,
            "optimizers": {n: o.state_dict() for n, o in task.optimizers.items()},
            "best_weights": self.best_weights,
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "curve": self.curve,
            "done": self.done,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            # the numpy state holds 128-bit ints; strings keep the file loadable with weights_only=True
            "numpy_rng": {k: str(v) for k, v in rng.bit_generator.state["state"].items()},
            "numpy_rng_extra": [int(rng.bit_generator.state["has_uint32"]), int(rng.bit_generator.state["uinteger"])],
        }

    @classmethod
    def from_checkpoint(cls, saved: dict, task: "TrainingTask", rng: np.random.Generator) -> "LoopState":
        """Restore the task's weights and optimizers and the RNG states from ``saved``; return the loop state."""
        task.load_weights(saved["weights"])
        for name, optimizer in task.optimizers.items():
            optimizer.load_state_dict(saved["optimizers"][name])
        _restore_rng(rng, saved)
        return cls(
            epoch=int(saved["epoch"]),
            curve=list(saved["curve"]),
            best_weights=saved["best_weights"],
            best_score=saved["best_score"],
            best_epoch=int(saved["best_epoch"]),
            best_variant=saved["best_variant"],
            bad_epochs=int(saved["bad_epochs"]),
            done=bool(saved["done"]),
        )


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
    try:
        torch.save(state, tmp)
        tmp.replace(path)  # atomic: an interrupted save never leaves a half-written checkpoint
    except BaseException:  # also the CLI's SIGTERM/SIGHUP (errors.Terminated): no stray .tmp left
        tmp.unlink(missing_ok=True)
        raise


def _clone_weights(task: TrainingTask) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in task.weights().items()}


def run_training(
    task: TrainingTask,
    matrix: sp.csr_matrix,
    settings: TrainingSettings,
    context: torch.Tensor | None = None,
    validation: ValidationSlice | None = None,
    progress: Callable[[dict], None] | None = None,
    rng: np.random.Generator | None = None,
) -> TrainingReport:
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

    Under ``torchrun`` (``WORLD_SIZE`` > 1, see :mod:`aigc_biz.models.distributed`) every process runs
    this with the same data and seed: rank 0's weights are broadcast, each global batch of
    ``batch_size`` rows is split between the processes and their gradients averaged at every step,
    each validates its share of the validation customers and all follow the early-stopping decision
    of the summed NDCG, and only rank 0 writes checkpoints and reports progress. Every process returns
    the same weights and report.
    """
    if settings.epochs < 0 or settings.batch_size < 1 or settings.patience < 1:
        raise ConfigError(
            "epochs must be >= 0, batch_size and patience >= 1",
            hint=f"got epochs={settings.epochs}, batch_size={settings.batch_size}, patience={settings.patience}",
        )
    device = resolve_device(settings.device)
    rng = np.random.default_rng(settings.seed) if rng is None else rng
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    active = np.flatnonzero(np.diff(matrix.indptr) > 0)
    if len(active) == 0:
        raise ModelError("no user has any interaction to train on")
    group = open_group(device)
    if group is not None and len(active) < group.world_size:
        raise ModelError(f"{len(active)} customers with interactions cannot be split over {group.world_size} processes")
    # every process draws its own noise while training; afterwards all continue from one torch RNG state
    keep_rng = (
        contextlib.nullcontext()
        if group is None
        else torch.random.fork_rng(devices=[device] if device.type == "cuda" else [], device_type=device.type)
    )
    with keep_rng:
        return _train_loop(task, matrix, active, settings, device, context, validation, progress, rng, group)


def _diverged(epoch: int, loss: float) -> ModelError:
    return ModelError(
        f"training diverged at epoch {epoch + 1} (loss is {loss})", hint="lower lr or use precision='fp32'"
    )


def _train_loop(
    task: TrainingTask,
    matrix: sp.csr_matrix,
    active: np.ndarray,
    settings: TrainingSettings,
    device: torch.device,
    context: torch.Tensor | None,
    validation: ValidationSlice | None,
    progress: Callable[[dict], None] | None,
    rng: np.random.Generator,
    group: ProcessGroup | None,
) -> TrainingReport:
    """:func:`run_training`'s epochs; ``group`` is None in a single process."""
    precision = resolve_precision(settings.precision, device)
    runtime = TrainingRuntime(device, precision, group=group)
    main = group is None or group.is_main
    state = LoopState()
    checkpoint = None
    if settings.checkpoint_dir is not None:
        folder = Path(settings.checkpoint_dir)
        if main:
            folder.mkdir(parents=True, exist_ok=True)
        checkpoint = folder / CHECKPOINT_NAME
        if settings.resume and checkpoint.exists():
            saved = torch.load(checkpoint, map_location=device, weights_only=True)
            state = LoopState.from_checkpoint(saved, task, rng)
    if group is not None:
        group.broadcast_modules(task.modules)

    n_batches = -(-len(active) // settings.batch_size)
    task.set_mode(True)
    while state.epoch < settings.epochs and not state.done:
        epoch = state.epoch
        began = time.perf_counter()
        if group is not None:
            torch.manual_seed(group.epoch_seed(settings.seed, epoch))
        task.start_epoch(epoch)
        order = rng.permutation(active)
        total, count = 0.0, 0
        for i, rows in enumerate(iterate_batches(order, settings.batch_size)):
            if group is not None:
                if len(rows) < group.world_size:
                    continue  # a last batch too small to split: every process skips it, so none waits
                rows = group.shard(rows)
            batch = task.batch_input(matrix, rows, device)
            ctx = None if context is None else context[torch.from_numpy(rows)].to(device)
            loss = task.train_batch(batch, ctx, runtime, epoch * n_batches + i)
            if group is None and not np.isfinite(loss):
                raise _diverged(epoch, loss)
            total += loss * len(rows)
            count += len(rows)
        if group is not None:
            total, count = group.sum(total, count)  # every process sees a divergence at the same point
            if not np.isfinite(total):
                raise _diverged(epoch, total)
        val, variant = None, None
        if validation is not None:
            val, variant = validation_ndcg(
                task, validation, matrix, context, settings.val_k, max(settings.batch_size, 1024), device, group
            )
        state.observe(val, variant, task, settings.patience)
        record = {
            "epoch": epoch + 1,
            "epochs": settings.epochs,
            "loss": total / max(count, 1),
            "val_ndcg": val,
            "seconds": time.perf_counter() - began,
        }
        state.curve.append(record)
        state.epoch = epoch + 1
        if checkpoint is not None and main:
            _save_checkpoint(checkpoint, state.to_checkpoint(task, rng))
        if progress is not None and main:
            progress(dict(record))
    if group is not None:
        # the curve's seconds are rank 0's: every process keeps the same record
        state.curve = group.broadcast(state.curve)
        group.check_replicas(task.modules, "training")
    if state.best_weights is not None:
        task.load_weights({k: v.to(device) for k, v in state.best_weights.items()})
    task.set_mode(False)
    return TrainingReport(
        n_epochs=len(state.curve),
        best_epoch=state.best_epoch,
        best_val_ndcg=state.best_score,
        stopped_early=state.done and len(state.curve) < settings.epochs,
        curve=state.curve,
        device=str(device),
        precision=precision,
        best_variant=state.best_variant,
        processes=1 if group is None else group.world_size,
    )


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


# --- warm start: continue a fitted model on new data ---------------------------------------------
#: share of the epochs the previous model kept that a warm start runs by default (early stopping still applies)
WARM_EPOCH_SHARE = 0.25


def warm_start_epochs(previous: "TorchRecommender") -> int:
    """Default epochs of a warm start from ``previous``: a quarter of the epochs it kept, at least one.

    The epochs it kept are those up to its best validation epoch (``best_epoch_``); the ``patience``
    epochs it ran after that did not improve it. Without a best epoch (older saves), those it ran.
    """
    kept = int(getattr(previous, "best_epoch_", 0) or getattr(previous, "n_epochs_", 0) or 0)
    return max(1, int(np.ceil(WARM_EPOCH_SHARE * kept)))


def load_warm_start(warm_start, name: str, data) -> Recommender:
    """The fitted model to warm-start a ``name`` model from on ``data``: ``warm_start`` itself or the model
    saved in that folder. ModelError when it is another model type, was trained with other user
    attribute columns, or shares no item with ``data``."""
    where = None
    if isinstance(warm_start, (str, Path)):
        from aigc_biz.models.artifacts import load_model

        where = str(warm_start)
        previous = load_model(Path(warm_start))
    else:
        previous = warm_start
    if not isinstance(previous, Recommender):
        raise ModelError(f"warm_start must be a fitted model or a saved model folder, not {type(previous).__name__}")
    previous.check_fitted()
    if previous.name != name:
        raise ModelError(
            f"cannot warm-start a {name!r} model from a {previous.name!r} model",
            file=where,
            hint=f"train with --model {previous.name}, or drop --warm-start",
        )
    columns = [str(c) for c in data.user_features.columns]
    if columns != list(previous.user_feature_columns_):
        raise ModelError(
            f"cannot warm-start: the data has user attributes {columns}, the model was trained "
            f"with {list(previous.user_feature_columns_)}",
            file=where,
        )
    if (previous.item_positions(data.item_ids, strict=False) < 0).all():
        raise ModelError("cannot warm-start: the data shares no item with the model", file=where)
    return previous


def _axis_sources(
    blocks: tuple | None,
    size: int,
    old_size: int,
    sources: dict[str, np.ndarray],
    old_counts: dict[str, int],
    where: str,
) -> np.ndarray:
    """For each position of one axis of a new tensor, the position in the old tensor (-1: new slot)."""
    if blocks is None:
        if size != old_size:
            raise ModelError(
                f"cannot warm-start: {where} has {size} here and {old_size} in the saved model",
                hint="architecture parameters (hidden sizes, context_dim...) must match",
            )
        return np.arange(size)
    parts, old_offset = [], 0
    for block in blocks:
        if isinstance(block, str):
            source = sources[block]
            parts.append(np.where(source >= 0, source + old_offset, -1))
            old_offset += old_counts[block]
        else:
            parts.append(np.arange(int(block)) + old_offset)
            old_offset += int(block)
    out = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if len(out) != size or old_offset != old_size:
        raise ModelError(
            f"cannot warm-start: {where} has {size} here and {old_size} in the saved model",
            hint="architecture parameters (hidden sizes, context_dim...) must match",
        )
    return out


def grow_tensor(
    old: torch.Tensor,
    new: torch.Tensor,
    axes: tuple,
    sources: dict[str, np.ndarray],
    old_counts: dict[str, int],
    mean_init: bool = False,
    where: str = "tensor",
) -> torch.Tensor:
    """``new`` (a fresh init) with every slot that existed in ``old`` copied from it, bit for bit.

    ``axes`` has one entry per axis: None (size unchanged) or the axis's blocks, each ``"items"`` or
    ``"context"`` (remapped by ``sources[kind]``: new slot -> old slot or -1) or a fixed length.
    With ``mean_init`` new slots start at the mean of the old ones (output rows: a new item starts as
    an average item rather than at an arbitrary score); otherwise they keep the fresh init.
    """
    if old.ndim != new.ndim or len(axes) != new.ndim:
        raise ModelError(f"cannot warm-start: {where} has {new.ndim} axes here and {old.ndim} in the saved model")
    index = [
        _axis_sources(blocks, new.shape[a], old.shape[a], sources, old_counts, f"{where} axis {a}")
        for a, blocks in enumerate(axes)
    ]
    out = new.detach().clone()
    old = old.detach().to(out.device, out.dtype)
    if mean_init:
        grown = [a for a, blocks in enumerate(axes) if blocks is not None]
        if len(grown) == 1 and (index[grown[0]] < 0).any():
            a = grown[0]
            fresh = torch.from_numpy(np.flatnonzero(index[a] < 0))
            out.index_copy_(
                a,
                fresh.to(out.device),
                old.mean(dim=a, keepdim=True).expand_as(out.index_select(a, fresh.to(out.device))),
            )
    kept = [np.flatnonzero(i >= 0) for i in index]
    if all(len(k) for k in kept):
        target = tuple(torch.from_numpy(k) for k in np.ix_(*kept))
        source = tuple(torch.from_numpy(i[k]) for i, k in zip(index, np.ix_(*kept)))
        out[target] = old[source]
    return out


def modules_state(modules: dict[str, torch.nn.Module]) -> dict[str, np.ndarray]:
    """Every module's state as ``{"name.key": array}``: what a model with several networks saves."""
    return {
        f"{name}.{key}": value.detach().cpu().numpy()
        for name, module in modules.items()
        for key, value in module.state_dict().items()
    }


def load_modules_state(modules: dict[str, torch.nn.Module], state: dict[str, np.ndarray]) -> None:
    """Load :func:`modules_state` arrays back (strict: a missing key or another shape raises)."""
    for name, module in modules.items():
        prefix = name + "."
        module.load_state_dict(
            {k[len(prefix) :]: torch.as_tensor(np.asarray(v)) for k, v in state.items() if k.startswith(prefix)}
        )


class TorchRecommender(Recommender):
    """Base of the torch models: the training hyper-parameters they share, their checks, and the fitted
    training metadata every one of them saves and restores.

    A subclass keeps every hyper-parameter an explicit keyword of its ``__init__`` (``get_params``
    reads the signature), the shared ones of :attr:`shared_params` included, and supplies only what is
    its own: :meth:`_own_problems` (its parameter checks), ``_fit`` (starting from :meth:`prepare_fit`
    and ending with :meth:`record_report`), ``score_batch``, ``_state``, :meth:`_own_meta` and
    :meth:`_load_networks`.

    Attributes (after fit or load)
    ------------------------------
    n_epochs_, best_epoch_ : int
        Epochs run and the epoch whose weights were kept.
    best_val_ndcg_ : float or None
    training_curve_ : list of dict
        ``{epoch, epochs, loss, val_ndcg, seconds}`` per epoch (of the kept restart).
    restart_scores_ : list of dict
        With ``restarts`` > 1, ``{seed, best_epoch, best_val_ndcg}`` of each fit; empty otherwise.
    members_ : list of TorchRecommender
        With ``restart_combine="mean"``, the other restarts, whose scores are averaged with this model's
        (:meth:`score_rows`); with ``"select"``, those of them the validation chose; empty otherwise.
    ensemble_val_ndcg_ : float or None
        With ``restart_combine="mean"`` or ``"select"``, the validation NDCG of the averaged scores, on
        the same carved slice as each restart's ``best_val_ndcg``.
    context_encoder_ : ContextEncoder
    device_ : str
    """

    uses_context = True
    #: whether ``restart_combine="mean"`` or ``"select"`` can average this model's restarts: their
    #: validation must be the item carve of :func:`carve_validation`, scored from the history alone
    #: (not sequence models)
    averages_restarts: ClassVar[bool] = True
    #: hyper-parameters of the shared training loop, declared by every torch model's ``__init__``
    shared_params: ClassVar[tuple[str, ...]] = (
        "epochs",
        "batch_size",
        "patience",
        "val_fraction",
        "device",
        "precision",
        "seed",
        "restarts",
        "restart_combine",
        "checkpoint_dir",
        "resume",
    )

    # --- hyper-parameters -----------------------------------------------------------------------
    def _own_problems(self) -> list[str]:
        """This model's invalid hyper-parameters as ``key=value`` strings (the shared ones are checked here)."""
        return []

    def check_params(self) -> None:
        """ConfigError naming every invalid hyper-parameter, shared and own, in one line."""
        problems = [
            f"{k}={getattr(self, k)}" for k in ("batch_size", "patience", "restarts") if int(getattr(self, k)) < 1
        ]
        if int(self.epochs) < 0:
            problems.append(f"epochs={self.epochs}")
        if not 0.0 <= float(self.val_fraction) < 1.0:
            problems.append(f"val_fraction={self.val_fraction}")
        if str(self.restart_combine) not in RESTART_COMBINES:
            problems.append(f"restart_combine={self.restart_combine}")
        elif self.restart_combine in _AVERAGING and not self.averages_restarts:
            problems.append(f"restart_combine={self.restart_combine} (this model keeps one restart)")
        problems += [p for p in self._own_problems() if p not in problems]
        if problems:
            raise ConfigError(f"invalid {self.name} parameters: " + ", ".join(problems))

    def training_settings(self) -> TrainingSettings:
        return TrainingSettings(
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            patience=int(self.patience),
            device=str(resolve_device(self.device)),
            seed=int(self.seed),
            precision=self.precision,
            checkpoint_dir=self.checkpoint_dir,
            resume=bool(self.resume),
        )

    # --- fitting --------------------------------------------------------------------------------
    def fit(self, data, progress: Callable[[dict], None] | None = None, warm_start=None) -> "TorchRecommender":
        """Fit on ``data``; with ``warm_start`` (a fitted model of this type, or its saved folder) continue
        from its weights.

        The item vocabulary becomes ``data``'s items: items the old model knew keep their learnt rows
        in every item-sized layer, new items get fresh rows (output rows: the mean of the old ones),
        items gone from ``data`` are dropped. The context vocabularies keep their old slots and add the
        new values. Training then runs ``epochs`` epochs with early stopping on a validation slice carved
        from ``data`` (``aigc_biz.api.train`` defaults ``epochs`` to :func:`warm_start_epochs`).
        """
        self._warm_source = None if warm_start is None else load_warm_start(warm_start, self.name, data)
        self.members_, self.ensemble_val_ndcg_ = [], None
        try:
            if int(self.restarts) > 1:
                return self._fit_restarts(data, progress)
            self.restart_scores_ = []
            return super().fit(data, progress)
        finally:
            self._warm_source = None

    @property
    def split_seed(self) -> int:
        """Seed of the validation carve: the model's ``seed``, except in the fits of ``restarts``, which all
        use the first restart's so that every restart is judged on the same customers and items."""
        return int(getattr(self, "_split_seed", self.seed))

    def _fit_restarts(self, data, progress: Callable[[dict], None] | None) -> "TorchRecommender":
        """``restarts`` fits with seeds ``seed``, ``seed + 1``, ...; the one with the best validation NDCG
        becomes this model. The seed decides more than noise for some models: GiffCF's denoiser leaves
        its early plateau after 40 epochs with one seed and not within 200 with another (its authors
        advise trying seeds), so the choice is made the way epochs are, on the validation slice.

        With ``restart_combine="mean"`` the other fits are kept too (``members_``) and scoring averages
        all of them; the averaged scores' NDCG on the same validation slice is ``ensemble_val_ndcg_``,
        logged beside each fit's, so the validation says whether averaging beat the best single fit.

        ``restart_combine="select"`` is ensemble selection (Caruana et al., ICML 2004), without
        replacement: starting from the best fit, each other fit, best first, joins the average only if
        the average's NDCG on that validation slice rises with it. A fit that never left a plateau
        then stays out instead of pulling the mean down; the chosen ones are ``members_``."""
        self.check_params()
        n = int(self.restarts)
        if int(self.epochs) < 1 or float(self.val_fraction) <= 0 or self.validation_slice(data, data.binary()) is None:
            raise ConfigError(
                f"restarts={n} chooses among the fits by their validation NDCG, which this fit would not measure",
                hint="set epochs >= 1 and val_fraction > 0 (e.g. 0.1) on data with enough customers, or restarts=1",
            )
        params = self.get_params()
        best, scores, trials = None, [], []
        for r in range(n):
            seed = int(self.seed) + r
            folder = None if self.checkpoint_dir is None else str(Path(self.checkpoint_dir) / f"restart-{r + 1}")
            one = {"seed": seed, "restarts": 1, "restart_combine": "best", "checkpoint_dir": folder}
            trial = type(self)(**{**params, **one})
            trial._split_seed, trial._warm_source = int(self.seed), self._warm_source
            # an average is validated on the fits as they were validated, before what they learn from
            # the carved items too (GiffCF's graph, CVAE's item-item path) would leak them into it
            trial._pending_refresh = [] if self.restart_combine in _AVERAGING else None
            trial.members_, trial.ensemble_val_ndcg_ = [], None

            def report(record: dict, r: int = r, seed: int = seed) -> None:
                progress({**record, "restart": r + 1, "restarts": n, "seed": seed})

            Recommender.fit(trial, data, None if progress is None else report)
            trial._warm_source = None
            if self.restart_combine in _AVERAGING:  # else only the best so far stays in memory
                trials.append(trial)
            score = trial.best_val_ndcg_
            scores.append({"seed": seed, "best_epoch": trial.best_epoch_, "best_val_ndcg": score})
            log.info("%s restart %d/%d (seed %d): best validation NDCG %s", self.name, r + 1, n, seed, score)
            if best is None or (score is not None and (best.best_val_ndcg_ is None or score > best.best_val_ndcg_)):
                best = trial
        if self.restart_combine == "mean":
            best.members_ = [t for t in trials if t is not best]
            best.ensemble_val_ndcg_ = best._ensemble_validation(data)
            log.info("%s: the mean of the %d restarts scores validation NDCG %s", self.name, n, best.ensemble_val_ndcg_)
        elif self.restart_combine == "select":
            best._select_members(data, [t for t in trials if t is not best])
        for trial in [best, *best.members_]:
            trial._refresh_after_validation()
        vars(self).update({k: v for k, v in vars(best).items() if k.endswith("_") and not k.startswith("_")})
        self.restart_scores_ = scores
        summary = {"restart_kept": int(best.seed), "restart_scores": scores}
        if self.restart_combine in _AVERAGING:
            summary["ensemble_val_ndcg"] = self.ensemble_val_ndcg_
            summary["restarts_averaged"] = [int(best.seed)] + [int(m.seed) for m in self.members_]
        if progress is not None:
            progress(summary)
        return self

    def after_validation(self, refresh: Callable[[], None]) -> None:
        """Run ``refresh``, the step of ``_fit`` that relearns a fitted part from all of the data once
        training has been validated on the carve (GiffCF's graph, CVAE's item-item path), now; or,
        inside restarts that average, once their average has been validated on that carve too."""
        pending = getattr(self, "_pending_refresh", None)
        if pending is None:
            refresh()
        else:
            pending.append(refresh)

    def _refresh_after_validation(self) -> None:
        for refresh in vars(self).pop("_pending_refresh", None) or []:
            refresh()

    def _select_members(self, data, others: list) -> None:
        """``restart_combine="select"``: add each of ``others`` (best validation first) to ``members_``
        while the average's validation NDCG rises; ``ensemble_val_ndcg_`` is the chosen average's."""
        self.members_ = []
        current = self._ensemble_validation(data)
        ranked = sorted(others, key=lambda t: -np.inf if t.best_val_ndcg_ is None else t.best_val_ndcg_, reverse=True)
        for trial in ranked:
            self.members_.append(trial)
            value = self._ensemble_validation(data)
            joined = value > current
            log.info(
                "%s: with seed %d the average scores validation NDCG %.4f (was %.4f): %s",
                self.name,
                trial.seed,
                value,
                current,
                "kept" if joined else "left out",
            )
            if joined:
                current = value
            else:
                self.members_.pop()
        self.ensemble_val_ndcg_ = current

    def _ensemble_validation(self, data) -> float:
        """NDCG@k of :meth:`score_rows` (every restart averaged) on the validation slice the restarts were
        judged on, ranked by :meth:`recommend_indices` with each customer's fold-in items excluded."""
        validation = self.validation_slice(data, data.binary())
        history, k = validation.train[validation.users], TrainingSettings.val_k
        features = data.user_features.reset_index(drop=True)
        context = features.iloc[validation.users].reset_index(drop=True) if len(features.columns) else None
        top, _ = self.recommend_indices(history, k, context=context, exclude=history, batch_size=int(self.batch_size))
        return float(np.nanmean(ndcg_at_k(top, validation.target, k)))

    # --- averaged restarts -------------------------------------------------------------------------
    def score_rows(self, history: sp.csr_matrix, context=None, **kwargs) -> torch.Tensor:
        """``score_batch``, averaged over the kept restarts with ``restart_combine="mean"`` or ``"select"``."""
        own = self.score_batch(history, context, **kwargs)
        members = getattr(self, "members_", [])
        if not members:
            return own
        total = torch.as_tensor(own).detach().to("cpu", torch.float32).clone()
        for member in members:
            total += torch.as_tensor(member.score_batch(history, context, **kwargs)).detach().to("cpu", torch.float32)
        return total / (1 + len(members))

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = dict(self._state())
        for i, member in enumerate(getattr(self, "members_", []), start=1):
            arrays.update({f"{_MEMBER}{i}.{key}": value for key, value in member._state().items()})
        return arrays

    @property
    def warm_source(self) -> "TorchRecommender | None":
        """The model this fit continues from (only while fitting with ``warm_start``)."""
        return getattr(self, "_warm_source", None)

    def _networks(self) -> dict[str, torch.nn.Module]:
        """The fitted networks by name (the prefixes of :meth:`_warm_layout`)."""
        raise NotImplementedError

    def _warm_layout(self) -> tuple[dict[str, tuple], frozenset]:
        """``{"module.param": axes}`` for every parameter whose size follows the items or the context
        (see :func:`grow_tensor`), and the names whose new slots start at the mean of the old ones."""
        return {}, frozenset()

    def warm_load(self, modules: dict[str, torch.nn.Module]) -> bool:
        """Copy the warm-start model's weights into freshly built ``modules``, growing item and context
        slots; False (nothing done) without a warm start."""
        previous = self.warm_source
        if previous is None:
            return False
        sources = {
            "items": previous.item_positions(self.item_ids_, strict=False),
            "context": self.context_encoder_.slot_sources(previous.context_encoder_),
        }
        old_counts = {"items": previous.n_items, "context": previous.context_encoder_.n_features_}
        layout, mean_init = self._warm_layout()
        old_modules = previous._networks()
        for name, module in modules.items():
            old_state = old_modules[name].state_dict()
            state = module.state_dict()
            for key, value in state.items():
                full = f"{name}.{key}"
                if key not in old_state:
                    continue  # e.g. a layer the old model did not build: keeps its fresh init
                axes = layout.get(full, (None,) * value.ndim)
                state[key] = grow_tensor(
                    old_state[key], value, axes, sources, old_counts, mean_init=full in mean_init, where=full
                )
            module.load_state_dict(state)
        return True

    def validation_slice(self, data, matrix: sp.csr_matrix) -> ValidationSlice | None:
        """The validation carved from ``data`` for early stopping: by default ``val_fraction`` of the
        customers lose a random 20% of their items (:func:`carve_validation`); sequence models hold out
        each sampled customer's last event instead."""
        return carve_validation(matrix, self.val_fraction, seed=self.split_seed)

    def prepare_fit(self, data) -> "PreparedFit":
        """Check the parameters, binarise ``data``'s matrix, encode its user attributes as context (sets
        ``context_encoder_``), carve the validation (:meth:`validation_slice`), pick the device, seed everything."""
        from aigc_biz.models.context import ContextEncoder

        self.check_params()
        matrix = data.binary()
        features = data.user_features.reset_index(drop=True)
        previous = self.warm_source
        # a warm start keeps the old context slots so their learnt weights still mean the same values
        self.context_encoder_ = (
            ContextEncoder().fit(features) if previous is None else previous.context_encoder_.grown(features)
        )
        context = self.context_encoder_.transform(features) if self.context_encoder_.n_features_ else None
        validation = self.validation_slice(data, matrix)
        settings = self.training_settings()
        return PreparedFit(
            matrix=matrix,
            train=matrix if validation is None else validation.train,
            context=context,
            validation=validation,
            device=torch.device(settings.device),
            rng=seed_everything(self.seed),
            settings=settings,
        )

    def record_report(self, report: TrainingReport) -> None:
        """The fitted attributes every torch model exposes after training."""
        self.device_ = report.device
        self.n_epochs_ = report.n_epochs
        self.best_epoch_ = report.best_epoch
        self.best_val_ndcg_ = report.best_val_ndcg
        self.training_curve_ = report.curve

    # --- saving ---------------------------------------------------------------------------------
    def _own_meta(self) -> dict:
        """JSON-able fitted metadata of this model beyond the shared training record."""
        return {}

    def _meta(self) -> dict:
        return {
            "context": self.context_encoder_.to_meta(),
            **self._own_meta(),
            "n_epochs": self.n_epochs_,
            "best_epoch": self.best_epoch_,
            "best_val_ndcg": self.best_val_ndcg_,
            "training_curve": self.training_curve_,
            "restart_scores": getattr(self, "restart_scores_", []),
            "ensemble_val_ndcg": getattr(self, "ensemble_val_ndcg_", None),
            "members": [{"params": m.get_params(), "meta": m._meta()} for m in getattr(self, "members_", [])],
        }

    @abstractmethod
    def _load_networks(self, state: dict[str, np.ndarray], meta: dict, device: str) -> None:
        """Build the networks for ``item_ids_`` and ``context_encoder_``, load ``state`` (raise on any shape
        mismatch), move them to ``device`` in eval mode and set this model's own fitted attributes."""

    def _set_state(self, state: dict[str, np.ndarray], meta: dict) -> None:
        from aigc_biz.models.context import ContextEncoder

        self.context_encoder_ = ContextEncoder.from_meta(meta["context"])
        self.device_ = str(resolve_device(self.device))
        own = {k: v for k, v in state.items() if not k.startswith(_MEMBER)}
        self._load_networks(own, meta, self.device_)
        self.n_epochs_ = int(meta.get("n_epochs", 0))
        self.best_epoch_ = int(meta.get("best_epoch", 0))
        self.best_val_ndcg_ = meta.get("best_val_ndcg")
        self.training_curve_ = list(meta.get("training_curve", []))
        self.restart_scores_ = list(meta.get("restart_scores", []))
        self.ensemble_val_ndcg_ = meta.get("ensemble_val_ndcg")
        from aigc_biz.models.blend import restore_part

        members = enumerate(meta.get("members", []), start=1)
        self.members_ = [restore_part(self, self.name, part, state, f"{_MEMBER}{i}") for i, part in members]
        if self.members_ and self.restart_combine not in _AVERAGING:
            raise ValueError(f"{len(self.members_)} averaged restarts saved, restart_combine={self.restart_combine}")

    # --- scoring --------------------------------------------------------------------------------
    def model_inputs(self, history: sp.csr_matrix, context) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Binary history and one-hot context tensors on ``device_`` for ``score_batch``."""
        self.check_fitted()
        history = sp.csr_matrix(history, dtype=np.float32)
        if history.shape[1] != self.n_items:
            raise ModelError(f"history has {history.shape[1]} item columns, the model knows {self.n_items}")
        device = torch.device(self.device_)
        x = torch.as_tensor(history.toarray() > 0, dtype=torch.float32, device=device)
        ctx = None
        if self.context_encoder_.n_features_:
            ctx = self.context_encoder_.transform(context, n_rows=history.shape[0]).to(device)
        return x, ctx
