"""``qep-sensitivity``: two-copy QEP gradient vs finite differences, slope grows, files, config."""

import numpy as np
import pytest

from qnets.ep import FiniteDifferenceGradient, QuantumEP, SlopeLoss
from qnets.errors import ConfigError
from qnets.experiments import resolve_config, run_experiment
from qnets.experiments.qep_sensitivity import PARAMS, slope_copies


def test_two_copy_gradient_matches_finite_differences():
    copies = slope_copies(6)
    theta = np.array([0.3, 0.7, 1.1])  # (g_zz, g1, g2), gapped paramagnetic side
    q = QuantumEP(copies, SlopeLoss("g1", "g2"), beta=1e-3, mode="symmetric")
    assert tuple(q.param_names) == PARAMS
    g, info = q.gradient(theta)
    g_fd, _ = FiniteDifferenceGradient(copies, SlopeLoss("g1", "g2"), h=1e-5).gradient(theta)
    assert np.linalg.norm(g - g_fd) / np.linalg.norm(g_fd) < 1e-5
    assert info["n_equilibria"] == 2 + 2 * 2  # two free, two nudged phases per copy


def test_small_run_increases_slope(tmp_path):
    config = resolve_config("qep-sensitivity",
                            overrides=["n=6", "iterations=20", "curve_points=21",
                                       "starts=[[1.0, -0.5, 0.3]]"])
    result = run_experiment("qep-sensitivity", config, out=tmp_path, progress=False)
    run = result["runs"][0]
    assert run["slope"]["end"] > 1.5 * run["slope"]["0"]
    assert set(run["end"]) == set(PARAMS)
    for name in ("final.json", "start_0.json", "sensitivity.png"):
        assert (tmp_path / name).exists()


def test_config_validation():
    with pytest.raises(ConfigError, match="g1 and g2"):
        resolve_config("qep-sensitivity", overrides=["starts=[[0.0, 0.5, 0.5]]"])
    with pytest.raises(ConfigError, match="starts"):
        resolve_config("qep-sensitivity", overrides=["starts=[[0.0, 0.5]]"])
    with pytest.raises(ConfigError, match="beta"):
        resolve_config("qep-sensitivity", overrides=["beta=0"])
