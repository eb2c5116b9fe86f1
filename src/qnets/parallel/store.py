"""On-disk partial results of a sweep, written atomically so an interrupted sweep resumes.

A checkpoint folder holds

* ``sweep.json`` — the manifest: format, a key identifying the sweep (function name and
  a hash of the grid points), the number of points;
* ``part-<n>.pkl`` — pickled ``{"format", "key", "results": {index: value}}`` with the
  results completed since the previous part, each file written through a temporary file
  and :func:`os.replace` (a crash leaves whole files only).

On resume every readable part is loaded; a part that cannot be read is reported with a
:class:`~qnets.errors.QnetsWarning` and its points are computed again. A manifest of a
different sweep is refused (:class:`~qnets.errors.CheckpointError`). When the sweep
completes, the parts are merged into one.

Parts are pickles: load checkpoint folders you wrote yourself only.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qnets.errors import CheckpointError, QnetsWarning

__all__ = ["SweepStore", "sweep_key"]

_FORMAT = 1
_MANIFEST = "sweep.json"


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then ``os.replace``.

    (``qnets.training.atomic_write`` does the same but imports torch; this package must
    stay light for worker start-up.)
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _describe(fn: Callable) -> str:
    if isinstance(fn, functools.partial):  # fixed arguments are part of the sweep's identity
        keywords = ", ".join(f"{k}={v!r}" for k, v in sorted(fn.keywords.items()))
        return f"{_describe(fn.func)}({', '.join(map(repr, fn.args))}; {keywords})"
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return f"{module}.{name}"


def sweep_key(fn: Callable, points: Sequence[Any]) -> str:
    """Identify a sweep: ``"<module>.<function>:<sha256 of the points' repr>[:16]"``."""
    digest = hashlib.sha256()
    for point in points:
        digest.update(repr(point).encode())
        digest.update(b"\0")
    return f"{_describe(fn)}:{digest.hexdigest()[:16]}"


class SweepStore:
    """Partial results of one sweep in ``folder`` (see the module docstring).

    Parameters
    ----------
    folder : path-like
        Checkpoint folder (created if missing).
    key : str
        :func:`sweep_key` of the sweep.
    n_points : int
        Number of grid points.

    Raises
    ------
    CheckpointError
        If the folder holds the manifest of another sweep or an unreadable manifest.
    """

    def __init__(self, folder: str | os.PathLike, key: str, n_points: int):
        self.folder = Path(folder)
        self.key = key
        self.n_points = int(n_points)
        self.folder.mkdir(parents=True, exist_ok=True)
        manifest = self.folder / _MANIFEST
        if manifest.exists():
            try:
                stored = json.loads(manifest.read_text())
            except (OSError, ValueError) as exc:
                raise CheckpointError(f"{manifest}: cannot be read ({exc}); delete the folder to restart") from exc
            if stored.get("key") != key or stored.get("n_points") != self.n_points:
                raise CheckpointError(
                    f"checkpoint_dir {self.folder} belongs to another sweep ({stored.get('key')!r}, "
                    f"{stored.get('n_points')} points), not this one ({key!r}, {self.n_points} points); "
                    "use another checkpoint_dir or delete it"
                )
        else:
            manifest_text = json.dumps({"format": _FORMAT, "key": key, "n_points": self.n_points})
            _write_atomically(manifest, (manifest_text + "\n").encode())
        self._parts = sorted(self.folder.glob("part-*.pkl"))
        self._next = 1 + max((int(p.stem.split("-")[1]) for p in self._parts), default=-1)

    def load(self) -> dict[int, Any]:
        """Results stored so far, ``{grid index: value}``; unreadable parts warn and are skipped."""
        results: dict[int, Any] = {}
        for path in self._parts:
            try:
                with open(path, "rb") as f:
                    data = pickle.load(f)
                if not isinstance(data, dict) or data.get("format") != _FORMAT:
                    raise ValueError("not a qnets sweep part")
                if data.get("key") != self.key:
                    raise ValueError(f"written by another sweep ({data.get('key')!r})")
                part = data["results"]
                if any(not 0 <= int(i) < self.n_points for i in part):
                    raise ValueError("grid index out of range")
            except Exception as exc:  # noqa: BLE001 - any unpickling failure: the part is unusable
                warnings.warn(
                    f"{path}: unusable sweep checkpoint part ({type(exc).__name__}: {exc}); "
                    "its grid points are computed again",
                    QnetsWarning,
                    stacklevel=3,
                )
                continue
            results.update({int(i): v for i, v in part.items()})
        return results

    def save(self, results: dict[int, Any]) -> Path | None:
        """Write ``results`` (new ones only) as the next part file, atomically."""
        if not results:
            return None
        path = self.folder / f"part-{self._next:06d}.pkl"
        payload = {"format": _FORMAT, "key": self.key, "results": dict(results)}
        _write_atomically(path, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        self._next += 1
        self._parts.append(path)
        return path

    def consolidate(self, results: dict[int, Any]) -> None:
        """Replace all parts by one holding ``results`` (called when the sweep completes)."""
        old = list(self._parts)
        self._parts = []
        self.save(results)
        for path in old:
            path.unlink(missing_ok=True)
