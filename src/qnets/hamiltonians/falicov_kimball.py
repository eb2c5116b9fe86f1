r"""The spinless Falicov–Kimball model on an ``L × L`` torus and its charge-order parameters.

Mobile ``d`` fermions hop on a square lattice; localised ``f`` fermions sit at fixed mean
filling ``n_f``; both interact on site:

.. math::

    H = -t \sum_{\langle ij \rangle} d_i^\dagger d_j
        - t' \sum_{\langle\langle ij \rangle\rangle} d_i^\dagger d_j
        - \mu \sum_i n^d_i + E_f \sum_i n^f_i + U \sum_i n^d_i n^f_i

(``⟨ij⟩``: nearest neighbours, each bond in both directions; ``⟨⟨ij⟩⟩``: the two
diagonals). ``E_f`` is not a parameter: solvers choose it so that
``(1/N) Σ_i ⟨n^f_i⟩ = n_f`` (:func:`qnets.solvers.dmft`). With these signs the free band is
``ε_k = −2t (cos k_x + cos k_y) − 4t' cos k_x cos k_y``; at ``t' = 0`` and
``μ = U n_f`` with ``n_f = 1/2`` the model is particle–hole symmetric (half filling).
On a bipartite lattice the sign of ``t`` is a gauge choice; that of ``t'`` relative to
``t`` is not, and the one above is the usual one.

Order parameters of the ``f`` occupations (site ``n = x + yL``; spec ``fnn.md`` §4.3):

.. math::

    O_{cb} = 2 \Big|\frac1N \sum_i n^f_i (-1)^{x_i + y_i}\Big|, \qquad
    O_{st} = 2 \max_{q \in \{(\pi,0),(0,\pi)\}} \Big|\frac1N \sum_i n^f_i e^{i q\cdot r_i}\Big|

— 1 for a perfect checkerboard / stripe pattern of ``n_f ∈ {0, 1}``, 0 for a uniform one.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from qnets.errors import ConfigError, ShapeError
from qnets.lattices import SquareLattice

__all__ = [
    "FalicovKimball",
    "checkerboard_order",
    "falicov_kimball",
    "half_filling_mu",
    "stripe_order",
    "structure_factor",
]


def _real(name: str, value, *, positive: bool = False, nonnegative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigError(f"{name}: expected a finite real number, got {value!r}")
    if positive and not value > 0:
        raise ConfigError(f"{name}: expected a number > 0, got {value!r}")
    if nonnegative and not value >= 0:
        raise ConfigError(f"{name}: expected a number ≥ 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class FalicovKimball:
    r"""A Falicov–Kimball model instance (see the module docstring for the Hamiltonian).

    Attributes
    ----------
    L : int
        Linear size of the torus; ``N = L²`` sites, index ``n = x + yL``.
    t, t_prime, U, mu, n_f : float
        Parameters by name (NN hopping, NNN hopping, interaction, d chemical potential,
        mean f filling).
    hopping : numpy.ndarray
        ``(N, N)`` real symmetric float64 hopping matrix: ``−t`` on NN bonds, ``−t'`` on
        NNN bonds, zero diagonal.
    """

    L: int
    t: float
    t_prime: float
    U: float
    mu: float
    n_f: float
    hopping: np.ndarray = field(repr=False)

    @property
    def n_sites(self) -> int:
        """``N = L²``."""
        return self.L * self.L

    @property
    def h0(self) -> np.ndarray:
        r"""Non-interacting ``d`` Hamiltonian ``H_0 = hopping − μ I`` (``(N, N)`` float64)."""
        return self.hopping - self.mu * np.eye(self.n_sites)


def _hopping_matrix(L: int, t: float, t_prime: float) -> np.ndarray:
    lattice = SquareLattice(L)
    H = np.zeros((lattice.n_sites, lattice.n_sites))
    for (dx, dy), amplitude in (((1, 0), -t), ((0, 1), -t), ((1, 1), -t_prime), ((1, -1), -t_prime)):
        if amplitude == 0:
            continue
        source, target = lattice.bonds(dx, dy)
        np.add.at(H, (target, source), amplitude)
        np.add.at(H, (source, target), amplitude)
    return H


def half_filling_mu(L: int, *, t: float = 1.0, t_prime: float = 0.0, U: float = 0.0,
                    n_f: float = 0.5) -> float:
    r"""Chemical potential of a half-filled ``d`` band in the uniform Hartree picture.

    ``μ_½ = U n_f + μ_0`` with ``μ_0`` the midpoint between the ``N/2``-th and
    ``(N/2 + 1)``-th eigenvalues of the free hopping matrix (the ``T = 0`` half-filling
    chemical potential of the free band; 0 at ``t' = 0`` by particle–hole symmetry). This is
    the reference of the "chemical-potential offsets around the d half-filling value" of the
    checkerboard-vs-stripe data (spec §4.3(b)).
    """
    hop = _hopping_matrix(_size(L), _real("t", t), _real("t_prime", t_prime))
    levels = np.linalg.eigvalsh(hop)
    half = len(levels) // 2
    return _real("U", U) * _real("n_f", n_f) + 0.5 * float(levels[half - 1] + levels[half])


def _size(L) -> int:
    if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 2 or L % 2:
        raise ConfigError(
            f"L: expected an even integer ≥ 2 (checkerboard and stripe orders need an even torus), "
            f"got {L!r}"
        )
    return int(L)


def falicov_kimball(
    L: int,
    *,
    U: float,
    t: float = 1.0,
    t_prime: float = 0.0,
    mu: float | None = None,
    n_f: float = 0.5,
) -> FalicovKimball:
    r"""The Falicov–Kimball model on an ``L × L`` torus (sign convention: module docstring).

    Parameters
    ----------
    L : int
        Even linear size (``L = 12`` in the paper; 6 for CI-sized runs).
    U : float
        On-site ``d``–``f`` interaction (keyword only).
    t, t_prime : float
        Nearest- and next-nearest-neighbour hopping amplitudes (``H_ij = −t``, ``−t'``).
    mu : float, optional
        ``d`` chemical potential; default ``U·n_f`` (half filling at ``t' = 0``).
    n_f : float
        Mean ``f`` filling, ``0 < n_f < 1`` (the paper's 0.5).

    Returns
    -------
    FalicovKimball
        With the ``(N, N)`` float64 ``hopping`` matrix and ``h0 = hopping − μ I``.

    Examples
    --------
    >>> model = falicov_kimball(6, U=2.0)
    >>> model.h0.shape, model.mu
    ((36, 36), 1.0)
    """
    L = _size(L)
    U = _real("U", U, nonnegative=True)
    t = _real("t", t)
    t_prime = _real("t_prime", t_prime)
    n_f = _real("n_f", n_f)
    if not 0 < n_f < 1:
        raise ConfigError(f"n_f: expected a mean f filling strictly between 0 and 1, got {n_f!r}")
    mu = U * n_f if mu is None else _real("mu", mu)
    return FalicovKimball(L, t, t_prime, U, mu, n_f, _hopping_matrix(L, t, t_prime))


def _occupations(n, L: int | None) -> tuple[np.ndarray, int]:
    n = np.asarray(n, dtype=float)
    if n.ndim < 1:
        raise ShapeError("n_f: expected site occupations of shape (..., L²), got a scalar")
    side = math.isqrt(n.shape[-1]) if L is None else int(L)
    if side * side != n.shape[-1]:
        raise ShapeError(
            f"n_f: expected L² occupations per sample (L = {L}), got {n.shape[-1]} per sample"
        )
    return n, side


def structure_factor(n_f, qx: float, qy: float, *, L: int | None = None) -> np.ndarray:
    r"""``S(q) = (1/N) Σ_i n_i e^{i q·r_i}`` of occupations ``n_f`` (``(..., N)``) → ``(...)`` complex."""
    n, side = _occupations(n_f, L)
    x, y = SquareLattice(side).coordinates()
    phase = np.exp(1j * (qx * x + qy * y))
    return (n * phase).mean(-1)


def checkerboard_order(n_f, *, L: int | None = None) -> np.ndarray:
    r"""``O_cb = 2 |S(π, π)|`` (1 for a perfect checkerboard of ``n_f ∈ {0, 1}``)."""
    return 2 * np.abs(structure_factor(n_f, math.pi, math.pi, L=L))


def stripe_order(n_f, *, L: int | None = None) -> np.ndarray:
    r"""``O_st = 2 max(|S(π, 0)|, |S(0, π)|)`` (1 for perfect stripes along x or y)."""
    return 2 * np.maximum(
        np.abs(structure_factor(n_f, math.pi, 0.0, L=L)),
        np.abs(structure_factor(n_f, 0.0, math.pi, L=L)),
    )
