"""Lattice geometry: site indexing and neighbour bonds."""

from qnets.lattices.square import SquareLattice

__all__ = ["SquareLattice"]
