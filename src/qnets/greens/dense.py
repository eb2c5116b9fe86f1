r"""Dense oracles for the layered recursion: assemble the full matrix and invert it.

These functions are exact references for tests and small analyses; they cost
``O((Σ_l n_l)^3)`` per sample and support autograd through ``torch.linalg.inv``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from qnets.greens import _linalg
from qnets.greens.recursion import LayeredGreens, _as_z, _validate

__all__ = ["block_tridiagonal", "dense_greens"]


def block_tridiagonal(
    diagonal_blocks: Sequence[torch.Tensor], hoppings: Sequence[torch.Tensor]
) -> torch.Tensor:
    r"""Dense block-tridiagonal matrix ``Σ_l c_l† D_l c_l + Σ_l (c_l† T_l c_{l+1} + h.c.)``.

    Parameters
    ----------
    diagonal_blocks : sequence of torch.Tensor
        ``D_0 … D_L``, each ``(n_l, n_l)`` or batched ``(B, n_l, n_l)``.
    hoppings : sequence of torch.Tensor
        ``T_0 … T_{L-1}``, each ``(n_l, n_{l+1})``.

    Returns
    -------
    torch.Tensor
        ``(N, N)`` or ``(B, N, N)`` with ``N = Σ_l n_l``; the upper off-diagonal blocks are
        ``T_l`` and the lower ones ``T_l†``.
    """
    sizes = [int(block.shape[-1]) for block in diagonal_blocks]
    offsets = [0]
    for n in sizes:
        offsets.append(offsets[-1] + n)
    batch_shape = torch.broadcast_shapes(*(block.shape[:-2] for block in diagonal_blocks))
    ref = diagonal_blocks[0]
    out = ref.new_zeros(*batch_shape, offsets[-1], offsets[-1])
    for layer, block in enumerate(diagonal_blocks):
        a, b = offsets[layer], offsets[layer + 1]
        out[..., a:b, a:b] = block
    for layer, T in enumerate(hoppings):
        a, b = offsets[layer], offsets[layer + 1]
        c = offsets[layer + 2]
        out[..., a:b, b:c] = T
        out[..., b:c, a:b] = T.mH
    return out


def dense_greens(
    g0: torch.Tensor,
    onsite: Sequence[torch.Tensor],
    hoppings: Sequence[torch.Tensor],
    z,
    *,
    source: torch.Tensor | None = None,
    return_in_out: bool = False,
    input_pattern=None,
) -> LayeredGreens:
    r"""Same contract as :func:`qnets.greens.layered_greens`, by one dense inverse.

    ``input_pattern`` is accepted for a drop-in signature and ignored (the dense inverse
    needs no sparsity hint).

    The full matrix has diagonal blocks ``g_0^{-1}`` (input layer) and ``z - h_l``, and
    off-diagonal blocks ``-T_l``, ``-T_l†``; its inverse restricted to the output block is
    ``G_{LL}`` and to the input rows / output columns ``G_{0L}``.
    """
    onsite, hoppings = list(onsite), list(hoppings)
    _validate(g0, onsite, hoppings, source)
    batch = g0.shape[0]
    z_t = _as_z(z, batch, g0)
    g0_inv = torch.diag_embed(1.0 / g0) if g0.dim() == 2 else _linalg.inv(g0)
    blocks = [g0_inv]
    for h in onsite:
        eye = torch.eye(h.shape[-1], dtype=h.dtype, device=h.device)
        blocks.append(z_t * eye - h)
    matrix = block_tridiagonal(blocks, [-T for T in hoppings])
    full = _linalg.inv(matrix)
    n0, n_out = g0.shape[1], onsite[-1].shape[-1]
    g_out = full[:, -n_out:, -n_out:]
    g_in_out = None
    if source is not None or return_in_out:
        g_in_out = full[:, :n0, -n_out:]
        if source is not None:
            g_in_out = source.to(g0.dtype) @ g_in_out
    return LayeredGreens(g_out, g_in_out)
