"""Figures for tensor networks: entanglement profiles and Born-machine NLL curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qnets.plotting.curves import _pyplot

__all__ = ["plot_born_nll", "plot_entanglement_profile"]


def plot_entanglement_profile(profile, ax=None, *, title: str | None = None):
    """Entropy per cut with the bound ``ln χ`` (an :class:`~qnets.tn.EntanglementProfile`).

    MPS profiles are drawn against the cut position along the chain; TTN profiles
    against the number of inputs below each edge (log scale), one marker per edge.

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    units = "nats" if profile.base is None else f"log{profile.base:g}"
    if profile.kind == "mps":
        x = np.asarray(profile.cuts)
        ax.plot(x, profile.entropies, "C0-", lw=1, label="S (von Neumann)")
        ax.plot(x, profile.bounds, "k:", lw=1, label="ln χ (bound)")
        ax.set_xlabel("cut position along the chain")
    else:
        x = np.array([len(c) for c in profile.cuts])
        ax.scatter(x, profile.entropies, s=8, c="C0", label="S per edge")
        ax.scatter(x, profile.bounds, s=8, marker="_", c="k", label="ln χ (bound)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("inputs below the edge")
    ax.set_ylabel(f"entanglement entropy ({units})")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_born_nll(
    curves: Mapping[int, Sequence[float]],
    optimum: float,
    ax=None,
    *,
    max_rank: int | None = None,
    title: str | None = None,
):
    """NLL per training step for several bond dimensions, with the optimum ``ln(#patterns)``.

    Parameters
    ----------
    curves : mapping bond_dim -> sequence of NLL values (nats)
    optimum : float
        ``ln(#patterns)``.
    max_rank : int, optional
        The data's maximal Schmidt rank (noted in the legend).

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for i, (chi, nll) in enumerate(sorted(curves.items())):
        below = max_rank is not None and chi < max_rank
        ax.plot(np.arange(1, len(nll) + 1), nll, f"C{i}-", lw=1.2,
                label=f"χ = {chi}" + (" (< max Schmidt rank)" if below else ""))
    ax.axhline(optimum, color="k", ls="--", lw=1, label=f"ln #patterns = {optimum:.3f}")
    ax.set_xscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("NLL (nats)")
    extra = f" (max Schmidt rank {max_rank})" if max_rank is not None else ""
    ax.legend(fontsize=8, loc="upper right", title=None if max_rank is None else f"data{extra}")
    if title:
        ax.set_title(title)
    return ax
