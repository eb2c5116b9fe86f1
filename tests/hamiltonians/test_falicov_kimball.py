"""Falicov–Kimball model: hopping matrix, sign convention, order parameters, bad input."""

import numpy as np
import pytest

from qnets.errors import ConfigError, ShapeError
from qnets.hamiltonians import (
    checkerboard_order,
    falicov_kimball,
    half_filling_mu,
    stripe_order,
)
from qnets.lattices import SquareLattice


def test_band_structure_matches_the_documented_dispersion():
    L, t, tp = 6, 0.8, 0.3
    model = falicov_kimball(L, U=1.0, t=t, t_prime=tp, mu=0.0)
    k = 2 * np.pi * np.arange(L) / L
    kx, ky = np.meshgrid(k, k)
    band = -2 * t * (np.cos(kx) + np.cos(ky)) - 4 * tp * np.cos(kx) * np.cos(ky)
    np.testing.assert_allclose(np.linalg.eigvalsh(model.hopping), np.sort(band.ravel()), atol=1e-12)


def test_hopping_entries_and_chemical_potential():
    model = falicov_kimball(4, U=2.0, t=1.0, t_prime=0.25)
    lattice = SquareLattice(4)
    i, j, k = lattice.index(1, 1), lattice.index(2, 1), lattice.index(2, 2)
    assert model.hopping[i, j] == -1.0 and model.hopping[j, i] == -1.0
    assert model.hopping[i, k] == -0.25
    assert np.allclose(model.hopping, model.hopping.T)
    assert model.mu == 1.0  # default U n_f
    np.testing.assert_allclose(np.diag(model.h0), -1.0)


def test_half_filling_mu_half_fills_the_free_band():
    L, tp = 8, 0.4
    mu = half_filling_mu(L, t_prime=tp, U=1.0)
    levels = np.linalg.eigvalsh(falicov_kimball(L, U=0.0, t_prime=tp, mu=0.0).hopping)
    assert (levels < mu - 0.5).sum() <= L * L // 2 <= (levels <= mu - 0.5).sum()
    assert half_filling_mu(L, U=1.0) == pytest.approx(0.5, abs=1e-12)


def test_order_parameters_of_perfect_patterns():
    L = 6
    x, y = SquareLattice(L).coordinates()
    checker = ((x + y) % 2).astype(float)
    stripe_x = (x % 2).astype(float)
    stripe_y = (y % 2).astype(float)
    uniform = np.full(L * L, 0.5)
    assert checkerboard_order(checker) == pytest.approx(1.0)
    assert stripe_order(checker) == pytest.approx(0.0, abs=1e-12)
    assert stripe_order(stripe_x) == pytest.approx(1.0) and stripe_order(stripe_y) == pytest.approx(1.0)
    assert checkerboard_order(stripe_x) == pytest.approx(0.0, abs=1e-12)
    assert checkerboard_order(uniform) == pytest.approx(0.0, abs=1e-12)
    batch = np.stack([checker, stripe_x])
    np.testing.assert_allclose(checkerboard_order(batch), [1.0, 0.0], atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"L": 5, "U": 1.0}, "L: expected an even integer"),
        ({"L": 6, "U": -1.0}, "U: expected a number ≥ 0"),
        ({"L": 6, "U": float("nan")}, "U: expected a finite"),
        ({"L": 6, "U": 1.0, "n_f": 1.0}, "n_f: expected a mean f filling"),
        ({"L": 6, "U": 1.0, "t_prime": "a"}, "t_prime: expected a finite"),
    ],
)
def test_bad_parameters_are_named(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        falicov_kimball(kwargs.pop("L"), **kwargs)


def test_order_parameter_rejects_non_square_occupations():
    with pytest.raises(ShapeError, match="L² occupations"):
        checkerboard_order(np.zeros(10))
