"""Schmidt values and entropies of dense pure states; Slater determinants as dense states."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from qnets.entanglement import (
    entanglement_entropy_state,
    schmidt_values,
    slater_determinant_state,
)
from qnets.errors import ConfigError, ShapeError, SizeLimitError

ZERO = np.array([1.0, 0.0])
ONE = np.array([0.0, 1.0])
BELL = (np.kron(ZERO, ZERO) + np.kron(ONE, ONE)) / math.sqrt(2)


def _kron(*factors):
    out = np.array([1.0])
    for f in factors:
        out = np.kron(out, f)
    return out


def _reduced_entropy(psi, dims, region):
    """Independent reference: partial trace by einsum, then eigenvalues of rho_R."""
    n = len(dims)
    t = psi.reshape(dims)
    letters = "abcdefghijklmnop"
    ket = [letters[k] for k in range(n)]
    bra = [letters[k].upper() if k in region else letters[k] for k in range(n)]
    out = [letters[k] for k in sorted(region)] + [letters[k].upper() for k in sorted(region)]
    rho = np.einsum(f"{''.join(ket)},{''.join(bra)}->{''.join(out)}", t, t.conj())
    d = math.prod(dims[k] for k in region)
    p = np.linalg.eigvalsh(rho.reshape(d, d))
    p = p[p > 1e-15]
    return float(-np.sum(p * np.log(p)))


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_schmidt_values_of_product_and_bell_states():
    plus = np.array([1.0, 1.0]) / math.sqrt(2)
    product = _kron(ZERO, plus, ONE)
    np.testing.assert_allclose(schmidt_values(product, [2, 2, 2], [0]), [1.0, 0.0], atol=1e-14)
    np.testing.assert_allclose(schmidt_values(product, [2, 2, 2], [0, 2]), [1.0, 0.0], atol=1e-14)
    np.testing.assert_allclose(
        schmidt_values(BELL, [2, 2], [0]), [1 / math.sqrt(2)] * 2, atol=1e-14
    )
    np.testing.assert_allclose(
        schmidt_values(BELL, (2, 2), [1]), [1 / math.sqrt(2)] * 2, atol=1e-14
    )
    assert entanglement_entropy_state(BELL, [2, 2], [0]) == pytest.approx(math.log(2))
    assert entanglement_entropy_state(BELL, [2, 2], [0], base=2) == pytest.approx(1.0)
    assert entanglement_entropy_state(product, [2, 2, 2], [1]) == pytest.approx(0.0, abs=1e-14)
    # empty region: one Schmidt value, the norm
    np.testing.assert_allclose(schmidt_values(BELL, [2, 2], []), [1.0])


def test_factor_zero_is_leftmost_kronecker_factor():
    # Bell pair on factors (0, 1), factor 2 in |0>: only regions cutting the pair are entangled
    psi = _kron(BELL, ZERO)
    assert entanglement_entropy_state(psi, [2, 2, 2], [0]) == pytest.approx(math.log(2))
    assert entanglement_entropy_state(psi, [2, 2, 2], [2]) == pytest.approx(0.0, abs=1e-14)
    # unequal dimensions: a qutrit factor 0 in a maximally entangled state with factor 2
    qutrit_pair = np.eye(3) / math.sqrt(3)
    psi = np.einsum("ac,b->abc", qutrit_pair, ONE).reshape(-1)
    dims = [3, 2, 3]
    assert entanglement_entropy_state(psi, dims, [0]) == pytest.approx(math.log(3))
    assert entanglement_entropy_state(psi, dims, [1]) == pytest.approx(0.0, abs=1e-14)
    assert entanglement_entropy_state(psi, dims, [0, 1]) == pytest.approx(math.log(3))


def test_entropy_matches_partial_trace_for_random_states(rng):
    dims = [2, 3, 2, 2, 3]
    total = math.prod(dims)
    psi = rng.normal(size=total) + 1j * rng.normal(size=total)
    psi /= np.linalg.norm(psi)
    for region in [[0], [1, 3], [4, 0], [0, 2, 4], [1, 2, 3, 4]]:
        s = entanglement_entropy_state(psi, dims, region)
        assert s == pytest.approx(_reduced_entropy(psi, dims, region), abs=1e-12)
        complement = [k for k in range(len(dims)) if k not in region]
        assert s == pytest.approx(entanglement_entropy_state(psi, dims, complement), abs=1e-12)
        values = schmidt_values(psi, dims, region)
        assert np.all(np.diff(values) <= 1e-15)
        assert np.sum(values**2) == pytest.approx(1.0, abs=1e-12)
    # tensor-shaped input and torch tensors give the same answer
    assert entanglement_entropy_state(psi.reshape(dims), dims, [1, 3]) == pytest.approx(
        entanglement_entropy_state(torch.from_numpy(psi), dims, torch.tensor([3, 1])), abs=1e-12
    )


def test_slater_amplitudes_are_determinants_in_site_order(rng):
    n, m = 6, 3
    a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    orbitals, _ = np.linalg.qr(a)
    orbitals = orbitals[:, :m]
    psi = slater_determinant_state(orbitals)
    assert psi.shape == (2**n,) and psi.dtype == np.complex128
    assert np.linalg.norm(psi) == pytest.approx(1.0, abs=1e-12)
    for sites in itertools.combinations(range(n), m):
        index = sum(1 << (n - 1 - i) for i in sites)  # site 0 = most significant bit
        assert psi[index] == pytest.approx(np.linalg.det(orbitals[list(sites)]), abs=1e-12)
    wrong_number = [b for b in range(2**n) if b.bit_count() != m]
    assert np.max(np.abs(psi[wrong_number])) == 0.0
    # site_order permutes the Jordan–Wigner order
    order = [3, 0, 5, 1, 4, 2]
    np.testing.assert_allclose(
        slater_determinant_state(orbitals, site_order=order),
        slater_determinant_state(orbitals[order]),
        atol=1e-15,
    )


def test_slater_sign_convention_on_basis_orbitals():
    n = 3
    eye = np.eye(n)
    # one particle on site 0 -> |100> = index 4
    np.testing.assert_array_equal(slater_determinant_state(eye[:, [0]]), np.eye(8)[4])
    # c†_0 c†_2 |0> = +|101>, c†_2 c†_0 |0> = -|101>
    np.testing.assert_array_equal(slater_determinant_state(eye[:, [0, 2]]), np.eye(8)[5])
    np.testing.assert_array_equal(slater_determinant_state(eye[:, [2, 0]]), -np.eye(8)[5])
    # no particles: the vacuum
    np.testing.assert_array_equal(slater_determinant_state(np.zeros((n, 0))), np.eye(8)[0])
    assert slater_determinant_state(eye[:, [1]]).dtype == np.float64


def test_bad_state_inputs_raise_clear_errors():
    with pytest.raises(ShapeError, match=r"prod\(dims\) = 4"):
        schmidt_values(np.ones(5), [2, 2], [0])
    with pytest.raises(ConfigError, match="dims must be"):
        schmidt_values(BELL, [2, 0, 2], [0])
    with pytest.raises(ConfigError, match="dims must be"):
        schmidt_values(BELL, [2.5, 2], [0])
    with pytest.raises(ConfigError, match=r"region indices must lie in \[0, 2\)"):
        schmidt_values(BELL, [2, 2], [2])
    with pytest.raises(ConfigError, match="normalised"):
        entanglement_entropy_state(2 * BELL, [2, 2], [0])
    with pytest.raises(ConfigError, match="orthonormal"):
        slater_determinant_state(np.ones((3, 2)))
    with pytest.raises(ShapeError, match="2-D"):
        slater_determinant_state(np.ones(3))
    with pytest.raises(SizeLimitError, match="correlation matrix"):
        slater_determinant_state(np.eye(13)[:, :2])
    with pytest.raises(ConfigError, match="permutation"):
        slater_determinant_state(np.eye(3)[:, :1], site_order=[0, 1])
    with pytest.raises(ConfigError, match="repeat"):
        slater_determinant_state(np.eye(3)[:, :1], site_order=[0, 1, 1])
