"""Built-in restarted Lanczos: against dense eigh, warm starts, restarts, exhaustion, errors,
and its use by ``ground_state`` (backends agree)."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from threadpoolctl import threadpool_limits

from qnets.errors import ConfigError, ShapeError
from qnets.hamiltonians import cluster_ising_sensor, tfim
from qnets.solvers import ground_state, lanczos_ground_state


@pytest.fixture(autouse=True, scope="module")
def _single_thread_blas():
    with threadpool_limits(1):
        yield


def random_hermitian(n, seed, complex_=True, density=0.05):
    rng = np.random.default_rng(seed)
    A = sp.random(n, n, density=density, random_state=rng, format="csr")
    if complex_:
        A = A + 1j * sp.random(n, n, density=density, random_state=rng, format="csr")
    return ((A + A.conj().T) / 2 + sp.diags(rng.normal(size=n))).tocsr()


@pytest.mark.parametrize("complex_", [False, True])
def test_matches_dense_eigh(complex_):
    A = random_hermitian(300, seed=1, complex_=complex_)
    w, V = np.linalg.eigh(A.toarray())
    res = lanczos_ground_state(A)
    assert res.converged
    assert res.state.dtype == (np.complex128 if complex_ else np.float64)
    assert abs(res.energy - w[0]) < 1e-10 * max(1, abs(w[0]))
    assert abs(abs(np.vdot(V[:, 0], res.state)) - 1) < 1e-10
    assert res.residual == pytest.approx(np.linalg.norm(A @ res.state - res.energy * res.state))
    assert res.residual <= 10 * 1e-12 * np.abs(w).max()


def test_warm_start_needs_fewer_matvecs_and_restarts_converge():
    H = cluster_ising_sensor(6)
    rng = np.random.default_rng(0)
    theta = 0.5 * rng.normal(size=len(H.names("trainable")))
    M = H.matrix(x=[1.0, 2.0, 1.0], theta=theta)
    exact = np.linalg.eigvalsh(M.toarray())[0]
    cold = lanczos_ground_state(M)
    assert abs(cold.energy - exact) < 1e-10
    nudged = (M + 0.3 * H.operators("output")[0].to_sparse(np.complex128)).tocsr()
    exact_nudged = np.linalg.eigvalsh(nudged.toarray())[0]
    warm = lanczos_ground_state(nudged, cold.state)
    fresh = lanczos_ground_state(nudged)
    assert abs(warm.energy - exact_nudged) < 1e-10 and abs(fresh.energy - exact_nudged) < 1e-10
    assert warm.n_matvec < fresh.n_matvec
    # a Krylov space of 12 vectors cannot converge at once: it restarts from the Ritz vector
    small = lanczos_ground_state(M, max_krylov=12)
    assert small.converged and small.n_restarts > 0
    assert abs(small.energy - exact) < 1e-10
    # and with no restarts allowed it reports failure instead of raising
    stuck = lanczos_ground_state(M, max_krylov=3, max_restarts=0)
    assert not stuck.converged and stuck.residual > 1e-6


def test_invariant_subspace_and_tiny_matrices():
    A = np.diag([3.0, -1.0, 2.0, 5.0])
    e1 = np.array([0.0, 1.0, 0.0, 0.0])
    exact = lanczos_ground_state(A, e1)  # an eigenvector: β_1 = 0 at once
    assert exact.converged and exact.energy == -1.0 and exact.n_matvec == 2
    two = lanczos_ground_state(A, np.array([1.0, 1.0, 0.0, 0.0]))  # Krylov space of dim 2
    assert two.converged and abs(two.energy + 1.0) < 1e-14
    assert lanczos_ground_state(np.array([[2.5]])).energy == 2.5


def test_same_answer_as_arpack_through_ground_state():
    H = tfim(10, h=0.8)
    ours = ground_state(H, method="lanczos", gap=False)
    arpack = ground_state(H, method="lanczos", gap=False, backend="arpack")
    assert ours.info["backend"] == "lanczos" and "backend" not in arpack.info
    assert abs(ours.energy - arpack.energy) < 1e-11
    assert abs(abs(np.vdot(ours.state, arpack.state)) - 1) < 1e-10
    assert ours.residual < 1e-9 and ours.converged
    # the gap (two eigenpairs) stays with ARPACK; forcing the built-in solver there is refused
    assert ground_state(H, method="lanczos").gap > 0
    with pytest.raises(ConfigError, match="backend='lanczos' computes one eigenpair"):
        ground_state(H, method="lanczos", backend="lanczos")
    with pytest.raises(ConfigError, match="backend must be one of"):
        ground_state(H, backend="primme")
    # an ncv request selects ARPACK
    assert "backend" not in ground_state(H, method="lanczos", gap=False, ncv=8).info


def test_mixed_dtypes_and_index_widths_take_the_general_mat_vec():
    A = random_hermitian(120, seed=4, complex_=False)
    w = np.linalg.eigvalsh(A.toarray())[0]
    v0 = np.exp(0.4j) * np.ones(120)  # complex start on a real matrix: complex arithmetic
    res = lanczos_ground_state(A, v0)
    assert res.state.dtype == np.complex128 and abs(res.energy - w) < 1e-10
    wide = A.copy()
    wide.indices, wide.indptr = wide.indices.astype(np.int64), wide.indptr.astype(np.int32)
    assert abs(lanczos_ground_state(wide).energy - w) < 1e-10


def test_agrees_with_arpack_on_a_linear_operator():
    A = random_hermitian(200, seed=3)
    op = spla.aslinearoperator(A)
    res = lanczos_ground_state(op, np.ones(200))
    w = spla.eigsh(A, k=1, which="SA", tol=0)[0][0]
    assert abs(res.energy - w) < 1e-10


def test_bad_input():
    A = np.eye(4)
    with pytest.raises(ShapeError, match="square"):
        lanczos_ground_state(np.ones((3, 4)))
    with pytest.raises(ShapeError, match=r"v0 must have shape \(4,\)"):
        lanczos_ground_state(A, np.ones(3))
    with pytest.raises(ConfigError, match="finite, non-zero"):
        lanczos_ground_state(A, np.zeros(4))
    with pytest.raises(ConfigError, match="max_krylov must be an integer ≥ 2"):
        lanczos_ground_state(A, max_krylov=1)
    with pytest.raises(ConfigError, match="check_every"):
        lanczos_ground_state(A, check_every=0)
    with pytest.raises(ConfigError, match="tol must be a non-negative number"):
        lanczos_ground_state(A, tol=-1.0)
