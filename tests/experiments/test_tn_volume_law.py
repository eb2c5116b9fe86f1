"""tn-volume-law: MPS / tree / overlapping capacities, volume vs area law, rank check, run files."""

from __future__ import annotations

import math

import pytest

from qnets.errors import ConfigError
from qnets.experiments.tn_volume_law import (
    TnVolumeLawConfig,
    capacity_curves,
    centred_block,
    mps_mincut,
    run_tn_volume_law,
)
from qnets.tn import OverlappingConvAC, matricization_rank, mincut_bound


def test_centred_blocks():
    assert centred_block(3, 8, "1d") == ([2, 3, 4], [0, 1, 5, 6, 7])
    a, b = centred_block(2, 4, "2d")
    assert a == [5, 6, 9, 10] and len(b) == 12


@pytest.mark.parametrize("chi, m", [(2, 2), (3, 2), (4, 3)])
def test_mps_mincut_closed_form(chi, m):
    n = 10
    for size in range(1, 6):
        a, b = centred_block(size, n, "1d")
        bonds = 2 if 0 < a[0] and a[-1] < n - 1 else 1
        assert mps_mincut((a, b), n, chi, m) == min(chi**bonds, m ** len(a), m ** len(b))
    assert mps_mincut(([0, 1, 2], list(range(3, n))), n, chi, m) == min(chi, m**3)


def test_volume_law_then_area_law_in_1d():
    # overlapping ConvAC (K = 2, stride 1, width 4, M = 2): capacity |A| ln 2 up to 2L inputs
    n = 24
    for depth in (2, 3):
        caps = [mincut_bound([4] * depth, centred_block(s, n, "1d"), in_features=2, kernel=2) for s in range(1, 12)]
        assert caps == [2 ** min(s, 2 * depth) for s in range(1, 12)]
    # MPS: flat at χ² for interior blocks (area law)
    assert {mps_mincut(centred_block(s, n, "1d"), n, 4, 2) for s in range(4, 12)} == {16}


def test_rank_equals_duplicated_mincut_small_chain():
    n = 10
    model = OverlappingConvAC(n, 2, [3, 3], kernel=2, init="orthogonal", seed=1)
    tensor = model.coefficient_tensor()
    for s in range(1, 6):
        partition = centred_block(s, n, "1d")
        assert matricization_rank(tensor, partition) == mincut_bound(model, partition)


def test_capacity_curves_and_run(tmp_path):
    config = TnVolumeLawConfig(n_1d=16, side_2d=4, layers_1d=[2, 3], layers_2d=[1, 2], check_n=10, check_layers=[2])
    one = capacity_curves(config, "1d")
    over = one["networks"]["overlapping L=3"]
    assert over["capacity_nats"][:6] == pytest.approx([s * math.log(2) for s in range(1, 7)])
    assert max(one["networks"]["MPS χ=4"]["capacity_nats"]) == pytest.approx(math.log(16))
    for curve in one["networks"].values():
        assert all(c <= v + 1e-12 for c, v in zip(curve["capacity_nats"], one["volume_law_nats"]))
    two = capacity_curves(config, "2d")
    assert two["subsystem_inputs"] == [1, 4]
    result = run_tn_volume_law(config, tmp_path, progress=False)
    for row in result["rank_check"]["models"].values():
        assert all(r <= c for r, c in zip(row["rank"], row["mincut"]))
    assert (tmp_path / "capacity_vs_subsystem.png").is_file() and (tmp_path / "final.json").is_file()


def test_config_errors():
    with pytest.raises(ConfigError, match="n_1d"):
        TnVolumeLawConfig(n_1d=12)
    with pytest.raises(ConfigError, match="layers_1d"):
        TnVolumeLawConfig(n_1d=8, layers_1d=[8])
    with pytest.raises(ConfigError, match="geometries"):
        TnVolumeLawConfig(geometries=["3d"])
