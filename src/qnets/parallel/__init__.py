"""Map a function over a grid of parameters: serial, local process pool, or Dask."""

from __future__ import annotations

__all__: list[str] = []
