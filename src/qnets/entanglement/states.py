r"""Entanglement of dense pure states, and Slater determinants as dense states (oracles).

A pure state of ``n`` factors with local dimensions ``dims = (d_0, …, d_{n-1})`` is a vector
``ψ`` of length ``Π d_k`` in the Kronecker basis: factor ``0`` is the leftmost Kronecker
factor, i.e. the most significant digit of the basis index (``ψ.reshape(dims)[i_0, …,
i_{n-1}]``). For a bipartition ``R | R̄`` the Schmidt decomposition

.. math::

    |\psi\rangle = \sum_\alpha s_\alpha\, |u_\alpha\rangle_R\, |v_\alpha\rangle_{\bar R},
    \qquad S_R = -\sum_\alpha s_\alpha^2 \ln s_\alpha^2 ,

is read off the singular values of ``ψ`` reshaped to ``(Π_{k∈R} d_k, Π_{k∉R} d_k)``.
These dense routines cost ``O(Π d_k)`` memory and serve as exact references for the
free-fermion (:mod:`qnets.entanglement.free_fermion`) and tensor-network entropies.
"""

from __future__ import annotations

import math

import numpy as np

from qnets.entanglement.free_fermion import _log_scale, _region, _to_numpy
from qnets.errors import ConfigError, ShapeError, SizeLimitError

__all__ = ["entanglement_entropy_state", "schmidt_values", "slater_determinant_state"]

_NORM_TOL = 1e-6
_ORTHONORMAL_TOL = 1e-8
_MAX_SLATER_SITES = 12


def _dims(dims) -> tuple[int, ...]:
    """Validated local dimensions as a tuple of positive ints."""
    if hasattr(dims, "detach"):
        dims = dims.detach().cpu().numpy()
    message = f"dims must be a non-empty 1-D sequence of positive integers; got {dims!r}"
    try:
        arr = np.atleast_1d(np.asarray(dims))
    except Exception as exc:  # pragma: no cover - ragged or exotic input
        raise ConfigError(message) from exc
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.number):
        raise ConfigError(message)
    if np.iscomplexobj(arr) or np.any(arr != np.round(arr)) or np.any(arr < 1):
        raise ConfigError(message)
    return tuple(int(d) for d in arr)


def _state(psi, dims: tuple[int, ...]) -> np.ndarray:
    """``psi`` as a tensor of shape ``dims`` (accepts a flat vector or that shape)."""
    vec = _to_numpy(psi, "psi")
    total = math.prod(dims)
    if vec.ndim == 1 and vec.shape[0] == total:
        return vec.reshape(dims)
    if vec.shape == dims:
        return vec
    raise ShapeError(
        f"psi must be a vector of length prod(dims) = {total} (dims={dims}) or have shape "
        f"{dims}; got shape {vec.shape}"
    )


def schmidt_values(psi, dims, region) -> np.ndarray:
    r"""Schmidt coefficients of ``psi`` for the bipartition ``region | rest``.

    The singular values of the matrix ``M[(i_k)_{k∈R}, (i_k)_{k∉R}] = ψ[i_0, …, i_{n-1}]``
    (factor 0 = leftmost Kronecker factor), so ``Σ s_α² = ‖ψ‖²``.

    Parameters
    ----------
    psi : array_like or torch.Tensor, shape (prod(dims),) or dims
        State vector (real or complex; not required to be normalised).
    dims : sequence of int
        Local dimensions ``(d_0, …, d_{n-1})``.
    region : sequence of int, int, or boolean mask of length n
        Factor indices of the subsystem ``R`` (order irrelevant, no repeats; may be empty).

    Returns
    -------
    numpy.ndarray, shape (min(d_R, d_rest),), float64
        Schmidt values in descending order, including zeros (``d_R = Π_{k∈R} d_k``). A
        product state gives ``[1, 0, …]``, a Bell pair ``[1/√2, 1/√2]``.

    Raises
    ------
    ConfigError
        ``dims`` is not a sequence of positive integers; ``region`` out of range or repeated.
    ShapeError
        ``psi`` does not have ``prod(dims)`` entries.
    """
    dims = _dims(dims)
    tensor = _state(psi, dims)
    inside = _region(region, len(dims), "region")
    outside = np.setdiff1d(np.arange(len(dims)), inside)
    d_in = math.prod(dims[k] for k in inside)
    matrix = np.transpose(tensor, tuple(inside) + tuple(outside)).reshape(d_in, -1)
    return np.linalg.svd(matrix, compute_uv=False).astype(np.float64, copy=False)


