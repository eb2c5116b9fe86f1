r"""Exact many-body equilibrium states: ground states (dense / Lanczos / DMRG) and Gibbs states.

One interface for every solver (spec ``qep.md`` §5.1)::

    gs = ground_state(H, method="auto", v0=None, theta=..., x=..., nu=...)
    gs.energy, gs.state, gs.gap, gs.converged, gs.expectation(op)

``H`` is a :class:`~qnets.hamiltonians.SpinHamiltonian` (parameters by role or name), a
scipy sparse matrix or a dense Hermitian array. Methods:

``dense``
    ``scipy.linalg.eigh`` on the full matrix (refused past ``max_dense_qubits`` with a
    :class:`~qnets.errors.SizeLimitError` naming the sparse and DMRG routes).
``lanczos``
    Krylov methods on the sparse matrix, real arithmetic when ``H`` is real, warm start
    from ``v0`` (e.g. the free-phase state before a nudged solve): the built-in restarted
    Lanczos (:func:`~qnets.solvers.lanczos.lanczos_ground_state`) for one eigenpair up to
    ``2^16`` rows, ARPACK ``eigsh(which='SA')`` for the gap (two eigenpairs) and for larger
    matrices (``backend`` chooses).
``dmrg``
    Two-site DMRG through quimb for 1-D chains (:mod:`qnets.solvers.dmrg`).
``auto``
    dense up to 8 qubits (dimension 256), Lanczos above.

The gap ``E_1 − E_0`` comes with the two lowest eigenvalues (``gap=True``, default); a gap
below ``degeneracy_tol · max(1, |E_0|)`` emits a :class:`~qnets.errors.DegeneracyWarning`,
because "the ground state" and its expectation values are then ill defined.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from qnets.errors import (
    ConfigError,
    ConvergenceWarning,
    DegeneracyWarning,
    ShapeError,
    SizeLimitError,
)
from qnets.hamiltonians.pauli import PauliSum
from qnets.hamiltonians.spin import SpinHamiltonian, as_pauli_sum
from qnets.solvers.lanczos import lanczos_ground_state

__all__ = ["GibbsState", "GroundState", "gibbs_state", "ground_state", "hamiltonian_matrix"]

_METHODS = ("auto", "dense", "lanczos", "dmrg")
_AUTO_DENSE_QUBITS = 8
_BACKENDS = ("auto", "lanczos", "arpack")
# The built-in Lanczos keeps 64 Krylov vectors: 64 MiB at 2^16 complex rows.
_BUILTIN_MAX_DIM = 2**16


@dataclass
class GroundState:
    """Result of :func:`ground_state`.

    Attributes
    ----------
    energy : float
        ``E_0``.
    state : ndarray or quimb MPS
        Normalised ground state, shape ``(2^n,)`` (float64 when ``H`` is real, else
        complex128); a ``quimb.tensor.MatrixProductState`` for ``method='dmrg'``.
    gap : float or None
        ``E_1 − E_0`` (None when not computed).
    converged : bool
        Whether the iterative solver met its tolerance.
    method : str
        The method actually used.
    energies : ndarray
        The lowest eigenvalues found (ascending).
    residual : float
        ``‖Hψ − E_0 ψ‖`` (NaN for DMRG).
    info : dict
        Solver details (the built-in Lanczos: ``n_matvec``, ``backend``).
    """

    energy: float
    state: Any
    gap: float | None
    converged: bool
    method: str
    energies: np.ndarray
    residual: float = float("nan")
    hamiltonian: SpinHamiltonian | None = field(default=None, repr=False)
    info: dict = field(default_factory=dict, repr=False)

    def expectation(self, operator) -> float:
        """``⟨ψ|op|ψ⟩`` for a PauliSum, a Pauli string (``'Z0 X1'``) or a term name."""
        if self.method == "dmrg":
            from qnets.solvers.dmrg import mps_expectation

            return mps_expectation(self.state, _operator(self, operator))
        return _operator(self, operator).expectation(self.state)

    def term_expectations(self, role: str | None = None) -> np.ndarray:
        """``⟨op_t⟩`` of the Hamiltonian's term operators (all or one role), float64."""
        if self.hamiltonian is None:
            raise ConfigError("term_expectations needs the ground state of a SpinHamiltonian")
        if self.method == "dmrg":
            from qnets.solvers.dmrg import mps_expectation

            names = self.hamiltonian.names(role)
            return np.array([mps_expectation(self.state, self.hamiltonian.term(n).operator)
                             for n in names])
        return self.hamiltonian.term_expectations(self.state, role)


