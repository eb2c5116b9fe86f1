"""Equilibrium propagation: quantum EP (gradients from one nudged equilibrium) and classical EP.

Spec: ``specs/qep.md``.
"""

from __future__ import annotations

from qnets.ep.classical import EPResult, HopfieldEP, hard_sigmoid
from qnets.ep.classical_implicit import implicit_gradient
from qnets.ep.constraints import HingePenalty, clip_parameters
from qnets.ep.losses import (
    CrossEntropyLoss,
    Loss,
    MSELoss,
    NegAbsLoss,
    ObservableLoss,
    SlopeLoss,
)
from qnets.ep.measurement import (
    ExactMeasurement,
    GaussianShots,
    SampledShots,
    count_settings,
    qwc_groups,
)
from qnets.ep.quantum import FiniteDifferenceGradient, QuantumEP

__all__: list[str] = ["EPResult", "HopfieldEP", "hard_sigmoid", "implicit_gradient"]

__all__ += [
    "CrossEntropyLoss",
    "ExactMeasurement",
    "FiniteDifferenceGradient",
    "GaussianShots",
    "HingePenalty",
    "Loss",
    "MSELoss",
    "NegAbsLoss",
    "ObservableLoss",
    "QuantumEP",
    "SampledShots",
    "SlopeLoss",
    "clip_parameters",
    "count_settings",
    "qwc_groups",
]
