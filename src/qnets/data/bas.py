"""Bars-and-stripes: the binary images whose rows are all constant, or whose columns are."""

from __future__ import annotations

import itertools

import numpy as np

from qnets.errors import ConfigError

__all__ = ["bars_and_stripes"]


def bars_and_stripes(rows: int, cols: int | None = None) -> np.ndarray:
    r"""All distinct bars-and-stripes patterns of a ``rows × cols`` grid, flattened row-major.

    A pattern either has every row constant (``2^rows`` "stripes") or every column
    constant (``2^cols`` "bars"); the all-0 and all-1 images are both, so there are
    ``2^rows + 2^cols - 2`` distinct patterns (14 for 3 × 3, 30 for 4 × 4). The uniform
    distribution over them has entropy ``ln(#patterns)``, the optimum NLL of a generative
    model.

    Parameters
    ----------
    rows : int
        ``≥ 1``.
    cols : int, optional
        ``≥ 1``; default ``rows``.

    Returns
    -------
    numpy.ndarray, shape (n_patterns, rows * cols), uint8
        Sorted lexicographically (pixel 0 = top-left is the most significant).
    """
    cols = rows if cols is None else cols
    for name, value in (("rows", rows), ("cols", cols)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name}: expected an int >= 1, got {value!r}")
    if rows * cols > 24:
        raise ConfigError(f"rows * cols: expected at most 24 pixels, got {rows} x {cols}")
    patterns = set()
    for bits in itertools.product((0, 1), repeat=rows):
        patterns.add(tuple(np.repeat(np.array(bits), cols)))
    for bits in itertools.product((0, 1), repeat=cols):
        patterns.add(tuple(np.tile(np.array(bits), rows)))
    return np.array(sorted(patterns), dtype=np.uint8)
