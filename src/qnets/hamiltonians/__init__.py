"""Model Hamiltonians: tight-binding models (single-particle matrices) and spin Hamiltonians
(Pauli strings with parameter roles, many-body sparse matrices)."""

from qnets.hamiltonians.falicov_kimball import (
    FalicovKimball,
    checkerboard_order,
    falicov_kimball,
    half_filling_mu,
    stripe_order,
    structure_factor,
)
from qnets.hamiltonians.pauli import PauliSum, identity, pauli
from qnets.hamiltonians.spin import ROLES, SpinHamiltonian, Term
from qnets.hamiltonians.spin_models import (
    bond_operator,
    cluster_ising,
    cluster_ising_sensor,
    heisenberg,
    honeycomb_bonds,
    honeycomb_plaquettes,
    kitaev_honeycomb,
    plaquette_operator,
    tfim,
    xxz,
    z_projector,
)
from qnets.hamiltonians.tight_binding import chern_insulator, chern_insulator_bands

__all__ = [  # noqa: RUF022 - grouped by module
    "chern_insulator",
    "chern_insulator_bands",
    "PauliSum",
    "pauli",
    "identity",
    "SpinHamiltonian",
    "Term",
    "ROLES",
    "tfim",
    "xxz",
    "heisenberg",
    "cluster_ising",
    "kitaev_honeycomb",
    "honeycomb_bonds",
    "honeycomb_plaquettes",
    "plaquette_operator",
    "bond_operator",
    "z_projector",
    "cluster_ising_sensor",
    "FalicovKimball",
    "falicov_kimball",
    "half_filling_mu",
    "structure_factor",
    "checkerboard_order",
    "stripe_order",
]
