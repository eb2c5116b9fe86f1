"""Figures of phase classification: P(phase | parameter) curves and spectra."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["level_spectra", "perturbation_curves", "phase_diagram"]


def _axes(ax):
    if ax is None:
        from qnets.plotting.curves import _pyplot

        _, ax = _pyplot().subplots(figsize=(5, 3.5))
    return ax


def phase_diagram(
    parameter: Sequence[float],
    probabilities: Mapping[str, Sequence[float]] | Sequence[float],
    *,
    critical: float | None = None,
    crossing: float | None = None,
    xlabel: str = "parameter",
    ylabel: str = "P(phase)",
    title: str | None = None,
    ax=None,
):
    """Plot one or several ``P(phase | parameter)`` curves with the 0.5 line and references.

    Parameters
    ----------
    parameter : sequence of float
        The swept parameter (x axis).
    probabilities : sequence of float or mapping name → sequence
        One curve, or several labelled curves.
    critical : float, optional
        Reference transition (dashed vertical line).
    crossing : float, optional
        The network's 0.5 crossing (dotted vertical line).
    """
    ax = _axes(ax)
    curves = probabilities if isinstance(probabilities, Mapping) else {"network": probabilities}
    for label, values in curves.items():
        ax.plot(parameter, values, marker=".", ms=3, label=label)
    ax.axhline(0.5, color="0.6", lw=0.8)
    if critical is not None:
        ax.axvline(critical, color="k", ls="--", lw=1, label=f"reference {critical:g}")
    if crossing is not None:
        ax.axvline(crossing, color="C3", ls=":", lw=1.5, label=f"P = 0.5 at {crossing:.4g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.03, 1.03)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def level_spectra(spectra: Mapping[str, np.ndarray], *, title: str | None = None, ax=None):
    """Plot sorted single-particle levels of several Hamiltonians against ``(k + ½) / n``.

    The normalised level index lets spectra of different sizes (a system alone and system +
    network) share one axis.
    """
    ax = _axes(ax)
    for label, levels in spectra.items():
        levels = np.sort(np.asarray(levels))
        index = (np.arange(levels.size) + 0.5) / levels.size
        ax.plot(index, levels, ".", ms=2.5, label=f"{label} ({levels.size} levels)")
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlabel("normalised level index (k + ½) / n")
    ax.set_ylabel("energy")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def perturbation_curves(delta, curves: Mapping[str, Mapping[str, Sequence[float]]], *, title: str | None = None):
    """Three stacked panels against the perturbation strength ``δ``: ``P(topological)``, the
    spectral gap and ``|C|``, one line per perturbation (``designed`` bold, random draws thin,
    ``random_mean`` dashed). Returns the top Axes."""
    from qnets.plotting.curves import _pyplot

    _, axes = _pyplot().subplots(3, 1, figsize=(5.5, 7), sharex=True)
    keys = (("p_topological", "P(topological)"), ("gap", "gap min |E|"), ("chern", "|C| (real space)"))
    for ax, (key, label) in zip(axes, keys, strict=True):
        for name, values in curves.items():
            if name == "designed":
                style = {"color": "C3", "lw": 2, "label": "designed (network gradient)"}
            elif name == "random_mean":
                style = {"color": "k", "ls": "--", "lw": 1.2, "label": "random, mean"}
            else:
                style = {"color": "0.6", "lw": 0.8, "label": "random draws" if name.endswith(" 0") else None}
            ax.plot(delta, values[key], **style)
        ax.set_ylabel(label)
    axes[0].axhline(0.5, color="0.7", lw=0.8)
    axes[0].legend(fontsize=7)
    axes[-1].set_xlabel("perturbation strength δ")
    if title:
        axes[0].set_title(title, fontsize=9)
    return axes[0]
