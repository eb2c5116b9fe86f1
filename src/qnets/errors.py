"""Exception and warning classes of qnets.

Every error raised at a public boundary names the argument, what was expected and
what was received, so that the message alone tells the user what to change.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ClusterError",
    "ConfigError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataError",
    "DegeneracyWarning",
    "DomainError",
    "KinkWarning",
    "NumericalError",
    "PrecisionWarning",
    "QnetsError",
    "QnetsWarning",
    "ShapeError",
    "SizeLimitError",
    "SweepError",
]


class QnetsError(Exception):
    """Base class of every error raised by qnets."""


class ConfigError(QnetsError, ValueError):
    """A configuration value or option name is invalid."""


class ShapeError(QnetsError, ValueError):
    """An array has the wrong shape or its sizes do not match another argument."""


class DataError(QnetsError, FileNotFoundError):
    """A data set file is missing, truncated or corrupt."""


class SizeLimitError(QnetsError, MemoryError):
    """A dense object would exceed the size limit; the message names the scalable route."""


class CheckpointError(QnetsError, RuntimeError):
    """A checkpoint cannot be read or does not match the run it should resume."""


class NumericalError(QnetsError, FloatingPointError):
    """A computation produced NaN or infinite values (e.g. a diverging training run)."""


class QnetsWarning(UserWarning):
    """Base class of every warning emitted by qnets."""


class PrecisionWarning(QnetsWarning):
    """A numerical setting is too demanding for the chosen dtype (e.g. a tiny broadening)."""


class DomainError(QnetsError, ValueError):
    """An input lies outside the domain of a map (e.g. pixels outside [0, 1] for a feature map)."""


class SweepError(QnetsError, RuntimeError):
    """A sweep stopped: a grid point failed every attempt, or a worker died.

    ``index`` and ``point`` are the grid index and the point (``None`` when unknown).
    """

    def __init__(self, message: str, *, index: int | None = None, point=None):
        super().__init__(message)
        self.index = index
        self.point = point


class ClusterError(QnetsError, ConnectionError):
    """A compute cluster (e.g. a Dask scheduler) cannot be reached or refuses the work."""


class ConvergenceError(QnetsError, ArithmeticError):
    """A self-consistent iteration (e.g. DMFT) did not converge; ``residual`` is its last residual."""

    def __init__(self, message: str, *, residual: float | None = None):
        super().__init__(message)
        self.residual = residual


class DegeneracyWarning(QnetsWarning):
    """The ground state is (nearly) degenerate: its expectation values are ill defined."""


class ConvergenceWarning(QnetsWarning):
    """An iterative solver stopped before meeting its tolerance; the result is approximate."""


class KinkWarning(QnetsWarning):
    """A loss is evaluated at a kink (e.g. −|⟨O⟩| at ⟨O⟩ ≈ 0): its error signal is arbitrary."""
