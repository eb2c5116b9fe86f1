"""Training loop, optimizers and checkpoints of qnets.

* :class:`TrainConfig`, :class:`Trainer` -- minibatch training with exact resume;
* :func:`larc_`, :func:`cosine_lr`, :func:`scheduled_lr`, :func:`make_optimizer`;
* :func:`save_checkpoint`, :func:`load_checkpoint`, :func:`load_latest_checkpoint`,
  :func:`atomic_write_text` -- atomic run files;
* :class:`DistributedContext`, :func:`distributed_session` -- data-parallel training
  under ``torchrun`` (the Trainer shards minibatches when a process group exists).
"""

from __future__ import annotations

from qnets.training.checkpoint import (
    CHECKPOINT_NAME,
    METRICS_NAME,
    PREV_CHECKPOINT_NAME,
    atomic_write,
    atomic_write_text,
    load_checkpoint,
    load_latest_checkpoint,
    save_checkpoint,
)
from qnets.training.distributed import DistributedContext, distributed_session
from qnets.training.optim import (
    OPTIMIZERS,
    SCHEDULES,
    cosine_lr,
    larc_,
    make_optimizer,
    scheduled_lr,
)
from qnets.training.trainer import TrainConfig, Trainer, default_metrics

__all__ = [
    "CHECKPOINT_NAME",
    "METRICS_NAME",
    "OPTIMIZERS",
    "PREV_CHECKPOINT_NAME",
    "SCHEDULES",
    "DistributedContext",
    "TrainConfig",
    "Trainer",
    "atomic_write",
    "atomic_write_text",
    "cosine_lr",
    "default_metrics",
    "distributed_session",
    "larc_",
    "load_checkpoint",
    "load_latest_checkpoint",
    "make_optimizer",
    "save_checkpoint",
    "scheduled_lr",
]
