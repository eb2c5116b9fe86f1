"""DMRG (quimb) vs exact diagonalisation: exact MPO, energies and local expectation values."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

pytest.importorskip("quimb")

from qnets.hamiltonians import cluster_ising, kitaev_honeycomb, pauli, tfim
from qnets.solvers import ground_state
from qnets.solvers.dmrg import pauli_sum_mpo


@pytest.fixture(autouse=True, scope="module")
def _single_thread_blas():
    """Small dense problems: multi-threaded BLAS only adds contention (spec: CI-sized =
    single-threaded BLAS)."""
    with threadpool_limits(1):
        yield


def test_mpo_equals_dense_operator():
    for op in (
        kitaev_honeycomb(4, 2, h=0.1).operator(),
        cluster_ising(6, g_zxz=1.0, g_zz=0.5, g_x=0.3).operator() + 0.3 * pauli(6, "Y0 X3") + 2.0,
    ):
        assert np.abs(pauli_sum_mpo(op).to_dense() - op.to_dense()).max() < 1e-13


def test_dmrg_matches_exact_diagonalisation_n12():
    H = cluster_ising(12, g_zxz=1.0, g_zz=0.6, g_x=0.7, periodic=False)
    H.add("y", [(0.2, f"Y{j} Y{j + 1}") for j in range(11)])
    exact = ground_state(H, method="lanczos")
    dmrg = ground_state(H, method="dmrg", bond_dims=[16, 32], cutoffs=1e-12, dmrg_tol=1e-12)
    assert dmrg.converged and dmrg.method == "dmrg"
    assert abs(dmrg.energy - exact.energy) < 1e-8
    for spec in ("X0", "Z5", "Z3 Z4", "X2 X9", "Z0 X1 Z2"):
        assert abs(dmrg.expectation(spec) - exact.expectation(spec)) < 1e-6
    terms = dmrg.term_expectations()
    assert np.allclose(terms, exact.term_expectations(), atol=1e-6)
    # warm start from the converged state reproduces it
    again = ground_state(H, method="dmrg", v0=dmrg, bond_dims=[32], cutoffs=1e-12)
    assert abs(again.energy - dmrg.energy) < 1e-9


def test_dmrg_periodic_tfim_energy():
    H = tfim(12, J=1.0, h=0.8)
    k = 2 * np.pi * (np.arange(12) + 0.5) / 12
    exact = -np.sum(np.sqrt(1 + 0.64 - 1.6 * np.cos(k)))
    dmrg = ground_state(H, method="dmrg", bond_dims=[16, 32], cutoffs=1e-12, dmrg_tol=1e-12)
    assert abs(dmrg.energy - exact) < 1e-8
