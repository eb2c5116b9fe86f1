"""Chern-insulator model: clean bands, gap closing only for 4 | L (spec U4), disorder."""

import warnings

import numpy as np
import pytest

from qnets.errors import ConfigError, QnetsWarning
from qnets.hamiltonians import chern_insulator, chern_insulator_bands


@pytest.mark.parametrize("L", [4, 8, 12])
@pytest.mark.parametrize("kappa", [0.2, 0.5, 0.8])
def test_spectrum_matches_the_clean_band_formula(L, kappa):
    H = chern_insulator(L, kappa)
    assert np.abs(H - H.conj().T).max() == 0
    kx, ky = np.meshgrid(2 * np.pi * np.arange(L) / L, 2 * np.pi * np.arange(L // 2) / L)
    band = chern_insulator_bands(kx, ky, kappa).ravel()
    expected = np.sort(np.concatenate([band, -band]))
    assert np.abs(np.linalg.eigvalsh(H) - expected).max() < 1e-12


@pytest.mark.parametrize("L", [8, 12])
def test_gap_closes_exactly_at_kappa_one_half(L):
    for kappa in (0.3, 0.45, 0.5, 0.55, 0.9):
        gap = np.abs(np.linalg.eigvalsh(chern_insulator(L, kappa))).min()
        assert gap == pytest.approx(2 * abs(1 - 2 * kappa), abs=1e-12)


@pytest.mark.parametrize("L,min_gap", [(6, 1.41), (10, 0.87)])
def test_gap_never_closes_when_L_is_not_a_multiple_of_4(L, min_gap):
    with pytest.warns(QnetsWarning, match="not a multiple of 4"):
        H = chern_insulator(L, 0.5)
    assert np.abs(np.linalg.eigvalsh(H)).min() > min_gap


def test_disorder_is_seeded_hermitian_and_bounded():
    strengths = {"onsite": 2.0, "nn": 0.5, "nnn": 0.25}
    a = chern_insulator(8, 0.7, disorder=strengths, seed=3)
    b = chern_insulator(8, 0.7, disorder=strengths, seed=3)
    c = chern_insulator(8, 0.7, disorder=strengths, seed=4)
    clean = chern_insulator(8, 0.7)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.abs(a - a.conj().T).max() == 0
    onsite = np.diag(a).real
    assert np.abs(onsite).max() <= 2.0 and np.abs(onsite).max() > 1.0
    assert np.count_nonzero(a - clean) > 0
    # the sparsity pattern (which bonds exist) is unchanged
    assert np.array_equal((a != 0) & ~np.eye(64, dtype=bool), (clean != 0))


def test_bad_arguments():
    with pytest.raises(ConfigError, match="L: expected an even integer"):
        chern_insulator(7, 0.5)
    with pytest.raises(ConfigError, match="disorder: unknown keys"):
        chern_insulator(8, 0.5, disorder={"hopping": 1.0})
    with pytest.raises(ConfigError, match="kappa"):
        chern_insulator(8, float("nan"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chern_insulator(8, 0.5)


def test_dense_size_guard_names_the_memory_and_the_way_out():
    from qnets.errors import SizeLimitError

    with pytest.raises(SizeLimitError, match=r"L=68: .*4624×4624 .*0\.3 GB.*max_sites=4624"):
        chern_insulator(68, 0.7)
    assert chern_insulator(8, 0.7, max_sites=64).shape == (64, 64)
    with pytest.raises(SizeLimitError, match="max_sites=63"):
        chern_insulator(8, 0.7, max_sites=63)
