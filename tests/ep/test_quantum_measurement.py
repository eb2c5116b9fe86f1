"""Measurement models: QWC grouping validity, sampled / Gaussian estimates are unbiased."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from qnets.ep import GaussianShots, QuantumEP, SampledShots, count_settings, qwc_groups
from qnets.ep.measurement import _probabilities
from qnets.errors import ConfigError
from qnets.hamiltonians import cluster_ising_sensor, pauli
from qnets.hamiltonians.pauli import _qwc
from qnets.solvers import gibbs_state, ground_state


@pytest.fixture(autouse=True, scope="module")
def _single_thread_blas():
    with threadpool_limits(1):
        yield


def test_qwc_groups_are_valid_and_complete():
    H = cluster_ising_sensor(4)
    ops = H.operators("trainable")
    groups = qwc_groups(ops)
    strings = [k for g in groups for k in g["strings"]]
    assert sorted(strings) == sorted({k for op in ops for k in op._terms})
    for g in groups:
        for a in g["strings"]:
            assert all(_qwc(a, b) for b in g["strings"])
    assert len(groups) == 9  # 51 two-local couplings on 4 qubits: the optimum (spec §1.5)
    assert count_settings(H.operators("output")) == 1  # Z-basis projectors: one setting
    assert count_settings([pauli(3, "X0"), pauli(3, "Z0"), pauli(3, "Y0")]) == 3


def test_rotated_probabilities_reproduce_pauli_expectations():
    rng = np.random.default_rng(0)
    psi = rng.normal(size=8) + 1j * rng.normal(size=8)
    psi /= np.linalg.norm(psi)
    rho = np.outer(psi, psi.conj())
    for spec, basis in (("X0 Y2", {0: "X", 2: "Y"}), ("Y1 Z2", {1: "Y", 2: "Z"})):
        op = pauli(3, spec)
        support = sum(1 << (2 - q) for q in basis)
        signs = 1 - 2 * np.array([(b & support).bit_count() % 2 for b in range(8)])
        for state in (psi, rho):
            assert np.isclose(_probabilities(state, basis, 3) @ signs, op.expectation(state))


@pytest.mark.parametrize("model", [GaussianShots, SampledShots])
def test_shot_models_are_unbiased_with_the_right_variance(model):
    H = cluster_ising_sensor(3)
    rng = np.random.default_rng(2)
    theta = rng.normal(size=51)
    gs = ground_state(H, x=[1.0, 1.0, 2.0], theta=theta)
    ops = H.operators("trainable")[:12] + H.operators("output")
    exact = np.array([op.expectation(gs.state) for op in ops])
    m = model(shots=50)
    draws = np.array([m.estimate(gs.state, ops, rng=rng) for _ in range(400)])
    var_exact = np.array([(op @ op).expectation(gs.state) for op in ops]) - exact**2
    stderr = np.sqrt(var_exact / 50 / 400) + 1e-12
    assert np.all(np.abs(draws.mean(0) - exact) < 5 * stderr + 1e-9)
    assert np.allclose(draws.var(0), var_exact / 50, rtol=0.35, atol=1e-6)
    rho = gibbs_state(H, 0.7, x=[1.0, 1.0, 2.0], theta=theta).rho
    one = m.estimate(rho, ops, rng=rng)
    assert one.shape == (len(ops),)


def test_noisy_qep_gradient_is_unbiased_on_average():
    H = cluster_ising_sensor(3)
    rng = np.random.default_rng(4)
    theta = np.concatenate([rng.uniform(-0.1, 0.1, 36), rng.normal(size=15)])
    x, target = np.array([1.0, 2.5, 0.5]), np.array([0.0, 1.0, 0.0])
    exact, _ = QuantumEP(H, beta=0.4).gradient(theta, x, target)
    q = QuantumEP(H, beta=0.4, measurement="sampled", shots=2000, seed=5)
    grads = [q.gradient(theta, x, target)[0] for _ in range(10)]
    mean = np.mean(grads, axis=0)
    cos = mean @ exact / np.linalg.norm(mean) / np.linalg.norm(exact)
    assert cos > 0.9
    assert q.gradient(theta, x, target)[1]["n_settings"] == 1 + 2 * count_settings(
        H.operators("trainable"))


def test_measurement_bad_input():
    with pytest.raises(ConfigError, match="shots must be a positive integer"):
        SampledShots(0)
    with pytest.raises(ConfigError, match="grouping must be"):
        SampledShots(10, grouping="greedy")
    with pytest.raises(ConfigError, match="measurement must be"):
        QuantumEP(cluster_ising_sensor(3), measurement="homodyne")
