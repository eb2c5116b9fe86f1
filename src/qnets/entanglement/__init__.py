"""Entanglement: entropies and mutual information of free-fermion and dense pure states.

* :mod:`qnets.entanglement.free_fermion` — Gaussian states from correlation matrices
  ``C_ij = ⟨c_i† c_j⟩`` (Peschel's formula), ground-state and thermal correlations.
* :mod:`qnets.entanglement.states` — Schmidt values and entropies of dense pure states,
  Slater determinants as dense states (brute-force oracles).

Entropies use the natural log; pass ``base=2`` for bits.
"""

from qnets.entanglement.free_fermion import (
    FermiLevelWarning,
    entanglement_entropy,
    ground_state_correlation,
    mutual_information,
    single_site_mutual_information,
    thermal_correlation,
    tripartite_information,
)
from qnets.entanglement.states import (
    entanglement_entropy_state,
    schmidt_values,
    slater_determinant_state,
)

__all__ = [
    "FermiLevelWarning",
    "entanglement_entropy",
    "entanglement_entropy_state",
    "ground_state_correlation",
    "mutual_information",
    "schmidt_values",
    "single_site_mutual_information",
    "slater_determinant_state",
    "thermal_correlation",
    "tripartite_information",
]
