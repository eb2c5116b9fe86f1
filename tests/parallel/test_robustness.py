"""An interrupted sweep (SIGKILL) resumes without losing or recomputing stored grid points."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from qnets.errors import CheckpointError, QnetsWarning
from qnets.parallel import Grid, map_grid
from qnets.parallel.store import SweepStore, sweep_key

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import sweep_helpers as helpers

N = 40


def _grid(log):
    return {"x": list(range(N)), "log": [str(log)]}


def _killed_sweep(tmp_path) -> tuple[Path, dict]:
    """Start a 2-process sweep in a subprocess, SIGKILL its process group mid-way."""
    log, ck = tmp_path / "calls.log", tmp_path / "ck"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        import sweep_helpers
        from qnets.parallel import map_grid
        map_grid(sweep_helpers.slow_logged, {{"x": list(range({N})), "log": [{str(log)!r}]}},
                 backend="process", workers=2, chunksize=1, checkpoint_dir={str(ck)!r},
                 checkpoint_every=0, progress=False)
        print("finished")
    """)
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while len(list(ck.glob("part-*.pkl"))) < 3:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the sweep wrote no checkpoint within 60 s"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
    assert process.returncode == -signal.SIGKILL and b"finished" not in out
    points = list(Grid(_grid(log)))
    stored = SweepStore(ck, sweep_key(helpers.slow_logged, points), N).load()
    assert 0 < len(stored) < N, f"expected an interrupted sweep, {len(stored)} of {N} stored"
    log.unlink()
    return ck, stored


def test_sigkilled_sweep_resumes_without_losing_a_point(tmp_path):
    reference = map_grid(helpers.slow_logged, _grid(tmp_path / "ref.log"), backend="serial",
                         progress=False)
    ck, stored = _killed_sweep(tmp_path)
    log = tmp_path / "calls.log"
    resumed = map_grid(helpers.slow_logged, _grid(log), backend="process", workers=2,
                       checkpoint_dir=ck, progress=False)
    recomputed = {int(v) for v in log.read_text().split()}
    assert recomputed.isdisjoint(stored)  # no stored point was computed again
    assert recomputed | set(stored) == set(range(N))
    assert resumed == reference
    for i, value in stored.items():
        assert value == reference[i]


def test_corrupt_part_is_reported_and_recomputed(tmp_path):
    reference = map_grid(helpers.slow_logged, _grid(tmp_path / "ref.log"), backend="serial",
                         progress=False)
    ck, stored = _killed_sweep(tmp_path)
    parts = sorted(ck.glob("part-*.pkl"))
    parts[0].write_bytes(b"\x80\x04garbage")  # e.g. a disk error
    log = tmp_path / "calls.log"
    with pytest.warns(QnetsWarning, match=rf"{parts[0].name}: unusable sweep checkpoint part"):
        resumed = map_grid(helpers.slow_logged, _grid(log), backend="serial", checkpoint_dir=ck,
                           progress=False)
    assert resumed == reference
    recomputed = {int(v) for v in log.read_text().split()}
    assert 0 < len(recomputed & set(stored)) < len(stored)  # only the corrupt part's points


def test_corrupt_manifest_is_a_clear_error(tmp_path):
    ck = tmp_path / "ck"
    map_grid(helpers.square_plus, {"a": [1, 2]}, backend="serial", checkpoint_dir=ck, progress=False)
    (ck / "sweep.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"sweep\.json: cannot be read .*delete the folder"):
        map_grid(helpers.square_plus, {"a": [1, 2]}, backend="serial", checkpoint_dir=ck,
                 progress=False)
