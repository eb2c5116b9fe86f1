"""Tests of qnets.data.mnist against the real idx files in ../shared/data."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from qnets.data import data_root, load_fashion_mnist, load_mnist
from qnets.errors import ConfigError, DataError

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

IMAGES_TEST = "t10k-images-idx3-ubyte"
LABELS_TEST = "t10k-labels-idx1-ubyte"


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"shared MNIST data folder {SHARED_DATA / 'mnist'} does not exist")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    """Tests must not depend on the caller's QNETS_DATA."""
    monkeypatch.delenv("QNETS_DATA", raising=False)


# --------------------------------------------------------------------------- real files


@pytest.mark.parametrize(
    ("split", "n", "first"), [("train", 60000, [5, 0, 4, 1, 9]), ("test", 10000, [7, 2, 1, 0, 4])]
)
def test_mnist_splits(shared_data, split, n, first):
    x, y = load_mnist(split, root=shared_data)
    assert x.shape == (n, 28, 28)
    assert x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert y.shape == (n,) and y.dtype == np.int64
    assert y.min() == 0 and y.max() == 9
    assert set(np.unique(y)) == set(range(10))
    assert y[:5].tolist() == first


def test_fashion_mnist_test_split(shared_data):
    if not (shared_data / "fashion-mnist").is_dir():
        pytest.skip(f"{shared_data / 'fashion-mnist'} does not exist")
    x, y = load_fashion_mnist("test", root=shared_data)
    assert x.shape == (10000, 28, 28) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    assert np.bincount(y).tolist() == [1000] * 10
    assert y[:5].tolist() == [9, 2, 1, 1, 6]


def test_both_root_forms(shared_data):
    xa, ya = load_mnist("test", root=shared_data, limit=50)
    xb, yb = load_mnist("test", root=shared_data / "mnist", limit=50)
    xc, yc = load_mnist("test", root=str(shared_data / "mnist"), limit=50)
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(xa, xc)
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(ya, yc)
    assert data_root(shared_data) == shared_data / "mnist"
    assert data_root(shared_data / "mnist") == shared_data / "mnist"
    assert data_root(shared_data, "fashion-mnist") == shared_data / "fashion-mnist"


def test_env_var_resolution(shared_data, monkeypatch, tmp_path):
    monkeypatch.setenv("QNETS_DATA", str(shared_data))
    x, _ = load_mnist("test", limit=10)
    assert x.shape == (10, 28, 28)
    assert data_root() == shared_data / "mnist"
    # root= takes precedence over the environment variable
    monkeypatch.setenv("QNETS_DATA", str(tmp_path))
    x2, _ = load_mnist("test", root=shared_data, limit=10)
    np.testing.assert_array_equal(x, x2)
    with pytest.raises(DataError, match="QNETS_DATA environment variable"):
        load_mnist("test")


def test_default_root_is_user_cache(monkeypatch):
    base = Path("~/.cache/qnets").expanduser()
    assert data_root() in (base, base / "mnist")
    assert data_root(dataset="fashion-mnist").name == "fashion-mnist"
    with pytest.raises(ConfigError, match="dataset"):
        data_root(dataset="cifar10")


def test_limit_flatten_raw(shared_data):
    x, y = load_mnist("test", root=shared_data)
    xl, yl = load_mnist("test", root=shared_data, limit=7)
    assert xl.shape == (7, 28, 28) and yl.shape == (7,)
    np.testing.assert_array_equal(xl, x[:7])
    np.testing.assert_array_equal(yl, y[:7])
    xbig, _ = load_mnist("test", root=shared_data, limit=10**6)
    assert xbig.shape[0] == 10000

    xf, _ = load_mnist("test", root=shared_data, flatten=True, limit=3)
    assert xf.shape == (3, 784)
    np.testing.assert_array_equal(xf, x[:3].reshape(3, 784))

    raw, _ = load_mnist("test", root=shared_data, normalize=False, dtype=np.uint8, limit=100)
    assert raw.dtype == np.uint8 and raw.max() == 255
    np.testing.assert_array_equal(raw.astype(np.float32) / np.float32(255), x[:100])

    x64, _ = load_mnist("test", root=shared_data, dtype=np.float64, limit=3)
    assert x64.dtype == np.float64