@dataclass
class GibbsState:
    r"""Result of :func:`gibbs_state`: ``ρ = Σ_n p_n |n⟩⟨n|``, ``p_n = e^{−E_n/T}/Z``.

    Attributes
    ----------
    rho : ndarray, shape (2^n, 2^n)
        Density matrix (float64 when ``H`` is real, else complex128).
    energies, vectors : ndarray
        Full spectrum (ascending) and eigenvectors (columns).
    weights : ndarray
        Boltzmann weights ``p_n``.
    T : float
        Temperature.
    free_energy : float
        ``F = −T ln Z``.
    """

    rho: np.ndarray
    energies: np.ndarray
    vectors: np.ndarray
    weights: np.ndarray
    T: float
    free_energy: float
    hamiltonian: SpinHamiltonian | None = field(default=None, repr=False)

    @property
    def state(self) -> np.ndarray:
        return self.rho

    @property
    def energy(self) -> float:
        """Thermal energy ``⟨H⟩ = Σ p_n E_n``."""
        return float(self.weights @ self.energies)

    @property
    def gap(self) -> float:
        return float(self.energies[1] - self.energies[0]) if len(self.energies) > 1 else math.inf

    def expectation(self, operator) -> float:
        """``Tr(ρ op)`` for a PauliSum, Pauli string or term name."""
        return _operator(self, operator).expectation(self.rho)

    def term_expectations(self, role: str | None = None) -> np.ndarray:
        if self.hamiltonian is None:
            raise ConfigError("term_expectations needs the Gibbs state of a SpinHamiltonian")
        return self.hamiltonian.term_expectations(self.rho, role)


def _operator(result, operator) -> PauliSum:
    H = result.hamiltonian
    if isinstance(operator, PauliSum):
        return operator
    if H is not None and isinstance(operator, str) and operator in H.names():
        return H.term(operator).operator
    n = H.n_qubits if H is not None else round(math.log2(_dim(result)))
    return as_pauli_sum(n, operator)


def _dim(result) -> int:
    state = result.state
    return state.shape[0]


def _check_limit(value, name) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def hamiltonian_matrix(H, params=None, *, x=None, theta=None, nu=None):
    """``(matrix, spin_hamiltonian_or_None)`` from a SpinHamiltonian, sparse or dense input."""
    if isinstance(H, SpinHamiltonian):
        return H.matrix(params, x=x, theta=theta, nu=nu), H
    if params is not None or x is not None or theta is not None or nu is not None:
        raise ConfigError("params / x / theta / nu need H to be a SpinHamiltonian")
    if sp.issparse(H):
        M = H.tocsr()
    elif isinstance(H, np.ndarray):
        M = H
    else:
        raise ConfigError(
            f"H must be a SpinHamiltonian, a scipy sparse matrix or a numpy array; got "
            f"{type(H).__name__}"
        )
    if M.ndim != 2 or M.shape[0] != M.shape[1] or M.shape[0] < 2:
        raise ShapeError(f"H must be a square matrix of size ≥ 2; got shape {M.shape}")
    return M, None


def _n_qubits(M) -> float:
    return math.log2(M.shape[0])


def _dense_guard(M, max_dense_qubits: int):
    if _n_qubits(M) > max_dense_qubits:
        raise SizeLimitError(
            f"a dense {M.shape[0]} × {M.shape[0]} matrix ({_n_qubits(M):.0f} qubits) exceeds "
            f"max_dense_qubits={max_dense_qubits}; use method='lanczos' (sparse, matrix size "
            "∝ 2^n) or method='dmrg' (1-D chains beyond exact diagonalisation)"
        )


def _check_gap(energies: np.ndarray, degeneracy_tol: float, warn: bool):
    if len(energies) < 2:
        return None
    gap = float(energies[1] - energies[0])
    if warn and gap < degeneracy_tol * max(1.0, abs(float(energies[0]))):
        warnings.warn(
            f"near-degenerate ground state: gap E1 − E0 = {gap:.3g} < degeneracy_tol · "
            f"max(1, |E0|) = {degeneracy_tol * max(1.0, abs(float(energies[0]))):.3g}; "
            "expectation values and QEP gradients are ill defined (add a symmetry-breaking "
            "field, use open boundaries, or a low-temperature gibbs_state)",
            DegeneracyWarning,
            stacklevel=3,
        )
    return gap


