r"""Analysis of trained fermion networks: gradient profiles and entanglement of system + network.

The whole input-plus-network system is a free-fermion model (``net.hamiltonian(x)``), so its
ground state at the Fermi level ``μ = Re z`` is a Slater determinant with correlation matrix
``C_ij = ⟨c_i† c_j⟩``; entropies of any set of sites follow from Peschel's formula
(:mod:`qnets.entanglement`). Mutual information between two layers,
``I(A:B) = S_A + S_B − S_AB``, measures how much the output "knows" about the input (at
most ``2·min(|A|, |B|)·ln 2`` nats).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from qnets.entanglement import ground_state_correlation, mutual_information
from qnets.errors import ConfigError
from qnets.fnn.model import FermionNetwork

__all__ = ["gradient_norms", "layer_sites", "network_correlation", "layer_mutual_information"]


def layer_sites(net: FermionNetwork) -> list[np.ndarray]:
    """Indices of every layer's sites in the dense Hamiltonian (input layer first)."""
    offsets = np.cumsum([0, *net.sizes])
    return [np.arange(a, b) for a, b in zip(offsets[:-1], offsets[1:])]


def network_correlation(net: FermionNetwork, x: torch.Tensor, *, mu: float | None = None) -> np.ndarray:
    r"""Ground-state correlation matrices of input + network, ``(B, N, N)`` complex128.

    ``C = Σ_{E_k < μ} conj(ψ_k) ψ_kᵀ`` of ``H = net.hamiltonian(x)`` with ``μ = Re z`` by
    default (the energy at which the network is read out).
    """
    mu = net.energy if mu is None else float(mu)
    with torch.no_grad():
        hamiltonians = net.hamiltonian(x).to(torch.complex128).cpu().numpy()
    return np.stack([ground_state_correlation(h, mu) for h in hamiltonians])


def layer_mutual_information(
    net: FermionNetwork,
    x: torch.Tensor,
    layer_a: int = -1,
    layer_b: int = 0,
    *,
    mu: float | None = None,
    base: float | None = None,
) -> np.ndarray:
    r"""``I(layer_a : layer_b)`` of the ground state of input + network, per sample ``(B,)``.

    Layers are numbered ``0`` (input) … ``L`` (output); negative numbers count from the
    output. The default is ``I(output : input)``, bounded by ``2 n_out ln 2``.
    """
    groups = layer_sites(net)
    try:
        region_a, region_b = groups[layer_a], groups[layer_b]
    except IndexError:
        raise ConfigError(
            f"layer_a/layer_b: the network has layers 0 … {len(groups) - 1}, got {layer_a} and {layer_b}"
        ) from None
    correlations = network_correlation(net, x, mu=mu)
    return np.array([mutual_information(c, region_a, region_b, base=base) for c in correlations])


def gradient_norms(net: FermionNetwork, layers: Sequence[Sequence[torch.nn.Parameter]] | None = None) -> list[dict]:
    r"""L2 norm of each layer's parameter gradient, total and per real parameter.

    For layer ``l`` (its ``T_{l−1}`` and ``h_l``) with gradient entries ``g`` and ``n`` real
    parameters: ``total = ‖g‖₂`` (complex entries contribute ``|g|²``) and
    ``per_parameter = total / n``. Call after ``loss.backward()``.
    """
    groups = net.layer_parameters() if layers is None else layers
    out = []
    for index, params in enumerate(groups, start=1):
        squares, count = 0.0, 0
        for p in params:
            count += p.numel() * (2 if p.is_complex() else 1)
            if p.grad is not None:
                squares += float(p.grad.abs().square().sum())
        total = math.sqrt(squares)
        out.append({"layer": index, "total": total, "per_parameter": total / max(count, 1), "n_real": count})
    return out
