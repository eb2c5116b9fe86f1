"""Experiments tn-born-bas and tn-mnist on tiny configurations (smoke + rank oracles)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from qnets.data import bars_and_stripes
from qnets.errors import ConfigError
from qnets.experiments import resolve_config, run_experiment
from qnets.experiments.tn_born_bas import min_signed_max_rank, schmidt_ranks

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_signed_rank_of_2x2_bars_and_stripes():
    patterns = bars_and_stripes(2)  # 6 patterns on 4 pixels
    psi = np.zeros(16)
    psi[patterns @ np.array([8, 4, 2, 1])] = 1.0
    assert schmidt_ranks(psi, 4) == [2, 3, 2]
    # middle cut: rows 01 and 10 each meet one column pattern (rank 2), rows 00 and 11 share
    # the columns {00, 11} with ±1 entries (rank >= 1): no sign choice goes below 3
    assert min_signed_max_rank(patterns) == 3


def test_tn_born_bas_small(tmp_path):
    config = resolve_config(
        "tn-born-bas",
        overrides=["rows=2", "cols=2", "bond_dims=[1, 4]", "steps=150", "seeds=[0]"],
    )
    result = run_experiment("tn-born-bas", config, out=tmp_path, progress=False)
    assert result["n_patterns"] == 6 and abs(result["optimum_nll"] - math.log(6)) < 1e-12
    gaps = {r["bond_dim"]: r["gap"] for r in result["runs"]}
    assert gaps[1] > 0.3 and gaps[4] < 0.05
    assert json.loads((tmp_path / "final.json").read_text())["target_max_rank"] == 3


def test_tn_mnist_digits_small(tmp_path):
    overrides = ["dataset=digits", "bond_dim=4", "epochs=1", "batch_size=64", "dtype=float64", "n_train=256"]
    config = resolve_config("tn-mnist", overrides=overrides)
    result = run_experiment("tn-mnist", config, out=tmp_path, progress=False)
    assert result["epochs"] == 1 and result["num_parameters"] == 64 * 4 * 2 * 4 + 4 * 10 * 4
    profile = json.loads((tmp_path / "entanglement_profile.json").read_text())
    assert len(profile["entropies"]) == 64
    assert max(profile["entropies"]) <= math.log(4) + 1e-10
    ttn = resolve_config("tn-mnist", overrides=[*overrides, "model=ttn"])
    result = run_experiment("tn-mnist", ttn, out=tmp_path / "ttn", progress=False)
    assert result["image_shape"] == [8, 8]


def test_bad_config():
    with pytest.raises(ConfigError, match="bond_dims"):
        resolve_config("tn-born-bas", overrides=["bond_dims=[0]"])
    with pytest.raises(ConfigError, match="model"):
        resolve_config("tn-mnist", overrides=["model=peps"])
    with pytest.raises(ConfigError, match="bond_dim"):
        resolve_config("tn-mnist", overrides=["bond_dim=0"])
