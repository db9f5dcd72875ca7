"""Data-parallel training across processes (``torchrun``): one process per rank, one loop.

``spectral train`` started by ``torchrun --nproc_per_node N -m spectral_cli train ...`` (or any
launcher that sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``) joins a process
group: gloo on CPU, NCCL on CUDA (one GPU per local rank). The semantics:

* ``train.batch_size`` is the **global** batch: every step, rank ``r`` takes every ``world``-th
  sample of the step's batch (the role of ``DistributedSampler``, but drawn from the one seeded
  permutation all ranks share, so a resumed run continues exactly and a run matches the
  single-process run of the same global batch).
* Gradients are averaged with one flat all-reduce per step, weighted by each rank's share of the
  batch, so the update is the single-process update up to float summation order. (The
  ``DistributedDataParallel`` wrapper is not used: objectives such as the harmonic
  autoencoder's call the model several times per step, which its reducer does not allow.)
* Stop requests (SIGTERM/SIGINT on any rank) and non-finite losses are agreed on by all ranks
  at every step, so every rank stops at the same step; only rank 0 writes files (state,
  checkpoints, report, plots), so a run directory is written once.
* Training metrics (loss, accuracy) are summed over ranks; validation runs on every rank on the
  same weights (identical results, no communication).

What differs from one process: dropout masks and batch-norm statistics are per rank (each sees
its shard), so families with dropout or batch norm match a single-process run statistically,
not to rounding; with both off the tests pin agreement to 1e-5.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import torch

from spectral_cli.core.errors import BadInput

TIMEOUT_VAR = "SPECTRAL_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 300


@dataclass(frozen=True)
class Dist:
    """This process's place in the group (world 1: no group)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def primary(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def backend(self) -> str | None:
        """The process group's backend (gloo, nccl), ``None`` without a group."""
        if not self.active:
            return None
        import torch.distributed as td

        return str(td.get_backend())


_CURRENT = Dist()


def current() -> Dist:
    return _CURRENT


def launched() -> bool:
    """Whether a launcher asked for more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the process group the launcher describes; returns the rank and its device."""
    global _CURRENT
    if not launched():
        return _CURRENT, device
    import torch.distributed as td

    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", rank))
    except (KeyError, ValueError):
        raise BadInput("WORLD_SIZE > 1 but RANK is missing: start with torchrun") from None
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not td.is_initialized():
        td.init_process_group(
            "nccl" if device.type == "cuda" else "gloo",
            rank=rank,
            world_size=world,
            timeout=datetime.timedelta(seconds=collective_timeout()),
        )
    _CURRENT = Dist(rank, world, local)
    return _CURRENT, device


def collective_timeout() -> int:
    """Seconds a rank waits in a collective for the others before it fails (exit 3):
    ``$SPECTRAL_DIST_TIMEOUT``, default 300 (torch's own default is 30 minutes, which a
    stopped or dead rank would make every other rank wait)."""
    raw = os.environ.get(TIMEOUT_VAR, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    if not raw.isdigit() or int(raw) < 1:
        raise BadInput(f"${TIMEOUT_VAR} must be a whole number of seconds >= 1, got {raw!r}")
    return int(raw)


def check_same(value: str, what: str) -> None:
    """Refuse (exit 2, on every rank; rank 0 says it) unless every rank has the same ``value``
    (e.g. a hash of the resolved config): ranks started with different options would train
    different models in one group, or abort in a collective of mismatched shapes."""
    if not _CURRENT.active:
        return
    import torch.distributed as td

    values: list[Any] = [None] * _CURRENT.world
    td.all_gather_object(values, value)
    differ = [r for r, v in enumerate(values) if v != values[0]]
    if differ:
        ranks = ", ".join(map(str, differ))
        raise BadInput(
            f"the ranks started with different {what} (rank {ranks} differs from rank 0); "
            "start every rank with the same options"
        )


def teardown() -> None:
    global _CURRENT
    if _CURRENT.active:
        import torch.distributed as td

        if td.is_initialized():
            td.destroy_process_group()
    _CURRENT = Dist()


def _device() -> torch.device:
    import torch.distributed as td

    backend = td.get_backend()
    return (
        torch.device("cuda", torch.cuda.current_device())
        if backend == "nccl"
        else torch.device("cpu")
    )


def max_flags(*flags: bool) -> list[bool]:
    """Element-wise OR of boolean flags over all ranks (identity without a group)."""
    if not _CURRENT.active:
        return list(flags)
    import torch.distributed as td

    t = torch.tensor([float(f) for f in flags], device=_device())
    td.all_reduce(t, op=td.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def sum_values(*values: float) -> list[float]:
    """Sums over all ranks (float64; identity without a group)."""
    if not _CURRENT.active:
        return list(values)
    import torch.distributed as td

    t = torch.tensor(values, dtype=torch.float64, device=_device())
    td.all_reduce(t)
    return t.tolist()


def average_gradients(params: list[torch.nn.Parameter], weight: float) -> None:
    """grad <- sum over ranks of (weight_r * grad_r), in one flat all-reduce."""
    if not _CURRENT.active:
        return
    import torch.distributed as td

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads]) * weight
    td.all_reduce(flat)
    offset = 0
    for p, g in zip(params, grads, strict=True):
        n = g.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def broadcast_params(module: torch.nn.Module) -> None:
    """Rank 0's parameters and buffers on every rank (identical seeds make them equal anyway)."""
    if not _CURRENT.active:
        return
    import torch.distributed as td

    for t in module.state_dict().values():
        if t.is_floating_point() or t.dtype in (torch.int64, torch.int32):
            td.broadcast(t.data, src=0)


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not _CURRENT.active:
        return obj
    import torch.distributed as td

    box = [obj]
    td.broadcast_object_list(box, src=0)
    return box[0]
