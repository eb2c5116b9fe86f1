"""map_grid: backends agree, grid order, retries, failures with their grid point, bad input."""

import math
import socket
import sys
import time
from pathlib import Path

import pytest

from qnets.errors import CheckpointError, ClusterError, ConfigError, SweepError
from qnets.parallel import Grid, map_grid, map_seeds

sys.path.insert(0, str(Path(__file__).parent))
import sweep_helpers as helpers

GRID = {"a": [3, 1, 2, 0, 5], "b": [10, 20]}
EXPECTED = [a * a + b for a in GRID["a"] for b in GRID["b"]]


@pytest.fixture(scope="module")
def dask_address():
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    yield cluster.scheduler_address
    cluster.close()


@pytest.mark.parametrize("backend", ["serial", "process"])
def test_results_come_back_in_grid_order(backend):
    for chunksize in (None, 1, 3):
        got = map_grid(helpers.square_plus, GRID, backend=backend, workers=2, chunksize=chunksize,
                       progress=False)
        assert got == EXPECTED


def test_dask_by_address_and_sequence_of_points(dask_address):
    got = map_grid(helpers.square_plus, Grid(GRID), backend="dask", scheduler=dask_address,
                   progress=False)
    assert got == EXPECTED
    assert map_grid(math.sqrt, [4.0, 9.0], backend="dask", scheduler=dask_address,
                    progress=False) == [2.0, 3.0]


def test_dask_local_cluster_started_and_closed():
    pytest.importorskip("dask.distributed")
    got = map_grid(lambda a, b: a * a + b, GRID, backend="dask", workers=1, progress=False)
    assert got == EXPECTED


@pytest.mark.parametrize("backend", ["serial", "process", "dask"])
def test_failure_is_reported_with_its_grid_point(backend, request):
    scheduler = request.getfixturevalue("dask_address") if backend == "dask" else None
    with pytest.raises(SweepError) as info:
        map_grid(helpers.fails_at_three, {"x": [1, 2, 3, 4]}, backend=backend, workers=2,
                 scheduler=scheduler, retries=2, progress=False)
    message = str(info.value)
    assert "grid point #2 {'x': 3}" in message and "after 3 attempts" in message
    assert "ValueError: bad value x=3" in message and "Traceback" in message
    assert info.value.index == 2 and info.value.point == {"x": 3}


@pytest.mark.parametrize("backend", ["serial", "process"])
def test_a_transient_failure_is_retried(backend, tmp_path):
    grid = {"x": [1, 2, 3], "marker_dir": [str(tmp_path)]}
    assert map_grid(helpers.flaky_once, grid, backend=backend, workers=2, retries=1,
                    progress=False) == [2, 4, 6]
    for x in (1, 2, 3):  # with retries=0 the first failure stops the sweep
        (tmp_path / f"seen-{x}").unlink()
    with pytest.raises(SweepError, match=r"transient failure at x=\d"):
        map_grid(helpers.flaky_once, grid, backend=backend, retries=0, progress=False)


def test_a_dying_worker_is_reported():
    with pytest.raises(SweepError, match="worker process died"):
        map_grid(helpers.die, [1, 2], backend="process", workers=1, progress=False)


@pytest.mark.parametrize("kind", ["closed port", "silent listener", "malformed"])
def test_unreachable_scheduler_fails_fast_with_a_clear_error(kind):
    pytest.importorskip("dask.distributed")
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        address = {"closed port": "tcp://127.0.0.1:9",
                   "silent listener": f"tcp://127.0.0.1:{listener.getsockname()[1]}",
                   "malformed": "not-an-address"}[kind]
        start = time.perf_counter()
        with pytest.raises(ClusterError, match=f"cannot reach the Dask scheduler at '{address}'"):
            map_grid(helpers.square_plus, GRID, backend="dask", scheduler=address, timeout=1.5,
                     progress=False)
        assert time.perf_counter() - start < 15


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"backend": "mpi"}, "backend: expected one of 'process', 'serial', 'dask', got 'mpi'"),
        ({"workers": 0}, "workers: expected an integer ≥ 1"),
        ({"retries": -1}, "retries: expected an integer ≥ 0"),
        ({"chunksize": 0}, "chunksize"),
        ({"scheduler": "tcp://x:1"}, "scheduler: only used by backend='dask'"),
        ({"backend": "dask", "scheduler": 3.5}, "scheduler: expected None, an address"),
        ({"timeout": 0}, "timeout"),
        ({"mp_context": "spawn", "backend": "serial"}, "mp_context"),
    ],
)
def test_bad_arguments(kwargs, match):
    if kwargs.get("backend") == "dask":
        pytest.importorskip("dask.distributed")
    with pytest.raises(ConfigError, match=match):
        map_grid(helpers.square_plus, GRID, progress=False, **kwargs)


def test_bad_fn_and_grid():
    with pytest.raises(ConfigError, match="fn: expected a callable"):
        map_grid(3, GRID)
    with pytest.raises(ConfigError, match="grid: expected a Grid"):
        map_grid(helpers.square_plus, 42)
    with pytest.raises(ConfigError, match="grid: expected a Grid"):
        map_grid(helpers.square_plus, "a=1:2:3")


def test_map_seeds():
    assert map_seeds(helpers.square_plus_seed, 3, backend="serial", progress=False) == [0, 1, 4]
    per_point = map_seeds(helpers.square_plus_seed, [1, 2], {"b": [0, 10]}, backend="serial",
                          progress=False)
    assert per_point == [[1, 4], [11, 14]]


def test_checkpoint_resumes_and_refuses_another_sweep(tmp_path):
    log = tmp_path / "calls.log"
    grid = {"x": list(range(6)), "log": [str(log)]}
    first = map_grid(helpers.slow_logged, grid, backend="serial", checkpoint_dir=tmp_path / "ck",
                     progress=False)
    assert sorted(int(v) for v in log.read_text().split()) == list(range(6))
    log.unlink()
    again = map_grid(helpers.slow_logged, grid, backend="process", workers=2,
                     checkpoint_dir=tmp_path / "ck", progress=False)
    assert again == first and not log.exists()  # nothing recomputed
    assert len(list((tmp_path / "ck").glob("part-*.pkl"))) == 1  # merged
    with pytest.raises(CheckpointError, match="belongs to another sweep"):
        map_grid(helpers.slow_logged, {"x": [0, 1], "log": [str(log)]}, backend="serial",
                 checkpoint_dir=tmp_path / "ck", progress=False)
    with pytest.raises(CheckpointError, match="belongs to another sweep"):
        map_grid(helpers.square_plus, {"a": list(range(6))}, backend="serial",
                 checkpoint_dir=tmp_path / "ck", progress=False)


def test_dask_backend_without_dask_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ImportError, match=r"qnets\[dist\]"):
        map_grid(abs, {"x": [1]}, backend="dask", progress=False)
