"""Model Hamiltonians: tight-binding models (single-particle matrices)."""

from qnets.hamiltonians.tight_binding import chern_insulator, chern_insulator_bands

__all__ = ["chern_insulator", "chern_insulator_bands"]
