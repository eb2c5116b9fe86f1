r"""Analysis of trained fermion networks: gradient profiles and entanglement of system + network.

The whole input-plus-network system is a free-fermion model (``net.hamiltonian(x)``), so its
ground state at the Fermi level ``μ = Re z`` is a Slater determinant with correlation matrix
``C_ij = ⟨c_i† c_j⟩``; entropies of any set of sites follow from Peschel's formula
(:mod:`qnets.entanglement`). Mutual information between two layers,
``I(A:B) = S_A + S_B − S_AB``, measures how much the output "knows" about the input (at
most ``2·min(|A|, |B|)·ln 2`` nats).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch

from qnets.entanglement import (
    ground_state_correlation,
    mutual_information,
    single_site_mutual_information,
)
from qnets.errors import ConfigError, NumericalError, ShapeError
from qnets.fnn.model import FermionNetwork

__all__ = [
    "decision_flow",
    "designed_perturbation",
    "flow_summary",
    "gradient_norms",
    "layer_mutual_information",
    "layer_sites",
    "layer_tripartite_information",
    "layerwise_unitary",
    "network_correlation",
    "random_perturbation",
]


def layer_sites(net: FermionNetwork) -> list[np.ndarray]:
    """Indices of every layer's sites in the dense Hamiltonian (input layer first)."""
    offsets = np.cumsum([0, *net.sizes])
    return [np.arange(a, b) for a, b in itertools.pairwise(offsets)]


def network_correlation(
    net: FermionNetwork, x: torch.Tensor, *, mu: float | None = None, at_fermi_level: str = "warn"
) -> np.ndarray:
    r"""Ground-state correlation matrices of input + network, ``(B, N, N)`` complex128.

    ``C = Σ_{E_k < μ} conj(ψ_k) ψ_kᵀ`` of ``H = net.hamiltonian(x)`` with ``μ = Re z`` by
    default (the energy at which the network is read out). ``at_fermi_level``: what to do
    with levels at ``μ`` (see :func:`qnets.entanglement.ground_state_correlation`). With
    Hamiltonian input, pixels of value ``μ`` that the network cannot see (more such pixels
    than hidden sites) give exact zero modes inside the input layer; ``"empty"`` makes the
    choice deterministic, and it does not change the information between whole layers.
    """
    mu = net.energy if mu is None else float(mu)
    with torch.no_grad():
        hamiltonians = net.hamiltonian(x).to(torch.complex128).cpu().numpy()
    return np.stack([ground_state_correlation(h, mu, at_fermi_level=at_fermi_level) for h in hamiltonians])


