"""Tests of qnets.data.load_digits (scikit-learn's bundled 8x8 digits)."""

from __future__ import annotations

import numpy as np
import pytest

from qnets.data import load_digits
from qnets.data.digits import _stratified_split
from qnets.errors import ConfigError

N_TOTAL = 1797


def test_split_sizes_and_types():
    xtr, ytr = load_digits("train")
    xte, yte = load_digits("test")
    assert xtr.shape == (1348, 8, 8) and ytr.shape == (1348,)
    assert xte.shape == (449, 8, 8) and yte.shape == (449,)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    for x, y in ((xtr, ytr), (xte, yte)):
        assert x.min() == 0.0 and x.max() == 1.0
        assert y.min() == 0 and y.max() == 9

    _, yte2 = load_digits("test", test_fraction=0.2)
    assert yte2.size == round(0.2 * N_TOTAL)


def test_determinism_and_seed_dependence():
    a = load_digits("test", seed=3)
    b = load_digits("test", seed=3)
    c = load_digits("test", seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_stratified_and_partition():
    from sklearn.datasets import load_digits as sk_load_digits

    labels = np.asarray(sk_load_digits().target)
    counts = np.bincount(labels)
    for fraction in (0.25, 0.1, 0.5):
        train, test = _stratified_split(labels, fraction, seed=7)
        assert np.intersect1d(train, test).size == 0
        np.testing.assert_array_equal(
            np.sort(np.concatenate([train, test])), np.arange(labels.size)
        )
        per_class = np.bincount(labels[test], minlength=10)
        assert np.all(np.abs(per_class - fraction * counts) <= 1.0)

    _, ytr = load_digits("train")
    _, yte = load_digits("test")
    np.testing.assert_array_equal(np.bincount(ytr) + np.bincount(yte), counts)


def test_raw_and_flatten():
    x, _ = load_digits("test", normalize=False, dtype=np.int64)
    assert x.dtype == np.int64 and x.max() == 16 and x.min() == 0
    xn, _ = load_digits("test")
    np.testing.assert_allclose(xn, x / 16.0, rtol=1e-6)
    xf, _ = load_digits("train", flatten=True, dtype=np.float64)
    assert xf.shape == (1348, 64) and xf.dtype == np.float64


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5, float("nan"), "0.2", True, 1e-6])
def test_bad_test_fraction(fraction):
    with pytest.raises(ConfigError, match="test_fraction"):
        load_digits(test_fraction=fraction)


@pytest.mark.parametrize("seed", [-1, 1.5, None, "0"])
def test_bad_seed(seed):
    with pytest.raises(ConfigError, match="seed"):
        load_digits(seed=seed)


def test_bad_split():
    with pytest.raises(ConfigError, match="split must be one of 'train', 'test'; got 'valid'"):
        load_digits("valid")
