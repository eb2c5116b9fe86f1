"""Batched dense solves that avoid a CPU LAPACK failure of the installed torch build.

With torch 2.13.0 (CPU, MKL) a *batched* LU (``torch.linalg.solve_ex`` / ``inv`` on a
``(B, n, n)`` tensor, ``B > 1``) run with more than one intra-op thread fails for
``n ≥ 160``: MKL prints "Parameter 6 was incorrect on entry to CLASWP/ZLASWP" and torch
raises "Pivots given to lu_solve must all be greater or equal to 1" — for any matrix,
complex64 or complex128 (reproduced with random well-conditioned matrices; n ≤ 144 works).
A batched ``lu_factor_ex`` + ``lu_solve`` of 8 such complex64 matrices (n = 150, 170, 200)
with 2 threads printed the same CLASWP error and did not return within 10 minutes, so they
take the same route. Solving the batch one matrix at a time keeps both threads busy inside
each LU and is as fast (measured 0.34 s vs 0.40 s single-threaded batched, 256 × 169 × 169
complex64).
"""

from __future__ import annotations

import torch

__all__: list[str] = []

_BATCHED_LU_SAFE_SIZE = 144


def _per_matrix(a: torch.Tensor) -> bool:
    return (
        a.device.type == "cpu"
        and a.dim() == 3
        and a.shape[0] > 1
        and a.shape[-1] > _BATCHED_LU_SAFE_SIZE
        and torch.get_num_threads() > 1
    )


def lu_factor_ex(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``torch.linalg.lu_factor_ex(a)`` for ``(B, n, n)`` ``a``; per matrix where batched LU fails."""
    if not _per_matrix(a):
        return torch.linalg.lu_factor_ex(a)
    parts = [torch.linalg.lu_factor_ex(ai) for ai in a]
    return tuple(torch.stack([p[k] for p in parts]) for k in range(3))


def lu_solve(lu: torch.Tensor, pivots: torch.Tensor, b: torch.Tensor, *, adjoint: bool = False) -> torch.Tensor:
    """``torch.linalg.lu_solve(lu, pivots, b, adjoint=adjoint)``; per matrix where batched LU fails."""
    if not _per_matrix(lu):
        return torch.linalg.lu_solve(lu, pivots, b, adjoint=adjoint)
    b = b.expand(lu.shape[0], *b.shape[-2:])
    return torch.stack([
        torch.linalg.lu_solve(li, pi, bi, adjoint=adjoint) for li, pi, bi in zip(lu, pivots, b, strict=True)
    ])


def inv(a: torch.Tensor) -> torch.Tensor:
    """``torch.linalg.inv(a)`` for ``(B, n, n)`` ``a``; per matrix where batched LU fails."""
    if not _per_matrix(a):
        return torch.linalg.inv(a)
    return torch.stack([torch.linalg.inv(ai) for ai in a])
