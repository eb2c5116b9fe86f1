r"""Which sites of a layered network are coupled: inter-layer patterns and intra-layer hopping.

Inter-layer patterns return the ``(rows, cols)`` index pairs of the non-zero entries of a
hopping matrix ``T`` (``n_in × n_out``); intra-layer patterns return the pairs ``i < j``
of the upper triangle of a Hermitian block ``h``. 2-D patterns place the sites of a layer
on a ``√n × √n`` grid in row-major order (site ``r·side + c``).

Patterns
--------
``dense``
    every input site to every output site.
``local``
    2-D patches: output pixel ``(R, C)`` couples to the ``k × k`` input patch starting at
    ``(s·R, s·C)``; output side ``(side_in − k) / s + 1``; weights are not shared.
``tree``
    non-overlapping ``2 × 2`` blocks (``local`` with ``k = s = 2``): every input site feeds
    exactly one output site.

Intra-layer options: ``none`` (onsite energies only), ``dense`` (all pairs), ``nn1d``,
``nnn1d`` (periodic chain, nearest / nearest + next-nearest neighbours), ``nn2d``,
``nnn2d`` (periodic square grid; NNN = the two diagonals).
"""

from __future__ import annotations

import math

import numpy as np

from qnets.errors import ConfigError, ShapeError

__all__ = [
    "INTER_LAYER",
    "INTRA_LAYER",
    "dense_pairs",
    "grid_side",
    "intra_pairs",
    "local_pairs",
    "tree_pairs",
]

INTER_LAYER = ("dense", "local", "tree")
INTRA_LAYER = ("none", "dense", "nn1d", "nnn1d", "nn2d", "nnn2d")


def grid_side(n: int, what: str) -> int:
    """Side of the square grid of ``n`` sites; a clear error when ``n`` is not a square."""
    side = math.isqrt(n)
    if side * side != n:
        raise ShapeError(f"{what}: a 2-D pattern needs a square number of sites, got {n}")
    return side


def dense_pairs(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """All ``n_in · n_out`` index pairs of a dense hopping matrix (row-major)."""
    rows, cols = np.meshgrid(np.arange(n_in), np.arange(n_out), indexing="ij")
    return rows.ravel(), cols.ravel()


def local_pairs(
    n_in: int, n_out: int, kernel: int, stride: int, *, what: str = "connectivity"
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs of a locally connected 2-D layer (``k × k`` patches, stride ``s``).

    Raises
    ------
    ShapeError
        when a layer is not square or ``n_out`` does not equal ``((side_in − k)/s + 1)²``.
    """
    if kernel < 1 or stride < 1:
        raise ConfigError(f"{what}: kernel and stride must be ≥ 1, got kernel={kernel}, stride={stride}")
    side_in = grid_side(n_in, f"{what} (input layer of {n_in} sites)")
    side_out = grid_side(n_out, f"{what} (output layer of {n_out} sites)")
    expected = (side_in - kernel) // stride + 1
    if side_in < kernel or expected != side_out:
        raise ShapeError(
            f"{what}: a {side_in}×{side_in} layer with kernel {kernel} and stride {stride} "
            f"gives a {expected}×{expected} layer ({expected * expected} sites), but the next "
            f"layer has {n_out} sites ({side_out}×{side_out})"
        )
    out_r, out_c, dr, dc = np.meshgrid(
        np.arange(side_out), np.arange(side_out), np.arange(kernel), np.arange(kernel),
        indexing="ij",
    )
    rows = (out_r * stride + dr) * side_in + (out_c * stride + dc)
    cols = out_r * side_out + out_c
    order = np.lexsort((cols.ravel(), rows.ravel()))
    return rows.ravel()[order], cols.ravel()[order]


def tree_pairs(n_in: int, n_out: int, *, what: str = "connectivity") -> tuple[np.ndarray, np.ndarray]:
    """Index pairs of non-overlapping ``2 × 2`` blocks (``n_out = n_in / 4``)."""
    return local_pairs(n_in, n_out, 2, 2, what=what)


def intra_pairs(name: str, n: int, *, what: str = "intra") -> tuple[np.ndarray, np.ndarray]:
    """Upper-triangle pairs ``(i, j)``, ``i < j``, of an intra-layer hopping pattern.

    Periodic boundaries; a pair that appears twice on a small ring or torus (e.g. both
    neighbours of a 2-site chain) is kept once.
    """
    if name not in INTRA_LAYER:
        raise ConfigError(f"{what}: expected one of {INTRA_LAYER}, got {name!r}")
    if name == "none":
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    if name == "dense":
        rows, cols = np.triu_indices(n, k=1)
        return rows, cols
    if name in ("nn1d", "nnn1d"):
        sites = np.arange(n)
        shifts = (1,) if name == "nn1d" else (1, 2)
        pairs = [(sites, (sites + s) % n) for s in shifts]
    else:
        side = grid_side(n, f"{what} ({name!r} on a layer of {n} sites)")
        r, c = np.divmod(np.arange(n), side)
        steps = [(0, 1), (1, 0)] + ([(1, 1), (1, -1)] if name == "nnn2d" else [])
        pairs = [(np.arange(n), ((r + dr) % side) * side + (c + dc) % side) for dr, dc in steps]
    a = np.concatenate([p[0] for p in pairs])
    b = np.concatenate([p[1] for p in pairs])
    keep = a != b
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    unique = np.unique(np.stack([lo, hi], axis=1), axis=0)
    return unique[:, 0], unique[:, 1]
