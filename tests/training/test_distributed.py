"""Data-parallel training: 2 gloo processes give the single-process gradients and run."""

import math
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch.nn.functional import cross_entropy

from qnets.errors import ConfigError
from qnets.training.distributed import DistributedContext, distributed_session, shard_sizes

sys.path.insert(0, str(Path(__file__).parent))
import ddp_helpers


def test_shards_cover_the_batch_contiguously():
    assert shard_sizes(13, 2) == [7, 6] and shard_sizes(12, 3) == [4, 4, 4] and shard_sizes(2, 3) == [1, 1, 0]
    slices = [DistributedContext(r, 3).shard_slice(8) for r in range(3)]
    assert [(s.start, s.stop) for s in slices] == [(0, 3), (3, 6), (6, 8)]


def test_session_is_a_no_op_without_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with distributed_session() as ctx:
        assert ctx is None
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(ConfigError, match="MASTER_ADDR.*torchrun"), distributed_session():
        pass
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ConfigError, match="WORLD_SIZE: expected an integer"), distributed_session():
        pass


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(ddp_helpers.worker, args=(2, str(out / "init"), str(out)), nprocs=2, join=True)
    return out, torch.load(out / "ddp.pt", weights_only=False)


def test_two_processes_give_the_single_process_gradient(ddp_run):
    """FermionNetwork (complex) and MPSClassifier (real) gradients on 13- and 12-sample batches."""
    _, ddp = ddp_run
    x, y = ddp_helpers.data()
    assert len(ddp["grads"]) == 4
    for (kind, n), grads in ddp["grads"].items():
        net = ddp_helpers.network(kind)
        cross_entropy(net(x[:n]), y[:n]).backward()
        for name, p in net.named_parameters():
            assert torch.allclose(grads[name], p.grad, rtol=1e-12, atol=1e-14), (kind, n, name)
            assert p.grad.abs().max() > 1e-6  # a real gradient, not zeros


def test_two_process_training_and_resume_equal_one_process(ddp_run):
    out, ddp = ddp_run
    reference = ddp_helpers.trainer(None)
    history = reference.fit()
    assert len(ddp["history"]) == len(history) == ddp_helpers.CONFIG["epochs"]
    for got, want in zip(ddp["history"], history):
        for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr"):
            assert math.isclose(got[key], want[key], rel_tol=1e-9, abs_tol=1e-12), (got["epoch"], key)
    for name, value in reference.model.state_dict().items():
        assert torch.allclose(ddp["state"][name], value, rtol=1e-9, atol=1e-12), name
    # only rank 0 wrote checkpoints and metrics
    assert {p.name for p in (out / "rank0").iterdir()} >= {"checkpoint.pt", "metrics.jsonl"}
    assert not (out / "rank1").exists() or not any((out / "rank1").iterdir())


@pytest.mark.slow
def test_torchrun_cli_run_equals_a_single_process_run(tmp_path):
    import json
    import os
    import subprocess

    settings = ["--config", "demo-digits", "--set", "epochs=2", "--set", "n_train=200",
                "--set", "n_test=100", "--set", "sizes=[64,16,10]", "--set", "dtype=complex128",
                "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    ddp = subprocess.run([*launch, "-m", "qnets.cli", "run", "fnn-mnist", *settings, "--out",
                          str(tmp_path / "ddp")], capture_output=True, text=True, env=env, timeout=900,
                         check=False)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert ddp.stdout.count('"run_dir"') == 1  # rank 0 prints the result
    single = subprocess.run([sys.executable, "-m", "qnets.cli", "run", "fnn-mnist", *settings, "--out",
                             str(tmp_path / "single")], capture_output=True, text=True, env=env,
                            timeout=900, check=False)
    assert single.returncode == 0, single.stderr[-3000:]

    def records(name):
        return [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]

    for got, want in zip(records("ddp"), records("single"), strict=True):
        for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
            assert math.isclose(got[key], want[key], rel_tol=1e-9, abs_tol=1e-12), key
    assert (tmp_path / "ddp" / "report.html").is_file()
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == sorted(
        p.name for p in (tmp_path / "single").iterdir())
