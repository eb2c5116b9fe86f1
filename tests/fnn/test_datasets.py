"""Chern-insulator datasets: labels, seeds, caching, worker independence."""

import numpy as np
import pytest

from qnets.errors import ConfigError, ShapeError
from qnets.fnn.datasets import chern_dataset
from qnets.solvers import real_space_chern_number, spectral_gap


def test_clean_labels_follow_kappa():
    data = chern_dataset(10, 8, seed=1)
    assert data.hamiltonians.shape == (10, 64, 64)
    assert np.array_equal(data.labels, (data.kappas > 0.5).astype(np.int64))
    assert set(data.labels) == {0, 1}
    assert (data.strengths == 0).all()


def test_disordered_labels_follow_the_chern_number_with_a_margin():
    data = chern_dataset(9, 8, disordered=True, seed=2)
    assert np.allclose(data.strengths[0], [1, 0, 0]) and np.allclose(data.strengths[-1], [3, 1, 0.5])
    for h, label, kappa in zip(data.hamiltonians, data.labels, data.kappas):
        assert spectral_gap(h) >= 0.01
        if kappa < 0.5:
            assert label == 0
        else:
            chern = abs(real_space_chern_number(h, 8))
            assert (chern > 0.7) if label == 1 else (chern < 0.3)


def test_seeded_cached_and_independent_of_workers(tmp_path):
    a = chern_dataset(6, 8, disordered=True, seed=5, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("chern-*.npz"))) == 1
    b = chern_dataset(6, 8, disordered=True, seed=5, cache_dir=tmp_path)  # from the cache
    c = chern_dataset(6, 8, disordered=True, seed=5, workers=2)
    d = chern_dataset(6, 8, disordered=True, seed=6)
    for other in (b, c):
        assert np.array_equal(a.hamiltonians, other.hamiltonians)
        assert np.array_equal(a.labels, other.labels)
    assert not np.array_equal(a.hamiltonians, d.hamiltonians)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="n_samples"):
        chern_dataset(0, 8)
    with pytest.raises(ConfigError, match="gap"):
        chern_dataset(4, 8, gap=0.6)
    with pytest.raises(ConfigError, match="workers"):
        chern_dataset(4, 8, workers=0)


def test_compact_storage_round_trips_to_the_dense_hamiltonians():
    import torch

    from qnets.fnn.datasets import SparseSystemInput, chern_pattern
    from qnets.hamiltonians import chern_insulator

    rows, _ = chern_pattern(8)
    assert rows.shape == (9 * 64,)
    data = chern_dataset(4, 8, disordered=True, seed=3)
    dense = data.hamiltonians
    assert dense.shape == (4, 64, 64)
    assert np.allclose(dense, dense.conj().transpose(0, 2, 1))
    clean = chern_dataset(2, 8, seed=3)
    assert np.array_equal(clean.hamiltonians[0], chern_insulator(8, clean.kappas[0]))
    scatter = SparseSystemInput(data.rows, data.cols, 64)
    assert np.array_equal(scatter(torch.from_numpy(data.values)).numpy(), dense)
    assert np.array_equal(data.dense([1, 3]), dense[[1, 3]])
    with pytest.raises(ShapeError, match="values"):
        scatter(torch.zeros(2, 5, dtype=torch.complex128))


def test_dense_refuses_more_than_max_bytes(tmp_path):
    from qnets.errors import SizeLimitError

    data = chern_dataset(3, 4, seed=0, workers=1, cache_dir=tmp_path)
    assert data.dense().shape == (3, 16, 16)
    with pytest.raises(SizeLimitError, match="3 dense 16×16 Hamiltonians need .*indices=.*SparseSystemInput"):
        data.dense(max_bytes=1000)
    assert data.dense([0], max_bytes=5000).shape == (1, 16, 16)


def test_interleaved_layout_holds_both_classes_at_every_disorder_strength():
    data = chern_dataset(12, 8, disordered=True, seed=3)
    trivial = data.kappas < 0.5
    assert np.array_equal(np.flatnonzero(trivial), np.arange(0, 12, 3))
    # the strongest-disorder quarter still holds a trivial (κ < 0.5) sample: strength alone
    # does not tell the class
    assert trivial[9:].any() and trivial[:3].any()
    assert np.allclose(data.strengths[:, 0], np.linspace(1, 3, 12))


def test_blocked_layout_puts_the_trivial_third_first(tmp_path):
    data = chern_dataset(9, 8, disordered=True, seed=3, layout="blocked", cache_dir=tmp_path)
    assert (data.kappas[:3] < 0.5).all() and (data.kappas[3:] > 0.5).all()
    interleaved = chern_dataset(9, 8, disordered=True, seed=3, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("chern-*.npz"))) == 2  # cached under different keys
    assert not np.array_equal(data.kappas < 0.5, interleaved.kappas < 0.5)
    with pytest.raises(ConfigError, match="layout"):
        chern_dataset(3, 8, disordered=True, layout="random")
