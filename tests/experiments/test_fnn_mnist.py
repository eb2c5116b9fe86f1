"""fnn-mnist end to end: run directory contents, MNIST-subset accuracy, kill and resume."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from qnets.experiments import resolve_config, run_experiment


def test_run_directory_contents(tmp_path):
    config = resolve_config("fnn-mnist", config_file="demo-digits", overrides=["epochs=2"])
    result = run_experiment("fnn-mnist", config, out=tmp_path / "run", progress=False)
    run = tmp_path / "run"
    for name in ("config.yaml", "environment.json", "metrics.jsonl", "checkpoint.pt", "final.json", "learning_curves.png"):
        assert (run / name).is_file(), name
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    final = json.loads((run / "final.json").read_text())
    assert final["epochs"] == 2 and final["best_test_accuracy"] == result["best_test_accuracy"]
    # resuming with a different config is refused before anything is overwritten
    from qnets.errors import ConfigError

    changed = resolve_config("fnn-mnist", config_file="demo-digits", overrides=["epochs=2", "lr=0.5"])
    with pytest.raises(ConfigError, match="lr: 0.01 → 0.5"):
        run_experiment("fnn-mnist", changed, out=run, resume=True, progress=False)


def test_mnist_subset_accuracy_far_above_chance(tmp_path, shared_data):
    """CI-sized B1: 196-64-32-10 on 2×2-pooled MNIST, 5k/2k, 5 epochs, complex128.

    Measured 84.3 % test accuracy (seed 0); the gate sits a few points below.
    """
    config = resolve_config("fnn-mnist", config_file="ci-small", overrides=[f"data_root={shared_data}"])
    result = run_experiment("fnn-mnist", config, out=tmp_path / "run", progress=False)
    assert result["final_test_accuracy"] >= 0.80


def _metrics(path):
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in r.items() if "second" not in k} for r in records]


def test_killed_run_resumes_to_identical_metrics(tmp_path):
    """SIGKILL a real `qnets run` after ≥ 2 epochs, resume it, compare with an uninterrupted run."""
    base = [sys.executable, "-m", "qnets.cli", "run", "fnn-mnist", "--config", "demo-digits",
            "--set", "epochs=12", "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    killed = tmp_path / "killed"
    process = subprocess.Popen(base + ["--out", str(killed)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    metrics = killed / "metrics.jsonl"
    while time.time() < deadline:
        if metrics.is_file() and len(metrics.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before_kill = len(metrics.read_text().splitlines())
    subprocess.run(base + ["--out", str(killed), "--resume"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    straight = tmp_path / "straight"
    subprocess.run(base + ["--out", str(straight)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert done_before_kill >= 2
    resumed, uninterrupted = _metrics(metrics), _metrics(straight / "metrics.jsonl")
    assert len(resumed) == len(uninterrupted) == 12
    assert resumed == uninterrupted
