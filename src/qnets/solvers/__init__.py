"""Solvers: free fermions (spectra, correlation matrices, real-space Chern numbers)."""

from qnets.solvers.free_fermion import (
    occupied_projector,
    real_space_chern_number,
    spectral_gap,
    triangles,
)

__all__ = ["occupied_projector", "real_space_chern_number", "spectral_gap", "triangles"]
