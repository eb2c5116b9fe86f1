r"""Local feature maps ``φ: [0, 1] → R^d`` that turn pixels into tensor-network inputs.

A tensor-network classifier contracts one ``d``-dimensional vector per input variable
with its core. Built-in maps (``x`` is a pixel value in ``[0, 1]``):

=================  ===  =====================================================
name               d    φ(x)
=================  ===  =====================================================
``"cos_sin"``      2    ``[cos(πx/2), sin(πx/2)]`` (Stoudenmire–Schwab; ‖φ‖ = 1)
``"linear"``       2    ``[1 - x, x]`` (Efthymiou et al.; components sum to 1)
``"bias_linear"``  3    ``[1, x, 1 - x]`` (TensorKrowch tutorial embedding)
=================  ===  =====================================================

Inputs outside ``[0, 1]`` (beyond a ``1e-6`` tolerance) raise :class:`~qnets.errors.DomainError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from qnets.errors import ConfigError, DomainError

__all__ = ["FEATURE_MAPS", "FeatureMap", "get_feature_map"]

_DOMAIN_TOL = 1e-6


def _cos_sin(x: torch.Tensor) -> torch.Tensor:
    angle = (math.pi / 2) * x
    return torch.stack((torch.cos(angle), torch.sin(angle)), dim=-1)


def _linear(x: torch.Tensor) -> torch.Tensor:
    return torch.stack((1 - x, x), dim=-1)


def _bias_linear(x: torch.Tensor) -> torch.Tensor:
    return torch.stack((torch.ones_like(x), x, 1 - x), dim=-1)


@dataclass(frozen=True)
class FeatureMap:
    """A local feature map with its output dimension and input domain.

    Attributes
    ----------
    name : str
    dim : int
        Output dimension ``d``.
    fn : callable
        ``fn(x)`` maps a tensor of any shape ``(...)`` to ``(..., d)``.
    domain : (float, float) or None
        Closed interval of valid inputs; ``None`` for no check.
    """

    name: str
    dim: int
    fn: Callable[[torch.Tensor], torch.Tensor]
    domain: tuple[float, float] | None = (0.0, 1.0)

    def __call__(self, x: torch.Tensor, *, name: str = "x") -> torch.Tensor:
        """``φ(x)`` of shape ``x.shape + (d,)``, after checking the domain.

        Raises
        ------
        DomainError
            If an entry of ``x`` lies outside :attr:`domain` or is NaN.
        """
        if self.domain is not None and x.numel():
            lo, hi = self.domain
            xmin, xmax = float(x.min()), float(x.max())
            if not (xmin >= lo - _DOMAIN_TOL and xmax <= hi + _DOMAIN_TOL):
                raise DomainError(
                    f"{name}: the feature map {self.name!r} expects values in [{lo:g}, {hi:g}], "
                    f"got values in [{xmin:g}, {xmax:g}] (scale the inputs, e.g. pixels / 255)"
                )
        return self.fn(x)


FEATURE_MAPS: dict[str, FeatureMap] = {
    "cos_sin": FeatureMap("cos_sin", 2, _cos_sin),
    "linear": FeatureMap("linear", 2, _linear),
    "bias_linear": FeatureMap("bias_linear", 3, _bias_linear),
}


def get_feature_map(feature_map, *, dim: int | None = None) -> FeatureMap:
    """Resolve a name, a :class:`FeatureMap`, or a callable (with ``dim``) to a FeatureMap.

    Parameters
    ----------
    feature_map : str, FeatureMap or callable
        A key of :data:`FEATURE_MAPS`, a ready map, or ``fn(x) -> (..., dim)`` (no domain
        check).
    dim : int, optional
        Output dimension; required for a plain callable.
    """
    if isinstance(feature_map, FeatureMap):
        return feature_map
    if isinstance(feature_map, str):
        if feature_map not in FEATURE_MAPS:
            raise ConfigError(
                f"feature_map: expected one of {sorted(FEATURE_MAPS)} or a callable, got {feature_map!r}"
            )
        return FEATURE_MAPS[feature_map]
    if callable(feature_map):
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ConfigError(
                f"feature_dim: a callable feature_map needs feature_dim >= 1, got {dim!r}"
            )
        name = getattr(feature_map, "__name__", type(feature_map).__name__)
        return FeatureMap(name, dim, feature_map, None)
    raise ConfigError(
        f"feature_map: expected a name, a FeatureMap or a callable, got {type(feature_map).__name__}"
    )
