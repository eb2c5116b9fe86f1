r"""Quantum equilibrium propagation (Wanjura & Marquardt 2024; spec ``qep.md`` §1).

For ``H(x, θ, ν) = H0 + Σ_i x_i X_i + Σ_j θ_j A_j + Σ_k ν_k O_k`` in its ground state (or
Gibbs state at temperature ``T``) and a loss ``C(⟨O⟩)``, static reciprocity
``∂⟨O_k⟩/∂θ_j = ∂⟨A_j⟩/∂ν_k`` turns the gradient into one nudged equilibrium:

.. math::

    \frac{\partial C}{\partial \theta_j} = \sum_k \varepsilon_k \chi_{kj}
      = \frac{d}{d\beta} \langle A_j \rangle_{\nu = \beta\varepsilon}\Big|_{\beta=0},
    \qquad \varepsilon_k = \frac{\partial C}{\partial \langle O_k \rangle}\Big|_{\text{free}} .

Estimators (``mode``):

================== =========================================================== ========
mode               gradient                                                     bias
================== =========================================================== ========
``one_sided``      ``(⟨A⟩_{+βε} − ⟨A⟩_0) / β``                                   O(β)
``symmetric``      ``(⟨A⟩_{+βε} − ⟨A⟩_{−βε}) / 2β``                              O(β²)
``random_sign``    one-sided with ``β → sβ``, ``s = ±1`` drawn per call          O(β), 0 in mean
``linear_response`` exact ``β → 0``: ``2 Re⟨ψ0|A_j|dψ⟩``, ``(H − E0) dψ = −Q Out ψ0``  none
================== =========================================================== ========

(``Out = Σ_k ε_k O_k``, ``Q = 1 − |ψ0⟩⟨ψ0|``; at ``T > 0`` the Kubo–Mori formula in the
eigenbasis.) Nudged solves are warm-started from the free state; matrices stay real when
``H`` is real. :class:`FiniteDifferenceGradient` is the parameter-shift baseline with the
same interface: central differences of the loss, ``2N + 1`` equilibria per gradient.

Several *copies* (a list of Hamiltonians sharing parameter names, e.g. the two-copy
slope loss) are treated as one decoupled product system: outputs are concatenated, each
copy is nudged with its slice of ``ε``, and gradients add up by parameter name.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from qnets.ep.constraints import HingePenalty
from qnets.ep.losses import ObservableLoss, as_loss
from qnets.ep.measurement import ExactMeasurement, as_measurement, count_settings
from qnets.errors import ConfigError, ShapeError
from qnets.hamiltonians.spin import SpinHamiltonian
from qnets.solvers.exact import gibbs_state, ground_state

__all__ = ["MODES", "FiniteDifferenceGradient", "QuantumEP"]

MODES = ("one_sided", "symmetric", "random_sign", "linear_response")
_DENSE_SOLVE_DIM = 4096


class _System:
    """One copy: its Hamiltonian, operators and the map to the global parameter vector."""

    def __init__(self, H: SpinHamiltonian, names: list[str]):
        self.H = H
        self.theta_index = np.array([names.index(n) for n in H.names("trainable")], dtype=int)
        self.train_ops = H.operators("trainable")
        self.out_ops = H.operators("output")
        self.n_inputs = len(H.names("input"))
        self.last_state = None


class _EquilibriumEstimator:
    """Shared machinery: parameters, free equilibria, outputs and loss values."""

    def __init__(self, hamiltonian, loss, *, temperature=None, method="auto", measurement=None,
                 shots=None, grouping="qwc", penalty=None, seed=None, gap=True,
                 warm_start=False, solver_options=None):
        hams = list(hamiltonian) if isinstance(hamiltonian, (list, tuple)) else [hamiltonian]
        if not hams or not all(isinstance(h, SpinHamiltonian) for h in hams):
            raise ConfigError(
                "hamiltonian must be a SpinHamiltonian or a list of them (copies); got "
                f"{type(hamiltonian).__name__}"
            )
        names: list[str] = []
        for h in hams:
            for n in h.names("trainable"):
                if n not in names:
                    names.append(n)
        if not names:
            raise ConfigError("the Hamiltonian has no 'trainable' terms: nothing to train")
        self.param_names = names
        self.systems = [_System(h, names) for h in hams]
        self.loss = as_loss(loss)
        self.observable_loss = isinstance(self.loss, ObservableLoss)
        if self.observable_loss and len(hams) > 1:
            raise ConfigError("ObservableLoss supports a single copy")
        if not self.observable_loss and not all(s.out_ops for s in self.systems):
            raise ConfigError(
                "every Hamiltonian needs 'output' terms (the O_k the loss reads) unless the "
                "loss is an ObservableLoss"
            )
        if temperature is not None:
            if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) \
                    or not math.isfinite(temperature) or temperature <= 0:
                raise ConfigError(
                    f"temperature must be a positive finite number, or None for the ground "
                    f"state; got {temperature!r}"
                )
            temperature = float(temperature)
        self.temperature = temperature
        if method not in ("auto", "dense", "lanczos", "dmrg"):
            raise ConfigError(f"method must be 'auto', 'dense', 'lanczos' or 'dmrg'; got {method!r}")
        if method == "dmrg" and temperature is not None:
            raise ConfigError("method='dmrg' computes ground states only; set temperature=None")
        self.method = method
        self.measurement = as_measurement(measurement, shots, grouping)
        if method == "dmrg" and not isinstance(self.measurement, ExactMeasurement):
            raise ConfigError("shot-noise models need state vectors; use method='lanczos' or exact measurement with DMRG")
        if penalty is not None and not isinstance(penalty, HingePenalty):
            raise ConfigError(f"penalty must be a HingePenalty or None; got {type(penalty).__name__}")
        self.penalty = penalty
        self.rng = np.random.default_rng(seed)
        self.gap = bool(gap)
        self.warm_start = bool(warm_start)
        self.solver_options = dict(solver_options or {})

    # -- parameters --------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        return len(self.param_names)

    def initial_theta(self) -> np.ndarray:
        """The stored values of the trainable terms (first copy that defines each name)."""
        out = np.zeros(self.n_params)
        seen = set()
        for s in self.systems:
            values = s.H.values()
            for name, idx in zip(s.H.names("trainable"), s.theta_index):
                if idx not in seen:
                    out[idx] = values[s.H.names().index(name)]
                    seen.add(idx)
        return out

    def _theta(self, theta) -> np.ndarray:
        arr = np.asarray(theta)
        if np.iscomplexobj(arr):
            raise ConfigError("theta must be real")
        arr = np.atleast_1d(arr.astype(np.float64))
        if arr.shape != (self.n_params,):
            raise ShapeError(
                f"theta must have shape ({self.n_params},) (parameters {self.param_names}); "
                f"got shape {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise ConfigError("theta must be finite")
        return arr

    def _xs(self, x) -> list:
        if len(self.systems) == 1:
            return [x]
        if x is None:
            return [None] * len(self.systems)
        if not isinstance(x, (list, tuple)) or len(x) != len(self.systems):
            raise ShapeError(
                f"with {len(self.systems)} copies, x must be a list of {len(self.systems)} "
                "per-copy inputs (or None)"
            )
        return list(x)

    def theta_dict(self, theta) -> dict:
        return dict(zip(self.param_names, np.asarray(theta, dtype=float)))

    # -- equilibria --------------------------------------------------------------------
    def _solve(self, s: _System, x, theta_s, nu=None, extra=None, v0=None, gap=False):
        """Equilibrium of ``H(x, θ, ν) (+ extra)``; returns the solver result."""
        if self.method == "dmrg":
            if extra is not None:
                raise ConfigError("ObservableLoss nudges are not supported with method='dmrg'")
            return ground_state(s.H, method="dmrg", x=x, theta=theta_s, nu=nu, v0=v0,
                                **self.solver_options)
        M = s.H.matrix(x=x, theta=theta_s, nu=nu)
        if extra is not None:
            M = (M + extra).tocsr()
        if self.temperature is not None:
            return gibbs_state(M, self.temperature)
        return ground_state(M, method=self.method, v0=v0, gap=gap, **self.solver_options)

    def _free(self, theta, x):
        xs = self._xs(x)
        results = []
        for s, xc in zip(self.systems, xs):
            v0 = s.last_state if self.warm_start else None
            res = self._solve(s, xc, theta[s.theta_index], v0=v0, gap=self.gap)
            if self.warm_start and self.temperature is None:
                s.last_state = res.state
            results.append(res)
        return xs, results

    def _exact_trainables(self, s: _System, res) -> np.ndarray:
        if self.method == "dmrg":
            return res.term_expectations("trainable") if res.hamiltonian is not None else \
                np.array([_mps(res, op) for op in s.train_ops])
        return s.H.term_expectations(res.state, role="trainable")

    def _exact_outputs(self, s: _System, res, target) -> np.ndarray:
        if self.observable_loss:
            return np.array([_expect(res, self.loss.operator(target))])
        if self.method == "dmrg":
            return np.array([_mps(res, op) for op in s.out_ops])
        return s.H.term_expectations(res.state, role="output")

    def _measure(self, res, ops, exact):
        if isinstance(self.measurement, ExactMeasurement):
            return np.asarray(exact, dtype=float)
        return self.measurement.estimate(res.state, ops, exact=exact, rng=self.rng)

    def _output_ops(self, s, target):
        return [self.loss.operator(target)] if self.observable_loss else s.out_ops

    def outputs(self, theta, x=None, *, target=None) -> np.ndarray:
        """Exact free-phase outputs ``⟨O_k⟩`` (all copies concatenated), float64."""
        theta = self._theta(theta)
        _, results = self._free(theta, x)
        return np.concatenate([self._exact_outputs(s, r, target)
                               for s, r in zip(self.systems, results)])

    def loss_value(self, theta, x=None, target=None) -> float:
        """Exact loss ``C(⟨O⟩_free)`` plus the penalty (no shot noise)."""
        theta = self._theta(theta)
        value = self.loss.value(self.outputs(theta, x, target=target), target,
                                self.theta_dict(theta))
        if self.penalty is not None:
            value += self.penalty.value(theta, self.param_names)
        return float(value)

    def _penalty_and_explicit(self, theta, outputs, target) -> np.ndarray:
        extra = np.zeros(self.n_params)
        for name, value in self.loss.explicit_gradient(outputs, target,
                                                        self.theta_dict(theta)).items():
            extra[self.param_names.index(name)] += value
        if self.penalty is not None:
            extra += self.penalty.gradient(theta, self.param_names)
        return extra


class QuantumEP(_EquilibriumEstimator):
    r"""Gradient estimator by quantum equilibrium propagation.

    Parameters
    ----------
    hamiltonian : SpinHamiltonian or list of SpinHamiltonian
        Terms with roles ``input`` (``x``), ``trainable`` (``θ``) and ``output`` (``O_k``).
        A list means decoupled copies sharing parameters by name.
    loss : Loss or str
        :mod:`qnets.ep.losses` object, or ``'mse'`` / ``'cross_entropy'`` / ``'neg_abs'``.
    beta : float
        Nudge strength ``β > 0`` (ignored by ``linear_response``).
    mode : {'one_sided', 'symmetric', 'random_sign', 'linear_response'}
    temperature : float, optional
        ``T > 0`` uses Gibbs states (exact diagonalisation); None (default) ground states.
    method : {'auto', 'dense', 'lanczos', 'dmrg'}
        Ground-state solver (:func:`qnets.solvers.ground_state`).
    measurement : {'exact', 'gaussian', 'sampled'} or measurement object, optional
        How ``⟨O⟩`` and ``⟨A⟩`` are read (:mod:`qnets.ep.measurement`); with ``shots``.
    grouping : {'qwc', 'none'}
        Setting grouping of the sampled model.
    penalty : HingePenalty, optional
        Soft constraint added to the gradient.
    seed : int or numpy Generator, optional
        Randomness of shot noise and random signs.
    gap : bool
        Compute the free-phase gap (reported in ``info``).
    warm_start : bool
        Also warm-start each free solve from the previous call's free state (training
        loops); nudged solves are always warm-started from the free state.
    solver_options : dict, optional
        Passed to :func:`ground_state` (e.g. ``tol``, DMRG ``bond_dims``).
    """

    def __init__(self, hamiltonian, loss="mse", *, beta: float = 0.1, mode: str = "symmetric",
                 **kwargs):
        super().__init__(hamiltonian, loss, **kwargs)
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}; got {mode!r}")
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not math.isfinite(beta) \
                or beta <= 0:
            raise ConfigError(f"beta must be a positive finite number; got {beta!r}")
        if mode == "linear_response" and self.method == "dmrg":
            raise ConfigError("mode='linear_response' needs state vectors; use a finite-β mode with DMRG")
        self.beta = float(beta)
        self.mode = mode
        self._settings = self._count_settings()

    def _count_settings(self) -> dict:
        need_free_a = self.mode in ("one_sided", "random_sign")
        free = nudged = 0
        for s in self.systems:
            ops = ([] if self.observable_loss else list(s.out_ops))
            ops += list(s.train_ops) if need_free_a else []
            free += count_settings(ops) if ops else 0
            nudged += count_settings(s.train_ops)
        phases = {"one_sided": 1, "random_sign": 1, "symmetric": 2, "linear_response": 0}[self.mode]
        return {"free": free, "nudged_per_phase": nudged, "nudged_phases": phases,
                "total": free + phases * nudged}

    def gradient(self, theta, x=None, target=None):
        r"""QEP estimate of ``∂C/∂θ`` at one input ``x``.

        Returns
        -------
        grad : ndarray, shape (n_params,), float64
        info : dict
            ``loss`` (from the measured outputs), ``outputs`` (measured free outputs),
            ``outputs_exact``, ``eps``, ``nudged`` ({sign: measured ⟨A⟩ of the nudged
            phase, per parameter}), ``free_trainables`` (one-sided modes), ``gap``
            (smallest free gap over copies; None if not computed), ``n_settings``,
            ``settings`` (breakdown), ``n_equilibria``, ``sign`` (random-sign), ``mode``,
            ``beta``.
        """
        theta = self._theta(theta)
        xs, free = self._free(theta, x)
        exact_out = [self._exact_outputs(s, r, target) for s, r in zip(self.systems, free)]
        measured_out = []
        for s, r, e in zip(self.systems, free, exact_out):
            if self.observable_loss:
                measured_out.append(e)  # flavour (b): not measured, reported exactly
            else:
                measured_out.append(self._measure(r, s.out_ops, e))
        outputs = np.concatenate(measured_out)
        tdict = self.theta_dict(theta)
        eps = np.asarray(self.loss.error_signal(outputs, target, tdict), dtype=np.float64)
        if eps.shape != outputs.shape:
            raise ShapeError(f"loss error signal has shape {eps.shape}, outputs {outputs.shape}")
        splits = np.cumsum([len(e) for e in exact_out])[:-1]
        eps_parts = np.split(eps, splits)
        grad = np.zeros(self.n_params)
        info = {"mode": self.mode, "beta": self.beta, "eps": eps, "outputs": outputs,
                "outputs_exact": np.concatenate(exact_out),
                "loss": float(self.loss.value(outputs, target, tdict)), "nudged": {},
                "n_settings": self._settings["total"], "settings": dict(self._settings)}
        gaps = [getattr(r, "gap", None) for r in free]
        info["gap"] = None if any(g is None for g in gaps) else float(min(gaps))
        n_eq = len(self.systems)
        if self.mode == "linear_response":
            for s, xc, r, e in zip(self.systems, xs, free, eps_parts):
                grad[s.theta_index] += self._linear_response(s, xc, theta, r, e, target)
        else:
            signs = {"one_sided": [1.0], "symmetric": [1.0, -1.0],
                     "random_sign": [float(self.rng.choice([-1.0, 1.0]))]}[self.mode]
            info["sign"] = signs[0] if self.mode == "random_sign" else None
            free_a = []
            if self.mode != "symmetric":
                for s, r in zip(self.systems, free):
                    free_a.append(self._measure(r, s.train_ops, self._exact_trainables(s, r)))
                info["free_trainables"] = np.concatenate(free_a)
            nudged = {}
            first_nudged = [None] * len(self.systems)
            for sign in signs:
                parts = []
                for c, (s, xc, r, e) in enumerate(zip(self.systems, xs, free, eps_parts)):
                    start = self._second_nudge_start(r, first_nudged[c])
                    res = self._nudged(s, xc, theta, start, sign * self.beta * e, target)
                    first_nudged[c] = res
                    parts.append(self._measure(res, s.train_ops, self._exact_trainables(s, res)))
                    n_eq += 1
                nudged[sign] = parts
                info["nudged"][sign] = np.concatenate(parts)
            for c, s in enumerate(self.systems):
                if self.mode == "symmetric":
                    g = (nudged[1.0][c] - nudged[-1.0][c]) / (2 * self.beta)
                else:
                    sign = signs[0]
                    g = (nudged[sign][c] - free_a[c]) / (sign * self.beta)
                grad[s.theta_index] += g
        grad += self._penalty_and_explicit(theta, outputs, target)
        info["n_equilibria"] = n_eq
        return grad, info

    def _second_nudge_start(self, free_result, first_nudged):
        """Warm start of a nudged solve: the free state, or, for the second phase of a
        symmetric pair, ``2ψ(0) − ψ(β)`` (phase-aligned), which differs from ``ψ(−β)`` by
        ``O(β²)`` instead of ``O(β)``."""
        if first_nudged is None or self.method == "dmrg" or self.temperature is not None:
            return free_result
        psi0, psi1 = free_result.state, first_nudged.state
        overlap = np.vdot(psi0, psi1)
        if abs(overlap) < 0.5:  # far from linear response: the free state is the safer start
            return free_result
        return 2.0 * psi0 - psi1 * (np.conj(overlap) / abs(overlap))

    def _nudged(self, s, xc, theta, free_result, nudge, target):
        if self.observable_loss:
            op = self.loss.operator(target)
            extra = float(nudge[0]) * _op_matrix(op, s.H)
            return self._solve(s, xc, theta[s.theta_index], extra=extra, v0=free_result)
        return self._solve(s, xc, theta[s.theta_index], nu=nudge, v0=free_result)

    def _out_matrix(self, s, e, target):
        if self.observable_loss:
            return float(e[0]) * _op_matrix(self.loss.operator(target), s.H)
        total = None
        for coeff, op in zip(e, s.out_ops):
            term = float(coeff) * _op_matrix(op, s.H)
            total = term if total is None else total + term
        return total.tocsr()

    def _linear_response(self, s, xc, theta, res, e, target) -> np.ndarray:
        V = self._out_matrix(s, e, target)
        if self.temperature is not None:
            return _kubo_mori(s, res, V, self.temperature)
        M = s.H.matrix(x=xc, theta=theta[s.theta_index])
        psi = res.state
        rhs = -(V @ psi)
        rhs = rhs - psi * np.vdot(psi, rhs)
        dim = psi.shape[0]
        if dim <= _DENSE_SOLVE_DIM:
            A = M.toarray() - res.energy * np.eye(dim) + np.outer(psi, psi.conj())
            dpsi = sla.solve(A, rhs, assume_a="her")
        else:
            op = spla.LinearOperator(
                (dim, dim), dtype=np.result_type(M.dtype, psi.dtype),
                matvec=lambda v: M @ v - res.energy * v + psi * np.vdot(psi, v),
            )
            dpsi, _ = spla.cg(op, rhs, rtol=1e-13, maxiter=10 * dim)
        return 2.0 * np.real(s.H.term_matrix_elements(psi, dpsi, role="trainable"))


class FiniteDifferenceGradient(_EquilibriumEstimator):
    r"""Central finite differences of the loss: the parameter-shift baseline.

    ``g_j = [C(θ + h e_j) − C(θ − h e_j)] / 2h`` from ``2N + 1`` equilibria (the free one
    for ``info['outputs']`` and the ``2N`` shifted ones, warm-started from the free state);
    outputs are read through the same measurement model as :class:`QuantumEP`. Same
    interface: ``.gradient(theta, x, target) -> (grad, info)``.
    """

    def __init__(self, hamiltonian, loss="mse", *, h: float = 1e-5, **kwargs):
        super().__init__(hamiltonian, loss, **kwargs)
        if isinstance(h, bool) or not isinstance(h, numbers.Real) or not h > 0:
            raise ConfigError(f"h must be a positive number; got {h!r}")
        self.h = float(h)
        per = sum(count_settings(self._output_ops(s, None)) if not self.observable_loss else 1
                  for s in self.systems)
        self._per_equilibrium = per

    def _measured_loss(self, theta, xs, target, v0s):
        outs = []
        for s, xc, v0 in zip(self.systems, xs, v0s):
            res = self._solve(s, xc, theta[s.theta_index], v0=v0)
            exact = self._exact_outputs(s, res, target)
            ops = self._output_ops(s, target)
            outs.append(self._measure(res, ops, exact))
        outputs = np.concatenate(outs)
        value = self.loss.value(outputs, target, self.theta_dict(theta))
        if self.penalty is not None:
            value += self.penalty.value(theta, self.param_names)
        return value

    def gradient(self, theta, x=None, target=None):
        """Central-difference gradient; ``info`` has ``loss``, ``outputs``, ``n_equilibria``,
        ``n_settings``."""
        theta = self._theta(theta)
        xs, free = self._free(theta, x)
        v0s = [r.state if self.temperature is None else None for r in free]
        outputs = np.concatenate([self._exact_outputs(s, r, target)
                                  for s, r in zip(self.systems, free)])
        grad = np.zeros(self.n_params)
        for j in range(self.n_params):
            step = np.zeros(self.n_params)
            step[j] = self.h
            plus = self._measured_loss(theta + step, xs, target, v0s)
            minus = self._measured_loss(theta - step, xs, target, v0s)
            grad[j] = (plus - minus) / (2 * self.h)
        n_eq = len(self.systems) * (2 * self.n_params + 1)
        info = {"loss": float(self.loss.value(outputs, target, self.theta_dict(theta))),
                "outputs": outputs, "n_equilibria": n_eq,
                "n_settings": self._per_equilibrium * (2 * self.n_params + 1),
                "gap": None if any(getattr(r, "gap", None) is None for r in free)
                else float(min(r.gap for r in free))}
        return grad, info


def _op_matrix(op, H: SpinHamiltonian) -> sp.csr_matrix:
    dtype = np.float64 if (op.is_real and H.is_real) else np.complex128
    return op.to_sparse(dtype)


def _expect(res, op) -> float:
    return float(res.expectation(op))


def _mps(res, op) -> float:
    from qnets.solvers.dmrg import mps_expectation

    return mps_expectation(res.state, op)


def _kubo_mori(s: _System, res, V, T: float) -> np.ndarray:
    r"""``d⟨A_j⟩/dλ`` for ``H + λV`` in a Gibbs state (Kubo–Mori, eigenbasis)."""
    w, U, p = res.energies, res.vectors, res.weights
    Vd = V.toarray() if sp.issparse(V) else np.asarray(V)
    V_eig = U.conj().T @ Vd @ U
    dE = w[:, None] - w[None, :]
    dp = p[:, None] - p[None, :]
    close = np.abs(dE) < 1e-12
    weights = np.where(close, -(p[:, None] + p[None, :]) / (2 * T), dp / np.where(close, 1, dE))
    Y = U @ (V_eig * weights) @ U.conj().T
    mean_v = float(np.real(np.sum(p * np.real(np.diag(V_eig)))))
    trainables = s.H.term_expectations(res.rho, role="trainable")
    return s.H.term_expectations(Y, role="trainable") + trainables * mean_v / T
