"""Experiment configs: YAML files, --set overrides and their errors."""

import pytest

from qnets.errors import ConfigError
from qnets.experiments import get_experiment, list_experiments, resolve_config, run_experiment
from qnets.experiments.config import CONFIG_DIR, apply_overrides, packaged_configs
from qnets.experiments.fnn_mnist import FnnMnistConfig


def test_overrides_parse_yaml_values():
    config = apply_overrides(
        FnnMnistConfig(), ["lr=1e-3", "sizes=[196, 64, 10]", "larc=false", "n_train=null", "clip-grad-norm=5"]
    )
    assert config.lr == 1e-3 and config.sizes == [196, 64, 10]
    assert config.larc is False and config.n_train is None and config.clip_grad_norm == 5


def test_unknown_set_key_names_valid_keys_and_suggests():
    with pytest.raises(ConfigError, match=r"unknown key 'lrr' \(did you mean 'lr'\?\).*valid keys: .*epochs"):
        apply_overrides(FnnMnistConfig(), ["lrr=0.1"])
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides(FnnMnistConfig(), ["lr"])


def test_invalid_values_are_rejected():
    with pytest.raises(ConfigError, match="dataset.*'cifar'"):
        apply_overrides(FnnMnistConfig(), ["dataset=cifar"])
    with pytest.raises(ConfigError, match="dtype"):
        apply_overrides(FnnMnistConfig(), ["dtype=float32"])


@pytest.mark.parametrize("name", packaged_configs("fnn-mnist"))
def test_packaged_configs_load_and_build(name):
    from qnets.experiments.fnn_mnist import build_network

    config = resolve_config("fnn-mnist", config_file=name)
    net = build_network(config)
    assert net.sizes == list(config.sizes)


def test_every_packaged_config_belongs_to_an_experiment_and_resolves():
    owners = {}
    for experiment in list_experiments():
        for name in packaged_configs(experiment.name):
            config = resolve_config(experiment.name, config_file=name)
            assert isinstance(config, experiment.config_cls)
            owners.setdefault(name, []).append(experiment.name)
    top_level = {p.stem for p in CONFIG_DIR.glob("*.yaml")}
    assert top_level <= set(owners), f"configs of no experiment: {top_level - set(owners)}"
    with pytest.raises(ConfigError, match="is for experiment 'fnn-mnist', not 'tn-mnist'"):
        resolve_config("tn-mnist", config_file="fc-ldos")  # another experiment's config


def test_packaged_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="neither a file nor a packaged config"):
        resolve_config("fnn-mnist", config_file="no-such-config")
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiment: tn-mnist\nlr: 0.1\n")
    with pytest.raises(ConfigError, match="is for experiment 'tn-mnist'"):
        resolve_config("fnn-mnist", config_file=bad)
    bad.write_text("epochz: 3\n")
    with pytest.raises(ConfigError, match="unknown key 'epochz'"):
        resolve_config("fnn-mnist", config_file=bad)


def test_registry():
    assert "fnn-mnist" in [e.name for e in list_experiments()]
    with pytest.raises(ConfigError, match="unknown name 'nope'.*fnn-mnist"):
        get_experiment("nope")


def test_check_resume_compares_configs_and_accepts_fields_added_later(tmp_path):
    import yaml

    from qnets.experiments.config import config_to_dict
    from qnets.experiments.fnn_chern import FnnChernConfig
    from qnets.experiments.rundir import check_resume

    config = FnnChernConfig(L=8, sizes=[64, 8, 2], threads=1)
    stored = config_to_dict(config)
    del stored["perturbation_kappa"]  # a field the experiment gained after the run started
    stored["threads"] = 2  # threads and device may change
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(stored))
    check_resume(tmp_path, config, resume=True)
    changed = FnnChernConfig(L=8, sizes=[64, 8, 2], perturbation_kappa=0.6)
    with pytest.raises(ConfigError, match="perturbation_kappa: 0.52 → 0.6"):
        check_resume(tmp_path, changed, resume=True)
    with pytest.raises(ConfigError, match="epochs"):
        check_resume(tmp_path, FnnChernConfig(L=8, sizes=[64, 8, 2], epochs=3), resume=True)
    check_resume(tmp_path, changed, resume=False)  # a fresh run does not compare


def test_check_resume_lets_the_number_of_workers_change(tmp_path):
    import yaml

    from qnets.experiments.config import config_to_dict
    from qnets.experiments.qep_phase_sensor import QepPhaseSensorConfig
    from qnets.experiments.rundir import check_resume

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config_to_dict(QepPhaseSensorConfig())))
    check_resume(tmp_path, QepPhaseSensorConfig(workers=2, threads=2), resume=True)
    with pytest.raises(ConfigError, match=r"seeds: \[1, 2, 3\] → \[1, 2\]"):
        check_resume(tmp_path, QepPhaseSensorConfig(workers=2, seeds=[1, 2]), resume=True)


def test_check_device_parses_and_refuses_what_the_machine_lacks(monkeypatch):
    import torch

    from qnets.experiments.rundir import check_device

    assert check_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match=r"device: expected a torch device .* got 'gpu0'"):
        check_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"device: 'cuda' needs a CUDA GPU, but this torch .* sees none"):
        check_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert check_device("cuda") == torch.device("cuda")
    assert check_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ConfigError, match=r"device: 'cuda:3', but this machine has 1 CUDA device\(s\)"):
        check_device("cuda:3")


def test_a_run_on_a_missing_device_stops_before_writing_anything(tmp_path, monkeypatch):
    import torch

    from qnets.experiments.rundir import start_run

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        start_run(tmp_path / "run", FnnMnistConfig(device="cuda"), resume=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        run_experiment("fnn-mnist", overrides=["device=cuda"], out=tmp_path / "cli-run")
    assert not (tmp_path / "cli-run").exists()
