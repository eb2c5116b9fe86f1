"""FNN analysis: mutual information of system + network vs a brute-force Slater determinant."""

import math

import numpy as np
import pytest
import torch

from qnets.entanglement import entanglement_entropy_state, slater_determinant_state
from qnets.fnn import FermionNetwork
from qnets.fnn.analysis import gradient_norms, layer_mutual_information, layer_sites, network_correlation


def _brute_force_entropy(orbitals, region):
    """Entropy of `region` with the region's sites first in the Jordan–Wigner order."""
    n = orbitals.shape[0]
    order = list(region) + [s for s in range(n) if s not in region]
    psi = slater_determinant_state(orbitals, site_order=order)
    return entanglement_entropy_state(psi, [2] * n, list(range(len(region))))


def test_output_input_mutual_information_matches_brute_force(gen):
    net = FermionNetwork([4, 3, 2], eta=0.05, energy=0.1, init_bound=2.0, dtype=torch.complex128, seed=5)
    x = torch.rand(2, 4, generator=gen, dtype=torch.float64) - 0.5
    mi = layer_mutual_information(net, x)
    H = net.hamiltonian(x).detach().numpy()
    inputs, outputs = layer_sites(net)[0], layer_sites(net)[-1]
    for b in range(2):
        energies, vectors = np.linalg.eigh(H[b])
        orbitals = vectors[:, energies < 0.1]
        s_a = _brute_force_entropy(orbitals, list(outputs))
        s_b = _brute_force_entropy(orbitals, list(inputs))
        s_ab = _brute_force_entropy(orbitals, list(inputs) + list(outputs))
        assert mi[b] == pytest.approx(s_a + s_b - s_ab, abs=1e-10)
    assert (mi >= -1e-12).all() and (mi <= 2 * 2 * math.log(2) + 1e-12).all()


def test_network_correlation_is_a_projector_with_the_right_filling(gen):
    net = FermionNetwork([9, 4, 3], eta=0.05, dtype=torch.complex128, seed=1)
    x = torch.rand(3, 9, generator=gen, dtype=torch.float64)
    C = network_correlation(net, x, mu=0.2)
    H = net.hamiltonian(x).detach().numpy()
    for b in range(3):
        assert np.allclose(C[b] @ C[b], C[b], atol=1e-10)
        assert round(np.trace(C[b]).real) == int((np.linalg.eigvalsh(H[b]) < 0.2).sum())


def test_gradient_norms_per_layer(gen):
    net = FermionNetwork([9, 4, 3], eta=0.05, seed=1)
    net(torch.rand(5, 9, generator=gen)).sum().backward()
    norms = gradient_norms(net)
    assert [n["layer"] for n in norms] == [1, 2]
    hop, block = net.hoppings[0], net.blocks[0]
    expected = math.sqrt(sum(float(p.grad.abs().square().sum()) for p in (*hop.parameters(), *block.parameters())))
    assert norms[0]["total"] == pytest.approx(expected)
    assert norms[0]["n_real"] == 2 * 36 + 4 + 2 * 6
    assert norms[0]["per_parameter"] == pytest.approx(expected / norms[0]["n_real"])
