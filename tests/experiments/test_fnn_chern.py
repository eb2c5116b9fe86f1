"""Experiments fnn-chern-ldos / fnn-chern-conductance: CI-sized runs, outputs, resume, bad input."""

import json
import shutil

import numpy as np
import pytest
import torch

from qnets.errors import ConfigError, QnetsWarning
from qnets.experiments import resolve_config, run_experiment
from qnets.experiments.fnn_chern import phase_crossing

SMALL = ["n_train_clean=500", "n_train_disordered=300", "n_test_clean=100", "n_test_disordered=100",
         "epochs=5", "n_phase=40"]


def test_ldos_experiment_learns_the_transition_and_writes_its_outputs(tmp_path):
    """Measured (L = 8, 800 train samples with interleaved disordered data, 5 epochs): best
    test accuracy 0.975 (clean 1.0, disordered 0.95), crossing κ = 0.4985. (With 150
    disordered training samples: 0.915, disordered 0.82; the earlier blocked data gave 0.965.)"""
    config = resolve_config("fnn-chern-ldos", config_file="ci-small",
                            overrides=[*SMALL, f"cache_dir={tmp_path / 'cache'}"])
    result = run_experiment("fnn-chern-ldos", config, out=tmp_path / "run", progress=False)
    assert result["best_test_accuracy"] >= 0.9
    assert result["final_test_accuracy_clean"] >= 0.95
    assert abs(result["phase_crossing"] - 0.5) <= 0.03
    assert result["p_topological_at_0.1"] < 0.1 and result["p_topological_at_1.0"] > 0.9
    assert len(result["decision_flow"]) == 3
    assert all(entry["top2_share_after"] >= 0.85 for entry in result["decision_flow"])
    # the network's own perturbation flips its decision at a smaller strength than random disorder
    designed, random = result["perturbation"]["designed"], result["perturbation"]["random_mean"]
    assert designed["delta_p_below_half"] is not None
    assert random["delta_p_below_half"] is None or designed["delta_p_below_half"] < random["delta_p_below_half"]
    run = tmp_path / "run"
    for name in ("final.json", "metrics.jsonl", "checkpoint.pt", "phase_diagram.csv", "phase_diagram.png",
                 "spectrum.png", "learning_curves.png", "decision_flow.png", "perturbation.png", "perturbation.csv",
                 "config.yaml"):
        assert (run / name).is_file(), name
    assert json.loads((run / "final.json").read_text())["phase_crossing"] == result["phase_crossing"]
    assert len((run / "phase_diagram.csv").read_text().splitlines()) == 41


def test_conductance_experiment_runs_and_resumes(tmp_path):
    overrides = ["n_train_clean=200", "n_train_disordered=0", "n_test_clean=60", "n_test_disordered=0",
                 "epochs=1", "n_phase=10", f"cache_dir={tmp_path / 'cache'}"]
    config = resolve_config("fnn-chern-conductance", config_file="ci-small", overrides=overrides)
    first = run_experiment("fnn-chern-conductance", config, out=tmp_path / "run", progress=False)
    assert first["epochs"] == 1 and first["num_real_parameters"] > 0
    assert 0.0 <= first["final_test_accuracy"] <= 1.0
    longer = resolve_config("fnn-chern-conductance", config_file="ci-small", overrides=overrides)
    with pytest.raises(ConfigError, match="epochs"):
        longer.epochs = 2
        run_experiment("fnn-chern-conductance", longer, out=tmp_path / "run", resume=True, progress=False)


def test_phase_crossing_interpolates_and_counts():
    x = np.linspace(0, 1, 11)
    crossing, count = phase_crossing(x, np.clip((x - 0.45) * 5 + 0.5, 0, 1))
    assert crossing == pytest.approx(0.45) and count == 1
    assert phase_crossing(x, np.zeros(11)) == (pytest.approx(np.nan, nan_ok=True), 0)


