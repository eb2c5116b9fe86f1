"""Atomic checkpoint files of a training run.

A run directory holds

* ``checkpoint.pt`` -- the state after the last completed epoch;
* ``checkpoint.prev.pt`` -- the state one epoch earlier (fallback if the newest is corrupt);
* ``metrics.jsonl`` -- one JSON object per completed epoch.

Every file is written atomically: the content goes to a temporary file in the same
folder, which is flushed and ``fsync``-ed and then moved over the target with
:func:`os.replace` (atomic on POSIX and Windows), so a crash leaves either the old
or the new file, never a truncated one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import torch

from qnets.errors import CheckpointError, QnetsWarning

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_KEYS",
    "CHECKPOINT_NAME",
    "METRICS_NAME",
    "PREV_CHECKPOINT_NAME",
    "atomic_write",
    "atomic_write_text",
    "load_checkpoint",
    "load_latest_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_NAME = "checkpoint.pt"
PREV_CHECKPOINT_NAME = "checkpoint.prev.pt"
METRICS_NAME = "metrics.jsonl"
#: Version number stored under ``"format"`` in every checkpoint written by qnets.
CHECKPOINT_FORMAT = 1
#: Keys every checkpoint dictionary must contain.
CHECKPOINT_KEYS: tuple[str, ...] = (
    "format",
    "epoch",
    "model_state",
    "optimizer_state",
    "generator_state",
    "history",
    "config",
)


def _fsync_dir(folder: Path) -> None:
    """Flush a directory entry to disk (best effort; a no-op where unsupported)."""
    if os.name != "posix":  # pragma: no cover - Windows cannot open directories
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _default_mode() -> int:
    """``0o666`` less the process umask: the mode ``open()`` would give a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[IO[bytes]], Any],
    *,
    prev_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Write a file atomically through a temporary file in the same folder.

    ``write(f)`` fills the binary file object ``f``; the temporary file is then
    flushed, ``fsync``-ed and moved over ``path`` with :func:`os.replace`. If
    ``prev_path`` is given and ``path`` exists, ``path`` is first renamed to
    ``prev_path`` (replacing it), so the previous version is kept.

    Parameters
    ----------
    path : path-like
        Target file. Its folder is created if missing.
    write : callable
        ``write(f)`` with ``f`` an open binary file.
    prev_path : path-like, optional
        Where to keep the previous version of ``path``.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, _default_mode())  # mkstemp makes 0600; use the umask like open()
        if prev_path is not None and path.exists():
            os.replace(path, prev_path)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(folder)
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    data = text.encode("utf-8")
    return atomic_write(path, lambda f: f.write(data))


def save_checkpoint(
    state: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    prev_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Save a checkpoint dictionary with :func:`torch.save`, atomically.

    Parameters
    ----------
    state : mapping
        Checkpoint content; must contain :data:`CHECKPOINT_KEYS` (tensors, plain
        Python containers and numbers only, so it loads with ``weights_only=True``).
    path : path-like
        Target, normally ``out_dir / "checkpoint.pt"``.
    prev_path : path-like, optional
        If given and ``path`` exists, the existing file is renamed to it first.

    Returns
    -------
    Path

    Raises
    ------
    CheckpointError
        If ``state`` lacks required keys.
    """
    missing = [k for k in CHECKPOINT_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"state: checkpoint dictionary lacks keys {missing}")
    payload = dict(state)
    return atomic_write(path, lambda f: torch.save(payload, f), prev_path=prev_path)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and sanity-check one checkpoint file (tensors mapped to the CPU).

    Uses ``torch.load(..., weights_only=True)``, so no arbitrary code is executed.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    dict
        With at least the keys :data:`CHECKPOINT_KEYS`.

    Raises
    ------
    CheckpointError
        If the file is missing, unreadable, not a qnets checkpoint, of an unknown
        format version, or internally inconsistent (``epoch != len(history)``).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt files
        raise CheckpointError(f"{path}: cannot be read ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a dict, found {type(state).__name__}")
    missing = [k for k in CHECKPOINT_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"{path}: not a qnets checkpoint, lacks keys {missing}")
    if state["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {state['format']!r}, this qnets reads {CHECKPOINT_FORMAT}"
        )
    epoch, history = state["epoch"], state["history"]
    if not (isinstance(epoch, int) and isinstance(history, list) and epoch == len(history)):
        raise CheckpointError(
            f"{path}: inconsistent checkpoint, epoch={epoch!r} but the history has "
            f"{len(history) if isinstance(history, list) else type(history).__name__} records"
        )
    if not isinstance(state["config"], dict):
        raise CheckpointError(f"{path}: config is {type(state['config']).__name__}, expected dict")
    return state


def load_latest_checkpoint(
    out_dir: str | os.PathLike[str],
) -> tuple[dict[str, Any], Path] | None:
    """Load the newest usable checkpoint of a run directory.

    Tries ``out_dir/checkpoint.pt``; if it is missing or unusable while
    ``checkpoint.prev.pt`` exists, warns (:class:`~qnets.errors.QnetsWarning`) and
    falls back to ``checkpoint.prev.pt``.

    Parameters
    ----------
    out_dir : path-like

    Returns
    -------
    (dict, Path) or None
        The checkpoint and the file it came from; ``None`` if neither file exists.

    Raises
    ------
    CheckpointError
        If a checkpoint file exists but none is usable; the message lists every
        file tried and why it failed.
    """
    out_dir = Path(out_dir)
    current, prev = out_dir / CHECKPOINT_NAME, out_dir / PREV_CHECKPOINT_NAME
    if not current.exists() and not prev.exists():
        return None
    failures: list[str] = []
    try:
        return load_checkpoint(current), current
    except CheckpointError as exc:
        failures.append(str(exc))
    if not prev.exists():
        raise CheckpointError(
            f"no usable checkpoint in {out_dir}; tried {current.name}: {failures[0]}; "
            f"{prev.name}: file does not exist"
        )
    warnings.warn(
        f"{current} is unusable ({failures[0]}); falling back to {prev}",
        QnetsWarning,
        stacklevel=2,
    )
    try:
        return load_checkpoint(prev), prev
    except CheckpointError as exc:
        failures.append(str(exc))
    raise CheckpointError(
        f"no usable checkpoint in {out_dir}; tried {current.name}: {failures[0]}; "
        f"{prev.name}: {failures[1]}"
    )
