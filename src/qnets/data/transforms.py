"""Small array transforms for image data sets: average pooling and flattening."""

from __future__ import annotations

import math

import numpy as np

from qnets.data._common import _check_positive_int
from qnets.errors import ShapeError

__all__ = ["flatten", "pool2d"]


def pool2d(images, factor) -> np.ndarray:
    """Average-pool a stack of images by an integer factor in both directions.

    Each output pixel is the mean of a non-overlapping ``factor x factor`` block, e.g. 28x28
    MNIST images become 7x7 with ``factor=4``.

    Parameters
    ----------
    images : array_like, shape (N, H, W)
        Stack of ``N`` images; ``H`` and ``W`` must be divisible by ``factor``.
    factor : int
        Positive pooling factor; ``1`` returns a copy.

    Returns
    -------
    numpy.ndarray, shape (N, H // factor, W // factor)
        Pooled images. Floating inputs keep their dtype; other inputs give float64.

    Raises
    ------
    ShapeError
        If ``images`` is not 3-dimensional or ``H`` or ``W`` is not divisible by ``factor``.
    ConfigError
        If ``factor`` is not a positive integer.

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 4, 4)
    >>> pool2d(x, 2)
    array([[[ 2.5,  4.5],
            [10.5, 12.5]]])
    """
    factor = _check_positive_int("factor", factor)
    x = np.asarray(images)
    if x.ndim != 3:
        raise ShapeError(f"images must have shape (N, H, W); got an array of shape {x.shape}")
    n, h, w = x.shape
    if h % factor or w % factor:
        valid = [f for f in range(1, math.gcd(h, w) + 1) if h % f == 0 and w % f == 0]
        raise ShapeError(
            f"pool2d factor {factor} must divide both image sides, but images have "
            f"H={h}, W={w} (H % factor = {h % factor}, W % factor = {w % factor}); "
            f"factors that divide both: {valid}. Crop or pad the images first, or pick one "
            f"of those factors."
        )
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    blocks = x.reshape(n, h // factor, factor, w // factor, factor)
    return blocks.mean(axis=(2, 4), dtype=x.dtype)


def flatten(images) -> np.ndarray:
    """Flatten every sample of a batch into a vector: ``(N, ...)`` to ``(N, prod(...))``.

    Parameters
    ----------
    images : array_like, shape (N, ...)
        Batch with at least 2 dimensions; the first is kept.

    Returns
    -------
    numpy.ndarray, shape (N, D)
        The same values, a view of the input where numpy can make one.

    Raises
    ------
    ShapeError
        If ``images`` has fewer than 2 dimensions.

    Examples
    --------
    >>> flatten(np.zeros((5, 28, 28))).shape
    (5, 784)
    """
    x = np.asarray(images)
    if x.ndim < 2:
        raise ShapeError(
            f"images must have shape (N, ...) with at least 2 dimensions; got shape {x.shape}"
        )
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))
