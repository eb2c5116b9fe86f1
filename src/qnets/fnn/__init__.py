"""Fermion neural networks: layered tight-binding models whose Green's function is the output."""

from qnets.fnn.connectivity import INTER_LAYER, INTRA_LAYER
from qnets.fnn.encoders import ENCODERS, encode_hamiltonian, encode_ldos, encode_system
from qnets.fnn.model import FermionNetwork
from qnets.fnn.readouts import READOUTS, conductance_probability

__all__ = [
    "ENCODERS",
    "INTER_LAYER",
    "INTRA_LAYER",
    "READOUTS",
    "FermionNetwork",
    "conductance_probability",
    "encode_hamiltonian",
    "encode_ldos",
    "encode_system",
]
