"""``qep-dmrg``: DMRG-QEP gradient vs exact-diagonalisation QEP, small run, bad config."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from qnets.ep import NegAbsLoss, QuantumEP
from qnets.errors import ConfigError
from qnets.experiments import resolve_config, run_experiment
from qnets.experiments.qep_dmrg import dmrg_chain

pytest.importorskip("quimb")


def test_dmrg_gradient_matches_exact_diagonalisation():
    H = dmrg_chain(10, 3, 7)
    theta = np.r_[np.linspace(0.7, 0.9, 10), 0.3]
    kw = {"beta": 1e-2, "mode": "symmetric", "gap": False}
    with threadpool_limits(1):  # small tensors: BLAS threads only oversubscribe
        g_dmrg, _ = QuantumEP(H, NegAbsLoss(), method="dmrg",
                              solver_options={"bond_dims": [8, 16, 32]}, **kw).gradient(theta)
        g_ed, _ = QuantumEP(H, NegAbsLoss(), method="dense", **kw).gradient(theta)
    # same β: only the DMRG states differ (energy tolerance 1e-10; measured 5.0e-6 relative)
    assert np.linalg.norm(g_dmrg - g_ed) / np.linalg.norm(g_ed) < 2e-5


def test_small_run_checks_gradient_and_trains(tmp_path):
    config = resolve_config("qep-dmrg", overrides=[
        "n=8", "output_sites=[2, 6]", "fd_params=[g_x2, g_zz]", "iterations=3",
        "check_betas=[0.01]", "bond_dims=[8, 16]"])
    result = run_experiment("qep-dmrg", config, out=tmp_path, progress=False)
    assert result["n_params"] == 9
    assert result["check"]["qep"][0]["rel_error_vs_fd"] < 1e-3  # O(β²) bias + FD error
    assert result["training"]["loss"]["end"] < result["training"]["loss"]["0"]
    for name in ("final.json", "check.json", "start_0.json", "qep_dmrg.png"):
        assert (tmp_path / name).exists()


def test_config_validation():
    with pytest.raises(ConfigError, match="output_sites"):
        resolve_config("qep-dmrg", overrides=["output_sites=[3, 3]"])
    with pytest.raises(ConfigError, match="fd_params"):
        resolve_config("qep-dmrg", overrides=["fd_params=[g_y0]"])
    with pytest.raises(ConfigError, match="train_mode"):
        resolve_config("qep-dmrg", overrides=["train_mode=linear_response"])
