r"""Free fermions on a lattice: spectra, gaps, projectors and the real-space Chern number.

The real-space Chern number follows the "triangle" estimator used to label the FNN
paper's disordered Chern-insulator data (after Kitaev's formula): with ``P`` the
projector on the states below the Fermi level (``P = V_occ V_occ†``),

.. math::

    C = -\frac{24\pi}{N} \sum_{i} \sum_{(a, b)} S_{ab}\,
        \operatorname{Im}\left[P_{i j} P_{j k} P_{k i}\right],
    \qquad j = i + a,\; k = i + b,

over all sites ``i`` of an ``L × L`` torus (``N = L²``) and all triangles ``(0, a, b)``
with positive signed area ``S_{ab} = (a × b)/2`` inside the cut-off ``d_max``
(:func:`triangles`). For a clean gapped system ``C`` approaches the integer Chern number
as ``d_max`` and ``L`` grow (``|C| ≈ 1`` on the topological side, ``≈ 0`` on the trivial
side; the FNN data use ``d_max = 3`` and the label thresholds 0.3 / 0.7).
"""

from __future__ import annotations

import math

import numpy as np

from qnets.errors import ConfigError, ShapeError
from qnets.lattices import SquareLattice

__all__ = ["occupied_projector", "real_space_chern_number", "spectral_gap", "triangles"]


def _hermitian(h, name="h") -> np.ndarray:
    h = np.asarray(h)
    if h.ndim != 2 or h.shape[0] != h.shape[1]:
        raise ShapeError(f"{name}: expected a square matrix, got shape {h.shape}")
    deviation = np.abs(h - h.conj().T).max() if h.size else 0.0
    if deviation > 1e-8 * max(1.0, np.abs(h).max()):
        raise ConfigError(f"{name}: expected a Hermitian matrix, max |h − h†| = {deviation:.3g}")
    return h


def spectral_gap(h, mu: float = 0.0) -> float:
    """``min_k |E_k − μ|``: the distance of the spectrum of Hermitian ``h`` from ``μ``."""
    return float(np.abs(np.linalg.eigvalsh(_hermitian(h)) - mu).min())


def occupied_projector(h, mu: float = 0.0) -> np.ndarray:
    r"""``P = Σ_{E_k < μ} ψ_k ψ_k†`` (``P_ij = Σ_k ψ_k(i) conj(ψ_k(j))``) for Hermitian ``h``.

    ``P`` is the transpose of the correlation matrix ``C_ij = ⟨c_i† c_j⟩`` of the ground
    state (:func:`qnets.entanglement.ground_state_correlation`).
    """
    energies, vectors = np.linalg.eigh(_hermitian(h))
    occupied = vectors[:, energies < mu]
    return occupied @ occupied.conj().T


def triangles(d_max: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Triangles ``(0, a, b)`` of the estimator, each shape once, positively oriented.

    ``a = (a_x, a_y)`` in the upper half plane (``a_y ≥ 0``, and ``a_x > 0`` when
    ``a_y = 0``), ``b`` likewise, every coordinate of ``a``, ``b`` and ``b − a`` within
    ``d_max`` (``b_y − a_y ≥ −a_y``), and ``a × b > 0``.

    Returns
    -------
    vectors : numpy.ndarray
        ``(T, 2, 2)`` integer offsets ``[a, b]``.
    areas : numpy.ndarray
        ``(T,)`` signed areas ``(a × b) / 2 > 0``.
    """
    if not isinstance(d_max, (int, np.integer)) or d_max < 1:
        raise ConfigError(f"d_max: expected an integer ≥ 1, got {d_max!r}")
    r = np.arange(-d_max, d_max + 1)
    ax, ay, ex, ey = np.meshgrid(r, np.arange(d_max + 1), r, r, indexing="ij")
    bx, by = ax + ex, ay + ey
    cross = ax * by - ay * bx
    keep = (
        (ey >= -ay)
        & (np.abs(bx) <= d_max)
        & (np.abs(by) <= d_max)
        & (cross > 0)
        & ((ay > 0) | (ax > 0))
        & ((bx > 0) | (by > 0))
    )
    vectors = np.stack([np.stack([ax[keep], ay[keep]], -1), np.stack([bx[keep], by[keep]], -1)], 1)
    return vectors, cross[keep] / 2


def real_space_chern_number(h, L: int, *, d_max: int = 3, mu: float = 0.0) -> float:
    r"""Real-space Chern number of the ground state of ``h`` on an ``L × L`` torus.

    Parameters
    ----------
    h : array_like
        ``(L², L²)`` Hermitian single-particle Hamiltonian, site ``n = x + yL``.
    L : int
        Linear size of the torus.
    d_max : int
        Cut-off of the triangles (:func:`triangles`).
    mu : float
        Fermi level (states below are filled).

    Returns
    -------
    float
        ``C`` of the module formula (a real number close to an integer when the system is
        gapped and ``L`` is large compared with the correlation length).
    """
    h = _hermitian(h)
    lattice = SquareLattice(int(L))
    if h.shape[0] != lattice.n_sites:
        raise ShapeError(f"h: an {L}×{L} torus has {lattice.n_sites} sites, h is {h.shape[0]}×{h.shape[0]}")
    P = occupied_projector(h, mu)
    vectors, areas = triangles(d_max)
    x, y = lattice.coordinates()
    sites = np.arange(lattice.n_sites)[:, None]
    j = lattice.index(x[:, None] + vectors[None, :, 0, 0], y[:, None] + vectors[None, :, 0, 1])
    k = lattice.index(x[:, None] + vectors[None, :, 1, 0], y[:, None] + vectors[None, :, 1, 1])
    loops = P[sites, j] * P[j, k] * P[k, sites]  # (N, T)
    total = (loops.imag * areas[None, :]).sum()
    return float(-24 * math.pi * total / lattice.n_sites)