def test_results_are_independent_copies(shared_data):
    x, y = load_mnist("test", root=shared_data, limit=5)
    x[:] = -1.0
    y[:] = -1
    x2, y2 = load_mnist("test", root=shared_data, limit=5)
    assert x2.min() >= 0.0 and y2.min() >= 0


@pytest.mark.parametrize("limit", [0, -3, 2.5, True, "10"])
def test_bad_limit(shared_data, limit):
    with pytest.raises(ConfigError, match="limit"):
        load_mnist("test", root=shared_data, limit=limit)


@pytest.mark.parametrize("split", ["val", "TRAIN", None, 0])
def test_bad_split(split):
    with pytest.raises(ConfigError) as err:
        load_mnist(split)
    msg = str(err.value)
    assert "split" in msg and "'train'" in msg and "'test'" in msg and repr(split) in msg
    with pytest.raises(ConfigError, match="split"):
        load_fashion_mnist(split)


def test_integer_dtype_with_normalize_rejected():
    with pytest.raises(ConfigError, match="floating"):
        load_mnist("test", dtype=np.uint8)


def test_wrong_dataset_folder_is_detected(shared_data):
    # MNIST files found where Fashion-MNIST files are expected: same names, other md5
    with pytest.raises(DataError, match="MNIST file of the same name"):
        load_fashion_mnist("test", root=shared_data / "mnist")


# --------------------------------------------------------------------------- missing files


def test_missing_files_message(tmp_path):
    with pytest.raises(DataError) as err:
        load_mnist("test", root=tmp_path)
    msg = str(err.value)
    for needle in (
        "MNIST",
        IMAGES_TEST,
        f"{IMAGES_TEST}.gz",
        LABELS_TEST,
        f"{LABELS_TEST}.gz",
        str(tmp_path),
        str(tmp_path / "mnist"),
        "root=",
        "QNETS_DATA",
        "download=True",
    ):
        assert needle in msg, needle
    assert isinstance(err.value, FileNotFoundError)


def test_missing_fashion_files_message(tmp_path):
    with pytest.raises(DataError) as err:
        load_fashion_mnist("train", root=tmp_path)
    msg = str(err.value)
    assert "Fashion-MNIST" in msg and "train-images-idx3-ubyte" in msg
    assert str(tmp_path / "fashion-mnist") in msg and "load_fashion_mnist" in msg


def test_missing_one_file(shared_data, tmp_path):
    _link(shared_data / "mnist" / f"{IMAGES_TEST}.gz", tmp_path / f"{IMAGES_TEST}.gz")
    with pytest.raises(DataError, match=f"not found: '{LABELS_TEST}'"):
        load_mnist("test", root=tmp_path)


# --------------------------------------------------------------------------- corrupt files


def _link(src: Path, dst: Path) -> None:
    try:
        os.symlink(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _truncate(b: bytes) -> bytes:
    return b[:-10]


def _flip_label(b: bytes) -> bytes:
    arr = bytearray(b)
    arr[100] = (arr[100] + 1) % 10
    return bytes(arr)


def _bad_magic(b: bytes) -> bytes:
    return b"\x00\x00\x08\x03" + b[4:]


def _bad_dims(b: bytes) -> bytes:
    return b[:4] + (9999).to_bytes(4, "big") + b[8:]


def _extra(b: bytes) -> bytes:
    return b + b"\x00"


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "plain"])
@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (_truncate, "truncated"),
        (_flip_label, "md5"),
        (_bad_magic, "magic"),
        (_bad_dims, "dimensions"),
        (_extra, "longer than"),
    ],
    ids=["truncated", "altered", "magic", "dims", "extra"],
)
def test_corrupt_labels_file(shared_data, tmp_path, mutate, needle, gz):
    good = gzip.decompress((shared_data / "mnist" / f"{LABELS_TEST}.gz").read_bytes())
    _link(shared_data / "mnist" / f"{IMAGES_TEST}.gz", tmp_path / f"{IMAGES_TEST}.gz")
    bad = mutate(good)
    target = tmp_path / (f"{LABELS_TEST}.gz" if gz else LABELS_TEST)
    target.write_bytes(gzip.compress(bad) if gz else bad)
    with pytest.raises(DataError, match=needle) as err:
        load_mnist("test", root=tmp_path)
    msg = str(err.value)
    assert str(target) in msg
    assert "expected" in msg


