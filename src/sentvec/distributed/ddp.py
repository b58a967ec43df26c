"""Data-parallel training under ``torchrun``: the process group, per-rank shards of each global batch, embeddings
gathered from every rank with gradients, and gradient averaging.

Every rank draws the same global batch and embeds its contiguous slice; the losses gather all ranks' embeddings in
rank order and score the global batch as one process would (every in-batch negative is a negative on every rank);
the gather's backward hands each rank its share of the gradient, and averaging the parameter gradients across ranks
gives the one-process gradient. Gradients are averaged with one bucketed ``all_reduce`` per optimizer step instead of
``DistributedDataParallel``, whose reducer would synchronize on every backward of GradCache and accumulation steps.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Protocol, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")

# Gradients are reduced in buckets of about this many bytes (one flat buffer per bucket).
_BUCKET_BYTES = 32 * 2**20


@dataclasses.dataclass(frozen=True)
class Ranks:
    """This process's place in the run: ``rank`` of ``world_size`` (0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    owns_group: bool = False  # True when this object's :func:`setup` started the process group

    @property
    def distributed(self) -> bool:
        """More than one process takes part."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs, evaluates and saves."""
        return self.rank == 0


def current() -> Ranks:
    """The ranks of the process group already initialized, or a single process."""
    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size())
    return Ranks()


def launched() -> bool:
    """Whether this process was started by ``torchrun`` (or another launcher) as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: str = "cpu") -> Ranks:
    """Join the process group described by the launcher's environment (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``): gloo for CPU training, nccl for CUDA. A process that was not launched as
    one of several, or whose group is already initialized, is returned as it is."""
    if dist.is_available() and dist.is_initialized():
        return current()
    if not launched():
        return Ranks()
    if not dist.is_available():
        raise RuntimeError("this torch build has no torch.distributed; cannot train under torchrun")
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    return Ranks(dist.get_rank(), dist.get_world_size(), owns_group=True)


def device_for(device: str, ranks: Ranks) -> str:
    """Where this rank trains: under a process group on CUDA, its own GPU (``cuda:LOCAL_RANK``, the one
    :func:`setup` made current); else ``device`` unchanged."""
    if ranks.distributed and device.startswith("cuda"):
        return f"cuda:{torch.cuda.current_device()}"
    return device


def teardown(ranks: Ranks) -> None:
    """Leave the process group if :func:`setup` started it (after a barrier, so no rank leaves early)."""
    if ranks.owns_group and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def gather_objects(obj: T, ranks: Ranks) -> list[T] | None:
    """Every rank's ``obj`` on rank 0, in rank order (None on the other ranks; ``[obj]`` for one process)."""
    if not ranks.distributed:
        return [obj]
    if not ranks.is_main:
        dist.gather_object(obj, None, dst=0)
        return None
    out = [obj] * ranks.world_size  # placeholders: gather_object fills in every rank's object in rank order
    dist.gather_object(obj, out, dst=0)
    return out


def shard(batch: Sequence[T], ranks: Ranks) -> list[T]:
    """This rank's contiguous slice of a global batch: sizes differ by at most one, earlier ranks larger, so
    concatenating the slices in rank order gives the global batch back in its order."""
    n, world = len(batch), ranks.world_size
    base, extra = divmod(n, world)
    start = ranks.rank * base + min(ranks.rank, extra)
    size = base + (1 if ranks.rank < extra else 0)
    return list(batch[start : start + size])


def _sizes(local: int, world_size: int, device: torch.device) -> list[int]:
    size = torch.tensor([local], dtype=torch.long, device=device)
    sizes = [torch.zeros_like(size) for _ in range(world_size)]
    dist.all_gather(sizes, size)
    return [int(s.item()) for s in sizes]