def entanglement_entropy_state(psi, dims, region, *, base=None) -> float:
    r"""Von Neumann entropy ``S_R = -tr ρ_R ln ρ_R`` of a pure state on factors ``region``.

    .. math::

        S_R = -\sum_\alpha s_\alpha^2 \ln s_\alpha^2 ,

    with ``s_α`` the :func:`schmidt_values` (``0 ln 0 = 0``), divided by ``ln(base)`` when
    ``base`` is given.

    Parameters
    ----------
    psi : array_like or torch.Tensor, shape (prod(dims),) or dims
        Normalised state vector (``|‖ψ‖ - 1| ≤ 1e-6``).
    dims : sequence of int
        Local dimensions; factor 0 is the leftmost Kronecker factor.
    region : sequence of int, int, or boolean mask of length n
        Factor indices of the subsystem. Empty or all factors → ``0.0``.
    base : float, optional
        Logarithm base; ``None`` for nats, ``2`` for bits.

    Returns
    -------
    float

    Raises
    ------
    ConfigError
        ``psi`` is not normalised; bad ``dims``, ``region`` or ``base``.
    ShapeError
        ``psi`` does not have ``prod(dims)`` entries.
    """
    scale = _log_scale(base)
    values = schmidt_values(psi, dims, region)
    norm = float(np.sqrt(np.sum(values**2)))
    if abs(norm - 1.0) > _NORM_TOL:
        raise ConfigError(
            f"psi must be normalised (|‖psi‖ - 1| <= {_NORM_TOL:g}); got ‖psi‖ = {norm:.10g}. "
            "Divide it by np.linalg.norm(psi)."
        )
    p = values**2
    p = p[p > 0]
    return float(-np.sum(p * np.log(p))) / scale


