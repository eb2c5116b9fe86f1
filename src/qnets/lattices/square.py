"""An ``L_x × L_y`` square lattice with site index ``n = x + y·L_x``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qnets.errors import ConfigError

__all__ = ["SquareLattice"]


@dataclass(frozen=True)
class SquareLattice:
    """Square lattice, periodic (a torus) by default.

    Parameters
    ----------
    lx, ly : int
        Sites along x and y (``ly`` defaults to ``lx``).
    periodic : bool
        Periodic boundaries in both directions.

    Notes
    -----
    Site ``(x, y)`` has index ``n = x + y·lx`` (x runs fastest).
    """

    lx: int
    ly: int | None = None
    periodic: bool = True

    def __post_init__(self):
        if not isinstance(self.lx, (int, np.integer)) or self.lx < 1:
            raise ConfigError(f"lx: expected a positive integer, got {self.lx!r}")
        if self.ly is None:
            object.__setattr__(self, "ly", int(self.lx))
        elif not isinstance(self.ly, (int, np.integer)) or self.ly < 1:
            raise ConfigError(f"ly: expected a positive integer, got {self.ly!r}")

    @property
    def n_sites(self) -> int:
        """Number of sites ``lx · ly``."""
        return self.lx * self.ly

    def coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` integer arrays of every site, in index order."""
        n = np.arange(self.n_sites)
        return n % self.lx, n // self.lx

    def index(self, x, y) -> np.ndarray:
        """Site index of ``(x, y)`` (wrapped on a torus)."""
        return np.mod(x, self.lx) + np.mod(y, self.ly) * self.lx

    def bonds(self, dx: int, dy: int) -> tuple[np.ndarray, np.ndarray]:
        """Pairs ``(i, j)`` with ``j = i + (dx, dy)``; open boundaries drop bonds that leave."""
        x, y = self.coordinates()
        xt, yt = x + dx, y + dy
        keep = np.ones(self.n_sites, dtype=bool)
        if not self.periodic:
            keep = (xt >= 0) & (xt < self.lx) & (yt >= 0) & (yt < self.ly)
        return np.arange(self.n_sites)[keep], self.index(xt, yt)[keep]