def test_truncated_gzip_stream(shared_data, tmp_path):
    packed = (shared_data / "mnist" / f"{LABELS_TEST}.gz").read_bytes()
    _link(shared_data / "mnist" / f"{IMAGES_TEST}.gz", tmp_path / f"{IMAGES_TEST}.gz")
    target = tmp_path / f"{LABELS_TEST}.gz"
    target.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match="gzip") as err:
        load_mnist("test", root=tmp_path)
    assert str(target) in str(err.value)


def test_replaced_file_is_reread(shared_data, tmp_path):
    """The in-process cache must not hide a file that changed on disk."""
    good_gz = (shared_data / "mnist" / f"{LABELS_TEST}.gz").read_bytes()
    _link(shared_data / "mnist" / f"{IMAGES_TEST}.gz", tmp_path / f"{IMAGES_TEST}.gz")
    target = tmp_path / LABELS_TEST
    target.write_bytes(gzip.decompress(good_gz))
    _, y = load_mnist("test", root=tmp_path, limit=3)
    assert y.tolist() == [7, 2, 1]
    target.write_bytes(_truncate(gzip.decompress(good_gz)))
    with pytest.raises(DataError, match="truncated"):
        load_mnist("test", root=tmp_path)


# --------------------------------------------------------------------------- download (no network)


class _FakeUrlopen:
    """Stand-in for urllib.request.urlopen serving the shared files; records requested URLs."""

    def __init__(self, folder: Path, fail_first: bool = False, corrupt: bool = False):
        self.folder, self.fail_first, self.corrupt = folder, fail_first, corrupt
        self.urls: list[str] = []

    def __call__(self, request, timeout=None):
        import io
        import urllib.error

        url = request.full_url
        self.urls.append(url)
        if self.fail_first and len(self.urls) % 2 == 1:
            raise urllib.error.URLError("simulated outage")
        data = (self.folder / url.rsplit("/", 1)[-1]).read_bytes()
        if self.corrupt:
            data = data[: len(data) // 2]
        return io.BytesIO(data)


def test_download_writes_verified_files(shared_data, tmp_path, monkeypatch):
    fake = _FakeUrlopen(shared_data / "mnist", fail_first=True)
    monkeypatch.setattr("qnets.data.mnist.urllib.request.urlopen", fake)
    x, y = load_mnist("test", root=tmp_path, download=True, limit=4)
    assert x.shape == (4, 28, 28) and y.tolist() == [7, 2, 1, 0]
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == [
        f"{IMAGES_TEST}.gz",
        f"{LABELS_TEST}.gz",
    ]
    # each file: first mirror fails, the second one serves it
    assert len(fake.urls) == 4 and fake.urls[0] != fake.urls[1]
    assert fake.urls[0].endswith(f"{IMAGES_TEST}.gz")


def test_download_failure_leaves_nothing(shared_data, tmp_path, monkeypatch):
    monkeypatch.setattr(
        "qnets.data.mnist.urllib.request.urlopen", _FakeUrlopen(shared_data / "mnist", corrupt=True)
    )
    with pytest.raises(DataError, match="could not download"):
        load_mnist("test", root=tmp_path, download=True)
    assert list((tmp_path / "mnist").iterdir()) == []
