"""Figures of parameter sweeps: lines over one axis, colour maps over two."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["sweep_plot"]


def _numeric(values) -> bool:
    return all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values)


def sweep_plot(
    rows: Sequence[Mapping[str, Any]],
    axes: Sequence[str],
    outputs: Sequence[str],
    *,
    title: str | None = None,
    ax=None,
):
    """Plot sweep results: outputs vs one axis (lines), or the first output over two axes.

    Axes named ``seed`` are averaged over (the mean is drawn). With one remaining axis,
    each output is a line (outputs after the first on a twin y axis); with two, the first
    output is a colour map (``pcolormesh``) over them; further axes are averaged too.

    Parameters
    ----------
    rows : sequence of mapping
        The sweep table (one mapping per grid point, axes and outputs as keys).
    axes : sequence of str
        Names of the swept axes, in grid order.
    outputs : sequence of str
        Output columns to draw (all numeric columns not in ``axes`` when empty).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    from qnets.plotting.curves import _pyplot

    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    outputs = list(outputs) or [
        k for k in rows[0] if k not in axes and _numeric([r[k] for r in rows])
    ]
    free = [a for a in axes if a != "seed" and len({r[a] for r in rows}) > 1 and _numeric([r[a] for r in rows])]
    free = free[:2]
    keys = sorted({tuple(r[a] for a in free) for r in rows})

    def mean_of(output):
        sums: dict[tuple, list[float]] = {k: [] for k in keys}
        for r in rows:
            sums[tuple(r[a] for a in free)].append(float(r[output]))
        return np.array([np.mean(sums[k]) for k in keys])

    if len(free) <= 1:
        x = np.array([k[0] for k in keys]) if free else np.zeros(len(keys))
        twin = None
        for i, output in enumerate(outputs):
            target = ax if i == 0 else (twin or ax.twinx())
            if i > 0:
                twin = target
            target.plot(x, mean_of(output), f"C{i}-o", ms=3, label=output)
            target.set_ylabel(output if i == 0 else ", ".join(outputs[1:]))
        ax.set_xlabel(free[0] if free else "point")
        handles, labels = ax.get_legend_handles_labels()
        if twin is not None:
            more = twin.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
        ax.legend(handles, labels, fontsize=8)
    else:
        xs = sorted({k[0] for k in keys})
        ys = sorted({k[1] for k in keys})
        grid = np.full((len(ys), len(xs)), np.nan)
        for k, value in zip(keys, mean_of(outputs[0])):
            grid[ys.index(k[1]), xs.index(k[0])] = value
        mesh = ax.pcolormesh(xs, ys, grid, shading="nearest", cmap="viridis")
        ax.figure.colorbar(mesh, ax=ax, label=outputs[0])
        ax.set_xlabel(free[0])
        ax.set_ylabel(free[1])
    if title:
        ax.set_title(title)
    return ax
