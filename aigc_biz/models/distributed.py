"""Data-parallel training across the processes ``torchrun`` launches: the DistributedDataParallel
contract (one replica per process, same start, gradients averaged before every optimizer step) for
the shared training loop.

``torchrun --nproc_per_node N -m aigc_biz.cli train ...`` starts N copies of the command with
``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` and ``MASTER_ADDR``/``MASTER_PORT`` set. Every copy loads the
same data and builds the same model from the same seed; :func:`aigc_biz.models.training.run_training`
then opens a :class:`ProcessGroup` (gloo on CPU, NCCL on CUDA with the GPU of ``LOCAL_RANK``), and each
process trains on its share of every batch.

Why not ``torch.nn.parallel.DistributedDataParallel`` itself: DDP synchronises gradients from hooks
armed by its wrapper's ``forward``; our tasks call their networks' parts (``encode``, ``decode``,
the item embeddings of a sampled softmax) and some step two optimizers per batch (cgan), which
would bypass or confuse that wrapper. The loop's one ``TrainingRuntime.step`` every task already goes
through is where the same synchronisation happens here: state broadcast from rank 0 at the start (as
DDP's constructor does) and one flattened all-reduce of the gradients before each optimizer step
(DDP's buckets, without overlapping communication with the backward pass). At the end the
replicas are checked to be identical, so a task that stepped an optimizer some other way fails loudly.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.distributed as dist

from aigc_biz.errors import ConfigError, ModelError


@dataclass(frozen=True)
class Launch:
    """Where this process stands in a ``torchrun`` launch."""

    rank: int
    local_rank: int
    world_size: int


def launch() -> Launch | None:
    """This process's place in a multi-process launch (``WORLD_SIZE`` > 1), else None.

    ConfigError when ``WORLD_SIZE`` says several processes but ``RANK`` is missing or not a valid rank.
    """
    raw = os.environ.get("WORLD_SIZE", "").strip()
    try:
        world = int(raw) if raw else 1
        if world <= 1:
            return None
        rank = int(os.environ["RANK"])
        local = int(os.environ.get("LOCAL_RANK", rank))
    except (KeyError, ValueError):
        raise ConfigError(
            f"WORLD_SIZE={raw!r} is set but RANK/LOCAL_RANK are missing or not integers",
            hint="launch several processes with torchrun, or unset WORLD_SIZE",
        ) from None
    if not 0 <= rank < world or local < 0:
        raise ConfigError(f"RANK={rank} / LOCAL_RANK={local} do not fit WORLD_SIZE={world}")
    return Launch(rank=rank, local_rank=local, world_size=world)


def is_main_process() -> bool:
    """True in a single-process run and on rank 0 of a launch: the process that writes files and speaks."""
    where = launch()
    return where is None or where.rank == 0


def local_device(kind: str) -> torch.device:
    """The device of this process for ``kind`` ("cuda" or "cpu"): under a launch each process takes
    the GPU of its ``LOCAL_RANK``."""
    where = launch()
    if kind != "cuda" or where is None:
        return torch.device(kind)
    count = torch.cuda.device_count()
    if where.local_rank >= count:
        raise ConfigError(
            f"LOCAL_RANK={where.local_rank} but this machine has {count} GPU(s)",
            hint=f"start at most {count} processes per node (--nproc_per_node), or train with --device cpu",
        )
    return torch.device("cuda", where.local_rank)


class ProcessGroup:
    """The collectives the training loop needs, on ``torch.distributed``'s default group.

    Batches: every process draws the same seeded permutation and takes its :meth:`shard` of each global
    batch, so ``batch_size`` stays the global batch and a model learns as it does in one process (the
    same steps per epoch, the same learning rate); each process computes ``batch_size / world_size`` rows.
    """

    def __init__(self, where: Launch, device: torch.device):
        self.rank, self.world_size, self.device = where.rank, where.world_size, device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, rows: np.ndarray) -> np.ndarray:
        """This process's contiguous part of one global batch (sizes differ by at most one row)."""
        return np.array_split(rows, self.world_size)[self.rank]

    def epoch_seed(self, seed: int, epoch: int) -> int:
        """Torch seed of this process for ``epoch``: dropout and sampling noise differ between processes
        (their rows do) yet a resumed run draws what it would have drawn."""
        return int(np.random.SeedSequence([int(seed), int(epoch), self.rank]).generate_state(1)[0])

    @torch.no_grad()
    def broadcast_modules(self, modules: dict[str, torch.nn.Module]) -> None:
        """Every parameter and buffer from rank 0, as DDP's constructor does."""
        for module in modules.values():
            for tensor in [*module.parameters(), *module.buffers()]:
                data = tensor.data if tensor.data.is_contiguous() else tensor.data.contiguous()
                dist.broadcast(data, src=0)
                if data is not tensor.data:
                    tensor.data.copy_(data)

    @torch.no_grad()
    def average_gradients(self, optimizer: torch.optim.Optimizer) -> None:
        """Replace the gradients of ``optimizer``'s parameters by their mean over the processes.

        One all-reduce of one flat float32 buffer; a parameter without a gradient here counts as zero,
        and stays without one only when no process has a gradient for it.
        """
        params = [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]
        if not params:
            return
        parts = [p.grad.reshape(-1).float() if p.grad is not None else p.new_zeros(p.numel()).float() for p in params]
        present = torch.tensor([float(p.grad is not None) for p in params], device=params[0].device)
        flat = torch.cat([*parts, present])
        dist.all_reduce(flat)
        have = flat[-len(params) :]
        offset = 0
        for p, had in zip(params, have.tolist()):
            part = flat[offset : offset + p.numel()].view_as(p) / self.world_size
            offset += p.numel()
            if had == 0:
                continue
            if p.grad is None:
                p.grad = part.to(p.dtype)
            else:
                p.grad.copy_(part)

    def sum(self, *values: float) -> list[float]:
        """Each value summed over the processes."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def broadcast(self, value):
        """Rank 0's ``value`` (any picklable object) on every process."""
        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0, device=self.device if self.device.type == "cuda" else None)
        return box[0]

    @torch.no_grad()
    def check_replicas(self, modules: dict[str, torch.nn.Module], where: str) -> None:
        """ModelError unless every process holds the same parameters (compared by per-tensor sums)."""
        sums = [p.detach().double().sum() for m in modules.values() for p in m.parameters()]
        if not sums:
            return
        mine = torch.stack(sums).to(self.device)
        gathered = [torch.empty_like(mine) for _ in range(self.world_size)]
        dist.all_gather(gathered, mine)
        if any(not torch.equal(g, gathered[0]) for g in gathered[1:]):
            raise ModelError(
                f"the {self.world_size} processes ended {where} with different weights",
                hint="this model steps an optimizer outside TrainingRuntime.step; train it in one process",
            )


