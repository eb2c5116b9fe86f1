"""Figures of entanglement in fermion networks: I(output : input) during training, decision flow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["decision_flow_plot", "information_curves"]


def information_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    bound: float | None = None,
    ylabel: str = "I(output : input) (nats)",
    title: str | None = None,
    ax=None,
):
    """Plot mutual-information curves against the epoch, with an optional upper bound.

    Parameters
    ----------
    curves : mapping label → (epochs, values)
        One curve per training run (e.g. per weight decay).
    bound : float, optional
        Upper bound drawn as a dashed line (``2 n_out ln 2`` for ``I(output : ·)``).
    """
    from qnets.plotting.phases import _axes

    ax = _axes(ax)
    for label, (epochs, values) in curves.items():
        ax.plot(epochs, values, marker="o", ms=3, label=label)
    if bound is not None:
        ax.axhline(bound, color="k", ls="--", lw=1, label=f"bound {bound:.2f}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def decision_flow_plot(flow: Sequence[Mapping], *, title: str | None = None, ax=None):
    """Per layer, the single-site ``I(site : output)`` before and after the layer-wise unitary.

    Parameters
    ----------
    flow : sequence of dict
        :func:`qnets.fnn.analysis.decision_flow` output: ``before`` and ``after`` arrays per
        layer. Each layer is drawn as its values sorted in decreasing order (log scale):
        after the LUT the information sits in the first one or two orbitals.
    """
    from qnets.plotting.phases import _axes

    ax = _axes(ax)
    floor = 1e-12
    for entry in flow:
        colour = f"C{entry['layer'] % 10}"
        for key, style in (("before", ":"), ("after", "-")):
            values = np.sort(np.asarray(entry[key], dtype=float))[::-1]
            ax.plot(np.arange(1, len(values) + 1), np.maximum(values, floor), style, color=colour, marker=".",
                    ms=3, label=f"layer {entry['layer']} {key} LUT" if key == "after" else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("site / orbital (sorted)")
    ax.set_ylabel("I(site : output) (nats)")
    ax.set_title(title or "decision flow (dotted: sites, solid: after the LUT)")
    ax.legend(fontsize=7)
    return ax
