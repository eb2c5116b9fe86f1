"""Exact solvers: TFIM vs free fermions, Lanczos vs dense, warm starts, Gibbs vs expm, guards."""

import warnings

import numpy as np
import pytest
import scipy.linalg as sla
from threadpoolctl import threadpool_limits

from qnets.errors import ConfigError, DegeneracyWarning, ShapeError, SizeLimitError
from qnets.hamiltonians import SpinHamiltonian, pauli, tfim
from qnets.solvers import gibbs_state, ground_state


@pytest.fixture(autouse=True, scope="module")
def _single_thread_blas():
    """Small dense problems: multi-threaded BLAS only adds contention (spec: CI-sized =
    single-threaded BLAS)."""
    with threadpool_limits(1):
        yield


def tfim_free_fermion_energy(N, J, h):
    """Periodic TFIM ground energy: even-parity sector, antiperiodic fermion momenta."""
    k = 2 * np.pi * (np.arange(N) + 0.5) / N
    return -np.sum(np.sqrt(J**2 + h**2 - 2 * J * h * np.cos(k)))


def random_spin_hamiltonian(n, seed, complex_terms=True):
    rng = np.random.default_rng(seed)
    H = SpinHamiltonian(n)
    letters = "XYZ" if complex_terms else "XZ"
    for t in range(3 * n):
        q = rng.choice(n, size=2, replace=False)
        H.add(f"t{t}", f"{rng.choice(list(letters))}{q[0]} {rng.choice(list(letters))}{q[1]}",
              value=float(rng.normal()))
    for q in range(n):  # generic fields break every symmetry (non-degenerate spectrum)
        H.add(f"f{q}", [(float(rng.normal()), f"{p}{q}") for p in letters])
    return H


@pytest.mark.parametrize("N", [8, 10, 12, 14])
@pytest.mark.parametrize("h", [0.5, 1.0, 1.6])
def test_tfim_energy_matches_free_fermions(N, h):
    gs = ground_state(tfim(N, J=1.0, h=h))
    assert gs.converged and gs.state.dtype == np.float64
    assert abs(gs.energy - tfim_free_fermion_energy(N, 1.0, h)) < 1e-9
    assert gs.residual < 1e-8


@pytest.mark.slow
@pytest.mark.parametrize("N", [16, 18, 20])
def test_tfim_energy_matches_free_fermions_large(N):
    gs = ground_state(tfim(N, J=1.0, h=0.9), gap=False)
    assert abs(gs.energy - tfim_free_fermion_energy(N, 1.0, 0.9)) < 1e-8


@pytest.mark.parametrize("complex_terms", [False, True])
def test_lanczos_matches_dense(complex_terms):
    H = random_spin_hamiltonian(9, seed=5, complex_terms=complex_terms)
    dense = ground_state(H, method="dense")
    lanczos = ground_state(H, method="lanczos")
    assert lanczos.state.dtype == (np.complex128 if complex_terms else np.float64)
    assert abs(dense.energy - lanczos.energy) < 1e-10
    assert abs(dense.gap - lanczos.gap) < 1e-8
    assert abs(abs(np.vdot(dense.state, lanczos.state)) - 1) < 1e-10
    full = np.linalg.eigvalsh(H.dense())
    assert abs(full[0] - dense.energy) < 1e-10 and abs(full[1] - full[0] - dense.gap) < 1e-10
    op = pauli(9, "X0 Z3")
    assert abs(dense.expectation(op) - lanczos.expectation(op)) < 1e-8


def test_warm_start_and_parameters_by_role():
    H = SpinHamiltonian(9)
    H.add("ring", [(-1.0, f"Z{j} Z{(j + 1) % 9}") for j in range(9)])
    H.add("g", [(-1.0, f"X{j}") for j in range(9)], role="trainable")
    H.add("o", "X0 X4", role="output")
    free = ground_state(H, method="lanczos", theta=[0.8], gap=False)
    nudged_cold = ground_state(H, method="lanczos", theta=[0.8], nu=[0.01], gap=False)
    nudged_warm = ground_state(H, method="lanczos", theta=[0.8], nu=[0.01], v0=free, gap=False)
    assert abs(nudged_cold.energy - nudged_warm.energy) < 1e-11
    assert abs(abs(np.vdot(nudged_cold.state, nudged_warm.state)) - 1) < 1e-10
    # a complex start vector for a real Hamiltonian is accepted
    v0 = free.state * np.exp(0.3j)
    again = ground_state(H, method="lanczos", theta=[0.8], v0=v0, gap=False)
    assert abs(again.energy - free.energy) < 1e-11
    with pytest.raises(ShapeError, match="v0 must have shape"):
        ground_state(H, method="lanczos", v0=np.ones(3))


