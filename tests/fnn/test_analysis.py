"""FNN analysis: mutual information of system + network vs a brute-force Slater determinant."""

import math

import numpy as np
import pytest
import torch

from qnets.entanglement import entanglement_entropy_state, slater_determinant_state
from qnets.errors import ConfigError
from qnets.fnn import FermionNetwork
from qnets.fnn.analysis import (
    gradient_norms,
    layer_mutual_information,
    layer_sites,
    network_correlation,
)


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


def test_layerwise_unitary_concentrates_output_information(gen):
    from qnets.entanglement import ground_state_correlation, mutual_information
    from qnets.fnn.analysis import decision_flow, layerwise_unitary

    net = FermionNetwork([6, 5, 4, 2], eta=0.05, init_bound=1.0, dtype=torch.complex128, seed=3)
    x = torch.rand(1, 6, generator=gen, dtype=torch.float64) - 0.5
    h = net.hamiltonian(x)[0].detach().numpy()
    c = ground_state_correlation(h, 0.0)
    groups = layer_sites(net)
    rotated, unitaries = layerwise_unitary(c, groups[:-1], groups[-1])
    u = np.eye(h.shape[0], dtype=complex)
    for sites, q in zip(groups[:-1], unitaries):
        assert np.allclose(q.conj().T @ q, np.eye(len(sites)))
        u[np.ix_(sites, sites)] = q
    # the LUT is the ground state of the rotated single-particle Hamiltonian U^T h conj(U)
    assert np.allclose(rotated, ground_state_correlation(u.T @ h @ u.conj(), 0.0), atol=1e-10)
    flow = decision_flow(net, x)
    for layer, entry in zip(groups[:-1], flow):
        # I(layer : output) is unchanged, single-orbital information sits in ≤ n_out orbitals
        assert entry["layer_information"] == pytest.approx(mutual_information(rotated, layer, groups[-1]))
        assert np.all(entry["after"][2:] < 1e-10)
        assert entry["top2_share"] == pytest.approx(1.0)
        assert entry["before"].shape == (len(layer),)
    with pytest.raises(Exception, match="batch size 1"):
        decision_flow(net, torch.zeros(2, 6, dtype=torch.float64))


def test_tripartite_information_matches_the_entanglement_module(gen):
    from qnets.entanglement import tripartite_information
    from qnets.fnn.analysis import layer_tripartite_information

    net = FermionNetwork([5, 4, 3, 2], eta=0.05, init_bound=1.0, dtype=torch.complex128, seed=4)
    x = torch.rand(2, 5, generator=gen, dtype=torch.float64) - 0.5
    values = layer_tripartite_information(net, x)
    groups = layer_sites(net)
    for corr, v in zip(network_correlation(net, x), values, strict=True):
        assert v["I3"] == pytest.approx(tripartite_information(corr, groups[-1], groups[0], groups[1]), abs=1e-10)
        assert 0 <= v["I_AC"] <= v["I_ACD"] + 1e-12 <= 2 * 2 * math.log(2) + 1e-9


def test_output_input_information_grows_with_training_and_respects_its_bound():
    """Spec B7 (CI size): a 16-8-2 Hamiltonian-input FNN on digits 0 vs 1 (4×4 pooled).

    Measured: mean I(out : in) over 32 samples 1.00 → 1.40 → 1.51 → 1.54 nats over 3 epochs
    (bound 2·2·ln 2 = 2.77).
    """
    from qnets.data import load_digits, pool2d
    from qnets.training import TrainConfig, Trainer

    images, labels = load_digits("train")
    keep = labels < 2
    x = torch.from_numpy(pool2d(images[keep], 2).reshape(-1, 16)).to(torch.float64)
    y = torch.from_numpy(labels[keep]).long()
    net = FermionNetwork([16, 8, 2], eta=0.05, init_bound=1.0, dtype=torch.complex128, seed=0)
    probe = x[:32] - 0.5

    def mean_information():
        return float(layer_mutual_information(net, probe).mean())

    history = [mean_information()]
    config = TrainConfig(epochs=1, batch_size=16, lr=1e-2, weight_decay=0.0, larc=False, schedule="constant")
    for _ in range(3):
        Trainer(net, torch.nn.functional.cross_entropy, (x - 0.5, y), None, config, progress=False).fit()
        history.append(mean_information())
    bound = 2 * 2 * math.log(2)
    assert all(0 <= value <= bound + 1e-9 for value in history)
    assert history[-1] > history[0] + 0.2


def test_designed_perturbation_is_the_steepest_local_descent_of_the_score():
    from qnets.fnn.analysis import designed_perturbation, random_perturbation
    from qnets.hamiltonians import chern_insulator

    net = FermionNetwork([16, 6, 1], encoder="system", readout="conductance", dtype=torch.complex128,
                         seed=2, init_bound=1.0)
    h0 = chern_insulator(4, 0.6)

    def score(outputs):
        return outputs[0, 0]

    def value(h):
        with torch.no_grad():
            return float(score(net(torch.from_numpy(h).unsqueeze(0))))

    v = designed_perturbation(net, h0, score)
    mask = (h0 != 0) | np.eye(16, dtype=bool)
    np.testing.assert_allclose(v, v.conj().T, atol=1e-14)
    assert np.all(v[~mask] == 0)
    assert np.linalg.norm(v) == pytest.approx(4.0)  # √n0
    eps = 1e-5

    def slope(w):
        return (value(h0 + eps * w) - value(h0 - eps * w)) / (2 * eps)

    designed = slope(v)
    assert designed < 0
    for seed in range(5):  # no random direction of the same norm and support descends faster
        w = random_perturbation(h0, seed=seed)
        assert np.linalg.norm(w) == pytest.approx(4.0)
        assert np.all(w[~mask] == 0)
        assert slope(w) > designed
    with pytest.raises(ConfigError, match="system"):
        designed_perturbation(FermionNetwork([16, 2], encoder="hamiltonian"), h0, score)
