"""Experiment fnn-gradients (spec B6): FNN gradients do not vanish towards the input; an MLP's do."""

import pytest

from qnets.errors import ConfigError
from qnets.experiments import resolve_config, run_experiment


def test_fnn_gradient_profile_is_flat_compared_with_a_sigmoid_mlp(tmp_path):
    """Measured (ci-small: L = 8, width 16, 7 layers, 1 epoch): per-parameter ratio layer 1 /
    layer 7 = 0.131 for the FNN (paper 0.112), 9e-8 for the sigmoid MLP."""
    config = resolve_config("fnn-gradients", config_file="ci-small",
                            overrides=[f"cache_dir={tmp_path / 'cache'}"])
    result = run_experiment("fnn-gradients", config, out=tmp_path / "run", progress=False)
    assert result["fnn_over_mlp"] >= 10
    assert 0.01 <= result["fnn_first_over_last_per_parameter"] <= 10
    assert result["mlp_first_over_last_per_parameter"] < 1e-3
    assert len(result["fnn"]["raw"]) == len(result["mlp"]["raw"]) == 7
    assert (tmp_path / "run" / "gradient_profile.png").is_file()


@pytest.mark.parametrize(("override", "match"), [("L=10", "multiple of 4"), ("sizes=[64,1]", "sizes"),
                                                 ("sizes=[64,8,2]", "sizes"), ("epochs=0", "epochs")])
def test_bad_configs_are_refused(override, match):
    with pytest.raises(ConfigError, match=match):
        resolve_config("fnn-gradients", config_file="ci-small", overrides=[override])
