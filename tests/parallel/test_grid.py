"""Grids and axis specs."""

import numpy as np
import pytest

from qnets.errors import ConfigError
from qnets.parallel import Grid, parse_axis, parse_grid, with_seeds


def test_axis_specs():
    assert parse_axis("kappa=0:1:5") == ("kappa", [0.0, 0.25, 0.5, 0.75, 1.0])
    assert parse_axis("x=2:2:1") == ("x", [2.0])
    assert parse_axis("L=8,12,16") == ("L", [8, 12, 16])
    assert parse_axis("mode= a , 1.5") == ("mode", ["a", 1.5])
    assert parse_axis("W=0.5") == ("W", [0.5])
    assert parse_axis("eta=1e-3:2e-3:2")[1] == [0.001, 0.002]


@pytest.mark.parametrize(
    "spec, match",
    [
        ("kappa", "expected key=start:stop:num"),
        ("kappa=", "no values"),
        ("kappa=0:1", "exactly start:stop:num"),
        ("kappa=0:1:2:3", "exactly start:stop:num"),
        ("kappa=0:1:x", "num must be an integer"),
        ("kappa=0:1:0", "num must be an integer"),
        ("kappa=0:1:2.5", "num must be an integer"),
        ("kappa=a:1:3", "start and stop must be finite"),
        ("kappa=0:inf:3", "start and stop must be finite"),
        ("1x=0:1:3", "not a valid identifier"),
        ("kappa=1,,2", "empty value"),
    ],
)
def test_bad_axis_specs(spec, match):
    with pytest.raises(ConfigError, match=match):
        parse_axis(spec)


def test_bad_grid_specs():
    with pytest.raises(ConfigError, match="given twice"):
        parse_grid(["a=1,2", "a=3"])
    with pytest.raises(ConfigError, match="at least one axis"):
        parse_grid([])


def test_grid_is_the_cartesian_product_in_c_order():
    g = parse_grid(["a=0:1:2", "b=1,2,3"])
    assert g.shape == (2, 3) and len(g) == 6 and g.names == ("a", "b")
    points = list(g)
    assert points[0] == {"a": 0.0, "b": 1} and points[1] == {"a": 0.0, "b": 2}
    assert points[5] == {"a": 1.0, "b": 3}
    for k in range(6):
        i, j = np.unravel_index(k, g.shape)
        assert g[k] == {"a": g.axes["a"][i], "b": g.axes["b"][j]} == points[k]
    assert g[-1] == points[-1] and g[1:3] == points[1:3]
    with pytest.raises(IndexError):
        g[6]
    assert isinstance(Grid({"x": np.arange(3)})[2]["x"], int)  # numpy scalars become Python ones


def test_bad_grids():
    with pytest.raises(ConfigError, match="non-empty mapping"):
        Grid({})
    with pytest.raises(ConfigError, match="at least one value"):
        Grid({"a": []})
    with pytest.raises(ConfigError, match="sequence of values"):
        Grid({"a": "abc"})


def test_with_seeds():
    g = with_seeds({"a": [1, 2]}, 3)
    assert g.names == ("a", "seed") and list(g)[:3] == [{"a": 1, "seed": s} for s in range(3)]
    assert with_seeds(None, [5, 7]).axes == {"seed": [5, 7]}
    with pytest.raises(ConfigError, match="seeds"):
        with_seeds(None, 0)
    with pytest.raises(ConfigError, match="seeds"):
        with_seeds(None, [1.5])
    with pytest.raises(ConfigError, match="already has an axis 'seed'"):
        with_seeds({"seed": [1]}, 2)
