"""Tensor networks as deep networks: MPS / tree / ConvAC models, their entanglement, min-cut width design.

Spec: ``specs/tn.md``.
"""

from __future__ import annotations

from qnets.tn.born import MPSBornMachine
from qnets.tn.classifiers import MPSClassifier, TTNClassifier
from qnets.tn.convac import ConvAC, OverlappingConvAC
from qnets.tn.design import WidthDesign, convac_num_parameters, design_widths
from qnets.tn.features import FEATURE_MAPS, FeatureMap, get_feature_map
from qnets.tn.mincut import (
    CutGraph,
    canonical_partition,
    matricization,
    matricization_rank,
    mincut_bound,
)
from qnets.tn.mps import MPS, spectrum_entropy
from qnets.tn.profile import EntanglementProfile, entanglement_profile

__all__: list[str] = [
    "FEATURE_MAPS",
    "MPS",
    "ConvAC",
    "CutGraph",
    "EntanglementProfile",
    "FeatureMap",
    "MPSBornMachine",
    "MPSClassifier",
    "OverlappingConvAC",
    "TTNClassifier",
    "WidthDesign",
    "canonical_partition",
    "convac_num_parameters",
    "design_widths",
    "entanglement_profile",
    "get_feature_map",
    "matricization",
    "matricization_rank",
    "mincut_bound",
    "spectrum_entropy",
]
