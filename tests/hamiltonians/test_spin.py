"""SpinHamiltonian / PauliSum: conventions, Kronecker oracles, roles, realness, bad input."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from qnets.errors import ConfigError, ShapeError, SizeLimitError
from qnets.hamiltonians import (
    PauliSum,
    SpinHamiltonian,
    cluster_ising,
    identity,
    pauli,
    tfim,
    z_projector,
)


@pytest.fixture(autouse=True, scope="module")
def _single_thread_blas():
    """Small dense problems: multi-threaded BLAS only adds contention (spec: CI-sized =
    single-threaded BLAS)."""
    with threadpool_limits(1):
        yield

_P = {
    "I": np.eye(2),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.diag([1.0, -1.0]).astype(complex),
}


def kron(letters):
    out = np.eye(1)
    for c in letters:
        out = np.kron(out, _P[c])
    return out


def test_conventions_pauli_eigenvalues_msb_qubit_zero_and_z_plus_on_zero():
    # |0⟩ is Z = +1: the basis state 0 of one qubit has ⟨Z⟩ = +1.
    assert pauli(1, "Z").expectation(np.array([1.0, 0.0])) == 1.0
    assert pauli(1, "Z").expectation(np.array([0.0, 1.0])) == -1.0
    # Pauli operators, not spin-1/2: eigenvalues ±1.
    for letter in "XYZ":
        assert np.allclose(np.linalg.eigvalsh(pauli(1, letter).to_dense()), [-1, 1])
    # qubit 0 is the most significant bit: X0 maps |00⟩ (index 0) to |10⟩ (index 2).
    psi = np.zeros(4)
    psi[0] = 1
    assert np.argmax(np.abs(pauli(2, "X0").apply(psi))) == 2
    assert np.argmax(np.abs(pauli(2, "X1").apply(psi))) == 1
    # the same string in the three accepted notations
    assert pauli(3, "Z0 X2") == pauli(3, "ZIX") == pauli(3, "ZX", sites=(0, 2))


@pytest.mark.parametrize("seed", range(4))
def test_pauli_strings_match_kronecker_products(seed):
    rng = np.random.default_rng(seed)
    n = 4
    psi = rng.normal(size=16) + 1j * rng.normal(size=16)
    psi /= np.linalg.norm(psi)
    rho = np.outer(psi, psi.conj())
    for _ in range(10):
        a, b = ("".join(rng.choice(list("IXYZ"), n)) for _ in range(2))
        pa = pauli(n, a)
        assert np.allclose(pa.to_dense(), kron(a), atol=0)
        assert np.allclose(pa.apply(psi), kron(a) @ psi)
        assert np.isclose(pa.expectation(psi), np.real(psi.conj() @ kron(a) @ psi))
        assert np.isclose(pa.expectation(rho), np.real(np.trace(rho @ kron(a))))
        assert np.allclose((pa @ pauli(n, b)).to_dense(), kron(a) @ kron(b))
        assert pa.is_real == (a.count("Y") % 2 == 0)


def test_real_dtype_iff_even_number_of_y():
    H = SpinHamiltonian(3)
    H.add("a", [(1.0, "XX", (0, 1)), (0.5, "YY", (1, 2))])
    assert H.is_real and H.matrix().dtype == np.float64
    H.add("b", "X0 Y1", role="trainable", value=0.3)
    assert not H.is_real and H.matrix().dtype == np.complex128
    dense = kron("XXI") + 0.5 * kron("IYY") + 0.3 * kron("XYI")
    assert np.allclose(H.dense(), dense)


def test_roles_values_and_assembly_match_explicit_sum():
    rng = np.random.default_rng(1)
    H = SpinHamiltonian(3)
    H.add("h0", [(-1.0, "Z0 Z1"), (-1.0, "Z1 Z2")])
    H.add("x0", "X0", role="input")
    H.add("x1", "X2", role="input")
    H.add("a", [(1.0, "Z0 X1"), (0.5, "Y1 Y2")], role="trainable")
    H.add("b", "X1", role="trainable", value=0.2)
    H.add("o", "Z2", role="output")
    assert H.names("trainable") == ["a", "b"]
    x, theta, nu = rng.normal(size=2), rng.normal(size=2), rng.normal(size=1)
    expected = (
        -kron("ZZI") - kron("IZZ") + x[0] * kron("XII") + x[1] * kron("IIX")
        + theta[0] * (kron("ZXI") + 0.5 * kron("IYY")) + theta[1] * kron("IXI")
        + nu[0] * kron("IIZ")
    )
    assert np.allclose(H.dense(x=x, theta=theta, nu=nu), expected)
    assert np.allclose(H.operator(x=x, theta=theta, nu=nu).to_dense(), expected)
    by_name = H.dense(params={"x0": x[0], "x1": x[1], "a": theta[0], "b": theta[1], "o": nu[0]})
    assert np.allclose(by_name, expected)
    # default values: fixed 1, others 0 unless given
    assert np.allclose(H.values(), [1, 0, 0, 0, 0.2, 0])
    psi = rng.normal(size=8) + 1j * rng.normal(size=8)
    psi /= np.linalg.norm(psi)
    got = H.term_expectations(psi, role="trainable")
    assert np.allclose(got, [op.expectation(psi) for op in H.operators("trainable")])
    rho = np.outer(psi, psi.conj())
    assert np.allclose(H.term_expectations(rho), H.term_expectations(psi))
    phi = rng.normal(size=8) + 1j * rng.normal(size=8)
    elements = H.term_matrix_elements(phi, psi)
    assert np.allclose(elements, [np.vdot(phi, t.operator.to_dense() @ psi) for t in H.terms])
    assert np.isclose(H.expectation("o", psi), pauli(3, "Z2").expectation(psi))


def test_model_sign_conventions():
    H = tfim(3, J=0.7, h=0.3)
    expected = -0.7 * (kron("ZZI") + kron("IZZ") + kron("ZIZ")) - 0.3 * (
        kron("XII") + kron("IXI") + kron("IIX")
    )
    assert np.allclose(H.dense(), expected)
    C = cluster_ising(4, g_zxz=1.1, g_zz=0.4, g_x=0.2, periodic=False)
    expected = 1.1 * (kron("ZXZI") + kron("IZXZ")) - 0.4 * (
        kron("ZZII") + kron("IZZI") + kron("IIZZ")
    ) - 0.2 * sum(kron("".join("X" if k == j else "I" for k in range(4))) for j in range(4))
    assert np.allclose(C.dense(), expected)
    roles = tfim(4, h=0.5, roles={"h": "input"})
    assert roles.names("input") == ["h"] and roles.names("fixed") == ["J"]


def test_z_projectors_are_outcome_probabilities():
    rng = np.random.default_rng(3)
    psi = rng.normal(size=8) + 1j * rng.normal(size=8)
    psi /= np.linalg.norm(psi)
    probs = np.abs(psi.reshape(2, 2, 2)) ** 2
    p = z_projector(3, {0: 1, 2: -1})  # qubit 0 in |0⟩, qubit 2 in |1⟩
    assert np.isclose(p.expectation(psi), probs[0, :, 1].sum())
    assert (p @ p) == p


def test_algebra():
    a = pauli(2, "X0")
    b = pauli(2, "Y0")
    assert (a @ b) == pauli(2, "Z0", coeff=1j)
    assert not (a @ b).is_hermitian
    assert (a + a - 2 * a) == PauliSum(2)
    assert (a + 1.0) == (a + identity(2))
    assert pauli(2, "X0 Z1").commutes_qubitwise(pauli(2, "X0"))
    assert not pauli(2, "X0 Z1").commutes_qubitwise(pauli(2, "Z0"))


def test_bad_input_errors():
    with pytest.raises(ConfigError, match="unknown Pauli letter 'Q'"):
        pauli(3, "Q0 X1")
    with pytest.raises(ConfigError, match="unknown Pauli letter 'A'"):
        pauli(3, "XAZ")
    with pytest.raises(ConfigError, match="site 5 .* out of range for n_qubits = 3"):
        pauli(3, "Z5")
    with pytest.raises(ConfigError, match="site 1 appears twice"):
        pauli(3, "Z1 X1")
    with pytest.raises(ConfigError, match="one letter per qubit"):
        pauli(3, "ZZ")
    H = SpinHamiltonian(2, real=True)
    with pytest.raises(ConfigError, match="complex coefficient"):
        H.add("bad", [(1j, "X0")])
    with pytest.raises(ConfigError, match="declared real=True"):
        H.add("y", "Y0 X1")
    with pytest.raises(ConfigError, match="role of term 'a' must be one of"):
        H.add("a", "X0", role="hidden")
    H.add("a", "X0", role="trainable")
    with pytest.raises(ConfigError, match="already exists"):
        H.add("a", "Z0")
    with pytest.raises(ShapeError, match=r"theta must have shape \(1,\)"):
        H.matrix(theta=[1.0, 2.0])
    with pytest.raises(ConfigError, match="theta must be real"):
        H.matrix(theta=[1j])
    with pytest.raises(ConfigError, match="no term named 'zz'"):
        H.matrix(params={"zz": 1.0})
    with pytest.raises(ConfigError, match="value of term 'c' must be real"):
        H.add("c", "Z0", value=1 + 2j)
    with pytest.raises(ShapeError, match="acts on 3 qubits"):
        H.add("d", pauli(3, "Z0"))
    with pytest.raises(SizeLimitError, match="use matrix"):
        tfim(16).dense()
    with pytest.raises(ConfigError, match=r"outcomes\[0\] must be \+1 or −1"):
        z_projector(2, {0: 0})