def slater_determinant_state(
    orbitals, *, site_order=None, max_sites: int = _MAX_SLATER_SITES
) -> np.ndarray:
    r"""Dense many-body Slater determinant ``c†_{φ_1} … c†_{φ_M} |0⟩`` on ``N`` sites.

    ``c†_φ = Σ_i φ(i) c_i†`` with the orbitals ``φ_m`` the columns of ``orbitals``. The
    state lives in the ``2^N`` occupation basis: site 0 is the leftmost Kronecker factor
    (most significant bit), ``|1⟩`` = occupied. Fermionic signs use the Jordan–Wigner map

    .. math::

        c_i^\dagger = \Big(\prod_{j<i} Z_j\Big)\, \sigma_i^+ ,\qquad
        Z = \operatorname{diag}(1, -1),\quad \sigma^+ = |1\rangle\langle 0| ,

    so a basis state with occupied sites ``i_1 < … < i_M`` is
    ``c†_{i_1} c†_{i_2} … c†_{i_M} |0⟩`` (creation operators ordered by site index, with
    sign ``+1``) and its amplitude is ``det(orbitals[[i_1, …, i_M], :])``. The state is
    built by applying the creation operators one by one (``O(M N 2^N)``), not from the
    determinant formula, so it is an independent brute-force oracle for correlation-matrix
    methods: with ``orbitals`` the filled eigenvectors ``V_occ`` of ``h`` it is the ground
    state whose correlation matrix is :func:`ground_state_correlation` ``= conj(V_occ) V_occ^T``.

    Parameters
    ----------
    orbitals : array_like or torch.Tensor, shape (N, M)
        ``M`` orthonormal single-particle orbitals as columns (``‖Φ†Φ - 1‖_max ≤ 1e-8``).
    site_order : sequence of int, optional
        Jordan–Wigner order of the sites: Kronecker factor ``k`` holds site
        ``site_order[k]`` (a permutation of ``range(N)``; same as passing
        ``orbitals[site_order]``). Default: ``range(N)``.
    max_sites : int, default 12
        Refuse ``N > max_sites`` (the state has ``2^N`` entries).

    Returns
    -------
    numpy.ndarray, shape (2**N,)
        Normalised state; ``float64`` for real orbitals, ``complex128`` for complex ones.

    Raises
    ------
    ShapeError
        ``orbitals`` is not 2-D.
    ConfigError
        The columns are not orthonormal, or ``site_order`` is not a permutation of the sites.
    SizeLimitError
        ``N > max_sites``; use the correlation matrix route instead.

    Notes
    -----
    The spin (Kronecker) reduced density matrix of the returned vector equals the
    *fermionic* reduced density matrix of a set of sites ``R`` only when ``R`` is a
    contiguous block of the Jordan–Wigner order (or, the state being pure, its complement
    is): for other regions the strings ``Π_{j<i} Z_j`` run through sites outside ``R``.
    To get the fermionic entropy of an arbitrary ``R`` — the quantity computed by
    :func:`~qnets.entanglement.entanglement_entropy` from the correlation matrix — order the
    sites with ``R`` first::

        order = list(R) + [i for i in range(N) if i not in R]
        psi = slater_determinant_state(orbitals, site_order=order)
        S_R = entanglement_entropy_state(psi, [2] * N, range(len(R)))
    """
    phi = _to_numpy(orbitals, "orbitals")
    if phi.ndim != 2:
        raise ShapeError(
            f"orbitals must be a 2-D matrix (N sites, M orbitals); got shape {phi.shape}"
        )
    n, m = phi.shape
    if site_order is not None:
        order = _region(site_order, n, "site_order", sort=False)
        if order.size != n:
            raise ConfigError(
                f"site_order must be a permutation of range({n}); got {order.size} distinct "
                f"sites {order.tolist()}"
            )
        phi = phi[order]
    if n > max_sites:
        raise SizeLimitError(
            f"orbitals has N = {n} sites; the dense state would have 2^{n} entries "
            f"(limit max_sites={max_sites}). Use ground_state_correlation / "
            "entanglement_entropy on the correlation matrix instead."
        )
    if m:
        deviation = float(np.max(np.abs(phi.conj().T @ phi - np.eye(m))))
        if deviation > _ORTHONORMAL_TOL:
            raise ConfigError(
                f"orbitals must have orthonormal columns within {_ORTHONORMAL_TOL:g}; got "
                f"max|Φ†Φ - 1| = {deviation:.3e}"
            )
    dim = 1 << n
    basis = np.arange(dim, dtype=np.int64)
    # occupation[b, i] = n_i of basis index b (site 0 = most significant bit)
    occupation = (basis[:, None] >> (n - 1 - np.arange(n))[None, :]) & 1
    # Jordan–Wigner string Π_{j<i} Z_j: (-1)^(number of occupied sites left of i)
    left = np.cumsum(occupation, axis=1) - occupation
    string = 1 - 2 * (left & 1)
    empty_by_site = [np.flatnonzero(occupation[:, i] == 0) for i in range(n)]

    state = np.zeros(dim, dtype=phi.dtype)
    state[0] = 1.0
    for orbital in range(m - 1, -1, -1):  # rightmost creation operator acts first
        new = np.zeros_like(state)
        for i in range(n):
            src = empty_by_site[i]
            new[src + (1 << (n - 1 - i))] += phi[i, orbital] * string[src, i] * state[src]
        state = new
    return state