def test_degenerate_ground_state_warns():
    H = SpinHamiltonian(2)
    H.add("zz", "Z0 Z1")  # |01⟩ and |10⟩ degenerate
    with pytest.warns(DegeneracyWarning, match="gap E1 − E0 = 0"):
        ground_state(H)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ground_state(H, warn_degenerate=False)
        ground_state(tfim(6, h=0.7))


def test_size_guard_and_bad_input():
    with pytest.raises(SizeLimitError, match="method='lanczos'.*method='dmrg'"):
        ground_state(tfim(13), method="dense", max_dense_qubits=12)
    with pytest.raises(ConfigError, match="method must be one of"):
        ground_state(tfim(4), method="qr")
    with pytest.raises(ConfigError, match="theta / nu need H to be a SpinHamiltonian"):
        ground_state(np.eye(4), theta=[1.0])
    with pytest.raises(ShapeError, match="square matrix"):
        ground_state(np.ones((4, 3)))
    with pytest.raises(SizeLimitError, match="method='dmrg'"):
        ground_state(tfim(30), method="lanczos")
    with pytest.raises(SizeLimitError, match="max_qubits"):
        gibbs_state(tfim(13), 1.0)
    for T in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="T must be a positive finite temperature"):
            gibbs_state(tfim(4), T)


@pytest.mark.parametrize("T", [0.3, 1.0, 5.0])
def test_gibbs_state_matches_dense_exponential(T):
    H = random_spin_hamiltonian(5, seed=2)
    A = H.dense()
    rho = sla.expm(-A / T)
    Z = np.trace(rho).real
    rho /= Z
    g = gibbs_state(H, T)
    assert np.abs(g.rho - rho).max() < 1e-12
    assert abs(g.free_energy - (-T * np.log(Z))) < 1e-10
    op = pauli(5, "Y1 X2")
    assert abs(g.expectation(op) - np.trace(rho @ op.to_dense()).real) < 1e-12
    assert np.allclose(g.term_expectations(), [np.trace(rho @ t.operator.to_dense()).real
                                               for t in H.terms])
    # low temperature approaches the ground state
    cold = gibbs_state(H, 1e-3)
    gs = ground_state(H)
    assert abs(cold.expectation(op) - gs.expectation(op)) < 1e-8


def test_symmetry_sectors():
    N = 10
    H = tfim(N, J=1.0, h=0.5)
    parity = " ".join(f"X{j}" for j in range(N))
    full = np.linalg.eigvalsh(H.dense())
    even = ground_state(H, method="lanczos", sector=(parity, 1))
    odd = ground_state(H, method="dense", sector=(parity, -1))
    # the even sector holds the free-fermion (antiperiodic) ground state, the odd one E1
    assert abs(even.energy - tfim_free_fermion_energy(N, 1.0, 0.5)) < 1e-10
    assert abs(odd.energy - full[1]) < 1e-10 and even.residual < 1e-8
    assert np.isclose(pauli(N, parity).expectation(even.state), 1.0)
    assert np.isclose(pauli(N, parity).expectation(odd.state), -1.0)
    # a diagonal (Z-type) symmetry: total Z parity of the XXZ-free Ising chain without field
    ising = SpinHamiltonian(4)
    ising.add("zz", [(-1.0, f"Z{j} Z{j + 1}") for j in range(3)])
    ising.add("xx", [(0.3, f"X{j} X{j + 1}") for j in range(3)])
    zpar = "Z0 Z1 Z2 Z3"
    energies = sorted(ground_state(ising, sector=(zpar, s), warn_degenerate=False).energy
                      for s in (1, -1))
    assert abs(energies[0] - np.linalg.eigvalsh(ising.dense())[0]) < 1e-12
    with pytest.raises(ConfigError, match="does not commute with H"):
        ground_state(H, sector=("Z0", 1))
    with pytest.raises(ConfigError, match="single non-identity Pauli string"):
        ground_state(H, sector=(pauli(N, "X0") + pauli(N, "X1"), 1))
    with pytest.raises(ConfigError, match="sector sign must be"):
        ground_state(H, sector=(parity, 0))
