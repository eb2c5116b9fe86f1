"""MNIST and Fashion-MNIST loaders with checksum verification.

The four idx files of a data set (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each plain or gzip-compressed with
``.gz``) are looked up in a data folder, either directly or in a ``mnist/`` (resp.
``fashion-mnist/``) subfolder. The data folder is, in order of precedence, the ``root=``
argument, the ``QNETS_DATA`` environment variable, or ``~/.cache/qnets``.

Every file is checked on first use: idx magic number, header dimensions, size and the md5 of the
decompressed content. Verified arrays are cached in-process, so repeated loads are cheap.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.client
import logging
import math
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qnets.data._common import _check_bool, _check_dtype, _check_positive_int, _check_split
from qnets.errors import ConfigError, DataError

__all__ = ["data_root", "load_fashion_mnist", "load_mnist"]

_log = logging.getLogger(__name__)

_ENV_VAR = "QNETS_DATA"
_DEFAULT_ROOT = "~/.cache/qnets"
_IMAGE_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
_LABEL_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
_SIDE = 28
_COUNTS = {"train": 60000, "test": 10000}
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_DOWNLOAD_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class _Dataset:
    key: str  # value of data_root's ``dataset`` argument
    title: str  # name used in messages
    subdir: str  # subfolder of the data folder
    loader: str  # public loader, named in messages
    mirrors: tuple[str, ...]
    md5: tuple[tuple[str, str], ...]  # (file name, md5 of the decompressed content)

    def expected_md5(self, name: str) -> str:
        return dict(self.md5)[name]


_MNIST = _Dataset(
    key="mnist",
    title="MNIST",
    subdir="mnist",
    loader="load_mnist",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    md5=(
        ("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
        ("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
        ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
        ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
    ),
)

_FASHION = _Dataset(
    key="fashion-mnist",
    title="Fashion-MNIST",
    subdir="fashion-mnist",
    loader="load_fashion_mnist",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    md5=(
        ("train-images-idx3-ubyte", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        ("train-labels-idx1-ubyte", "9018921c3c673c538a1fc5bad174d6f9"),
        ("t10k-images-idx3-ubyte", "8181f5470baa50b63fa0f6fddb340f0a"),
        ("t10k-labels-idx1-ubyte", "15d484375f8d13e6eb1aabb0c3f46965"),
    ),
)

_DATASETS = {d.key: d for d in (_MNIST, _FASHION)}


# --------------------------------------------------------------------------- public API


def data_root(root=None, dataset="mnist") -> Path:
    """Return the folder that holds (or would receive) a data set's files.

    The data folder is ``root`` if given, else the ``QNETS_DATA`` environment variable if set
    and non-empty, else ``~/.cache/qnets``. If that folder directly contains any of the data
    set's idx files (plain or ``.gz``) it is returned; otherwise its ``mnist/`` (resp.
    ``fashion-mnist/``) subfolder is returned, which is also where ``download=True`` saves
    files. The folder need not exist.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Data folder; ``~`` is expanded. Overrides ``QNETS_DATA``.
    dataset : {"mnist", "fashion-mnist"}, default "mnist"
        Which data set's files to look for.

    Returns
    -------
    pathlib.Path
        The folder holding the data set's files, or the default location for them.

    Raises
    ------
    ConfigError
        If ``dataset`` is not a known data set or ``root`` is not a path.

    Examples
    --------
    >>> data_root("../shared/data")  # doctest: +SKIP
    PosixPath('../shared/data/mnist')
    """
    spec = _dataset_spec(dataset)
    base, _ = _resolve_base(root)
    names = [name for name, _ in spec.md5]
    if any(_find_file([base], name) is not None for name in names):
        return base
    return base / spec.subdir


def load_mnist(
    split="train",
    *,
    root=None,
    download=False,
    normalize=True,
    flatten=False,
    dtype=np.float32,
    limit=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load the MNIST handwritten digits (60000 train / 10000 test images of 28x28 pixels).

    Parameters
    ----------
    split : {"train", "test"}, default "train"
        Which split to load; ``"test"`` reads the ``t10k-*`` files.
    root : str or os.PathLike, optional
        Data folder holding the idx files directly or in a ``mnist/`` subfolder. Defaults to
        the ``QNETS_DATA`` environment variable, then ``~/.cache/qnets``.
    download : bool, default False
        Fetch missing files from the public mirrors into ``<data folder>/mnist/``.
        Needs internet access. Files that exist but are corrupt are never overwritten.
    normalize : bool, default True
        Scale pixels to ``[0, 1]`` by dividing by 255 (like torchvision's ``ToTensor``; no
        mean/std standardisation). If False, the raw 0..255 values are cast to ``dtype``.
    flatten : bool, default False
        Return images as ``(N, 784)`` instead of ``(N, 28, 28)``.
    dtype : numpy dtype, default np.float32
        Dtype of the returned images; must be floating when ``normalize`` is True.
    limit : int, optional
        Return only the first ``limit`` samples (all of them if ``limit`` exceeds the split).

    Returns
    -------
    images : numpy.ndarray
        ``(N, 28, 28)`` or ``(N, 784)`` array of ``dtype``.
    labels : numpy.ndarray
        ``(N,)`` int64 array of digit labels 0..9.

    Raises
    ------
    DataError
        If a file is missing (the message lists the expected names and the folders searched),
        or is truncated or corrupt (wrong magic number, dimensions, size or md5), or the
        download failed.
    ConfigError
        If an argument is invalid (e.g. ``split`` not ``"train"``/``"test"``).

    Examples
    --------
    >>> x, y = load_mnist("test", root="../shared/data", limit=5)  # doctest: +SKIP
    >>> x.shape, x.dtype, y  # doctest: +SKIP
    ((5, 28, 28), dtype('float32'), array([7, 2, 1, 0, 4]))
    """
    return _load(
        _MNIST,
        split,
        root=root,
        download=download,
        normalize=normalize,
        flatten=flatten,
        dtype=dtype,
        limit=limit,
    )