def _all_gather_rows(tensor: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """Concatenate every rank's rows (counts may differ) in rank order."""
    longest = max(sizes)
    padded = tensor.new_zeros((longest, *tensor.shape[1:]))
    padded[: tensor.shape[0]] = tensor
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([part[:size] for part, size in zip(parts, sizes, strict=True)], dim=0)


def _own_rows(tensor: torch.Tensor, rank: int, sizes: list[int]) -> torch.Tensor:
    """This rank's rows of a gathered tensor, times the world size: the gradient share that, once averaged across
    ranks, gives the one-process gradient."""
    start = sum(sizes[:rank])
    return tensor[start : start + sizes[rank]] * len(sizes)


class _GatherContext(Protocol):
    """The autograd context of :class:`_GatherWithGrad`: what its backward needs to pick this rank's rows."""

    rank: int
    sizes: list[int]


class _GatherWithGrad(torch.autograd.Function):
    """All ranks' rows in rank order; backward returns :func:`_own_rows` of the gradient."""

    @staticmethod
    def forward(ctx: _GatherContext, tensor: torch.Tensor, rank: int, sizes: list[int]) -> torch.Tensor:
        ctx.rank, ctx.sizes = rank, sizes
        return _all_gather_rows(tensor, sizes)

    @staticmethod
    def backward(ctx: _GatherContext, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return _own_rows(grad, ctx.rank, ctx.sizes), None, None


def _gather(tensor: torch.Tensor, ranks: Ranks, sizes: list[int]) -> torch.Tensor:
    """Rows of ``tensor`` from every rank in rank order; differentiable (see :class:`_GatherWithGrad`)."""
    if tensor.requires_grad:
        out: torch.Tensor = _GatherWithGrad.apply(tensor, ranks.rank, sizes)
        return out
    return _all_gather_rows(tensor, sizes)


def gather_batch(
    embeddings: list[torch.Tensor], labels: torch.Tensor | None
) -> tuple[list[torch.Tensor], torch.Tensor | None, list[int]]:
    """The global batch's column embeddings and labels, and every rank's row count, when running under a process
    group of several ranks (every column has this rank's rows); the inputs and ``[rows]`` otherwise."""
    ranks = current()
    local = embeddings[0].shape[0]
    if not ranks.distributed:
        return embeddings, labels, [local]
    sizes = _sizes(local, ranks.world_size, embeddings[0].device)
    gathered = [_gather(e, ranks, sizes) for e in embeddings]
    return gathered, (_gather(labels, ranks, sizes) if labels is not None else None), sizes


def local_gradient(grad: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """This rank's share of the gradient with respect to a gathered tensor whose ranks' row counts are ``sizes``
    (from :func:`gather_batch`), as the backward of :func:`gather` computes it (GradCache scores the gathered batch
    outside autograd and needs the same share). The gradient itself for one process."""
    ranks = current()
    return _own_rows(grad, ranks.rank, sizes) if ranks.distributed else grad


def broadcast_parameters(params: Sequence[torch.Tensor], ranks: Ranks) -> None:
    """Give every rank rank 0's parameter values (as DDP does when it wraps a model)."""
    if not ranks.distributed:
        return
    with torch.no_grad():
        for p in params:
            dist.broadcast(p.data, src=0)


def average_gradients(params: Sequence[torch.Tensor], ranks: Ranks) -> None:
    """Average ``.grad`` across ranks in place. Every rank scores the same global batch through the same modules,
    so the same parameters have gradients everywhere; one without (unused) keeps ``grad = None``, and the
    optimizer skips it, as it would in one process."""
    if not ranks.distributed:
        return
    for bucket in _buckets([p for p in params if p.grad is not None]):
        flat = torch.cat([p.grad.reshape(-1) for p in bucket if p.grad is not None])
        dist.all_reduce(flat)
        flat /= ranks.world_size
        offset = 0
        for p in bucket:
            assert p.grad is not None
            n = p.numel()
            p.grad.copy_(flat[offset : offset + n].view_as(p))
            offset += n


def _buckets(params: Sequence[torch.Tensor]) -> list[list[torch.Tensor]]:
    """Parameters grouped by device and dtype into buckets of about ``_BUCKET_BYTES``."""
    buckets: list[list[torch.Tensor]] = []
    current_bucket: list[torch.Tensor] = []
    size = 0
    for p in params:
        if current_bucket and (
            size + p.numel() * p.element_size() > _BUCKET_BYTES
            or p.dtype != current_bucket[0].dtype
            or p.device != current_bucket[0].device
        ):
            buckets.append(current_bucket)
            current_bucket, size = [], 0
        current_bucket.append(p)
        size += p.numel() * p.element_size()
    if current_bucket:
        buckets.append(current_bucket)
    return buckets
