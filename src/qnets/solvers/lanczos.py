r"""Lowest eigenpair of a Hermitian operator by restarted single-vector Lanczos.

ARPACK (``scipy.sparse.linalg.eigsh``) has no complex Hermitian driver: for a complex matrix
it runs the general Arnoldi code ``znaupd``, whose implicit restarts and full
re-orthogonalisation cost more than the mat-vec itself at the dimensions of exact QEP
(``2^10`` … ``2^14``). For one eigenpair, the three-term recurrence

.. math::

    β_{j+1} v_{j+1} = A v_j − α_j v_j − β_j v_{j−1}, \qquad
    α_j = ⟨v_j|A|v_j⟩ \in \mathbb{R},

needs one mat-vec and a few vector updates per step. Every ``check_every`` steps the lowest
Ritz pair ``(θ, s)`` of the real tridiagonal ``T_m = tridiag(β, α, β)`` (LAPACK bisection and
inverse iteration) gives the residual estimate ``‖A x − θ x‖ ≈ β_{m+1} |s_m|`` of the Ritz
vector ``x = V_m s``. Plain Lanczos loses orthogonality only towards Ritz vectors that have
converged, which creates ghost copies of them but does not spoil the lowest pair; it is
accepted only after its true residual is checked with one more mat-vec. If ``max_krylov``
steps do not converge, the recurrence restarts from the Ritz vector. A warm start ``v0``
close to the answer (the free state before a nudged QEP solve) shortens the run.

Vector updates are in-place BLAS calls, and a CSR matrix is applied through scipy's
compiled kernel directly (checked once at import; ``A @ v`` otherwise).

Used by :func:`qnets.solvers.ground_state` (``backend='auto'``) for one eigenpair
up to ``2^16`` rows; ARPACK stays in charge of the gap (two eigenpairs) and of larger
matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import eigh_tridiagonal
from scipy.linalg.blas import get_blas_funcs
from scipy.linalg.lapack import dstebz, dstein

from qnets.errors import ConfigError, ShapeError

__all__ = ["LanczosResult", "lanczos_ground_state"]


def _load_csr_matvec():
    """scipy's compiled CSR kernel ``y += A x``, if it is there and still behaves as expected.

    Calling it directly skips ``A @ v``'s dispatch (≈ 3 µs of a 19 µs mat-vec at dimension
    1024, a tenth of a Lanczos step). It is scipy-internal, so it is checked once on a
    small matrix and ``A @ v`` is used whenever it is missing or misbehaves.
    """
    try:
        from scipy.sparse._sparsetools import csr_matvec

        test = sp.csr_matrix(np.array([[1.0, 2.0], [0.0, 3.0]]))
        out = np.zeros(2)
        csr_matvec(2, 2, test.indptr, test.indices, test.data, np.array([1.0, -1.0]), out)
        return csr_matvec if np.array_equal(out, [-1.0, -3.0]) else None
    except (ImportError, TypeError, ValueError, RuntimeError):  # pragma: no cover - scipy version
        return None


_CSR_MATVEC = _load_csr_matvec()


@dataclass(frozen=True)
class LanczosResult:
    """Lowest eigenpair from :func:`lanczos_ground_state`.

    Attributes
    ----------
    energy : float
        Lowest Ritz value ``θ``.
    state : ndarray, shape (n,)
        Normalised Ritz vector (float64 for real ``A`` and ``v0``, else complex128).
    residual : float
        True residual ``‖A x − θ x‖``.
    converged : bool
        ``residual ≤ 10 · tol · scale`` (``scale = max(|θ|, max_j |α_j|)``).
    n_matvec : int
        Mat-vecs used (the residual checks included).
    n_restarts : int
    """

    energy: float
    state: np.ndarray
    residual: float
    converged: bool
    n_matvec: int
    n_restarts: int


def _steps(matvec, blas, V, alpha, beta, j0: int, j1: int) -> int:
    """Lanczos steps ``j0 … j1 − 1`` in place; returns the step count (early at ``β = 0``).

    ``V[j0]`` holds ``v_{j0}`` on entry; ``V[j + 1]`` is written while there is room (the
    last ``w`` only leaves its norm in ``beta``). Vector updates are in-place BLAS calls.
    """
    axpy, nrm2, scal = blas
    for j in range(j0, j1):
        v = V[j]
        w = matvec(v)
        a = float(np.vdot(v, w).real)
        axpy(v, w, a=-a)
        if j:
            axpy(V[j - 1], w, a=-beta[j - 1])
        b = float(nrm2(w))
        alpha[j], beta[j] = a, b
        if b == 0.0:
            return j + 1
        if j + 1 < V.shape[0]:
            V[j + 1] = scal(1.0 / b, w)
    return j1


def _matvec(A, dtype, n: int):
    """``v ↦ A v`` as a contiguous ``dtype`` vector (scipy's kernel directly for CSR)."""
    if (_CSR_MATVEC is not None and sp.issparse(A) and A.format == "csr"
            and A.dtype == dtype and A.indptr.dtype == A.indices.dtype):
        indptr, indices, data = A.indptr, A.indices, A.data

        def csr(v):
            out = np.zeros(n, dtype=dtype)
            _CSR_MATVEC(n, n, indptr, indices, data, v, out)
            return out

        return csr
    return lambda v: np.asarray(A @ v, dtype=dtype).reshape(n)


def _lowest_ritz(alpha: np.ndarray, beta: np.ndarray) -> tuple[float, np.ndarray]:
    """Lowest eigenpair of ``tridiag(beta, alpha, beta)`` (LAPACK bisection + inverse iteration)."""
    if len(alpha) == 1:
        return float(alpha[0]), np.ones(1)
    _, w, iblock, isplit, info = dstebz(alpha, beta, 2, 0.0, 0.0, 1, 1, 0.0, "E")
    if info == 0:
        z, info = dstein(alpha, beta, w[:1], iblock, isplit)
        if info == 0:
            return float(w[0]), z[:, 0]
    theta, s = eigh_tridiagonal(alpha, beta, select="i", select_range=(0, 0))
    return float(theta[0]), s[:, 0]


def _check_options(tol, max_krylov, max_restarts, check_every) -> float:
    for name, value, low in (("max_krylov", max_krylov, 2), ("check_every", check_every, 1),
                             ("max_restarts", max_restarts, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{name} must be an integer ≥ {low}; got {value!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)) or not tol >= 0:
        raise ConfigError(f"tol must be a non-negative number; got {tol!r}")
    return max(float(tol), np.finfo(np.float64).eps)


def lanczos_ground_state(
    A,
    v0=None,
    *,
    tol: float = 1e-12,
    max_krylov: int = 64,
    max_restarts: int = 50,
    check_every: int = 4,
    seed: int = 0,
) -> LanczosResult:
    r"""Lowest eigenpair ``A x = θ x`` of a Hermitian ``A`` (sparse matrix, array or operator).

    Parameters
    ----------
    A : scipy sparse matrix, ndarray or LinearOperator, shape (n, n)
        Hermitian; only ``A @ v`` is used. Real ``A`` with a real ``v0`` runs in float64.
    v0 : ndarray, shape (n,), optional
        Start vector (warm start); a fixed-seed random vector when omitted.
    tol : float
        Relative tolerance on the residual: stop when the Ritz estimate
        ``β_{m+1}|s_m| ≤ tol · scale`` (``scale = max(|θ|, max_j |α_j|)``) and the true
        residual ``‖A x − θ x‖ ≤ 10 · tol · scale``; 0 means machine precision.
    max_krylov : int
        Krylov vectors kept before a restart from the Ritz vector (memory ``max_krylov · n``).
    max_restarts : int
        Restarts before giving up (``converged=False`` is returned, not raised).
    check_every : int
        Steps between convergence checks (each solves the tridiagonal problem).
    seed : int
        Seed of the random start vector when ``v0`` is None.

    Returns
    -------
    LanczosResult
    """
    tol = _check_options(tol, max_krylov, max_restarts, check_every)
    shape = getattr(A, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] != shape[1]:
        raise ShapeError(f"A must be a square matrix or operator; got shape {shape}")
    n = shape[0]
    if v0 is None:
        v0 = np.random.default_rng(seed).standard_normal(n)
    v0 = np.asarray(v0)
    if v0.shape != (n,):
        raise ShapeError(f"v0 must have shape ({n},); got {v0.shape}")
    dtype = np.result_type(getattr(A, "dtype", np.float64), v0.dtype, np.float64)
    norm = np.linalg.norm(v0)
    if not np.isfinite(norm) or norm == 0:
        raise ConfigError("v0 must be a finite, non-zero vector")
    matvec = _matvec(A, dtype, n)
    m_max = min(max_krylov, n)
    V = np.empty((m_max, n), dtype=dtype)
    blas = get_blas_funcs(("axpy", "nrm2", "scal"), (V,))
    alpha, beta = np.empty(m_max), np.empty(m_max)
    x = (v0 / norm).astype(dtype)
    theta, residual, scale, n_matvec = 0.0, np.inf, 0.0, 0
    for restart in range(max_restarts + 1):
        V[0] = x
        m = 0
        while m < m_max:
            j1 = min(m + check_every, m_max)
            done = _steps(matvec, blas, V, alpha, beta, m, j1)
            n_matvec += done - m
            m = done
            exhausted = beta[m - 1] == 0.0  # an invariant subspace: the Ritz pair is exact
            theta, s = _lowest_ritz(alpha[:m], beta[: m - 1])
            scale = max(scale, abs(theta), float(np.abs(alpha[:m]).max()))
            if beta[m - 1] * abs(s[-1]) <= tol * scale or exhausted or m == m_max:
                break
        x = s @ V[:m]
        x /= np.linalg.norm(x)
        r = matvec(x) - theta * x
        n_matvec += 1
        residual = float(np.linalg.norm(r))
        if residual <= 10 * tol * scale:
            return LanczosResult(theta, x, residual, True, n_matvec, restart)
    return LanczosResult(theta, x, residual, False, n_matvec, max_restarts)
