r"""The reference approach: the layer recursion with autograd through ``torch.linalg.inv``.

This is how the FNN authors' code computes gradients (``GLinear`` followed by
``.inverse()``); qnets keeps it as a second oracle and as the baseline of
``benchmarks/fnn_throughput.py``. Use :func:`qnets.greens.layered_greens` for real work.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from qnets.greens import _linalg
from qnets.greens.recursion import LayeredGreens, _as_z, _validate

__all__ = ["reference_layered_greens"]


def reference_layered_greens(
    g0: torch.Tensor,
    onsite: Sequence[torch.Tensor],
    hoppings: Sequence[torch.Tensor],
    z,
    *,
    source: torch.Tensor | None = None,
    return_in_out: bool = False,
) -> LayeredGreens:
    r"""``g_{l+1} = inv(z - h_{l+1} - T_l† g_l T_l)`` with plain autograd; same contract
    as :func:`qnets.greens.layered_greens`. A diagonal ``g0`` is used as such in the first
    layer (``T† (d ⊙ T)``, ``O(n0 n1²)``), so the comparison with the adjoint is fair."""
    onsite, hoppings = list(onsite), list(hoppings)
    _validate(g0, onsite, hoppings, source)
    batch = g0.shape[0]
    z_t = _as_z(z, batch, g0)
    diagonal = g0.dim() == 2
    if source is None and return_in_out:
        source = torch.eye(g0.shape[1], dtype=g0.dtype, device=g0.device)
    f = None
    if source is not None:
        source = source.to(g0.dtype)
        f = source * g0[:, None, :] if diagonal else source @ g0
    g = g0
    for layer, (T, h) in enumerate(zip(hoppings, onsite)):
        eye = torch.eye(h.shape[-1], dtype=h.dtype, device=h.device)
        sigma = T.mH @ (g[:, :, None] * T) if diagonal and layer == 0 else T.mH @ g @ T
        g = _linalg.inv(z_t * eye - h - sigma)
        if f is not None:
            f = f @ T @ g
    return LayeredGreens(g, f)
