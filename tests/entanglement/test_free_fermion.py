"""Peschel entropies from correlation matrices vs brute-force many-body Slater determinants."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

from qnets.entanglement import (
    FermiLevelWarning,
    entanglement_entropy,
    entanglement_entropy_state,
    free_fermion,
    ground_state_correlation,
    mutual_information,
    single_site_mutual_information,
    slater_determinant_state,
    thermal_correlation,
    tripartite_information,
)
from qnets.errors import ConfigError, QnetsWarning, ShapeError

REGIONS = {
    6: [[0], [2], [0, 1, 2], [1, 2, 3], [0, 2], [1, 3, 5], [0, 4, 5], [5, 1, 3, 2]],
    8: [[0], [3, 4], [0, 1, 2, 3], [0, 3], [1, 4, 6], [0, 2, 5, 7], [2, 3, 6], [7, 0]],
}


def _random_h(n: int, rng: np.random.Generator, *, real: bool = False) -> np.ndarray:
    a = rng.normal(size=(n, n))
    if not real:
        a = a + 1j * rng.normal(size=(n, n))
    return (a + a.conj().T) / 2


def _half_filling(h: np.ndarray):
    """(mu in the middle of the half-filling gap, occupied eigenvectors as columns)."""
    energies, vectors = np.linalg.eigh(h)
    n = h.shape[0] // 2
    assert energies[n] - energies[n - 1] > 1e-3  # generic: a non-degenerate Fermi level
    return (energies[n - 1] + energies[n]) / 2, vectors[:, :n]


def _oracle_entropy(orbitals: np.ndarray, region) -> float:
    """Fermionic entropy of ``region`` from the dense Slater state, region first in JW order."""
    n = orbitals.shape[0]
    region = list(region)
    order = region + [i for i in range(n) if i not in region]
    psi = slater_determinant_state(orbitals, site_order=order)
    return entanglement_entropy_state(psi, [2] * n, list(range(len(region))))


def _jw_annihilators(n: int) -> list[np.ndarray]:
    """Dense c_i = Z⊗…⊗Z⊗a⊗1⊗…, a = |0><1|, Z = diag(1, -1); site 0 leftmost."""
    a = np.array([[0.0, 1.0], [0.0, 0.0]])
    z = np.diag([1.0, -1.0])
    ops = []
    for i in range(n):
        factors = [z] * i + [a] + [np.eye(2)] * (n - i - 1)
        op = np.array([[1.0]])
        for f in factors:
            op = np.kron(op, f)
        ops.append(op)
    return ops


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


# ----------------------------------------------------------------------------- oracles


@pytest.mark.parametrize("n", [6, 8])
def test_peschel_entropy_matches_brute_force_slater(n, rng):
    h = _random_h(n, rng)
    mu, occupied = _half_filling(h)
    c = ground_state_correlation(h, mu)
    psi = slater_determinant_state(occupied)
    for region in REGIONS[n]:
        expected = _oracle_entropy(occupied, region)
        assert entanglement_entropy(c, region) == pytest.approx(expected, abs=1e-10)
        assert expected > 1e-3  # the test is not trivially 0 == 0
        sorted_region = sorted(region)
        if sorted_region == list(range(sorted_region[0], sorted_region[-1] + 1)):
            # contiguous in the JW order: the plain spin entropy agrees as well
            spin = entanglement_entropy_state(psi, [2] * n, region)
            assert entanglement_entropy(c, region) == pytest.approx(spin, abs=1e-10)


@pytest.mark.parametrize("n", [6, 8])
def test_mutual_information_matches_brute_force(n, rng):
    h = _random_h(n, rng)
    mu, occupied = _half_filling(h)
    c = ground_state_correlation(h, mu)
    pairs = [([0], [1]), ([0], [n - 1]), ([0, 2], [3, 5]), ([1, 4], [0]), ([0, 1], [2, 3, 4])]
    for a, b in pairs:
        expected = (
            _oracle_entropy(occupied, a)
            + _oracle_entropy(occupied, b)
            - _oracle_entropy(occupied, a + b)
        )
        value = mutual_information(c, a, b)
        assert value == pytest.approx(expected, abs=1e-10)
        assert value >= -1e-12


def test_correlation_convention_matches_many_body_expectation(rng):
    # C_ij = <c_i† c_j> on the dense ground state; complex h makes C ≠ C^T so the
    # conj(V) V^T convention is pinned, and the Slater state is the many-body ground state.
    n = 5
    h = _random_h(n, rng)
    energies, vectors = np.linalg.eigh(h)
    mu = (energies[1] + energies[2]) / 2
    occupied = vectors[:, :2]
    c = ground_state_correlation(h, mu)
    psi = slater_determinant_state(occupied)
    ops = _jw_annihilators(n)
    dense = np.array([[psi.conj() @ (ops[i].T @ ops[j]) @ psi for j in range(n)] for i in range(n)])
    assert np.max(np.abs(c - c.T)) > 1e-3
    np.testing.assert_allclose(c, dense, atol=1e-12)
    many_body = sum(h[i, j] * ops[i].T @ ops[j] for i in range(n) for j in range(n))
    np.testing.assert_allclose(many_body @ psi, energies[:2].sum() * psi, atol=1e-12)
    np.testing.assert_allclose(c @ c, c, atol=1e-12)
    assert np.trace(c).real == pytest.approx(2.0, abs=1e-12)


def test_thermal_correlation_matches_grand_canonical_gibbs_state(rng):
    n, temperature, mu = 4, 0.7, 0.2
    h = _random_h(n, rng)
    ops = _jw_annihilators(n)
    many_body = sum(h[i, j] * ops[i].T @ ops[j] for i in range(n) for j in range(n))
    number = sum(op.T @ op for op in ops)
    rho = scipy.linalg.expm(-(many_body - mu * number) / temperature)
    rho /= np.trace(rho)
    dense = np.array([[np.trace(rho @ ops[i].T @ ops[j]) for j in range(n)] for i in range(n)])
    np.testing.assert_allclose(thermal_correlation(h, temperature, mu), dense, atol=1e-12)


# ----------------------------------------------------------------------------- identities


def test_base_two_is_natural_over_ln2(rng):
    h = _random_h(6, rng)
    mu, _ = _half_filling(h)
    c = ground_state_correlation(h, mu)
    nat = entanglement_entropy(c, [0, 2, 3])
    assert entanglement_entropy(c, [0, 2, 3], base=2) == pytest.approx(nat / math.log(2), abs=1e-13)
    assert mutual_information(c, [0], [1, 2], base=2) == pytest.approx(
        mutual_information(c, [0], [1, 2]) / math.log(2), abs=1e-13
    )
    assert entanglement_entropy(c, [1], base=math.e) == pytest.approx(
        entanglement_entropy(c, [1]), abs=1e-13
    )


def test_empty_full_and_complementary_regions(rng):
    n = 8
    h = _random_h(n, rng)
    mu, _ = _half_filling(h)
    c = ground_state_correlation(h, mu)
    assert entanglement_entropy(c, []) == 0.0
    assert entanglement_entropy(c, np.zeros(n, dtype=bool)) == 0.0
    assert entanglement_entropy(c, range(n)) == pytest.approx(0.0, abs=1e-10)
    for region in REGIONS[n]:
        complement = [i for i in range(n) if i not in region]
        assert entanglement_entropy(c, region) == pytest.approx(
            entanglement_entropy(c, complement), abs=1e-10
        )
    mask = np.zeros(n, dtype=bool)
    mask[[1, 4, 6]] = True
    assert entanglement_entropy(c, mask) == pytest.approx(entanglement_entropy(c, [6, 1, 4]))
    assert mutual_information(c, [], [1, 2]) == pytest.approx(0.0, abs=1e-12)


def test_entropy_of_single_site_is_binary_entropy_and_handles_pure_occupations():
    c = np.diag([0.0, 1.0, 0.5, 0.25])
    assert entanglement_entropy(c, [0, 1]) == 0.0
    assert entanglement_entropy(c, [2]) == pytest.approx(math.log(2))
    assert entanglement_entropy(c, [2], base=2) == pytest.approx(1.0)
    p = 0.25
    assert entanglement_entropy(c, [3]) == pytest.approx(
        -p * math.log(p) - (1 - p) * math.log(1 - p)
    )
    # round-off just outside [0, 1] is clipped, not turned into NaN
    assert entanglement_entropy(np.diag([-1e-12, 1 + 1e-12]), [0, 1]) == 0.0


def test_thermal_zero_temperature_limit_and_spectrum(rng):
    h = _random_h(8, rng, real=True)
    mu, _ = _half_filling(h)
    ground = ground_state_correlation(h, mu)
    cold = thermal_correlation(h, 1e-4, mu)
    np.testing.assert_allclose(cold, ground, atol=1e-10)
    assert cold.dtype == np.float64
    warm = thermal_correlation(h, 0.5, mu)
    lam = np.linalg.eigvalsh(warm)
    assert lam.min() >= 0.0 and lam.max() <= 1.0
    assert lam.min() > 1e-6 and lam.max() < 1 - 1e-6  # genuinely mixed
    np.testing.assert_allclose(warm, warm.conj().T, atol=1e-14)
    # extreme ratios |E - mu| / T neither overflow nor produce NaN
    extreme = thermal_correlation(h, 1e-300, mu)
    np.testing.assert_allclose(extreme, ground, atol=1e-12)
    # a mixed state: S_full > 0
    assert entanglement_entropy(warm, range(8)) > 0.1


def test_tripartite_information_definition_matches_entropy_expansion(rng):
    n = 8
    h = _random_h(n, rng)
    mu, _ = _half_filling(h)
    c = ground_state_correlation(h, mu)

    def s(*regions):
        return entanglement_entropy(c, sorted(set().union(*map(set, regions))))

    for a, b, cc in [([0], [1, 2], [3]), ([0, 5], [2], [3, 7]), ([1], [4], [6, 0])]:
        expansion = s(a) + s(b) + s(cc) - s(a, b) - s(a, cc) - s(b, cc) + s(a, b, cc)
        value = tripartite_information(c, a, b, cc)
        assert value == pytest.approx(expansion, abs=1e-12)
        assert abs(value) > 1e-6  # a nontrivial check
        # symmetric under permutations of its arguments
        assert tripartite_information(c, cc, a, b) == pytest.approx(value, abs=1e-12)
        assert tripartite_information(c, a, b, cc, base=2) == pytest.approx(
            value / math.log(2), abs=1e-12
        )


@pytest.mark.parametrize("chunk", [None, 7])
def test_single_site_mutual_information_matches_loop(rng, monkeypatch, chunk):
    n = 10
    h = _random_h(n, rng)
    mu, _ = _half_filling(h)
    c = ground_state_correlation(h, mu)
    if chunk is not None:  # force several batches: 7 elements // (3 * 3) -> 1 site per batch
        monkeypatch.setattr(free_fermion, "_BATCH_ELEMENTS", chunk)
    region = [2, 7]
    values = single_site_mutual_information(c, region)
    others = [i for i in range(n) if i not in region]
    loop = np.array([mutual_information(c, [s], region) for s in others])
    assert values.shape == (n - 2,)
    np.testing.assert_allclose(values, loop, atol=1e-12)
    chosen = [9, 0, 4]
    np.testing.assert_allclose(
        single_site_mutual_information(c, region, chosen, base=2),
        [mutual_information(c, [s], region) / math.log(2) for s in chosen],
        atol=1e-12,
    )
    assert np.all(single_site_mutual_information(c, []) == 0.0)
    warm = thermal_correlation(h, 0.3, mu)
    np.testing.assert_allclose(
        single_site_mutual_information(warm, [0, 1, 2]),
        [mutual_information(warm, [s], [0, 1, 2]) for s in range(3, n)],
        atol=1e-12,
    )


def test_torch_inputs_are_accepted(rng):
    h = _random_h(6, rng)
    mu, _ = _half_filling(h)
    c = ground_state_correlation(h, mu)
    c_torch = ground_state_correlation(torch.from_numpy(h), mu)
    np.testing.assert_allclose(c_torch, c, atol=1e-14)
    region = torch.tensor([0, 3])
    assert entanglement_entropy(torch.from_numpy(c).conj(), region) == pytest.approx(
        entanglement_entropy(c.conj(), [0, 3]), abs=1e-12
    )


# ----------------------------------------------------------------------------- bad inputs


def test_bad_inputs_raise_clear_errors(rng):
    h = _random_h(4, rng)
    c = ground_state_correlation(h, 0.0)
    with pytest.raises(ShapeError, match=r"correlation must be a square 2-D.*\(3, 4\)"):
        entanglement_entropy(np.zeros((3, 4)), [0])
    with pytest.raises(ShapeError, match="square 2-D"):
        entanglement_entropy(np.zeros((2, 2, 2)), [0])
    with pytest.raises(ShapeError, match="h must be a square"):
        ground_state_correlation(np.zeros(4))
    bad = c.copy()
    bad[0, 1] += 1e-3
    with pytest.raises(ConfigError, match=r"Hermitian.*1\.000e-03"):
        entanglement_entropy(bad, [0])
    with pytest.raises(ConfigError, match="h must be Hermitian"):
        ground_state_correlation(np.triu(np.ones((3, 3))))
    with pytest.raises(ConfigError, match=r"region indices must lie in \[0, 4\).*\[4\]"):
        entanglement_entropy(c, [0, 4])
    with pytest.raises(ConfigError, match=r"\[-1\]"):
        entanglement_entropy(c, [-1])
    with pytest.raises(ConfigError, match=r"repeat.*\[1\]"):
        entanglement_entropy(c, [1, 1])
    with pytest.raises(ShapeError, match="boolean mask must have length 4"):
        entanglement_entropy(c, [True, False])
    with pytest.raises(ConfigError, match=r"region_a and region_b must be disjoint.*\[1, 2\]"):
        mutual_information(c, [0, 1, 2], [1, 2, 3])
    with pytest.raises(ConfigError, match=r"b and c must be disjoint.*\[3\]"):
        tripartite_information(c, [0], [1, 3], [3])
    with pytest.raises(ConfigError, match=r"region_a and sites must be disjoint.*\[0\]"):
        single_site_mutual_information(c, [0, 1], [0, 2])
    with pytest.raises(ConfigError, match="base"):
        entanglement_entropy(c, [0], base=1)
    with pytest.raises(ConfigError, match="base"):
        entanglement_entropy(c, [0], base=-2)
    with pytest.raises(ConfigError, match=r"eigenvalues .* \[0, 1\]"):
        entanglement_entropy(2 * np.eye(3), [0])
    with pytest.raises(ConfigError, match="temperature must be > 0"):
        thermal_correlation(h, 0.0)
    with pytest.raises(ConfigError, match="finite"):
        ground_state_correlation(h, float("nan"))


def test_degenerate_fermi_level_warns(rng):
    h = np.diag([-1.0, 0.0, 1.0])
    with pytest.warns(FermiLevelWarning, match="degenerate Fermi level"):
        c = ground_state_correlation(h, 0.0)
    np.testing.assert_allclose(c, np.diag([1.0, 0.0, 0.0]))
    assert issubclass(FermiLevelWarning, QnetsWarning)
    # two degenerate levels straddling mu within 1e-10
    with pytest.warns(FermiLevelWarning):
        ground_state_correlation(np.diag([-1.0, -3e-11, 3e-11, 1.0]), 0.0)
    # a generic Hamiltonian does not warn
    h = _random_h(6, rng)
    mu, _ = _half_filling(h)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ground_state_correlation(h, mu)


def test_degenerate_fermi_level_can_be_resolved_silently():
    h = np.diag([-1.0, -3e-11, 3e-11, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = ground_state_correlation(h, 0.0, at_fermi_level="empty")
        full = ground_state_correlation(h, 0.0, at_fermi_level="fill")
    np.testing.assert_allclose(empty, np.diag([1.0, 0.0, 0.0, 0.0]))
    np.testing.assert_allclose(full, np.diag([1.0, 1.0, 1.0, 0.0]))
    with pytest.raises(ConfigError, match="at_fermi_level"):
        ground_state_correlation(h, 0.0, at_fermi_level="half")
