"""``qep-phase-sensor`` experiment: run directory contents, resume skips finished seeds."""

import json

import pytest
from threadpoolctl import threadpool_limits

from qnets.errors import ConfigError
from qnets.experiments import resolve_config, run_experiment


def test_tiny_run_writes_results_and_resumes(tmp_path):
    overrides = ["n_sys=3", "n_batches=3", "seeds=[1, 2]", "n_test=5", "map_points=3",
                 "eval_every=2", "shots=10"]
    config = resolve_config("qep-phase-sensor", overrides=overrides)
    with threadpool_limits(1):
        result = run_experiment("qep-phase-sensor", config, out=tmp_path, progress=False)
    assert result["n_params"] == 51 and result["seeds"] == [1, 2]
    assert 0 <= result["max_choice_mean"] <= 1
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["seed"], r["batch"]) for r in lines] == [(1, 0), (1, 2), (1, 3), (2, 0), (2, 2), (2, 3)]
    for name in ("final.json", "seed_1.json", "seed_2.json", "config.yaml"):
        assert (tmp_path / name).exists()
    before = (tmp_path / "seed_1.json").read_text()
    with threadpool_limits(1):
        again = run_experiment("qep-phase-sensor", config, out=tmp_path, progress=False, resume=True)
    assert (tmp_path / "seed_1.json").read_text() == before
    assert again["max_choice"] == result["max_choice"]


def test_parallel_seeds_match_serial(tmp_path):
    """``workers=2`` trains the two seeds in a process pool with the serial results."""
    overrides = ["n_sys=3", "n_batches=3", "seeds=[1, 2]", "n_test=5", "map_points=3",
                 "eval_every=2", "shots=10"]
    serial = resolve_config("qep-phase-sensor", overrides=overrides)
    pooled = resolve_config("qep-phase-sensor", overrides=[*overrides, "workers=2"])
    with threadpool_limits(1):
        a = run_experiment("qep-phase-sensor", serial, out=tmp_path / "serial", progress=False)
        b = run_experiment("qep-phase-sensor", pooled, out=tmp_path / "pool", progress=False)
    assert b["max_choice"] == a["max_choice"]
    assert b["single_shot"] == pytest.approx(a["single_shot"], rel=1e-10)
    for seed in (1, 2):
        ta = json.loads((tmp_path / "serial" / f"seed_{seed}.json").read_text())["theta"]
        tb = json.loads((tmp_path / "pool" / f"seed_{seed}.json").read_text())["theta"]
        assert tb == pytest.approx(ta, rel=1e-10)
        assert not (tmp_path / "pool" / f"seed_{seed}.ckpt.json").exists()
    lines = (tmp_path / "pool" / "metrics.jsonl").read_text().splitlines()
    assert sorted((r["seed"], r["batch"]) for r in map(json.loads, lines)) == \
        [(1, 0), (1, 2), (1, 3), (2, 0), (2, 2), (2, 3)]


def test_patches_run_draws_its_training_squares(tmp_path):
    overrides = ["n_sys=3", "n_batches=2", "seeds=[1]", "n_test=5", "map_points=3",
                 "eval_every=2", "shots=10", "patches=true"]
    config = resolve_config("qep-phase-sensor", overrides=overrides)
    with threadpool_limits(1):
        result = run_experiment("qep-phase-sensor", config, out=tmp_path, progress=False)
    assert result["figures"] == ["training_curve.png", "triangle_map.png"]
    for name in result["figures"]:
        assert (tmp_path / name).stat().st_size > 10_000


def test_config_validation():
    with pytest.raises(ConfigError, match="couplings"):
        resolve_config("qep-phase-sensor", overrides=["couplings=xy"])
    with pytest.raises(ConfigError, match="shots"):
        resolve_config("qep-phase-sensor", overrides=["shots=0"])
    with pytest.raises(ConfigError, match="workers"):
        resolve_config("qep-phase-sensor", overrides=["workers=0"])
    with pytest.raises(ConfigError, match="distinct seeds"):
        resolve_config("qep-phase-sensor", overrides=["seeds=[1, 1]"])
