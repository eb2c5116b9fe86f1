r"""Data-parallel training (``torchrun``): sharded minibatches and exact gradient averaging.

Under ``torchrun --nproc_per_node P …`` every process (rank ``r`` of ``P``) holds the
model, the data and the same seeded shuffling generator, so all ranks draw the same
permutation and the same global minibatches. Rank ``r`` takes the ``r``-th contiguous
shard of each global minibatch of ``N`` samples (sizes ``n_r`` differ by at most one, as
``numpy.array_split``; the distributed analogue of a ``DistributedSampler``), computes
its mean loss :math:`L_r` and gradient, and the gradients are combined as

.. math::

    g = \sum_r \frac{n_r}{N}\, \nabla L_r = \nabla \frac{1}{N} \sum_{i=1}^{N} \ell_i ,

an ``all_reduce`` sum of the weighted shard gradients (complex gradients are reduced as
real views), which is exactly the gradient of the single-process mean loss on the same
global batch, also when ``N`` is not a multiple of ``P``. Every rank then applies the same
clipping, LARC and optimizer step, so the replicas stay identical. Evaluation runs each
rank on a shard and gathers the outputs, so the metrics equal the single-process ones.
Only rank 0 writes checkpoints, metrics and figures; on resume rank 0 reads the checkpoint
and broadcasts it.

:class:`qnets.training.Trainer` picks this up automatically when a process group is
initialised (:func:`current_context`); :func:`distributed_session` initialises one from
the ``torchrun`` environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``). Backend: ``"gloo"`` on CPU-only machines, ``"cpu:gloo,cuda:nccl"``
when CUDA is available (NCCL for GPU tensors); ``QNETS_DIST_BACKEND`` overrides.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from qnets.errors import ConfigError

__all__ = ["DistributedContext", "current_context", "distributed_session", "shard_sizes"]


def shard_sizes(n: int, world_size: int) -> list[int]:
    """Sizes of ``world_size`` contiguous shards of ``n`` items (the first ``n % P`` get one more)."""
    base, extra = divmod(int(n), int(world_size))
    return [base + (1 if r < extra else 0) for r in range(world_size)]


def _as_real(t: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(t) if t.is_complex() else t


@dataclass(frozen=True)
class DistributedContext:
    """Rank and size of an initialised ``torch.distributed`` process group.

    Attributes
    ----------
    rank : int
        This process (0 … ``world_size − 1``); rank 0 writes files.
    world_size : int
        Number of processes.
    """

    rank: int
    world_size: int

    @property
    def is_writer(self) -> bool:
        """True on rank 0 (the process that writes checkpoints, metrics and figures)."""
        return self.rank == 0

    def shard_slice(self, n: int) -> slice:
        """This rank's contiguous part of ``n`` items (:func:`shard_sizes`)."""
        sizes = shard_sizes(n, self.world_size)
        start = sum(sizes[: self.rank])
        return slice(start, start + sizes[self.rank])

    def all_reduce_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over all ranks, in place (complex tensors as real views)."""
        import torch.distributed as dist

        dist.all_reduce(_as_real(tensor), op=dist.ReduceOp.SUM)
        return tensor

    def reduce_gradients_(self, params: Iterable[torch.Tensor], n_local: int, n_global: int) -> None:
        r"""Replace each ``p.grad`` by :math:`\sum_r (n_r / N)\, \nabla_r` over the ranks.

        ``p.grad`` must hold the gradient of this rank's *mean* loss over its ``n_local``
        samples (``None`` counts as zero, e.g. for an empty shard). All gradients travel in
        one flat buffer per dtype.
        """
        params = list(params)
        scale = n_local / n_global
        groups: dict[torch.dtype, list[torch.Tensor]] = {}
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            groups.setdefault(p.grad.dtype, []).append(p)
        for group in groups.values():
            flat = torch.cat([p.grad.reshape(-1) for p in group]) * scale
            self.all_reduce_(flat)
            offset = 0
            for p in group:
                k = p.numel()
                p.grad.copy_(flat[offset : offset + k].view_as(p.grad))
                offset += k

    def gather_rows(self, local: torch.Tensor, n_global: int) -> torch.Tensor:
        """Concatenate every rank's rows (rank order) of a tensor split by :meth:`shard_slice`."""
        import torch.distributed as dist

        sizes = shard_sizes(n_global, self.world_size)
        padded = local.new_zeros((max(sizes), *local.shape[1:]))
        padded[: local.shape[0]] = local
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded)
        return torch.cat([part[:size] for part, size in zip(parts, sizes)], dim=0)

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (pickled)."""
        import torch.distributed as dist

        box = [obj if self.is_writer else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def broadcast_module_(self, module: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers into ``module`` on every rank."""
        import torch.distributed as dist

        with torch.no_grad():
            for tensor in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(_as_real(tensor.data), src=0)


def current_context() -> DistributedContext | None:
    """The context of the initialised process group, or ``None`` (none, or a single process)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    return DistributedContext(dist.get_rank(), dist.get_world_size())


def _default_backend() -> str:
    backend = os.environ.get("QNETS_DIST_BACKEND")
    if backend:
        return backend
    return "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"


@contextlib.contextmanager
def distributed_session(backend: str | None = None, timeout_s: float = 1800.0) -> Iterator[DistributedContext | None]:
    """Initialise a process group from the ``torchrun`` environment for the ``with`` block.

    Without ``WORLD_SIZE > 1`` in the environment (a plain run), or when a group is
    already initialised (e.g. by the caller), nothing is initialised and the current
    context (possibly ``None``) is yielded. With CUDA, each rank's default device becomes
    ``cuda:LOCAL_RANK``.

    Parameters
    ----------
    backend : str, optional
        ``torch.distributed`` backend (default: see the module docstring).
    timeout_s : float
        Collective-operation timeout.

    Yields
    ------
    DistributedContext or None
    """
    import torch.distributed as dist

    try:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise ConfigError(f"WORLD_SIZE: expected an integer, got {os.environ['WORLD_SIZE']!r}") from None
    if world_size < 2 or (dist.is_available() and dist.is_initialized()):
        yield current_context()
        return
    if not dist.is_available():  # pragma: no cover - torch built without distributed
        raise ConfigError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ConfigError(
            f"WORLD_SIZE={world_size} but {', '.join(missing)} not set; launch with "
            "`torchrun --nproc_per_node N -m qnets.cli run …`"
        )
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
    dist.init_process_group(backend or _default_backend(), timeout=datetime.timedelta(seconds=timeout_s))
    try:
        yield current_context()
        # Every rank reaches teardown before any tears down: a rank that destroys its
        # group while a peer still talks to it can abort that peer (gloo, SIGABRT).
        dist.barrier()
    finally:
        dist.destroy_process_group()
