"""QuantumEP: gradient identity vs finite differences (T1), β scaling, linear response,
Gibbs reciprocity, copies / slope loss, observable loss, penalty, bad input."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from qnets.ep import (
    CrossEntropyLoss,
    FiniteDifferenceGradient,
    HingePenalty,
    NegAbsLoss,
    ObservableLoss,
    QuantumEP,
    SlopeLoss,
)
from qnets.errors import ConfigError, DegeneracyWarning, KinkWarning, ShapeError
from qnets.hamiltonians import SpinHamiltonian, cluster_ising_sensor, pauli
from qnets.solvers import gibbs_state


@pytest.fixture(autouse=True, scope="module")
def _single_thread_blas():
    """Small dense problems: multi-threaded BLAS only adds contention (spec: CI-sized =
    single-threaded BLAS)."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def sensor():
    """N_sys = 4 ring + 2 sensor qubits (dim 64), 51 couplings (spec T1)."""
    H = cluster_ising_sensor(4)
    rng = np.random.default_rng(0)
    theta = np.concatenate([rng.uniform(-0.1, 0.1, 36), rng.normal(size=15)])
    x = np.array([1.2, 1.1, 1.7])  # (g_zxz, g_zz, g_x) in the triangle, sum 4
    target = np.array([0.0, 0.0, 1.0])
    fd, _ = FiniteDifferenceGradient(H, "mse", h=1e-5, method="dense").gradient(theta, x, target)
    return H, theta, x, target, fd


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def test_symmetric_qep_matches_finite_differences(sensor):
    H, theta, x, target, fd = sensor
    grad, info = QuantumEP(H, "mse", beta=1e-3, mode="symmetric").gradient(theta, x, target)
    assert rel(grad, fd) < 1e-5
    assert info["n_equilibria"] == 3 and info["gap"] > 0.1
    assert info["outputs"].shape == (3,) and np.all(info["outputs"] >= 0)
    assert np.allclose(info["eps"], 2 * (info["outputs"] - target))
    assert set(info["nudged"]) == {1.0, -1.0} and info["nudged"][1.0].shape == (51,)
    s = info["settings"]
    assert info["n_settings"] == s["free"] + 2 * s["nudged_per_phase"] and s["free"] == 1
    assert s["nudged_per_phase"] == 9  # the optimum for 2-local terms on 4 qubits (spec §1.5)


def test_error_falls_100x_per_decade_symmetric_10x_one_sided(sensor):
    H, theta, x, target, fd = sensor
    errors = {}
    for mode in ("symmetric", "one_sided"):
        errors[mode] = [rel(QuantumEP(H, "mse", beta=b, mode=mode).gradient(theta, x, target)[0], fd)
                        for b in (1e-1, 1e-2)]
    sym = errors["symmetric"][0] / errors["symmetric"][1]
    one = errors["one_sided"][0] / errors["one_sided"][1]
    assert 70 < sym < 130, errors
    assert 7 < one < 13, errors


def test_linear_response_is_exact(sensor):
    H, theta, x, target, fd = sensor
    grad, info = QuantumEP(H, "mse", mode="linear_response").gradient(theta, x, target)
    assert rel(grad, fd) < 1e-6
    assert info["n_equilibria"] == 1


def test_random_sign_averages_to_symmetric(sensor):
    H, theta, x, target, _ = sensor
    q = QuantumEP(H, "mse", beta=0.05, mode="random_sign", seed=3)
    grads = {}
    for _ in range(20):
        g, info = q.gradient(theta, x, target)
        grads[info["sign"]] = g
        if len(grads) == 2:
            break
    sym, _ = QuantumEP(H, "mse", beta=0.05, mode="symmetric").gradient(theta, x, target)
    assert np.allclose((grads[1.0] + grads[-1.0]) / 2, sym, atol=1e-10)


def test_gibbs_reciprocity_and_gradient():
    H = cluster_ising_sensor(3)
    rng = np.random.default_rng(1)
    theta = rng.normal(size=51) * 0.5
    x = np.array([1.0, 1.5, 1.5])
    T, h = 0.5, 1e-4

    def expect(role, theta_, nu):
        return gibbs_state(H, T, x=x, theta=theta_, nu=nu).term_expectations(role)

    nu0 = np.zeros(3)
    chi_out = np.stack([(expect("output", theta + h * e, nu0) - expect("output", theta - h * e, nu0))
                        / (2 * h) for e in np.eye(51)], axis=1)  # ∂⟨O_k⟩/∂θ_j
    chi_in = np.stack([(expect("trainable", theta, h * e) - expect("trainable", theta, -h * e))
                       / (2 * h) for e in np.eye(3)], axis=0)  # ∂⟨A_j⟩/∂ν_k
    assert np.abs(chi_out - chi_in).max() < 1e-6 * np.abs(chi_in).max()
    target = np.array([0.0, 1.0, 0.0])
    fd, _ = FiniteDifferenceGradient(H, "mse", temperature=T, h=1e-5).gradient(theta, x, target)
    lr, _ = QuantumEP(H, "mse", temperature=T, mode="linear_response").gradient(theta, x, target)
    assert rel(lr, fd) < 1e-6
    sym, _ = QuantumEP(H, "mse", temperature=T, beta=1e-3).gradient(theta, x, target)
    assert rel(sym, fd) < 1e-5


