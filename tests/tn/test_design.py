"""Width planner: required min-cuts reached, minimal parameter count (brute force), errors."""

from __future__ import annotations

import itertools

import pytest

from qnets.errors import ConfigError
from qnets.tn.convac import ConvAC
from qnets.tn.design import convac_num_parameters, design_widths
from qnets.tn.mincut import canonical_partition, mincut_bound


def _brute_force(requirements, n, m, geometry, values, n_layers, **kwargs):
    best = None
    for widths in itertools.product(values, repeat=n_layers):
        ok = all(
            mincut_bound(widths, canonical_partition(name, n, geometry), geometry, in_features=m) >= t
            for name, t in requirements.items()
        )
        if ok:
            p = convac_num_parameters(n, m, widths, geometry, **kwargs)
            best = p if best is None else min(best, p)
    return best


@pytest.mark.parametrize(
    "requirements, n, m, geometry",
    [
        ({"left-right": 4}, 8, 4, "1d"),
        ({"odd-even": 256}, 8, 4, "1d"),
        ({"odd-even": 16, "left-right": 8}, 16, 2, "1d"),
        ({"blocks-2": 16, "left-right": 3}, 16, 2, "1d"),
        ({"checkerboard": 16, "left-right": 4}, 16, 2, "2d"),
    ],
)
def test_design_reaches_targets_and_is_minimal(requirements, n, m, geometry):
    design = design_widths(requirements, n, m, geometry)
    for (name, target), reached in zip(requirements.items(), design.mincuts):
        bound = mincut_bound(design.widths, canonical_partition(name, n, geometry), geometry, in_features=m)
        assert bound == reached >= target
    model = ConvAC(n, m, design.widths, geometry)
    assert design.num_parameters == model.num_parameters()
    top = max(requirements.values())
    values = [2**k for k in range(top.bit_length() + 1) if 2 ** (k - 1) < top]
    assert design.num_parameters == _brute_force(requirements, n, m, geometry, values, len(design.widths))
    # no single width can be lowered to the previous power of two
    for layer, w in enumerate(design.widths):
        if w > 1:
            lower = design.widths[:layer] + (w // 2,) + design.widths[layer + 1 :]
            assert any(
                mincut_bound(lower, canonical_partition(name, n, geometry), geometry, in_features=m) < t
                for name, t in requirements.items()
            )


def test_prescription_early_vs_deep():
    # short-range (interleaved) dependencies widen the first layer, long-range the deep ones
    local = design_widths({"odd-even": 256}, 8, 4)
    global_ = design_widths({"left-right": 4}, 8, 4)
    assert local.widths == (4, 1, 1)
    assert global_.widths == (2, 4, 4) and global_.num_parameters == 132
    assert local.widths[0] > local.widths[-1] and global_.widths[0] < global_.widths[-1]


def test_shared_and_explicit_candidates():
    design = design_widths([(canonical_partition("left-right", 8), 5)], 8, 3, candidates=[1, 3, 5, 7, 9])
    assert design.widths[-1] >= 5 and design.mincuts[0] >= 5
    assert set(design.widths) <= {1, 3, 5}  # 7 and 9 never needed above the target 5
    shared = design_widths({"left-right": 4}, 8, 4, shared=True)
    assert shared.num_parameters == ConvAC(8, 4, shared.widths, shared=True).num_parameters()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"requirements": {"odd-even": 300}}, r"'odd-even' needs rank 300.*256"),
        ({"requirements": {"odd-even": 0}}, "target rank must be an integer ≥ 1"),
        ({"requirements": []}, "requirements"),
        ({"requirements": [(([0, 1], [2, 3]), 2)]}, r"inputs \[4, 5, 6, 7\] are in neither part"),
        ({"requirements": {"diagonal": 2}}, "name"),
        ({"requirements": {"odd-even": 2}, "in_features": 0}, "in_features"),
        ({"requirements": {"odd-even": 2}, "n_inputs": 12}, "n_inputs"),
        ({"requirements": {"odd-even": 2}, "candidates": [0, 2]}, "candidates"),
    ],
)
def test_design_errors(kwargs, match):
    args = {"n_inputs": 8, "in_features": 4} | kwargs
    with pytest.raises(ConfigError, match=match):
        design_widths(**args)
