"""Layered Green's functions: recursion with adjoint backward, dense oracle, reference."""

from qnets.greens.dense import block_tridiagonal, dense_greens
from qnets.greens.recursion import LayeredGreens, layered_greens
from qnets.greens.reference import reference_layered_greens

__all__ = [
    "LayeredGreens",
    "block_tridiagonal",
    "dense_greens",
    "layered_greens",
    "reference_layered_greens",
]