def _use_builtin_lanczos(backend: str, k: int, M, ncv) -> bool:
    if backend == "lanczos":
        return True
    return backend == "auto" and k == 1 and ncv is None and M.shape[0] <= _BUILTIN_MAX_DIM


def _start_vector(v0, n: int, dtype):
    """``v0`` (array or result with ``.state``) as a start vector of length ``n`` in ``dtype``."""
    if v0 is None:
        return None
    v = np.asarray(getattr(v0, "state", v0))
    if v.shape != (n,):
        raise ShapeError(f"v0 must have shape ({n},); got {v.shape}")
    complex_op = np.issubdtype(dtype, np.complexfloating)
    if not complex_op and np.iscomplexobj(v):
        # a real symmetric H has a real ground state: keep the larger real/imag part
        v = v.real if np.linalg.norm(v.real) >= np.linalg.norm(v.imag) else v.imag
    if not np.all(np.isfinite(v)) or np.linalg.norm(v) == 0:
        raise ConfigError("v0 must be a finite, non-zero vector")
    return v.astype(dtype if complex_op else np.float64)


def ground_state(
    H,
    method: str = "auto",
    *,
    v0=None,
    params=None,
    x=None,
    theta=None,
    nu=None,
    gap: bool = True,
    tol: float = 1e-12,
    maxiter: int | None = None,
    ncv: int | None = None,
    max_dense_qubits: int = 12,
    degeneracy_tol: float = 1e-8,
    warn_degenerate: bool = True,
    sector=None,
    backend: str = "auto",
    **dmrg_options,
) -> GroundState:
    r"""Lowest eigenpair ``H|ψ0⟩ = E0|ψ0⟩`` (and the gap) of a Hermitian ``H``.

    Parameters
    ----------
    H : SpinHamiltonian, scipy sparse matrix or ndarray
        The Hamiltonian; ``params`` / ``x`` / ``theta`` / ``nu`` set a SpinHamiltonian's
        term values (see :meth:`SpinHamiltonian.values`).
    method : {'auto', 'dense', 'lanczos', 'dmrg'}
    v0 : ndarray, GroundState or MPS, optional
        Warm start (Lanczos start vector; DMRG initial MPS). Ignored by ``dense``.
    gap : bool
        Compute ``E1 − E0`` (two eigenpairs; Lanczos costs more). DMRG never computes it.
    tol : float
        Relative tolerance of the Krylov solvers: on the Ritz values for ARPACK
        (``eigsh(tol=…)``), on the residual for the built-in Lanczos.
    maxiter, ncv : int, optional
        Passed to ``eigsh`` (``ncv`` selects ARPACK); for the built-in Lanczos ``maxiter``
        is the number of restarts of its 64-vector Krylov space.
    max_dense_qubits : int
        Size guard: ``dense`` refuses matrices with more than ``2^max_dense_qubits`` rows.
    degeneracy_tol : float
        Relative gap below which a :class:`~qnets.errors.DegeneracyWarning` is emitted.
    sector : (PauliSum or str, ±1), optional
        Restrict to the ``±1`` eigenspace of a Pauli-string symmetry ``P`` (``P² = 1``,
        ``[H, P] = 0``), e.g. ``('X0 X1 … X(n−1)', +1)`` for the TFIM parity. The sector
        has half the dimension; ``state`` is returned in the full basis and ``gap`` is the
        gap within the sector.
    backend : {'auto', 'lanczos', 'arpack'}
        Krylov solver of ``method='lanczos'``: ``'auto'`` takes the built-in Lanczos when
        one eigenpair is asked for (``gap=False``), the matrix has at most ``2^16`` rows and
        no ``ncv`` is given, ARPACK otherwise; ``'lanczos'`` forces the built-in solver
        (one eigenpair only), ``'arpack'`` forces ``eigsh``.
    **dmrg_options
        ``bond_dims``, ``cutoffs``, ``max_sweeps``, ``dmrg_tol`` for ``method='dmrg'``.

    Returns
    -------
    GroundState
    """
    if method not in _METHODS:
        raise ConfigError(f"method must be one of {_METHODS}; got {method!r}")
    if backend not in _BACKENDS:
        raise ConfigError(f"backend must be one of {_BACKENDS}; got {backend!r}")
    if backend == "lanczos" and gap:
        raise ConfigError("backend='lanczos' computes one eigenpair; pass gap=False or "
                          "backend='arpack' for the gap")
    max_dense_qubits = _check_limit(max_dense_qubits, "max_dense_qubits")
    if not (isinstance(tol, numbers.Real) and tol >= 0):
        raise ConfigError(f"tol must be a non-negative number; got {tol!r}")
    if dmrg_options and method != "dmrg":
        raise ConfigError(f"unknown options {sorted(dmrg_options)} (DMRG options need method='dmrg')")
    if method == "dmrg":
        from qnets.solvers.dmrg import dmrg_ground_state

        if not isinstance(H, SpinHamiltonian):
            raise ConfigError("method='dmrg' needs a SpinHamiltonian (the MPO is built from its terms)")
        return dmrg_ground_state(H, params=params, x=x, theta=theta, nu=nu, v0=v0, **dmrg_options)
    if isinstance(H, SpinHamiltonian) and H.n_qubits > 26:
        raise SizeLimitError(
            f"{H.n_qubits} qubits: a state vector of 2^{H.n_qubits} entries is too large for "
            "exact methods; use method='dmrg' for 1-D chains"
        )
    M, spin = hamiltonian_matrix(H, params, x=x, theta=theta, nu=nu)
    M_full, iso = M, None
    if sector is not None:
        iso = _sector_isometry(sector, M)
        M = (iso.conj().T @ M @ iso).tocsr()
        if v0 is not None:
            v0 = iso.conj().T @ _start_vector(v0, M_full.shape[0], M_full.dtype)
    if method == "auto":
        method = "dense" if _n_qubits(M_full) <= _AUTO_DENSE_QUBITS else "lanczos"
    k = 2 if gap else 1
    converged = True
    info: dict = {}
    residual = None
    if method == "dense" or M.shape[0] <= k + 1:
        _dense_guard(M, max_dense_qubits)
        A = M.toarray() if sp.issparse(M) else np.asarray(M)
        w, V = sla.eigh(A, subset_by_index=[0, min(k, A.shape[0]) - 1], driver="evr")
        method = "dense"
    elif _use_builtin_lanczos(backend, k, M, ncv):
        result = lanczos_ground_state(
            M, _start_vector(v0, M.shape[0], M.dtype), tol=tol,
            max_restarts=50 if maxiter is None else int(maxiter),
        )
        converged = result.converged
        if not converged:
            warnings.warn(
                f"Lanczos did not converge (residual {result.residual:.3g} after "
                f"{result.n_restarts} restarts, tol={tol}); raise maxiter or loosen tol",
                ConvergenceWarning,
                stacklevel=2,
            )
        w, V = np.array([result.energy]), result.state[:, None]
        info = {"n_matvec": result.n_matvec, "backend": "lanczos"}
        if iso is None:  # already measured by the solver
            residual = result.residual
    else:
        start = _start_vector(v0, M.shape[0], M.dtype)
        try:
            w, V = spla.eigsh(M, k=k, which="SA", v0=start, tol=tol, maxiter=maxiter, ncv=ncv)
        except spla.ArpackNoConvergence as err:
            converged = False
            w, V = err.eigenvalues, err.eigenvectors
            if len(w) == 0:
                raise
            warnings.warn(
                f"Lanczos did not converge ({len(w)} of {k} eigenpairs, tol={tol}, "
                f"maxiter={maxiter}); raise maxiter/ncv or loosen tol",
                ConvergenceWarning,
                stacklevel=2,
            )
        order = np.argsort(w)
        w, V = w[order], V[:, order]
    psi = V[:, 0] if iso is None else iso @ V[:, 0]
    psi = psi / np.linalg.norm(psi)
    if residual is None:
        residual = float(np.linalg.norm(M_full @ psi - w[0] * psi))
    gap_value = _check_gap(np.asarray(w), degeneracy_tol, warn_degenerate) if gap else None
    return GroundState(
        energy=float(w[0]), state=psi, gap=gap_value, converged=converged, method=method,
        energies=np.asarray(w, dtype=np.float64), residual=residual, hamiltonian=spin, info=info,
    )