def _open() -> None:
    """Open ``torch.distributed``'s default group (env:// rendezvous) unless it is open.

    gloo carries CPU tensors and, where CUDA exists, NCCL the GPU ones (bound to the GPU of
    ``LOCAL_RANK``), so one group serves a fit on either device. It is destroyed when the process
    exits, not after each fit: opening the default group a second time in one process can meet the
    first one's stale addresses in torchrun's store (gloo then fails to connect), so a process opens it once.
    """
    if dist.is_initialized():
        return
    if torch.cuda.is_available():
        gpu = local_device("cuda")
        torch.cuda.set_device(gpu)
        dist.init_process_group("cpu:gloo,cuda:nccl", device_id=gpu)
    else:
        dist.init_process_group("gloo")
    atexit.register(_close)


def _close() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def open_group(device: torch.device) -> ProcessGroup | None:
    """A :class:`ProcessGroup` on ``device`` for this launch (None in a single process); opens
    ``torch.distributed`` on first use (see :func:`_open`)."""
    where = launch()
    if where is None:
        return None
    _open()
    return ProcessGroup(where, device)


@contextlib.contextmanager
def job_group() -> Iterator[Launch | None]:
    """One job of a launch (``aigc-biz train`` under torchrun): at its end every process that trained
    together waits for the others (rank 0 may still be saving the model). Yields this process's
    :class:`Launch`, None in a single process. The group closes when the process exits (see :func:`_open`).
    """
    where = launch()
    yield where
    if where is not None and dist.is_initialized():
        dist.barrier()
