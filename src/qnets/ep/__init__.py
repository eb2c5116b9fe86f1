"""Equilibrium propagation: quantum EP (gradients from one nudged equilibrium) and classical EP.

Spec: ``specs/qep.md``.
"""

from __future__ import annotations

__all__: list[str] = []