def load_fashion_mnist(
    split="train",
    *,
    root=None,
    download=False,
    normalize=True,
    flatten=False,
    dtype=np.float32,
    limit=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST (Zalando clothing images; 60000 train / 10000 test, 28x28 pixels).

    Same file layout and interface as :func:`load_mnist`; the files are looked up directly in
    the data folder or in its ``fashion-mnist/`` subfolder.

    Parameters
    ----------
    split : {"train", "test"}, default "train"
        Which split to load; ``"test"`` reads the ``t10k-*`` files.
    root : str or os.PathLike, optional
        Data folder holding the idx files directly or in a ``fashion-mnist/`` subfolder.
        Defaults to the ``QNETS_DATA`` environment variable, then ``~/.cache/qnets``.
    download : bool, default False
        Fetch missing files from the public mirror into ``<data folder>/fashion-mnist/``.
        Needs internet access. Files that exist but are corrupt are never overwritten.
    normalize : bool, default True
        Scale pixels to ``[0, 1]`` by dividing by 255 (no mean/std standardisation). If False,
        the raw 0..255 values are cast to ``dtype``.
    flatten : bool, default False
        Return images as ``(N, 784)`` instead of ``(N, 28, 28)``.
    dtype : numpy dtype, default np.float32
        Dtype of the returned images; must be floating when ``normalize`` is True.
    limit : int, optional
        Return only the first ``limit`` samples (all of them if ``limit`` exceeds the split).

    Returns
    -------
    images : numpy.ndarray
        ``(N, 28, 28)`` or ``(N, 784)`` array of ``dtype``.
    labels : numpy.ndarray
        ``(N,)`` int64 array of class labels 0..9.

    Raises
    ------
    DataError
        If a file is missing, truncated or corrupt, or the download failed.
    ConfigError
        If an argument is invalid.

    Examples
    --------
    >>> x, y = load_fashion_mnist("test", root="../shared/data", flatten=True)  # doctest: +SKIP
    >>> x.shape  # doctest: +SKIP
    (10000, 784)
    """
    return _load(
        _FASHION,
        split,
        root=root,
        download=download,
        normalize=normalize,
        flatten=flatten,
        dtype=dtype,
        limit=limit,
    )


# --------------------------------------------------------------------------- loading


def _load(spec, split, *, root, download, normalize, flatten, dtype, limit):
    split = _check_split(split)
    download = _check_bool("download", download)
    normalize = _check_bool("normalize", normalize)
    flatten = _check_bool("flatten", flatten)
    dt = _check_dtype(dtype, normalize)
    if limit is not None:
        limit = _check_positive_int("limit", limit, none_ok=True)

    base, source = _resolve_base(root)
    dirs = [base, base / spec.subdir]
    names = _FILES[split]
    found = {name: _find_file(dirs, name) for name in names}
    missing = [name for name in names if found[name] is None]
    if missing and download:
        _download(spec, missing, base / spec.subdir)
        found = {name: _find_file(dirs, name) for name in names}
        missing = [name for name in names if found[name] is None]
    if missing:
        raise DataError(_missing_message(spec, split, names, missing, dirs, source, base))

    n = _COUNTS[split]
    image_name, label_name = names
    images = _verified(found[image_name], spec, image_name, _IMAGE_MAGIC, (n, _SIDE, _SIDE))
    labels = _verified(found[label_name], spec, label_name, _LABEL_MAGIC, (n,))

    if limit is not None:
        n = min(n, limit)
    out = images[:n].astype(dt)
    if normalize:
        out /= dt.type(255)
    if flatten:
        out = out.reshape(n, _SIDE * _SIDE)
    return out, labels[:n].astype(np.int64)


def _dataset_spec(dataset) -> _Dataset:
    if not isinstance(dataset, str) or dataset not in _DATASETS:
        allowed = ", ".join(repr(k) for k in _DATASETS)
        raise ConfigError(f"dataset must be one of {allowed}; got {dataset!r}")
    return _DATASETS[dataset]


def _resolve_base(root) -> tuple[Path, str]:
    """Return the data folder and a phrase saying where it came from."""
    if root is not None:
        if not isinstance(root, (str, os.PathLike)):
            raise ConfigError(f"root must be a path (str or os.PathLike) or None; got {root!r}")
        return Path(os.fspath(root)).expanduser(), "the root= argument"
    env = os.environ.get(_ENV_VAR, "")
    if env.strip():
        return Path(env).expanduser(), f"the {_ENV_VAR} environment variable"
    return Path(_DEFAULT_ROOT).expanduser(), f"the default (no root= given, {_ENV_VAR} unset)"


def _find_file(dirs, name) -> Path | None:
    """First existing ``<dir>/<name>`` or ``<dir>/<name>.gz`` over ``dirs``, plain first."""
    for folder in dirs:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _missing_message(spec, split, names, missing, dirs, source, base) -> str:
    expected = ", ".join(f"'{n}' (or '{n}.gz')" for n in names)
    lacking = ", ".join(f"'{n}'" for n in missing)
    looked = ", ".join(f"'{d}'" for d in dirs)
    return (
        f"{spec.title} {split} split: file(s) not found: {lacking}. "
        f"Expected files: {expected}. "
        f"Looked in: {looked} (data folder from {source}). "
        f"To fix: pass root=<folder holding the files directly or in a '{spec.subdir}/' "
        f"subfolder>, or set the {_ENV_VAR} environment variable to such a folder, "
        f"or call {spec.loader}(..., download=True) on a machine with internet access "
        f"(files are saved to '{base / spec.subdir}')."
    )


def _verified(path: Path, spec: _Dataset, name: str, magic: int, dims: tuple[int, ...]):
    """Read, structurally check and md5-check one idx file; cached per file version."""
    resolved = path.resolve()
    try:
        st = resolved.stat()
    except OSError as exc:
        raise DataError(f"{spec.title} file '{path}' cannot be read: {exc}") from exc
    array, digest = _read_idx_cached(str(resolved), st.st_size, st.st_mtime_ns, magic, dims)
    expected = spec.expected_md5(name)
    if digest != expected:
        raise DataError(_md5_message(path, spec, name, expected, digest))
    return array


def _md5_message(path, spec, name, expected, found) -> str:
    msg = (
        f"{spec.title} file '{path}' is corrupt or not the expected file: md5 of the "
        f"decompressed content is {found}, expected {expected} ({spec.title} '{name}')."
    )
    for other in _DATASETS.values():
        if other is not spec and other.expected_md5(name) == found:
            msg += (
                f" It is the {other.title} file of the same name: point root= at the "
                f"{spec.title} files (e.g. a folder with a '{spec.subdir}/' subfolder)."
            )
            break
    else:
        msg += " Replace it with a good copy, or delete it and load again with download=True."
    return msg


@functools.lru_cache(maxsize=8)
def _read_idx_cached(path: str, size: int, mtime_ns: int, magic: int, dims: tuple[int, ...]):
    """Return ``(read-only uint8 array, md5 hex digest)`` of one file version.

    ``size`` and ``mtime_ns`` are only part of the cache key, so that a replaced file is read
    again. Errors are raised, not cached.
    """
    data = _read_bytes(Path(path))
    array = _parse_idx(data, path, magic, dims)
    return array, hashlib.md5(data, usedforsecurity=False).hexdigest()


def _read_bytes(path: Path, gz: bool | None = None) -> bytes:
    """Content of ``path``, gunzipped if ``gz`` (default: if its name ends in ``.gz``)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"file '{path}' cannot be read: {exc}") from exc
    if not (path.suffix == ".gz" if gz is None else gz):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"file '{path}' is not a valid gzip file or is truncated "
            f"({len(raw)} compressed bytes): {exc}. Replace it with a good copy, or delete it "
            f"and load again with download=True."
        ) from exc


