r"""Tight-binding models as dense single-particle Hamiltonians (numpy, complex128).

Convention: ``H = Σ_{ij} H_ij c_i† c_j``; a bond with amplitude ``t`` from site ``n`` to
site ``m`` (the term ``t c_m† c_n``) sets ``H_mn = t`` and ``H_nm = conj(t)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np

from qnets.errors import ConfigError, QnetsWarning, SizeLimitError
from qnets.lattices import SquareLattice

__all__ = ["chern_insulator", "chern_insulator_bands"]

_DISORDER_KEYS = ("onsite", "nn", "nnn")


def chern_insulator(
    L: int,
    kappa: float,
    *,
    disorder: Mapping[str, float] | None = None,
    seed: int | np.random.Generator | None = None,
    max_sites: int = 4096,
) -> np.ndarray:
    r"""The Chern-insulator model of Zhang & Kim (PRL 118, 216401) on an ``L × L`` torus.

    Spinless fermions, site ``n = x + yL``, staggering ``s = (−1)^y`` of the bond's first
    site ``n = (x, y)``; ``H_{m n} = t`` (term ``t c_m† c_n``) for the bond to ``m``:

    ========================  ======================
    bond (from (x, y))        hopping ``t``
    ========================  ======================
    ``(x+1, y)``              ``s``
    ``(x, y+1)``              ``1 + s (1 − κ)``
    ``(x+1, y+1)``            ``i s κ / 2``
    ``(x+1, y−1)``            ``−i s κ / 2``
    ========================  ======================

    Clean bands ``E(k) = ±2 √(cos² k_x + cos² k_y + sin² k_y (1 − κ + κ sin k_x)²)``; the gap
    at ``E = 0`` closes at ``k = (−π/2, ±π/2)`` when ``κ = 1/2``: trivial for ``κ < 1/2``,
    Chern insulator (``|C| = 1``) for ``κ > 1/2``. Those momenta exist only when ``4 | L``.

    Parameters
    ----------
    L : int
        Linear size (even; a multiple of 4 for the gap to close at ``κ = 1/2`` — other sizes
        warn).
    kappa : float
        ``κ``.
    disorder : mapping, optional
        Uniform disorder strengths ``{"onsite": W, "nn": a, "nnn": b}``: onsite energies
        ``U(−W, W)``, and real shifts ``U(−a, a)`` / ``U(−b, b)`` of every NN / NNN bond
        amplitude (as in the authors' data generator).
    seed : int or numpy.random.Generator, optional
        Randomness of the disorder.
    max_sites : int, default 4096
        Size guard: the dense matrix has ``16 L⁴`` bytes (268 MB at ``L = 64``); a larger
        ``L²`` raises :class:`~qnets.errors.SizeLimitError` unless this is raised.

    Returns
    -------
    numpy.ndarray
        ``(L², L²)`` Hermitian complex128 matrix.
    """
    if not isinstance(L, (int, np.integer)) or L < 2 or L % 2:
        raise ConfigError(f"L: expected an even integer ≥ 2 (the model is staggered along y), got {L!r}")
    if L % 4:
        warnings.warn(
            f"L={L} is not a multiple of 4: the momenta k = (−π/2, ±π/2) where the gap closes at "
            f"κ = 0.5 are not on the {L}×{L} lattice, so the finite system never becomes gapless",
            QnetsWarning,
            stacklevel=2,
        )
    if not np.isfinite(kappa):
        raise ConfigError(f"kappa: expected a finite real number, got {kappa!r}")
    if L * L > max_sites:
        raise SizeLimitError(
            f"L={L}: the dense {L * L}×{L * L} complex matrix needs {16 * L**4 / 1e9:.1f} GB "
            f"(max_sites={max_sites}); pass max_sites={L * L} if the memory is there, or work "
            f"on the bond pattern (qnets.fnn.datasets stores only the non-zero values)"
        )
    disorder = dict(disorder or {})
    unknown = set(disorder) - set(_DISORDER_KEYS)
    if unknown:
        raise ConfigError(f"disorder: unknown keys {sorted(unknown)}; expected a subset of {_DISORDER_KEYS}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    lattice = SquareLattice(L)
    n = lattice.n_sites
    _, y = lattice.coordinates()
    s = np.where(y % 2 == 0, 1.0, -1.0)
    H = np.zeros((n, n), dtype=np.complex128)

    def add(dx, dy, amplitude, strength_key):
        source, target = lattice.bonds(dx, dy)
        t = amplitude[source].astype(np.complex128)
        strength = disorder.get(strength_key, 0.0)
        if strength:
            t = t + rng.uniform(-strength, strength, size=len(source))
        np.add.at(H, (target, source), t)
        np.add.at(H, (source, target), np.conj(t))

    add(1, 0, s, "nn")
    add(0, 1, 1 + s * (1 - kappa), "nn")
    add(1, 1, 1j * s * kappa / 2, "nnn")
    add(1, -1, -1j * s * kappa / 2, "nnn")
    if disorder.get("onsite", 0.0):
        W = disorder["onsite"]
        H[np.diag_indices(n)] += rng.uniform(-W, W, size=n)
    return H


def chern_insulator_bands(kx, ky, kappa: float) -> np.ndarray:
    r"""Positive clean band ``2 √(cos² k_x + cos² k_y + sin² k_y (1 − κ + κ sin k_x)²)``."""
    kx, ky = np.asarray(kx), np.asarray(ky)
    return 2 * np.sqrt(
        np.cos(kx) ** 2 + np.cos(ky) ** 2 + np.sin(ky) ** 2 * (1 - kappa + kappa * np.sin(kx)) ** 2
    )
