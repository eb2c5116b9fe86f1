r"""Parameter constraints for QEP training: the soft hinge penalty and hard clipping.

Soft coupling cutoff (spec ``qep.md`` §3.1, revised paper version):

.. math::

    R(\theta) = \lambda \sum_{j \in S} \max(|\theta_j| - c, 0), \qquad
    \partial R / \partial\theta_j = \lambda\, \mathrm{sign}(\theta_j)\, [|\theta_j| > c],

added to the loss gradient by :class:`~qnets.ep.QuantumEP` (``penalty=``). Clipping is
applied by the training loop after each optimiser step (:func:`clip_parameters`).
"""

from __future__ import annotations

import numpy as np

from qnets.errors import ConfigError, ShapeError

__all__ = ["HingePenalty", "clip_parameters"]


class HingePenalty:
    """``λ Σ_{j∈S} max(|θ_j| − c, 0)`` on the parameters named in ``names`` (all if None).

    Parameters
    ----------
    strength : float
        ``λ ≥ 0`` (the authors: 0.02).
    bound : float
        ``c ≥ 0`` (the authors: 0.1 on the 36 system–sensor couplings).
    names : sequence of str, optional
        Parameter names the penalty acts on; resolved against the estimator's names.
    """

    def __init__(self, strength: float = 0.02, bound: float = 0.1, names=None):
        if not (np.isfinite(strength) and strength >= 0):
            raise ConfigError(f"strength must be a finite number ≥ 0; got {strength!r}")
        if not (np.isfinite(bound) and bound >= 0):
            raise ConfigError(f"bound must be a finite number ≥ 0; got {bound!r}")
        self.strength, self.bound = float(strength), float(bound)
        self.names = None if names is None else list(names)

    def mask(self, param_names) -> np.ndarray:
        """Boolean mask over ``param_names`` of the penalised parameters."""
        if self.names is None:
            return np.ones(len(param_names), dtype=bool)
        unknown = set(self.names) - set(param_names)
        if unknown:
            raise ConfigError(f"HingePenalty: unknown parameter names {sorted(unknown)}")
        return np.array([n in self.names for n in param_names])

    def value(self, theta, param_names) -> float:
        theta = np.asarray(theta, dtype=np.float64)
        excess = np.clip(np.abs(theta) - self.bound, 0.0, None) * self.mask(param_names)
        return float(self.strength * excess.sum())

    def gradient(self, theta, param_names) -> np.ndarray:
        theta = np.asarray(theta, dtype=np.float64)
        active = (np.abs(theta) > self.bound) & self.mask(param_names)
        return self.strength * np.sign(theta) * active


def clip_parameters(theta, bound, mask=None) -> np.ndarray:
    """``clip(θ_j, −bound, bound)`` on the entries selected by ``mask`` (all by default)."""
    theta = np.array(theta, dtype=np.float64)
    if not (np.isfinite(bound) and bound >= 0):
        raise ConfigError(f"bound must be a finite number ≥ 0; got {bound!r}")
    if mask is None:
        return np.clip(theta, -bound, bound)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != theta.shape:
        raise ShapeError(f"mask must have theta's shape {theta.shape}; got {mask.shape}")
    theta[mask] = np.clip(theta[mask], -bound, bound)
    return theta