def _sector_isometry(sector, M) -> sp.csr_matrix:
    r"""Isometry ``V`` (``2^n × 2^{n−1}``) onto the ``s = ±1`` eigenspace of a Pauli string ``P``.

    With ``P|b⟩ = c(b)|b ⊕ x⟩``: for ``x = 0`` the basis states with ``c(b) = s``; else one
    column ``(|b⟩ + s c(b)|b ⊕ x⟩)/√2`` per pair ``b < b ⊕ x``.
    """
    if not (isinstance(sector, (tuple, list)) and len(sector) == 2):
        raise ConfigError(f"sector must be (pauli_string, ±1); got {sector!r}")
    op, sign = sector
    if isinstance(sign, bool) or sign not in (1, -1):
        raise ConfigError(f"sector sign must be +1 or −1; got {sign!r}")
    n = round(_n_qubits(M))
    P = as_pauli_sum(n, op, "sector operator")
    if len(P) != 1 or P.coefficients[0] != 1 or not P.is_hermitian or P.support == ():
        raise ConfigError(f"sector operator must be a single non-identity Pauli string; got {P!r}")
    Pm = P.to_sparse(np.complex128)
    commutator = (M @ Pm - Pm @ M)
    if commutator.nnz and abs(commutator).max() > 1e-10 * max(1.0, abs(M).max()):
        raise ConfigError(f"sector operator {P!r} does not commute with H; no symmetry sector")
    x = next(iter(P._groups()))
    dim = M.shape[0]
    b = np.arange(dim, dtype=np.int64)
    c = np.asarray(Pm[b ^ x, b]).ravel()  # P[b^x, b] = c(b)
    if x == 0:
        keep = np.flatnonzero(np.isclose(c, sign))
        data, rows, cols = np.ones(len(keep)), keep, np.arange(len(keep))
        shape = (dim, len(keep))
    else:
        rep = b[b < (b ^ x)]
        cols = np.arange(len(rep))
        rows = np.concatenate([rep, rep ^ x])
        data = np.concatenate([np.ones(len(rep)), sign * c[rep]]) / np.sqrt(2)
        cols = np.concatenate([cols, cols])
        shape = (dim, len(rep))
    real = np.allclose(np.imag(data), 0) and not np.iscomplexobj(M)
    data = np.real(data) if real else data.astype(np.complex128)
    return sp.csr_matrix((data, (rows, cols)), shape=shape)


