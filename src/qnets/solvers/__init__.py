"""Solvers: free fermions (spectra, correlation matrices, real-space Chern numbers)."""

from qnets.solvers.dmft import (
    DMFTResult,
    dmft_step,
    embedding_self_energy,
    fk_impurity,
    local_greens,
    matsubara_frequencies,
    solve_dmft,
)
from qnets.solvers.exact import GibbsState, GroundState, gibbs_state, ground_state
from qnets.solvers.free_fermion import (
    occupied_projector,
    real_space_chern_number,
    spectral_gap,
    triangles,
)

__all__ = [
    "DMFTResult",
    "GibbsState",
    "GroundState",
    "dmft_step",
    "embedding_self_energy",
    "fk_impurity",
    "gibbs_state",
    "ground_state",
    "local_greens",
    "matsubara_frequencies",
    "occupied_projector",
    "real_space_chern_number",
    "solve_dmft",
    "spectral_gap",
    "triangles",
]
