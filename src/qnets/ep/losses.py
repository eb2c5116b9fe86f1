r"""QEP losses: functions of output expectation values and observable losses.

A loss ``C(⟨O⟩; target, θ)`` provides its value and the *error signal*
``ε_k = ∂C/∂⟨O_k⟩`` at the measured free outputs; QEP then nudges ``H + β Σ_k ε_k O_k``
(spec ``qep.md`` §1.2). Losses that also depend on the parameters explicitly (the two-copy
slope loss) add ``∂C/∂θ|_explicit`` through :meth:`explicit_gradient`, keyed by
parameter name. An :class:`ObservableLoss` (flavour (b), ``L = ⟨Ĉ⟩``) instead supplies the
operator to nudge with and needs no free-phase output measurement.

All arrays are float64 of shape ``(n_outputs,)``.
"""

from __future__ import annotations

import warnings

import numpy as np

from qnets.errors import ConfigError, KinkWarning, ShapeError
from qnets.hamiltonians.pauli import PauliSum

__all__ = [
    "CrossEntropyLoss",
    "Loss",
    "MSELoss",
    "NegAbsLoss",
    "ObservableLoss",
    "SlopeLoss",
    "as_loss",
]


def _pair(outputs, target):
    outputs = np.asarray(outputs, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if outputs.shape != target.shape:
        raise ShapeError(
            f"target must have the outputs' shape {outputs.shape}; got {target.shape}"
        )
    return outputs, target


class Loss:
    """Base class: ``value``, ``error_signal`` and (default zero) ``explicit_gradient``."""

    observable = None

    def value(self, outputs, target, theta=None) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def error_signal(self, outputs, target, theta=None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def explicit_gradient(self, outputs, target, theta=None) -> dict:
        """``{name: ∂C/∂θ_name}`` of the explicit parameter dependence (none by default)."""
        return {}


class MSELoss(Loss):
    r"""``C = Σ_k (⟨O_k⟩ − y_k)²``, ``ε_k = 2 (⟨O_k⟩ − y_k)`` (the authors' convention)."""

    def value(self, outputs, target, theta=None):
        o, y = _pair(outputs, target)
        return float(np.sum((o - y) ** 2))

    def error_signal(self, outputs, target, theta=None):
        o, y = _pair(outputs, target)
        return 2.0 * (o - y)


class CrossEntropyLoss(Loss):
    r"""``C = −Σ_k y_k ln p_k`` on probability outputs ``p_k = ⟨P_k⟩``; ``ε_k = −y_k / p_k``.

    ``p`` is clipped at ``eps`` (default 1e-12) so the signal stays finite.
    """

    def __init__(self, eps: float = 1e-12):
        if not eps > 0:
            raise ConfigError(f"eps must be positive; got {eps!r}")
        self.eps = float(eps)

    def value(self, outputs, target, theta=None):
        p, y = _pair(outputs, target)
        return float(-np.sum(y * np.log(np.clip(p, self.eps, None))))

    def error_signal(self, outputs, target, theta=None):
        p, y = _pair(outputs, target)
        return -y / np.clip(p, self.eps, None)


class NegAbsLoss(Loss):
    r"""``C = −Σ_k |⟨O_k⟩|`` (maximise a correlator), ``ε_k = −sign⟨O_k⟩``; target unused.

    At ``|⟨O_k⟩| < kink_tol`` the sign is arbitrary: a :class:`~qnets.errors.KinkWarning`
    is emitted and ``ε_k = −1`` is used.
    """

    def __init__(self, kink_tol: float = 1e-6):
        self.kink_tol = float(kink_tol)

    def value(self, outputs, target=None, theta=None):
        return float(-np.sum(np.abs(np.asarray(outputs, dtype=np.float64))))

    def error_signal(self, outputs, target=None, theta=None):
        o = np.asarray(outputs, dtype=np.float64)
        if np.any(np.abs(o) < self.kink_tol):
            warnings.warn(
                f"−|⟨O⟩| evaluated at its kink (|⟨O⟩| = {np.abs(o).min():.2g} < "
                f"kink_tol = {self.kink_tol:g}): the nudge sign is arbitrary, runs may wander",
                KinkWarning,
                stacklevel=3,
            )
        return -np.where(o >= 0, 1.0, -1.0)


class SlopeLoss(Loss):
    r"""Two-copy slope loss ``C = −|⟨O⟩_1 − ⟨O⟩_2| / |g_1 − g_2|`` (spec ``qep.md`` §3.4).

    ``outputs = (⟨O⟩_1, ⟨O⟩_2)`` come from two copies of the system that differ in the
    parameters named ``param1`` / ``param2`` (``g_1``, ``g_2``). With ``s = sign(ΔO)``,
    ``Δg = g_1 − g_2``:

    * ``ε = (−s, +s) / |Δg|``,
    * explicit ``∂C/∂g_1 = −C · sign(Δg)/|Δg| = −∂C/∂g_2``.
    """

    def __init__(self, param1: str, param2: str):
        if param1 == param2:
            raise ConfigError("param1 and param2 must name two different parameters")
        self.param1, self.param2 = param1, param2

    def _dg(self, theta):
        if theta is None or self.param1 not in theta or self.param2 not in theta:
            raise ConfigError(
                f"SlopeLoss needs theta with entries {self.param1!r} and {self.param2!r}"
            )
        dg = float(theta[self.param1]) - float(theta[self.param2])
        if dg == 0:
            raise ConfigError(f"SlopeLoss: {self.param1} and {self.param2} are equal; slope undefined")
        return dg

    def _do(self, outputs):
        o = np.asarray(outputs, dtype=np.float64)
        if o.shape != (2,):
            raise ShapeError(f"SlopeLoss needs two outputs (one per copy); got shape {o.shape}")
        return o[0] - o[1]

    def value(self, outputs, target=None, theta=None):
        return -abs(self._do(outputs)) / abs(self._dg(theta))

    def error_signal(self, outputs, target=None, theta=None):
        s = 1.0 if self._do(outputs) >= 0 else -1.0
        return np.array([-s, s]) / abs(self._dg(theta))

    def explicit_gradient(self, outputs, target=None, theta=None):
        dg = self._dg(theta)
        g1 = -self.value(outputs, target, theta) * np.sign(dg) / abs(dg)
        return {self.param1: g1, self.param2: -g1}


class ObservableLoss(Loss):
    r"""Flavour (b): ``L = ⟨Ĉ⟩`` for a Hermitian operator ``Ĉ`` (or ``Ĉ(target)``).

    QEP nudges with ``β Ĉ`` directly (``ε = 1``); no free-phase output measurement is
    needed. ``observable`` is a :class:`PauliSum` or a callable ``target -> PauliSum``.
    """

    def __init__(self, observable):
        if not (isinstance(observable, PauliSum) or callable(observable)):
            raise ConfigError(
                f"observable must be a PauliSum or a callable target -> PauliSum; got "
                f"{type(observable).__name__}"
            )
        self._observable = observable

    def operator(self, target) -> PauliSum:
        op = self._observable(target) if callable(self._observable) else self._observable
        if not isinstance(op, PauliSum) or not op.is_hermitian:
            raise ConfigError("the loss observable must be a Hermitian PauliSum")
        return op

    def value(self, outputs, target=None, theta=None):
        return float(np.asarray(outputs, dtype=np.float64).sum())

    def error_signal(self, outputs, target=None, theta=None):
        return np.ones(np.asarray(outputs).shape)


_NAMES = {"mse": MSELoss, "cross_entropy": CrossEntropyLoss, "neg_abs": NegAbsLoss}


def as_loss(loss) -> Loss:
    """A :class:`Loss` from an instance or a name (``'mse'``, ``'cross_entropy'``, ``'neg_abs'``)."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in _NAMES:
        return _NAMES[loss]()
    raise ConfigError(f"loss must be a Loss instance or one of {sorted(_NAMES)}; got {loss!r}")
