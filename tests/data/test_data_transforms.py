"""Tests of qnets.data.transforms (pool2d, flatten)."""

from __future__ import annotations

import numpy as np
import pytest

from qnets.data import flatten, pool2d
from qnets.errors import ConfigError, ShapeError


def test_pool2d_tiny():
    x = np.arange(16.0).reshape(1, 4, 4)
    expected = np.array(
        [
            [
                [(0 + 1 + 4 + 5) / 4, (2 + 3 + 6 + 7) / 4],
                [(8 + 9 + 12 + 13) / 4, (10 + 11 + 14 + 15) / 4],
            ]
        ]
    )
    np.testing.assert_array_equal(pool2d(x, 2), expected)
    np.testing.assert_array_equal(pool2d(x, 4), [[[7.5]]])
    np.testing.assert_array_equal(pool2d(x, 1), x)


def test_pool2d_rectangular_batch_and_dtypes():
    rng = np.random.default_rng(0)
    x = rng.random((3, 4, 6)).astype(np.float32)
    y = pool2d(x, 2)
    assert y.shape == (3, 2, 3) and y.dtype == np.float32
    np.testing.assert_allclose(y[1, 1, 2], x[1, 2:4, 4:6].mean(), rtol=1e-6)
    yi = pool2d(np.full((2, 28, 28), 255, dtype=np.uint8), 4)
    assert yi.shape == (2, 7, 7) and yi.dtype == np.float64 and np.all(yi == 255.0)


def test_pool2d_errors():
    with pytest.raises(ShapeError, match=r"H=28, W=28") as err:
        pool2d(np.zeros((1, 28, 28)), 3)
    assert "[1, 2, 4, 7, 14, 28]" in str(err.value)
    with pytest.raises(ShapeError, match="W=6"):
        pool2d(np.zeros((1, 4, 6)), 4)
    with pytest.raises(ShapeError, match=r"\(N, H, W\)"):
        pool2d(np.zeros((4, 4)), 2)
    for factor in (0, -2, 1.5, True):
        with pytest.raises(ConfigError, match="factor"):
            pool2d(np.zeros((1, 4, 4)), factor)


def test_flatten():
    x = np.arange(24).reshape(2, 3, 4)
    f = flatten(x)
    assert f.shape == (2, 12)
    np.testing.assert_array_equal(f[1], np.arange(12, 24))
    assert flatten(np.zeros((5, 3))).shape == (5, 3)
    with pytest.raises(ShapeError, match="at least 2"):
        flatten(np.zeros(5))
