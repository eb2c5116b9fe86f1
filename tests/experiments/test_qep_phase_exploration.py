"""``qep-phase-exploration``: trajectories drive |⟨X0 X4⟩| up, files written, resume, bad config."""

import json

import numpy as np
import pytest

from qnets.errors import ConfigError
from qnets.experiments import resolve_config, run_experiment


def test_small_run_increases_correlation_and_resumes(tmp_path):
    config = resolve_config("qep-phase-exploration",
                            overrides=["n=6", "iterations=25", "map_points=4"])
    result = run_experiment("qep-phase-exploration", config, out=tmp_path, progress=False)
    assert len(result["runs"]) == 2
    for run in result["runs"]:
        # normalised descent on −|⟨X0 X4⟩| must end with a strong correlation, better than at the start
        assert run["loss"]["end"] < run["loss"]["0"] - 0.3
        assert abs(run["x0x4_end"]) > 0.8
        assert np.isclose(abs(run["x0x4_end"]), -run["loss"]["end"])
    data = np.load(tmp_path / "map.npz")
    assert data["values"].shape == (4, 4) and np.all(np.abs(data["values"]) <= 1 + 1e-9)
    for name in ("final.json", "start_0.json", "start_1.json", "config.yaml", "exploration.png"):
        assert (tmp_path / name).exists()
    before = (tmp_path / "start_0.json").read_text()
    again = run_experiment("qep-phase-exploration", config, out=tmp_path, progress=False,
                           resume=True)
    assert (tmp_path / "start_0.json").read_text() == before
    assert again["runs"][0]["end"] == json.loads(before)["end"]


def test_config_validation():
    with pytest.raises(ConfigError, match="n:"):
        resolve_config("qep-phase-exploration", overrides=["n=4"])
    with pytest.raises(ConfigError, match="starts"):
        resolve_config("qep-phase-exploration", overrides=["starts=[[0.1]]"])
    with pytest.raises(ConfigError, match="mode"):
        resolve_config("qep-phase-exploration", overrides=["mode=bad"])
    with pytest.raises(ConfigError, match="iterations"):
        resolve_config("qep-phase-exploration", overrides=["iterations=0"])


def test_descent_continues_a_partial_trajectory():
    from qnets.cli.qep_demo import exploration_chain
    from qnets.ep import NegAbsLoss, QuantumEP
    from qnets.experiments.qep_phase_exploration import normalised_descent

    q = QuantumEP(exploration_chain(6), NegAbsLoss(), beta=0.1, mode="one_sided", method="dense",
                  gap=False)
    saved = []
    full = normalised_descent(q, [0.8, 0.3], iterations=6, lr=0.1,
                              callback=lambda p: saved.append(json.loads(json.dumps(p))))
    assert len(saved) == 6 and len(saved[2]["grad_norm"]) == 3
    resumed = normalised_descent(q, [0.8, 0.3], iterations=6, lr=0.1, partial=saved[2])
    assert np.allclose(resumed["theta"], full["theta"]) and np.allclose(resumed["loss"], full["loss"])
