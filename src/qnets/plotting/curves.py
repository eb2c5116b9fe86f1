"""Learning curves of a training history (a list of per-epoch metric records)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["learning_curves", "save_figure"]


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("figures need matplotlib: pip install 'qnets[plot]'") from error
    return plt


def learning_curves(history: Sequence[dict[str, Any]], ax=None, *, title: str | None = None):
    """Plot train loss (left axis, log scale) and train/test accuracy (right axis) per epoch.

    Parameters
    ----------
    history : sequence of dict
        Records with ``epoch``, ``train_loss`` and ``train_accuracy`` / ``test_accuracy``.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The loss axes (the accuracy axes is its twin).
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    epochs = [r["epoch"] for r in history]
    ax.plot(epochs, [r["train_loss"] for r in history], "C0-o", ms=3, label="train loss")
    if any("test_loss" in r for r in history):
        ax.plot(epochs, [r.get("test_loss") for r in history], "C0--", label="test loss")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    twin = ax.twinx()
    for key, style in (("train_accuracy", "C1-"), ("test_accuracy", "C3-o")):
        if any(key in r for r in history):
            twin.plot(epochs, [100 * r[key] for r in history], style, ms=3, label=key.replace("_", " "))
    twin.set_ylabel("accuracy (%)")
    lines = ax.get_legend_handles_labels()
    lines2 = twin.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="center right", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def save_figure(ax, path: str | Path) -> Path:
    """Save the figure of ``ax`` as a PNG (150 dpi) and close it."""
    plt = _pyplot()
    path = Path(path)
    fig = ax.figure
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
