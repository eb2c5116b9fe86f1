"""scikit-learn's bundled 8x8 handwritten digits (1797 images), with a stratified split."""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from qnets.data._common import _check_bool, _check_dtype, _check_split
from qnets.errors import ConfigError

__all__ = ["load_digits"]

_MAX_PIXEL = 16.0


def load_digits(
    split="train",
    *,
    test_fraction=0.25,
    seed=0,
    normalize=True,
    flatten=False,
    dtype=np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of the 8x8 digits bundled with scikit-learn (no download needed).

    The 1797 images are split into train and test sets, stratified by class: each digit gets
    the same share ``test_fraction`` of test samples (up to rounding), and the test set has
    ``round(test_fraction * 1797)`` samples in total. The split depends only on ``seed`` and
    ``test_fraction`` (a ``numpy.random.Generator`` is used, no global seeding), so the two
    calls ``split="train"`` and ``split="test"`` with the same arguments give disjoint sets
    that together hold every sample. Samples keep their original order within a split.

    Parameters
    ----------
    split : {"train", "test"}, default "train"
        Which part to return.
    test_fraction : float, default 0.25
        Share of samples in the test set, strictly between 0 and 1.
    seed : int, default 0
        Non-negative seed of the split.
    normalize : bool, default True
        Scale pixels from 0..16 to ``[0, 1]`` by dividing by 16. If False, the raw 0..16
        values are cast to ``dtype``.
    flatten : bool, default False
        Return images as ``(N, 64)`` instead of ``(N, 8, 8)``.
    dtype : numpy dtype, default np.float32
        Dtype of the returned images; must be floating when ``normalize`` is True.

    Returns
    -------
    images : numpy.ndarray
        ``(N, 8, 8)`` or ``(N, 64)`` array of ``dtype``.
    labels : numpy.ndarray
        ``(N,)`` int64 array of digit labels 0..9.

    Raises
    ------
    ConfigError
        If an argument is invalid, e.g. ``test_fraction`` outside (0, 1) or so extreme that
        one split would be empty.

    Examples
    --------
    >>> x, y = load_digits("test")
    >>> x.shape, y.shape
    ((449, 8, 8), (449,))
    """
    split = _check_split(split)
    test_fraction = _check_fraction(test_fraction)
    seed = _check_seed(seed)
    normalize = _check_bool("normalize", normalize)
    flatten = _check_bool("flatten", flatten)
    dt = _check_dtype(dtype, normalize)

    images, labels = _digits_raw()
    train_idx, test_idx = _stratified_split(labels, test_fraction, seed)
    idx = train_idx if split == "train" else test_idx

    out = images[idx].astype(dt)
    if normalize:
        out /= dt.type(_MAX_PIXEL)
    if flatten:
        out = out.reshape(idx.size, -1)
    return out, labels[idx].astype(np.int64)


def _check_fraction(value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ConfigError(f"test_fraction must be a number in (0, 1); got {value!r}")
    value = float(value)
    if not (0.0 < value < 1.0):
        raise ConfigError(f"test_fraction must be strictly between 0 and 1; got {value!r}")
    return value


def _check_seed(value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"seed must be a non-negative integer; got {value!r}")
    if value < 0:
        raise ConfigError(f"seed must be a non-negative integer; got {value!r}")
    return int(value)


@functools.lru_cache(maxsize=1)
def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """Read-only ``(1797, 8, 8)`` float64 images (0..16) and int64 labels from scikit-learn."""
    from sklearn.datasets import load_digits as _sklearn_load_digits

    bunch = _sklearn_load_digits()
    images = np.array(bunch.images, dtype=np.float64)
    labels = np.array(bunch.target, dtype=np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _stratified_split(labels: np.ndarray, test_fraction: float, seed: int):
    """Sorted ``(train_idx, test_idx)``: per-class test counts by largest remainders."""
    n = labels.size
    n_test = math.floor(test_fraction * n + 0.5)
    if n_test < 1 or n_test > n - 1:
        raise ConfigError(
            f"test_fraction={test_fraction!r} gives {n_test} test samples out of {n}; "
            f"both splits need at least one sample"
        )
    classes, counts = np.unique(labels, return_counts=True)
    quotas = n_test * counts / n
    per_class = np.floor(quotas).astype(np.int64)
    short = n_test - int(per_class.sum())
    # Hand the remaining samples to the classes with the largest fractional parts
    # (ties broken by class order, so the result does not depend on float noise in rng).
    order = np.argsort(-(quotas - per_class), kind="stable")
    per_class[order[:short]] += 1

    rng = np.random.default_rng(seed)
    test_parts = []
    for cls, k in zip(classes, per_class, strict=True):
        members = np.flatnonzero(labels == cls)
        test_parts.append(rng.permutation(members)[:k])
    test_idx = np.sort(np.concatenate(test_parts))
    mask = np.zeros(n, dtype=bool)
    mask[test_idx] = True
    return np.flatnonzero(~mask), test_idx