def gibbs_state(H, T: float, *, params=None, x=None, theta=None, nu=None,
                max_qubits: int = 12) -> GibbsState:
    r"""Thermal state ``ρ = e^{−H/T} / Z`` by full diagonalisation (small systems).

    Parameters
    ----------
    H : SpinHamiltonian, sparse or dense matrix
    T : float
        Temperature, ``T > 0`` (energy units; ``k_B = 1``).
    max_qubits : int
        Size guard for the dense diagonalisation.

    Returns
    -------
    GibbsState
        With ``free_energy = −T ln Z``; weights computed with the ground energy shifted
        out, so no overflow at low ``T``.
    """
    if isinstance(T, bool) or not isinstance(T, numbers.Real) or not math.isfinite(T) or T <= 0:
        raise ConfigError(
            f"T must be a positive finite temperature; got T={T!r} (for T → 0 use ground_state)"
        )
    max_qubits = _check_limit(max_qubits, "max_qubits")
    M, spin = hamiltonian_matrix(H, params, x=x, theta=theta, nu=nu)
    if _n_qubits(M) > max_qubits:
        raise SizeLimitError(
            f"gibbs_state diagonalises the full {M.shape[0]} × {M.shape[0]} matrix "
            f"({_n_qubits(M):.0f} qubits > max_qubits={max_qubits}); use ground_state(..., "
            "method='lanczos' or 'dmrg') or a smaller system"
        )
    A = M.toarray() if sp.issparse(M) else np.asarray(M)
    w, V = sla.eigh(A)
    boltz = np.exp(-(w - w[0]) / T)
    Z = boltz.sum()
    p = boltz / Z
    rho = (V * p) @ V.conj().T
    free_energy = float(w[0] - T * math.log(Z))
    return GibbsState(rho=rho, energies=w, vectors=V, weights=p, T=float(T),
                      free_energy=free_energy, hamiltonian=spin)
