"""Experiment fnn-entanglement: I(output : input) rises during training and respects its bound."""

import json
import math

import numpy as np
import pytest
import torch

from qnets.entanglement import ground_state_correlation, mutual_information
from qnets.errors import ConfigError
from qnets.experiments import resolve_config, run_experiment
from qnets.experiments.fnn_entanglement import probe_information
from qnets.fnn import FermionNetwork


def test_information_rises_stays_below_the_bound_and_resumes(tmp_path):
    """Measured (digits, 64-16-10, 6 epochs): I(A:C) 3.22 → 5.75 nats (wd 0) and 5.73
    (wd 1e-3), bound 2·10·ln 2 = 13.86; test accuracy ≈ 0.90."""
    config = resolve_config("fnn-entanglement", config_file="ci-small", overrides=["epochs=4"])
    result = run_experiment("fnn-entanglement", config, out=tmp_path / "run", progress=False)
    assert result["bound"] == pytest.approx(2 * 10 * math.log(2))
    for run in result["runs"]:
        values = [r["I_AC"] for r in run["information"]]
        assert [r["epoch"] for r in run["information"]] == [0, 1, 2, 3, 4]
        assert run["below_bound"] and max(values) <= result["bound"]
        assert values[-1] > values[0] + 1.0  # measured rise ≈ 2.3 nats in 4 epochs
        assert run["best_test_accuracy"] >= 0.8
        for r in run["information"]:  # I3 = I(A:C) + I(A:D) − I(A:CD)
            assert r["I3"] == pytest.approx(r["I_AC"] + r["I_AD"] - r["I_ACD"], abs=1e-9)
    assert all(f["top2_share_after"] >= 0.85 for f in result["decision_flow"])
    run_dir = tmp_path / "run"
    for name in ("final.json", "entanglement.png", "decision_flow.png", "config.yaml",
                 "wd-0/entanglement.jsonl", "wd-0.001/metrics.jsonl", "wd-0.001/checkpoint.pt"):
        assert (run_dir / name).is_file(), name

    # resuming the finished run measures nothing again and keeps the log
    lines = (run_dir / "wd-0" / "entanglement.jsonl").read_text().splitlines()
    again = run_experiment("fnn-entanglement", config, out=run_dir, resume=True, progress=False)
    assert (run_dir / "wd-0" / "entanglement.jsonl").read_text().splitlines() == lines
    assert again["runs"][0]["I_AC_final"] == result["runs"][0]["I_AC_final"]
    assert json.loads((run_dir / "final.json").read_text())["runs"][1]["weight_decay"] == 0.001
    # a run killed after its last checkpoint but before the log line: resume measures it again
    log = run_dir / "wd-0" / "entanglement.jsonl"
    log.write_text("\n".join(lines[:-1]) + "\n")
    again = run_experiment("fnn-entanglement", config, out=run_dir, resume=True, progress=False)
    restored = json.loads(log.read_text().splitlines()[-1])
    assert restored["epoch"] == 4
    assert restored["I_AC"] == pytest.approx(json.loads(lines[-1])["I_AC"], abs=1e-10)


def test_probe_information_matches_the_dense_ground_state():
    net = FermionNetwork([6, 4, 2], encoder="hamiltonian", dtype=torch.complex128, seed=3, init_bound=1.0)
    x = torch.rand(3, 6, dtype=torch.float64)
    info = probe_information(net, x)
    expected = []
    for h in net.hamiltonian(x).detach().numpy():
        c = ground_state_correlation(h, 0.0)
        expected.append(mutual_information(c, np.arange(10, 12), np.arange(0, 6)))
    assert info["I_AC"] == pytest.approx(np.mean(expected), abs=1e-12)
    assert info["I_AC_std"] == pytest.approx(np.std(expected), abs=1e-12)


def test_zero_modes_of_blank_pixels_do_not_change_layer_information():
    """More blank pixels (onsite 0 = μ) than hidden sites leave exact zero modes inside the
    input layer; filling or emptying them changes C but not I between whole layers."""
    from qnets.fnn.analysis import layer_tripartite_information

    net = FermionNetwork([12, 3, 2], encoder="hamiltonian", dtype=torch.complex128, seed=5, init_bound=1.0)
    x = torch.zeros(2, 12, dtype=torch.float64)
    x[:, :4] = torch.rand(2, 4, dtype=torch.float64) + 0.1  # 8 blank pixels, 3 hidden sites
    empty = layer_tripartite_information(net, x, at_fermi_level="empty")
    full = layer_tripartite_information(net, x, at_fermi_level="fill")
    for a, b in zip(empty, full):
        for key in ("I_AC", "I_AD", "I_ACD"):
            assert a[key] == pytest.approx(b[key], abs=1e-10)
    assert empty[0]["I_AC"] > 1e-3


@pytest.mark.parametrize(
    ("override", "match"),
    [("encoder=ldos", "encoder"), ("weight_decays=[]", "weight_decays"), ("weight_decays=[0,0]", "distinct"),
     ("weight_decays=[-1]", "weight_decays"), ("n_probe=0", "n_probe"), ("sizes=[64,10]", "hidden layer")],
)
def test_bad_configs_are_refused(override, match):
    with pytest.raises(ConfigError, match=match):
        resolve_config("fnn-entanglement", config_file="ci-small", overrides=[override])