@pytest.mark.parametrize(
    ("override", "match"),
    [("L=6", "multiple of 4"), ("sizes=[64,8,3]", "output site"), ("sizes=[60,8,2]", "L²"),
     ("readout=landauer", "readout"), ("n_phase=1", "n_phase"), ("n_train_clean=-1", "n_train_clean"),
     ("perturbation_deltas=1", "perturbation_deltas"), ("perturbation_kappa=0", "perturbation_kappa"),
     ("perturbation_random=0", "perturbation_random"), ("disorder_layout=random", "disorder_layout"),
     ("cache_greens=2", "cache_greens")],
)
def test_bad_configs_are_refused(override, match):
    with pytest.raises(ConfigError, match=match):
        resolve_config("fnn-chern-ldos", config_file="ci-small", overrides=[override])


def test_cached_input_greens_train_like_the_uncached_model_and_a_resume_may_switch(tmp_path):
    """``cache_greens`` stores g_0 once; the run's metrics match the uncached run's, and the
    switch is an execution setting (a resume with it changed is accepted)."""
    overrides = ["n_train_clean=96", "n_train_disordered=32", "n_test_clean=32", "n_test_disordered=32",
                 "epochs=2", "n_phase=10", "batch_size=32", "perturbation_deltas=0",
                 f"cache_dir={tmp_path / 'cache'}"]
    plain = resolve_config("fnn-chern-conductance", config_file="ci-small", overrides=overrides)
    cached = resolve_config("fnn-chern-conductance", config_file="ci-small", overrides=[*overrides, "cache_greens=true"])
    reference = run_experiment("fnn-chern-conductance", plain, out=tmp_path / "plain", progress=False)
    result = run_experiment("fnn-chern-conductance", cached, out=tmp_path / "cached", progress=False)
    assert result["cache_greens_seconds"] > 0 and reference["cache_greens_seconds"] is None
    lines = [
        [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        for name in ("plain", "cached")
    ]
    for a, b in zip(*lines, strict=True):
        for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
            assert b[key] == a[key], key  # bit for bit: same inverses, same memory layout
    assert result["phase_crossing"] == reference["phase_crossing"]
    # a run interrupted after epoch 1 without the cache resumes with it and ends the same way:
    # with checkpoint.pt (epoch 2) gone, the resume starts from checkpoint.prev.pt (epoch 1)
    switch = tmp_path / "switch"
    shutil.copytree(tmp_path / "plain", switch)
    (switch / "checkpoint.pt").unlink()
    with pytest.warns(QnetsWarning, match="checkpoint"):
        resumed = run_experiment("fnn-chern-conductance", cached, out=switch, resume=True, progress=False)
    assert resumed["seconds_this_call"] > 0 and resumed["epochs"] == 2
    last = json.loads((switch / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["test_loss"] == lines[0][-1]["test_loss"] and last["epoch_seconds"] != lines[0][-1]["epoch_seconds"]


def test_cache_greens_is_refused_when_it_would_not_fit(monkeypatch):
    from qnets.errors import SizeLimitError
    from qnets.experiments import fnn_chern

    monkeypatch.setattr(fnn_chern, "_available_memory", lambda: 2**30)
    with pytest.raises(SizeLimitError, match="cache_greens: the stored g_0 of 60000 samples need 9.3 GiB"):
        fnn_chern._check_greens_memory(60000, 144, torch.complex64)
    fnn_chern._check_greens_memory(1000, 144, torch.complex64)  # 0.15 GiB fits


def test_chern_parts_keep_kappas_and_strengths_and_concatenate_to_chern_data(tmp_path):
    from qnets.experiments.fnn_chern import chern_data, chern_parts

    config = resolve_config("fnn-chern-conductance", config_file="ci-small", overrides=[
        "n_test_clean=4", "n_test_disordered=3", "workers=1", f"cache_dir={tmp_path}"])
    clean, disordered = chern_parts(config, "test")
    assert (len(clean), len(disordered)) == (4, 3)
    assert not clean.strengths.any() and (disordered.strengths[:, 0] >= 1.0).all()
    assert ((clean.kappas > 0.5) == clean.labels.astype(bool)).all()
    values, labels, is_clean, _, _ = chern_data(config, "test")
    np.testing.assert_array_equal(values, np.concatenate([clean.values, disordered.values]))
    np.testing.assert_array_equal(labels, np.concatenate([clean.labels, disordered.labels]))
    np.testing.assert_array_equal(is_clean, [True] * 4 + [False] * 3)
    with pytest.raises(ConfigError, match="split: expected 'train' or 'test', got 'val'"):
        chern_parts(config, "val")
