"""Solvers: exact many-body ground and Gibbs states (dense, Lanczos, DMRG), real-space DMFT,
free fermions (spectra, correlation matrices, real-space Chern numbers)."""

from qnets.solvers.dmft import (
    DMFTResult,
    dmft_step,
    embedding_self_energy,
    fk_impurity,
    local_greens,
    matsubara_frequencies,
    max_batch,
    solve_dmft,
)
from qnets.solvers.exact import GibbsState, GroundState, gibbs_state, ground_state
from qnets.solvers.free_fermion import (
    occupied_projector,
    real_space_chern_number,
    spectral_gap,
    triangles,
)
from qnets.solvers.lanczos import LanczosResult, lanczos_ground_state

__all__ = [
    "DMFTResult",
    "GibbsState",
    "GroundState",
    "LanczosResult",
    "dmft_step",
    "embedding_self_energy",
    "fk_impurity",
    "gibbs_state",
    "ground_state",
    "lanczos_ground_state",
    "local_greens",
    "matsubara_frequencies",
    "max_batch",
    "occupied_projector",
    "real_space_chern_number",
    "solve_dmft",
    "spectral_gap",
    "triangles",
]
