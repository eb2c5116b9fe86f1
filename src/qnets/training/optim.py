"""Optimizer pieces of the training loop: LARC trust ratio, learning-rate schedules, factory.

Everything here works with complex parameters (``complex64``/``complex128``
``nn.Parameter``): norms are taken with :func:`torch.linalg.vector_norm`, which
returns the real Euclidean norm ``sqrt(sum |z|^2)`` of a complex tensor, and
:class:`torch.optim.Adam`/:class:`torch.optim.SGD` handle complex parameters natively.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch

from qnets.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - import only for type hints (avoids a cycle)
    from qnets.training.trainer import TrainConfig

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "cosine_lr",
    "larc_",
    "make_optimizer",
    "scheduled_lr",
]

#: Names accepted by :func:`make_optimizer` (``TrainConfig.optimizer``).
OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")
#: Names accepted by :func:`scheduled_lr` (``TrainConfig.schedule``).
SCHEDULES: tuple[str, ...] = ("cosine", "constant")


def _as_tensor_list(parameters: torch.Tensor | Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """Return ``parameters`` as a list of tensors (a single tensor becomes a 1-list)."""
    if isinstance(parameters, torch.Tensor):
        return [parameters]
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, torch.Tensor):
            raise ConfigError(
                f"parameters: expected an iterable of torch.Tensor, item {i} is {type(p).__name__}"
            )
    return params


def larc_(
    parameters: torch.Tensor | Iterable[torch.Tensor],
    trust_coefficient: float,
    weight_decay: float = 0.0,
    eps: float = 1e-8,
) -> None:
    r"""Rescale gradients in place by the LARC trust ratio (NVIDIA apex ``LARC``, ``clip=False``).

    For every parameter tensor :math:`p` with gradient :math:`g` (tensors whose
    ``.grad`` is ``None`` are skipped), with :math:`\eta` = ``trust_coefficient``,
    :math:`\lambda` = ``weight_decay`` and norms :math:`\|\cdot\|` the Euclidean
    (Frobenius) norm over all entries (:math:`\sqrt{\sum_i |z_i|^2}` for complex
    entries): if :math:`\|p\| \neq 0` and :math:`\|g\| \neq 0`,

    .. math::

        a = \frac{\eta\,\|p\|}{\|g\| + \lambda\,\|p\| + \epsilon}, \qquad
        g \leftarrow a\,(g + \lambda\,p);

    otherwise :math:`g` is left unchanged (no decay, no scaling), exactly as apex.
    The norms are computed before the decay is added. The weight decay is applied
    here, so the optimizer that follows must have ``weight_decay = 0``
    (:func:`make_optimizer` does this when ``config.larc`` is true); the effective
    step of plain SGD with learning rate :math:`\mathrm{lr}` is then
    :math:`\mathrm{lr}\,a\,(g + \lambda p)`.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Parameters whose ``.grad`` is modified in place (real or complex; any shape).
    trust_coefficient : float
        :math:`\eta > 0`, the trust coefficient (apex default ``0.02``; qnets ``1e-3``).
    weight_decay : float, default 0.0
        :math:`\lambda \geq 0`, coupled L2 weight decay.
    eps : float, default 1e-8
        :math:`\epsilon`, guards the denominator.

    Raises
    ------
    ConfigError
        If ``trust_coefficient <= 0``, ``weight_decay < 0`` or ``eps < 0``.

    Notes
    -----
    The computation stays on the parameters' device (no host synchronisation):
    the "norm is zero" test is done with :func:`torch.where`.
    """
    if not trust_coefficient > 0:
        raise ConfigError(
            f"trust_coefficient: expected a positive float, got {trust_coefficient!r}"
        )
    if not weight_decay >= 0:
        raise ConfigError(f"weight_decay: expected a float >= 0, got {weight_decay!r}")
    if not eps >= 0:
        raise ConfigError(f"eps: expected a float >= 0, got {eps!r}")
    with torch.no_grad():
        for p in _as_tensor_list(parameters):
            g = p.grad
            if g is None:
                continue
            p_norm = torch.linalg.vector_norm(p)
            g_norm = torch.linalg.vector_norm(g)
            ok = (p_norm != 0) & (g_norm != 0)
            adaptive = trust_coefficient * p_norm / (g_norm + weight_decay * p_norm + eps)
            adaptive = torch.where(ok, adaptive, torch.ones_like(adaptive))
            if weight_decay != 0:
                g.add_(p * (ok.to(p_norm.dtype) * weight_decay))
            g.mul_(adaptive)


def cosine_lr(lr0: float, epoch: int, epochs: int) -> float:
    r"""Cosine-annealed learning rate of (0-based) ``epoch`` out of ``epochs``.

    .. math::

        \mathrm{lr}(e) = \mathrm{lr}_0 \cdot \tfrac12 \left(1 + \cos\frac{\pi e}{E}\right),
        \qquad e = 0, 1, \dots, E,

    so ``lr(0) = lr0``, ``lr(E/2) = lr0/2`` and ``lr(E) = 0`` (the last trained
    epoch, ``e = E - 1``, still has a positive rate).

    Parameters
    ----------
    lr0 : float
        Initial learning rate.
    epoch : int
        0-based epoch index :math:`e`, ``0 <= epoch <= epochs``.
    epochs : int
        Total number of epochs :math:`E > 0`.

    Returns
    -------
    float

    Raises
    ------
    ConfigError
        If ``epochs <= 0`` or ``epoch`` is outside ``[0, epochs]``.
    """
    if not (isinstance(epochs, int) and epochs > 0):
        raise ConfigError(f"epochs: expected a positive int, got {epochs!r}")
    if not (isinstance(epoch, int) and 0 <= epoch <= epochs):
        raise ConfigError(f"epoch: expected an int in [0, {epochs}], got {epoch!r}")
    return lr0 * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


def scheduled_lr(schedule: str, lr0: float, epoch: int, epochs: int) -> float:
    r"""Learning rate of (0-based) ``epoch`` under the named per-epoch schedule.

    ``"cosine"``: :func:`cosine_lr`, :math:`\mathrm{lr}_0\,\tfrac12(1+\cos(\pi e/E))`;
    ``"constant"``: :math:`\mathrm{lr}_0`.

    Parameters
    ----------
    schedule : {"cosine", "constant"}
    lr0 : float
        Initial learning rate.
    epoch : int
        0-based epoch index, ``0 <= epoch <= epochs``.
    epochs : int
        Total number of epochs (> 0).

    Returns
    -------
    float

    Raises
    ------
    ConfigError
        If ``schedule`` is not one of :data:`SCHEDULES`, or the epoch numbers are invalid.
    """
    if schedule == "cosine":
        return cosine_lr(lr0, epoch, epochs)
    if schedule == "constant":
        cosine_lr(lr0, epoch, epochs)  # same validation of epoch/epochs
        return float(lr0)
    raise ConfigError(f"schedule: expected one of {list(SCHEDULES)}, got {schedule!r}")


def make_optimizer(params: Iterable[Any], config: TrainConfig) -> torch.optim.Optimizer:
    """Build the optimizer named by ``config.optimizer``.

    * ``"adam"``: ``torch.optim.Adam(params, lr, betas, eps, weight_decay)``;
    * ``"sgd"``: ``torch.optim.SGD(params, lr, momentum, weight_decay)``.

    ``weight_decay`` is coupled L2 (``g <- g + wd * p`` before the update, as in
    torch's own ``weight_decay``). When ``config.larc`` is true the optimizer gets
    ``weight_decay = 0`` because :func:`larc_` applies the decay itself.

    Parameters
    ----------
    params : iterable of Tensor or of param-group dicts
        What ``torch.optim`` accepts (real or complex parameters).
    config : TrainConfig
        Uses ``optimizer``, ``lr``, ``momentum``, ``betas``, ``eps``,
        ``weight_decay`` and ``larc``.

    Returns
    -------
    torch.optim.Optimizer

    Raises
    ------
    ConfigError
        If ``config.optimizer`` is not one of :data:`OPTIMIZERS`.
    """
    weight_decay = 0.0 if config.larc else float(config.weight_decay)
    name = config.optimizer
    if name == "adam":
        return torch.optim.Adam(
            params,
            lr=float(config.lr),
            betas=(float(config.betas[0]), float(config.betas[1])),
            eps=float(config.eps),
            weight_decay=weight_decay,
        )
    if name == "sgd":
        return torch.optim.SGD(
            params,
            lr=float(config.lr),
            momentum=float(config.momentum),
            weight_decay=weight_decay,
        )
    raise ConfigError(f"optimizer: expected one of {list(OPTIMIZERS)}, got {name!r}")
