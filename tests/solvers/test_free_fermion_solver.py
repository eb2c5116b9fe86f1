"""Free fermions: projector, gap, real-space Chern number of the Chern-insulator model."""

import numpy as np
import pytest

from qnets.entanglement import ground_state_correlation
from qnets.errors import ConfigError, ShapeError
from qnets.hamiltonians import chern_insulator
from qnets.solvers import occupied_projector, real_space_chern_number, spectral_gap, triangles


@pytest.mark.parametrize("L", [8, 12])
def test_chern_number_trivial_and_topological_clean(L):
    for kappa in (0.1, 0.3):
        assert abs(real_space_chern_number(chern_insulator(L, kappa), L)) < 0.05
    for kappa in (0.7, 1.0):
        assert abs(abs(real_space_chern_number(chern_insulator(L, kappa), L)) - 1) < 0.05


def test_chern_number_survives_weak_disorder_and_is_seed_reproducible():
    disorder = {"onsite": 1.0, "nn": 0.3, "nnn": 0.1}
    topological = chern_insulator(12, 0.8, disorder=disorder, seed=1)
    trivial = chern_insulator(12, 0.2, disorder=disorder, seed=1)
    assert abs(real_space_chern_number(topological, 12)) > 0.7
    assert abs(real_space_chern_number(trivial, 12)) < 0.3


def test_triangles_are_positively_oriented_and_unique():
    vectors, areas = triangles(3)
    assert len(vectors) == 192
    assert (areas > 0).all()
    cross = vectors[:, 0, 0] * vectors[:, 1, 1] - vectors[:, 0, 1] * vectors[:, 1, 0]
    assert np.array_equal(cross / 2, areas)
    assert len({tuple(v.ravel()) for v in vectors}) == len(vectors)
    assert np.abs(vectors).max() <= 3


def test_projector_is_transposed_correlation_and_idempotent():
    h = chern_insulator(8, 0.7)
    P = occupied_projector(h)
    assert np.allclose(P @ P, P, atol=1e-12)
    assert np.isclose(np.trace(P).real, 32)
    assert np.allclose(P, ground_state_correlation(h).T, atol=1e-12)
    assert spectral_gap(h) == pytest.approx(0.8, abs=1e-12)


def test_bad_inputs():
    h = chern_insulator(8, 0.7)
    with pytest.raises(ShapeError, match="12×12 torus has 144 sites"):
        real_space_chern_number(h, 12)
    with pytest.raises(ConfigError, match="Hermitian"):
        spectral_gap(h + np.triu(np.ones_like(h), 1))
    with pytest.raises(ConfigError, match="d_max"):
        triangles(0)
