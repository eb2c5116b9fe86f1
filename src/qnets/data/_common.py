"""Argument checks shared by the data loaders (private)."""

from __future__ import annotations

import numbers

import numpy as np

from qnets.errors import ConfigError

__all__: list[str] = []

_SPLITS = ("train", "test")


def _check_split(split: object) -> str:
    """Return ``split`` if it is ``"train"`` or ``"test"``, else raise ConfigError."""
    if not isinstance(split, str) or split not in _SPLITS:
        allowed = ", ".join(repr(s) for s in _SPLITS)
        raise ConfigError(f"split must be one of {allowed}; got {split!r}")
    return split


def _check_bool(name: str, value: object) -> bool:
    """Return ``value`` as a bool if it is one (numpy bools included), else raise ConfigError."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ConfigError(f"{name} must be True or False; got {value!r}")


def _check_dtype(dtype: object, normalize: bool) -> np.dtype:
    """Return ``np.dtype(dtype)``; a normalised output needs a floating dtype."""
    try:
        if dtype is None:
            raise TypeError("None is not a dtype")
        dt = np.dtype(dtype)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"dtype must be a numpy dtype such as np.float32; got {dtype!r}") from exc
    if not (np.issubdtype(dt, np.floating) or np.issubdtype(dt, np.integer)):
        raise ConfigError(f"dtype must be a real numeric dtype; got {dt}")
    if normalize and not np.issubdtype(dt, np.floating):
        raise ConfigError(
            f"dtype must be a floating dtype (e.g. np.float32) when normalize=True, because "
            f"pixel values are scaled into [0, 1]; got {dt}. Pass normalize=False to get the "
            f"raw integer pixel values cast to {dt}."
        )
    return dt


def _check_positive_int(name: str, value: object, *, none_ok: bool = False) -> int:
    """Return ``value`` as an int if it is a positive integer (bools excluded)."""
    expected = "a positive integer or None" if none_ok else "a positive integer"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be {expected}; got {value!r}")
    if value < 1:
        raise ConfigError(f"{name} must be {expected}; got {value!r}")
    return int(value)
