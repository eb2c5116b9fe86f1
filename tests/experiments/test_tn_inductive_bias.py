"""tn-inductive-bias: data, required ranks, hand-built solutions, Eckart–Young floor, CI crossover (T8)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qnets.errors import ConfigError
from qnets.experiments.tn_inductive_bias import (
    TnInductiveBiasConfig,
    eckart_young_floor,
    label_tensor,
    make_dependency_task,
    regression_target,
    run_tn_inductive_bias,
)
from qnets.tn import ConvAC, canonical_partition, matricization_rank, mincut_bound


@pytest.mark.parametrize("task", ["local", "global"])
def test_data_is_balanced_and_labelled_by_the_label_function(task):
    x, y = make_dependency_task(task, 1000, seed=3)
    assert x.shape == (1000, 8) and x.dtype == torch.int64 and int(x.max()) < 4
    assert y.sum().item() == 500
    target = label_tensor(task)
    assert np.array_equal(target[tuple(x.numpy().T)], y.numpy())
    x2, _ = make_dependency_task(task, 1000, seed=3)
    assert torch.equal(x, x2)


def test_required_ranks():
    lr, oe, b2 = (canonical_partition(p, 8) for p in ("left-right", "odd-even", "blocks-2"))
    local, global_ = label_tensor("local"), label_tensor("global")
    assert [matricization_rank(local, p) for p in (oe, lr, b2)] == [256, 1, 1]
    assert [matricization_rank(global_, p) for p in (oe, lr, b2)] == [1, 4, 1]
    # min-cut caps of the two architectures (spec §4.2 T8)
    assert mincut_bound((4, 2, 2), lr, in_features=4) == 2
    assert mincut_bound((2, 4, 4), oe, in_features=4) == 16
    assert mincut_bound((4, 2, 2), oe, in_features=4) == 256
    assert mincut_bound((2, 4, 4), lr, in_features=4) == 4


def _set(model: ConvAC, layer: int, position: int, offset: int, matrix) -> None:
    with torch.no_grad():
        model.weights[layer][position, offset].zero_()
        matrix = torch.as_tensor(matrix, dtype=torch.float64)
        model.weights[layer][position, offset, : matrix.shape[0], : matrix.shape[1]] = matrix


def test_rank_two_solves_the_global_classification_task():
    # y = [p0⊕p2 = p4⊕p6] has Schmidt rank 2 across left/right and is 1 on positives and 0 on
    # every negative (they break exactly one parity link): the (4, 2, 2) cap of 2 < 4 does not
    # bound the *classification* accuracy, only the rank of the full label function
    model = ConvAC(8, 4, (4, 2, 2))
    sign = [[1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [1.0, -1.0]]  # token t -> (1, (-1)^t)
    for p in range(4):
        _set(model, 0, p, 0, sign)
        _set(model, 0, p, 1, [[1.0, 1.0]] * 4)
    for q in range(2):
        for k in range(2):
            _set(model, 1, q, k, np.eye(2))
    for k in range(2):
        _set(model, 2, 0, k, [[0.5, 0.5], [0.5, -0.5]])
    with torch.no_grad():
        model.output_weight.copy_(torch.ones(2, 1))
    x, y = make_dependency_task("global", 2000, seed=0)
    assert ((model(x)[:, 0] > 0.5).double() == y).all()
    lr = canonical_partition("left-right", 8)
    assert matricization_rank(model, lr) == 2
    # ... and over all inputs it sits above the Eckart–Young floor of rank 2
    fvu = float(((model.coefficient_tensor().numpy() - label_tensor("global")) ** 2).mean() / label_tensor("global").var())
    assert fvu >= eckart_young_floor(label_tensor("global"), lr, 2) - 1e-12


def test_rank_two_per_pair_solves_the_local_classification_task():
    # F(a, b) = cos(π(a − b)/2) has rank 2 and is 1 iff a = b (else 0 or −1): the product over
    # pairs classifies perfectly with r_0 = 2 (odd/even cap 16 < 256)
    model = ConvAC(8, 4, (2, 4, 4))
    angles = np.arange(4) * math.pi / 2
    trig = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    for p in range(4):
        for k in range(2):
            _set(model, 0, p, k, trig)
    for q in range(2):
        for k in range(2):
            _set(model, 1, q, k, [[1.0], [1.0]])
    for k in range(2):
        _set(model, 2, 0, k, [[1.0]])
    with torch.no_grad():
        model.output_weight.zero_()
        model.output_weight[0, 0] = 1.0
    x, y = make_dependency_task("local", 2000, seed=0)
    assert ((model(x)[:, 0] > 0.5).double() == y).all()
    assert matricization_rank(model, canonical_partition("odd-even", 8)) == 16


def test_eckart_young_floor_values():
    lr, oe = canonical_partition("left-right", 8), canonical_partition("odd-even", 8)
    assert eckart_young_floor(label_tensor("global"), lr, 2) == pytest.approx(2 / 3)
    assert eckart_young_floor(label_tensor("global"), lr, 4) == pytest.approx(0, abs=1e-12)
    assert eckart_young_floor(label_tensor("local"), oe, 16) == pytest.approx(0.9412, abs=1e-4)
    local = regression_target("local")
    assert local.mean() == pytest.approx(0, abs=1e-12) and local.var() == pytest.approx(1)
    assert matricization_rank(local, oe) == 81  # (M − 1)^4
    assert eckart_young_floor(local, oe, 16) == pytest.approx(1 - 16 / 81)
    assert eckart_young_floor(local, oe, 81) == pytest.approx(0, abs=1e-12)


def test_config_errors():
    with pytest.raises(ConfigError, match="tasks"):
        TnInductiveBiasConfig(tasks=["medium"])
    with pytest.raises(ConfigError, match="wide_base"):
        TnInductiveBiasConfig(wide_base=[[4, 0, 2]])
    with pytest.raises(ConfigError, match="in_features"):
        TnInductiveBiasConfig(in_features=3)


def _rows(result):
    return {(r["family"], r["mode"], r["task"]): r for r in result["results"]}


def _check_theorems(result):
    for row in result["results"]:  # rank ≤ min-cut, S ≤ ln min-cut, error over all inputs ≥ floor
        assert row["trained_rank"] <= row["mincut"]
        assert row["trained_entropy"] <= row["ln_mincut"] + 1e-9
        assert row["fvu_all_inputs"] >= row["fvu_floor"] - 1e-9


def test_t8_local_crossover_and_cap(tmp_path):
    """CI-sized T8, local task (robust at one seed): wide-base wins; on the dense local target
    the capped wide-tip sits at its Eckart–Young floor 1 − 16/81 and the wide-base fits it."""
    config = TnInductiveBiasConfig(
        wide_base=[[4, 2, 2]], wide_tip=[[2, 4, 4]], seeds=1, steps=1500, tasks=["local"], regression_tasks=["local"]
    )
    result = run_tn_inductive_bias(config, tmp_path, progress=False)
    rows = _rows(result)
    base_local = rows["wide-base", "classification", "local"]["test_accuracy"]
    tip_local = rows["wide-tip", "classification", "local"]["test_accuracy"]
    assert base_local >= 0.99 and tip_local < base_local
    _check_theorems(result)
    base_reg = rows["wide-base", "regression", "local"]
    tip_reg = rows["wide-tip", "regression", "local"]
    assert tip_reg["capped"] and tip_reg["fvu_floor"] == pytest.approx(1 - 16 / 81)
    assert tip_reg["fvu_all_inputs"] < tip_reg["fvu_floor"] + 0.05  # failure sits at the cap
    assert not base_reg["capped"] and base_reg["fvu_all_inputs"] < 0.05
    assert (tmp_path / "final.json").is_file() and (tmp_path / "accuracy_vs_parameters.png").is_file()


@pytest.mark.slow
def test_t8_global_regression_crossover_best_of_three(tmp_path):
    """Global direction (3 seeds, best by training loss): on the parity target over all inputs the
    wide-base (4, 2, 2) sits at its floor 2/3 (left/right cut 2 < 4) while the wide-tip gets
    below that floor (measured 0.702 vs 0.348, data seed 0).

    Threshold *classification* of the global task is not asserted: a rank-2 solution exists
    (``test_rank_two_solves_the_global_classification_task``) and which family wins depends on
    the data and training seeds (docs/results.md).
    """
    config = TnInductiveBiasConfig(wide_base=[[4, 2, 2]], wide_tip=[[2, 4, 4]], seeds=3, tasks=[],
                                   regression_tasks=["global"])
    result = run_tn_inductive_bias(config, tmp_path, progress=False)
    rows = _rows(result)
    base, tip = rows["wide-base", "regression", "global"], rows["wide-tip", "regression", "global"]
    assert base["capped"] and base["fvu_floor"] == pytest.approx(2 / 3)
    assert base["fvu_all_inputs"] < base["fvu_floor"] + 0.05
    assert not tip["capped"] and tip["fvu_all_inputs"] < base["fvu_floor"]
    _check_theorems(result)
