r"""Readouts: physical observables of the output layer used as the network's outputs.

``ldos``
    ``y_o = −Im[g_L]_{oo} / π`` — the local density of states of output site ``o``,
    non-negative for ``η > 0``; used directly as logits of a softmax cross-entropy.
``conductance``
    conditional conductance ``CC_o = |Σ_{i∈input} [G_{0L}]_{i o}|²`` (the authors'
    definition, no lead self-energies: ``η`` plays their role).
``landauer``
    Landauer–Büttiker transmission with wide-band leads: a single-channel lead coupled
    equally (``γ_in``) to all input sites, and one lead (``γ_out``) on every output site,
    their self-energies ``Σ_in = −i γ_in/2 · u uᵀ`` (``u = (1, …, 1)``) and
    ``Σ_out = −i γ_out/2`` included in ``G``:
    ``T_o = Tr[Γ_in G Γ_o G†] = γ_in γ_out |uᵀ G_{0L} e_o|²``. ``CC`` is its
    weak-coupling limit up to the factor ``γ_in γ_out``.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "READOUTS",
    "add_input_lead",
    "conductance_probability",
    "conductance_readout",
    "ldos_readout",
]

READOUTS = ("ldos", "conductance", "landauer")


def ldos_readout(g_out: torch.Tensor) -> torch.Tensor:
    """``−Im diag(g_out) / π`` of a ``(B, n_L, n_L)`` output block → real ``(B, n_L)``."""
    return -torch.diagonal(g_out, dim1=-2, dim2=-1).imag / math.pi


def conductance_readout(row_sums: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``scale · |uᵀ G_{0L}|²`` from ``(B, 1, n_L)`` row sums → real ``(B, n_L)``."""
    return scale * row_sums[:, 0, :].abs() ** 2


def conductance_probability(cc: torch.Tensor) -> torch.Tensor:
    """The authors' probability for binary tasks: ``p = tanh(relu(CC / 2))`` (``p = ½`` at ``CC ≈ 1.10``)."""
    return torch.tanh(torch.relu(cc / 2))


def add_input_lead(g0: torch.Tensor, gamma: float) -> torch.Tensor:
    r"""Attach a wide-band lead to all input sites: ``g_0' = (g_0^{-1} + i γ/2 · u uᵀ)^{-1}``.

    Sherman–Morrison, ``c = iγ/2``: ``g_0' = g_0 − c (g_0 u)(uᵀ g_0) / (1 + c uᵀ g_0 u)``.
    Returns a dense ``(B, n0, n0)`` matrix (a diagonal ``g_0`` becomes dense).
    """
    c = 0.5j * gamma
    if g0.dim() == 2:
        left = right = g0
        g0_dense = torch.diag_embed(g0)
    else:
        left, right, g0_dense = g0.sum(-1), g0.sum(-2), g0
    denominator = 1.0 + c * right.sum(-1)
    update = left[:, :, None] * right[:, None, :]
    return g0_dense - c * update / denominator[:, None, None]
