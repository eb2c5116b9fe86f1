"""Map a function over a grid of parameters: serial, local process pool, or Dask.

* :func:`map_grid` — evaluate ``fn`` at every point, results in grid order, retries,
  failures reported with their grid point, resumable partial results on disk;
* :class:`Grid`, :func:`parse_grid`, :func:`parse_axis` — cartesian products of named
  axes and the ``key=start:stop:num`` specs of ``qnets sweep``;
* :func:`with_seeds`, :func:`map_seeds` — repeats over seeds.
"""

from __future__ import annotations

from qnets.parallel.grid import Grid, parse_axis, parse_grid, with_seeds
from qnets.parallel.map import BACKENDS, default_workers, map_grid
from qnets.parallel.seeds import map_seeds
from qnets.parallel.store import SweepStore

__all__ = [
    "BACKENDS",
    "Grid",
    "SweepStore",
    "default_workers",
    "map_grid",
    "map_seeds",
    "parse_axis",
    "parse_grid",
    "with_seeds",
]
