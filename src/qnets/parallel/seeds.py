"""Repeat a computation over seeds (and optionally over a parameter grid)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from qnets.parallel.grid import Grid, with_seeds
from qnets.parallel.map import map_grid

__all__ = ["map_seeds"]


def map_seeds(
    fn: Callable[..., Any],
    seeds: int | Sequence[int],
    grid: Grid | Mapping[str, Sequence[Any]] | None = None,
    **map_kwargs: Any,
) -> list[Any] | list[list[Any]]:
    """Run ``fn(seed=s, **point)`` for every seed (and grid point) with :func:`map_grid`.

    Parameters
    ----------
    fn : callable
        Takes the keyword ``seed`` (and the grid's axes).
    seeds : int or sequence of int
        ``n`` means ``0 … n−1``.
    grid : Grid or mapping, optional
        Parameter grid; the seeds become its last (fastest) axis.
    **map_kwargs
        Passed to :func:`map_grid` (``backend``, ``workers``, ``checkpoint_dir``, …).

    Returns
    -------
    list
        Without ``grid``: one result per seed. With ``grid``: one list per grid point
        (grid order) of its results per seed.
    """
    full = with_seeds(grid, seeds)
    results = map_grid(fn, full, **map_kwargs)
    n_seeds = full.shape[-1]
    if grid is None:
        return results
    return [results[k : k + n_seeds] for k in range(0, len(results), n_seeds)]
