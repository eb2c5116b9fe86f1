r"""Parameter grids: the cartesian product of named axes, and ``key=start:stop:num`` specs.

A :class:`Grid` with axes ``a`` (values ``a_0 … a_{n_a−1}``) and ``b`` (``b_0 …``) holds the
``n_a · n_b`` points ``{"a": a_i, "b": b_j}`` in C order (the last axis varies fastest),
so point ``k`` has multi-index ``numpy.unravel_index(k, grid.shape)``.

Axis specs (the ``--grid`` option of ``qnets sweep``):

``kappa=0:1:11``
    ``numpy.linspace(0, 1, 11)`` — start, stop (included) and number of points;
``L=8,12,16``
    an explicit list (numbers where they parse, else strings);
``disorder=0.5``
    a single value.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from qnets.errors import ConfigError

__all__ = ["Grid", "parse_axis", "parse_grid", "with_seeds"]


def _number(text: str) -> int | float | str:
    """``"3"`` → 3, ``"0.5"`` / ``"1e-3"`` → float, anything else stays a string."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value


def _plain(value: Any) -> Any:
    """numpy scalars → Python scalars (points stay JSON- and YAML-friendly)."""
    return value.item() if isinstance(value, np.generic) else value


def parse_axis(spec: str) -> tuple[str, list[Any]]:
    """Parse one axis spec ``key=start:stop:num``, ``key=v1,v2,…`` or ``key=value``.

    Parameters
    ----------
    spec : str
        The spec (see the module docstring).

    Returns
    -------
    (str, list)
        Axis name and its values; ``start:stop:num`` gives ``num`` floats
        ``start + (stop − start) · i / (num − 1)`` (``[start]`` when ``num = 1``).

    Raises
    ------
    ConfigError
        When the spec does not parse; the message quotes it and shows the accepted forms.
    """
    forms = "expected key=start:stop:num, key=v1,v2,... or key=value"
    if not isinstance(spec, str) or "=" not in spec:
        raise ConfigError(f"--grid: {forms}, got {spec!r}")
    key, raw = (part.strip() for part in spec.split("=", 1))
    if not key.isidentifier():
        raise ConfigError(f"--grid {spec!r}: the axis name {key!r} is not a valid identifier")
    if not raw:
        raise ConfigError(f"--grid {spec!r}: no values after '='; {forms}")
    if ":" in raw:
        parts = raw.split(":")
        if len(parts) != 3:
            raise ConfigError(f"--grid {spec!r}: a range needs exactly start:stop:num, got {raw!r}")
        start, stop, num = (_number(p) for p in parts)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (start, stop)):
            raise ConfigError(f"--grid {spec!r}: start and stop must be finite numbers, got {raw!r}")
        if not isinstance(num, int) or num < 1:
            raise ConfigError(f"--grid {spec!r}: num must be an integer ≥ 1, got {parts[2]!r}")
        return key, [float(v) for v in np.linspace(float(start), float(stop), num)]
    values = [_number(v) for v in raw.split(",")]
    if any(v == "" for v in values):
        raise ConfigError(f"--grid {spec!r}: empty value in the list {raw!r}")
    return key, values


def parse_grid(specs: Iterable[str]) -> Grid:
    """A :class:`Grid` from axis specs (:func:`parse_axis`); a repeated axis name is an error."""
    axes: dict[str, list[Any]] = {}
    for spec in specs:
        key, values = parse_axis(spec)
        if key in axes:
            raise ConfigError(f"--grid: axis {key!r} is given twice")
        axes[key] = values
    if not axes:
        raise ConfigError("--grid: expected at least one axis spec key=start:stop:num, got none")
    return Grid(axes)


class Grid(Sequence):
    """Cartesian product of named axes, a sequence of ``dict`` points in C order.

    Parameters
    ----------
    axes : mapping of str to sequence
        Axis name → values (non-empty; numpy scalars become Python scalars).

    Examples
    --------
    >>> g = Grid({"kappa": [0.2, 0.8], "W": [0, 1, 2]})
    >>> len(g), g.shape, g[4]
    (6, (2, 3), {'kappa': 0.8, 'W': 1})
    """

    def __init__(self, axes: Mapping[str, Sequence[Any]]):
        if not isinstance(axes, Mapping) or not axes:
            raise ConfigError(f"axes: expected a non-empty mapping name → values, got {axes!r}")
        self.axes: dict[str, list[Any]] = {}
        for name, values in axes.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ConfigError(f"axes: axis names must be identifiers, got {name!r}")
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise ConfigError(f"axes[{name!r}]: expected a sequence of values, got {values!r}")
            values = [_plain(v) for v in np.asarray(values, dtype=object).ravel()] if isinstance(
                values, np.ndarray
            ) else [_plain(v) for v in values]
            if not values:
                raise ConfigError(f"axes[{name!r}]: expected at least one value, got none")
            self.axes[name] = values

    @property
    def names(self) -> tuple[str, ...]:
        """Axis names, in order."""
        return tuple(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of values per axis."""
        return tuple(len(v) for v in self.axes.values())

    def __len__(self) -> int:
        return math.prod(self.shape)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if not isinstance(index, (int, np.integer)) or not -n <= index < n:
            raise IndexError(f"grid index {index!r} out of range for {n} points")
        multi = np.unravel_index(int(index) % n, self.shape)
        return {name: self.axes[name][i] for name, i in zip(self.axes, multi)}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for combo in itertools.product(*self.axes.values()):
            yield dict(zip(self.axes, combo))

    def __repr__(self) -> str:
        axes = ", ".join(f"{k}: {len(v)}" for k, v in self.axes.items())
        return f"Grid({axes}; {len(self)} points)"

    def __eq__(self, other) -> bool:
        return isinstance(other, Grid) and self.axes == other.axes

    __hash__ = None  # mutable-content container


def with_seeds(grid: Grid | Mapping[str, Sequence[Any]] | None, seeds: int | Sequence[int]) -> Grid:
    """``grid`` with an extra last axis ``seed`` (repeats of every point over seeds).

    Parameters
    ----------
    grid : Grid or mapping, optional
        The parameter grid (``None``: a grid of seeds only).
    seeds : int or sequence of int
        ``n`` means seeds ``0 … n−1``; a sequence is used as is.
    """
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ConfigError(f"seeds: expected a positive count or a list of ints, got {seeds!r}")
        seeds = list(range(int(seeds)))
    elif not isinstance(seeds, Sequence) or not seeds or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in seeds
    ):
        raise ConfigError(f"seeds: expected a positive count or a list of ints, got {seeds!r}")
    axes = dict(Grid(grid).axes if isinstance(grid, Mapping) else grid.axes) if grid is not None else {}
    if "seed" in axes:
        raise ConfigError("grid: already has an axis 'seed'; pass the seeds there instead")
    axes["seed"] = [int(s) for s in seeds]
    return Grid(axes)
