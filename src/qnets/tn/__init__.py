"""Tensor networks as deep networks: MPS / tree / ConvAC models, their entanglement, min-cut width design.

Spec: ``specs/tn.md``.
"""

from __future__ import annotations

__all__: list[str] = []