def _parse_idx(data: bytes, source: str, magic: int, dims: tuple[int, ...]) -> np.ndarray:
    """Check an idx file's header and size against the expectation and return its array.

    The array is a read-only view of ``data`` (uint8, shape ``dims``).
    """
    ndim = len(dims)
    header = 4 + 4 * ndim
    expected_len = header + math.prod(dims)
    kind = "images" if ndim == 3 else "labels"
    if len(data) < 4:
        raise DataError(
            f"file '{source}' is truncated: {len(data)} bytes (decompressed), expected "
            f"{expected_len} bytes for an idx {kind} file of shape {dims}"
        )
    found_magic = int.from_bytes(data[:4], "big")
    if found_magic != magic:
        raise DataError(
            f"file '{source}' has a bad idx magic number: found 0x{found_magic:08X}, expected "
            f"0x{magic:08X} (unsigned bytes, {ndim} dimension(s), i.e. an idx {kind} file). "
            f"It is not an uncompressed idx {kind} file or it is corrupt."
        )
    if len(data) < header:
        raise DataError(
            f"file '{source}' is truncated inside its header: {len(data)} bytes "
            f"(decompressed), expected {expected_len} bytes"
        )
    found_dims = tuple(int(d) for d in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    if found_dims != dims:
        raise DataError(
            f"file '{source}' has wrong idx dimensions: found {found_dims}, expected {dims}"
        )
    if len(data) != expected_len:
        what = "truncated" if len(data) < expected_len else "longer than its header says"
        raise DataError(
            f"file '{source}' is {what}: {len(data)} bytes (decompressed), expected "
            f"{expected_len} bytes ({header}-byte header + {math.prod(dims)} data bytes "
            f"for shape {dims})"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


# --------------------------------------------------------------------------- download


def _download(spec: _Dataset, names, target: Path) -> None:
    """Fetch ``<name>.gz`` for each name into ``target``, verifying each before it lands."""
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the download folder '{target}': {exc}") from exc
    for name in names:
        errors = []
        for mirror in spec.mirrors:
            url = f"{mirror}{name}.gz"
            try:
                _fetch_verified(url, target / f"{name}.gz", spec, name)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                errors.append(f"{url}: {exc}")
                _log.warning("download of %s failed: %s", url, exc)
                continue
            break
        else:
            tried = "; ".join(errors)
            raise DataError(
                f"{spec.title}: could not download '{name}.gz' from any mirror ({tried}). "
                f"Without internet access, copy the files to a folder by hand and pass "
                f"root=<that folder> or set {_ENV_VAR}."
            )


def _fetch_verified(url: str, dest: Path, spec: _Dataset, name: str) -> None:
    """Download ``url`` to a temporary file next to ``dest``, verify it, then rename it."""
    _log.info("downloading %s to %s", url, dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            request = urllib.request.Request(url, headers={"User-Agent": "qnets"})
            with urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT_S) as response:
                shutil.copyfileobj(response, fh, 1 << 20)
        data = _read_bytes(Path(tmp), gz=True)
        split = "train" if name.startswith("train") else "test"
        n = _COUNTS[split]
        if "images" in name:
            _parse_idx(data, url, _IMAGE_MAGIC, (n, _SIDE, _SIDE))
        else:
            _parse_idx(data, url, _LABEL_MAGIC, (n,))
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if digest != spec.expected_md5(name):
            raise DataError(_md5_message(url, spec, name, spec.expected_md5(name), digest))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; downloads are data for everyone
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