def _chain(n, g_x):
    """Open cluster-Ising chain, trainable field g (own name) and g_zz, output X0 X3."""
    H = SpinHamiltonian(n)
    H.add("zxz", [(-0.5, f"Z{j} X{j + 1} Z{j + 2}") for j in range(n - 2)])
    H.add(g_x, [(-1.0, f"X{j}") for j in range(n)], role="trainable")
    H.add("g_zz", [(-1.0, f"Z{j} Z{j + 1}") for j in range(n - 1)], role="trainable")
    H.add("O", [(-1.0, "X0 X3")], role="output")
    return H


def test_two_copy_slope_loss_matches_finite_differences():
    copies = [_chain(6, "g1"), _chain(6, "g2")]
    theta = np.array([0.4, 0.8, 1.1])  # param_names: g1, g_zz, g2
    kwargs = {"method": "dense"}
    q = QuantumEP(copies, SlopeLoss("g1", "g2"), beta=1e-4, **kwargs)
    assert q.param_names == ["g1", "g_zz", "g2"]
    fd, _ = FiniteDifferenceGradient(copies, SlopeLoss("g1", "g2"), h=1e-5, **kwargs).gradient(theta)
    grad, info = q.gradient(theta)
    assert info["outputs"].shape == (2,) and info["n_equilibria"] == 2 + 2 * 2
    assert rel(grad, fd) < 1e-5


@pytest.mark.parametrize("loss", ["cross_entropy", "neg_abs", "penalty"])
def test_other_losses_match_finite_differences(sensor, loss):
    H, theta, x, target, _ = sensor
    kwargs = {}
    if loss == "cross_entropy":
        kwargs["loss"] = CrossEntropyLoss()
    elif loss == "neg_abs":
        kwargs["loss"] = NegAbsLoss()
    else:
        kwargs["loss"] = "mse"
        kwargs["penalty"] = HingePenalty(0.02, 0.1, names=[n for n in H.names("trainable")
                                                           if n.startswith("c_")])
    fd, _ = FiniteDifferenceGradient(H, h=1e-5, **kwargs).gradient(theta, x, target)
    lr, _ = QuantumEP(H, mode="linear_response", **kwargs).gradient(theta, x, target)
    assert rel(lr, fd) < 1e-6


def test_observable_loss_nudges_with_the_operator(sensor):
    H, theta, x, _, _ = sensor
    C = pauli(6, "Z4 Z5") + 0.5 * pauli(6, "X0")
    loss = ObservableLoss(C)
    fd, _ = FiniteDifferenceGradient(H, loss, h=1e-5).gradient(theta, x)
    grad, info = QuantumEP(H, loss, beta=1e-3).gradient(theta, x)
    assert rel(grad, fd) < 1e-5
    assert info["settings"]["free"] == 0  # flavour (b): no free-phase output measurement


@pytest.mark.slow
def test_qep_through_dmrg_matches_exact():
    H = _chain(8, "g")
    theta = np.array([0.7, 0.9])
    exact, _ = QuantumEP(H, NegAbsLoss(), beta=1e-3, method="dense").gradient(theta)
    grad, _ = QuantumEP(H, NegAbsLoss(), beta=1e-3, method="dmrg",
                        solver_options={"bond_dims": [16, 32], "cutoffs": 1e-12,
                                        "dmrg_tol": 1e-12}).gradient(theta)
    assert rel(grad, exact) < 1e-4


def test_bad_input():
    H = cluster_ising_sensor(3)
    for beta in (0, -0.1, float("nan")):
        with pytest.raises(ConfigError, match="beta must be a positive finite number"):
            QuantumEP(H, beta=beta)
    for T in (0, -1.0):
        with pytest.raises(ConfigError, match="temperature must be a positive finite number"):
            QuantumEP(H, temperature=T)
    with pytest.raises(ConfigError, match="mode must be one of"):
        QuantumEP(H, mode="two_sided")
    with pytest.raises(ConfigError, match="loss must be a Loss instance"):
        QuantumEP(H, loss="hinge")
    q = QuantumEP(H)
    with pytest.raises(ShapeError, match=r"theta must have shape \(51,\)"):
        q.gradient(np.zeros(50), np.ones(3), np.zeros(3))
    # θ = 0 decouples the sensor: degenerate ground state (warned), then the bad target
    with pytest.warns(DegeneracyWarning), pytest.raises(ShapeError, match="target must have"):
        q.gradient(np.zeros(51), np.ones(3), np.zeros(2))
    empty = SpinHamiltonian(2)
    empty.add("z", "Z0")
    with pytest.raises(ConfigError, match="no 'trainable' terms"):
        QuantumEP(empty)
    empty.add("a", "X0", role="trainable")
    with pytest.raises(ConfigError, match="'output' terms"):
        QuantumEP(empty)
    with pytest.raises(ConfigError, match="shots must be a positive integer"):
        QuantumEP(H, measurement="gaussian")
    with pytest.warns(KinkWarning):
        NegAbsLoss().error_signal([0.0])


def test_sparse_linear_response_and_persistent_warm_start(sensor, monkeypatch):
    from qnets.ep import quantum

    H, theta, x, target, fd = sensor
    monkeypatch.setattr(quantum, "_DENSE_SOLVE_DIM", 16)  # force the CG path at dim 64
    grad, _ = QuantumEP(H, "mse", mode="linear_response").gradient(theta, x, target)
    assert rel(grad, fd) < 1e-6
    q = QuantumEP(H, "mse", beta=1e-3, method="lanczos", warm_start=True)
    first, _ = q.gradient(theta, x, target)
    second, _ = q.gradient(theta, x, target)  # free solve starts from the stored state
    assert rel(first, fd) < 1e-5 and rel(second, first) < 1e-7
