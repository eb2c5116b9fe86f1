"""Tensor networks as deep networks: MPS / tree / ConvAC models, their entanglement, min-cut width design.

Spec: ``specs/tn.md``.
"""

from __future__ import annotations

from qnets.tn.born import MPSBornMachine
from qnets.tn.classifiers import MPSClassifier, TTNClassifier
from qnets.tn.convac import ConvAC, OverlappingConvAC
from qnets.tn.features import FEATURE_MAPS, FeatureMap, get_feature_map
from qnets.tn.mincut import CutGraph, canonical_partition, matricization, matricization_rank, mincut_bound
from qnets.tn.mps import MPS, spectrum_entropy
from qnets.tn.profile import EntanglementProfile, entanglement_profile

__all__: list[str] = [
    "FEATURE_MAPS",
    "ConvAC",
    "CutGraph",
    "OverlappingConvAC",
    "canonical_partition",
    "matricization",
    "matricization_rank",
    "mincut_bound",
    "MPS",
    "EntanglementProfile",
    "FeatureMap",
    "MPSBornMachine",
    "MPSClassifier",
    "TTNClassifier",
    "entanglement_profile",
    "get_feature_map",
    "spectrum_entropy",
]