def layer_mutual_information(
    net: FermionNetwork,
    x: torch.Tensor,
    layer_a: int = -1,
    layer_b: int = 0,
    *,
    mu: float | None = None,
    base: float | None = None,
    at_fermi_level: str = "warn",
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
    correlations = network_correlation(net, x, mu=mu, at_fermi_level=at_fermi_level)
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


def layer_tripartite_information(
    net: FermionNetwork,
    x: torch.Tensor,
    *,
    mu: float | None = None,
    base: float | None = None,
    at_fermi_level: str = "warn",
) -> list[dict]:
    r"""Output ↔ input ↔ first-hidden-layer information of input + network, per sample.

    With ``A`` the output layer, ``C`` the input layer and ``D`` the first hidden layer
    (spec ``fnn.md`` §5.2): ``I(A:C)``, ``I(A:D)``, ``I(A:CD)`` and the tripartite
    information ``I3 = I(A:C) + I(A:D) − I(A:CD)`` (negative: information about the output
    stored jointly, not separately, in input and first layer).

    Returns
    -------
    list of dict
        Per sample ``{"I_AC", "I_AD", "I_ACD", "I3"}`` (nats unless ``base``).
    """
    groups = layer_sites(net)
    if len(groups) < 3:
        raise ConfigError(f"net: needs at least one hidden layer, got sizes {net.sizes}")
    a, c, d = groups[-1], groups[0], groups[1]
    out = []
    for corr in network_correlation(net, x, mu=mu, at_fermi_level=at_fermi_level):
        i_ac = mutual_information(corr, a, c, base=base)
        i_ad = mutual_information(corr, a, d, base=base)
        i_acd = mutual_information(corr, a, np.concatenate([c, d]), base=base)
        out.append({"I_AC": i_ac, "I_AD": i_ad, "I_ACD": i_acd, "I3": i_ac + i_ad - i_acd})
    return out


def layerwise_unitary(
    correlation: np.ndarray, groups: Sequence[np.ndarray], output: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    r"""Layer-wise unitary transformation (LUT): rotate each layer's orbitals towards the output.

    For every group (layer) ``l`` with sites ``S_l`` (disjoint from the output sites ``O``),
    the cross-correlation block ``C_{S_l, O}`` (``n_l × n_O``) is decomposed as
    ``C_{S_l,O} = Q_l Σ V†`` (full SVD); ``Q_l`` (``n_l × n_l``, unitary) has as its first
    columns an orthonormal basis of the block's column space, ordered by singular value —
    the Gram–Schmidt basis of the spec up to a rotation inside that span. New orbitals
    ``d_{l,a}† = Σ_i conj(Q_l)_{ia} c_i†`` have correlations

    .. math::  C' = U^\dagger C U, \qquad U = \mathrm{blockdiag}(Q_1, …, Q_L, 1_O),

    so ``C'_{a,O} = 0`` for every orbital beyond the rank of ``C_{S_l,O}`` (at most
    ``n_O``). For a Gaussian state zero cross-correlation means zero mutual information,
    hence after the LUT all single-orbital information about ``O`` sits in at most ``n_O``
    orbitals per layer; ``I(S_l : O)`` is unchanged (a unitary inside ``S_l``).

    Parameters
    ----------
    correlation : ndarray, (N, N) complex
        ``C_ij = ⟨c_i† c_j⟩``.
    groups : sequence of int arrays
        Site indices of each layer to rotate (disjoint, disjoint from ``output``).
    output : int array
        The output sites ``O`` (not rotated).

    Returns
    -------
    rotated : ndarray, (N, N) complex128
        ``C'``; orbital ``a`` of layer ``l`` sits where ``groups[l][a]`` sat.
    unitaries : list of ndarray
        ``Q_l`` per group.
    """
    c = np.asarray(correlation, dtype=np.complex128)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ShapeError(f"correlation: expected a square (N, N) matrix, got shape {c.shape}")
    output = np.asarray(output, dtype=np.int64)
    u = np.eye(c.shape[0], dtype=np.complex128)
    unitaries = []
    for index, sites in enumerate(groups):
        sites = np.asarray(sites, dtype=np.int64)
        if np.intersect1d(sites, output).size:
            raise ConfigError(f"groups[{index}]: must be disjoint from the output sites")
        q, _, _ = np.linalg.svd(c[np.ix_(sites, output)], full_matrices=True)
        u[np.ix_(sites, sites)] = q
        unitaries.append(q)
    return u.conj().T @ c @ u, unitaries


def decision_flow(
    net: FermionNetwork,
    x: torch.Tensor,
    *,
    output: Sequence[int] | None = None,
    mu: float | None = None,
    base: float | None = None,
    at_fermi_level: str = "warn",
) -> list[dict]:
    r"""Single-site mutual information ``I(site : output)`` per layer, before and after the LUT.

    For one sample ``x`` (batch of 1) the ground state of input + network at ``μ`` is
    analysed: for every non-output layer ``l`` the values ``I(s : O)`` for its sites ``s``
    (``before``) and for its LUT orbitals (``after``, :func:`layerwise_unitary`), and the
    share of the layer's summed single-orbital information held by its two largest
    orbitals after the LUT (``top2_share``; the spec's criterion is ≥ 0.85).

    Parameters
    ----------
    output : sequence of int, optional
        Indices of the output sites within the output layer (default: all), e.g. only the
        target-class site.

    Returns
    -------
    list of dict
        Per layer ``{"layer", "before", "after", "top2_share", "layer_information"}`` where
        ``layer_information = I(S_l : O)``.
    """
    if x.shape[0] != 1:
        raise ShapeError(f"x: decision_flow analyses one sample, expected batch size 1, got {x.shape[0]}")
    groups = layer_sites(net)
    out_sites = groups[-1] if output is None else groups[-1][np.asarray(output, dtype=np.int64)]
    c = network_correlation(net, x, mu=mu, at_fermi_level=at_fermi_level)[0]
    rotated, _ = layerwise_unitary(c, groups[:-1], out_sites)
    flow = []
    for layer, sites in enumerate(groups[:-1]):
        before = single_site_mutual_information(c, out_sites, sites, base=base)
        after = single_site_mutual_information(rotated, out_sites, sites, base=base)
        total = float(after.sum())
        top2 = float(np.sort(after)[-2:].sum())
        flow.append({
            "layer": layer,
            "before": before,
            "after": after,
            "top2_share": top2 / total if total > 0 else 1.0,
            "layer_information": mutual_information(c, sites, out_sites, base=base),
        })
    return flow


def flow_summary(flow: Sequence[dict]) -> list[dict]:
    """JSON-ready summary of :func:`decision_flow`: per layer the largest single-site value
    before the LUT, the top-2 orbital share after it and ``I(layer : output)``."""
    return [
        {"layer": int(f["layer"]), "max_site_information_before": float(np.max(f["before"])),
         "top2_share_after": float(f["top2_share"]), "layer_information": float(f["layer_information"])}
        for f in flow
    ]


def _perturbation_mask(h_sys: np.ndarray, mask) -> np.ndarray:
    h_sys = np.asarray(h_sys)
    if h_sys.ndim != 2 or h_sys.shape[0] != h_sys.shape[1]:
        raise ShapeError(f"h_sys: expected one square (n0, n0) Hamiltonian, got shape {h_sys.shape}")
    if mask is None:
        mask = (h_sys != 0) | np.eye(h_sys.shape[0], dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != h_sys.shape:
        raise ShapeError(f"mask: expected shape {h_sys.shape}, got {mask.shape}")
    return mask | mask.T


def _normalise(v: np.ndarray, name: str) -> np.ndarray:
    norm = np.linalg.norm(v)
    if not np.isfinite(norm) or norm == 0:
        raise NumericalError(f"{name}: the perturbation direction vanished (norm {norm}); nothing to follow")
    return v * (math.sqrt(v.shape[0]) / norm)


def designed_perturbation(net: FermionNetwork, h_sys, score, *, mask=None) -> np.ndarray:
    r"""The network's own most sensitive local perturbation of an input system.

    For a trained ``system``-encoder network and a scalar ``score(outputs)`` (e.g. the
    predicted probability of the topological phase), the steepest-descent direction of the
    score among Hermitian perturbations ``V`` supported on ``mask``:

    .. math::  V \propto -\Pi_\mathrm{mask}\,\tfrac12\,(G + G^\dagger),\qquad
               G_{ij} = \frac{\partial\,\mathrm{score}}{\partial \overline{H_{ij}}}

    (the gradient through the network's exact adjoint; ``Re Σ conj(G) V`` is the directional
    derivative), normalised to ``‖V‖_F = √n0`` so that ``H + δV`` has root-mean-square
    entry strength ``δ`` per site, the scale of on-site disorder of strength ``δ``.
    Compare with :func:`random_perturbation` of the same norm.

    Parameters
    ----------
    net : FermionNetwork
        With the ``system`` encoder.
    h_sys : array_like, (n0, n0) complex
        The unperturbed system Hamiltonian.
    score : callable
        ``score(outputs (1, n_L) real tensor) -> scalar tensor``.
    mask : bool array (n0, n0), optional
        Allowed entries (default: the nonzero pattern of ``h_sys`` plus the diagonal, i.e.
        perturbations of the same range as the model's bonds).

    Returns
    -------
    ndarray, (n0, n0) complex128
        Hermitian ``V`` with ``‖V‖_F = √n0``.
    """
    if net.encoder != "system":
        raise ConfigError(f"net: designed_perturbation needs the 'system' encoder, got {net.encoder!r}")
    mask = _perturbation_mask(h_sys, mask)
    device = next(net.parameters()).device
    h = torch.as_tensor(np.asarray(h_sys), dtype=net.dtype, device=device).unsqueeze(0).clone().requires_grad_(True)
    value = score(net(h))
    if not torch.is_tensor(value) or value.numel() != 1:
        raise ShapeError("score: expected a callable returning a scalar tensor")
    (grad,) = torch.autograd.grad(value.real.reshape(()), h)
    g = grad[0].detach().to(torch.complex128).cpu().numpy()
    v = -0.5 * (g + g.conj().T) * mask
    return _normalise(v, "designed_perturbation")


def random_perturbation(h_sys, *, mask=None, seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Random Hermitian disorder on ``mask`` (default as in :func:`designed_perturbation`):
    real uniform on-site terms and complex uniform bond terms, normalised to ``‖V‖_F = √n0``."""
    mask = _perturbation_mask(h_sys, mask)
    rng = np.random.default_rng(seed)
    n = mask.shape[0]
    v = rng.uniform(-1, 1, (n, n)) + 1j * rng.uniform(-1, 1, (n, n))
    v = np.triu(v, 1)
    v = v + v.conj().T + np.diag(rng.uniform(-1, 1, n))
    return _normalise(v * mask, "random_perturbation")
