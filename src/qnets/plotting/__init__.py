"""Figures: matplotlib functions that take results and an optional ``ax`` and return the Axes."""

from qnets.plotting.curves import learning_curves, save_figure
from qnets.plotting.information import decision_flow_plot, information_curves
from qnets.plotting.phases import level_spectra, perturbation_curves, phase_diagram
from qnets.plotting.sweeps import sweep_plot

__all__ = [
    "decision_flow_plot",
    "information_curves",
    "learning_curves",
    "level_spectra",
    "perturbation_curves",
    "phase_diagram",
    "save_figure",
    "sweep_plot",
]
