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


def test_config_validation():
    with pytest.raises(ConfigError, match="couplings"):
        resolve_config("qep-phase-sensor", overrides=["couplings=xy"])
    with pytest.raises(ConfigError, match="shots"):
        resolve_config("qep-phase-sensor", overrides=["shots=0"])
