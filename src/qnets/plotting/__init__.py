"""Figures: matplotlib functions that take results and an optional ``ax`` and return the Axes."""

from qnets.plotting.curves import learning_curves, save_figure

__all__ = ["learning_curves", "save_figure"]
