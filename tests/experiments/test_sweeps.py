"""Registered sweeps: free-fermion TFIM vs exact diagonalisation, Chern phases, tables, CLI."""

import csv
import itertools
from functools import reduce

import numpy as np
import pytest
from typer.testing import CliRunner

from qnets.cli.app import app
from qnets.errors import ConfigError
from qnets.experiments.sweeps import (
    chern_point,
    get_sweep,
    list_sweeps,
    run_sweep,
    tfim_free_fermion,
    tfim_point,
)
from qnets.parallel import Grid

X = np.array([[0, 1], [1, 0]])
Z = np.diag([1, -1])


def _site(op, i, n):
    return reduce(np.kron, [op if k == i else np.eye(2) for k in range(n)])


def _tfim_dense(n, J, h):
    H = -h * sum(_site(X, i, n) for i in range(n))
    H = H - J * sum(_site(Z, i, n) @ _site(Z, i + 1, n) for i in range(n - 1))
    return np.linalg.eigvalsh(H)


@pytest.mark.parametrize("n, J, h", [(1, 1.0, 0.7), (2, 1.0, 0.0), (4, 1.0, 0.5), (5, -0.8, 1.3), (6, 1.0, 1.0)])
def test_tfim_free_fermions_reproduce_the_whole_dense_spectrum(n, J, h):
    e0, eps = tfim_free_fermion(n, J, h)
    levels = sorted(e0 + sum(s) for r in range(n + 1) for s in itertools.combinations(eps, r))
    assert np.allclose(levels, _tfim_dense(n, J, h), atol=1e-10)
    point = tfim_point(h=h, J=J, n=n, method="free-fermion")
    assert np.isclose(point["energy_per_site"], e0 / n) and np.isclose(point["gap"], eps[0])


@pytest.mark.parametrize("h", [0.3, 1.0, 1.7])
def test_tfim_exact_solver_and_free_fermions_agree(h):
    exact = tfim_point(h=h, J=1.0, n=10, method="exact")
    free = tfim_point(h=h, J=1.0, n=10, method="free-fermion")
    assert exact["exact"] == 1 and free["exact"] == 0 and tfim_point(h=h, n=20)["exact"] == 0
    assert abs(exact["energy_per_site"] - free["energy_per_site"]) < 1e-10
    assert abs(exact["gap"] - free["gap"]) < 1e-7
    with pytest.raises(ConfigError, match="method"):
        tfim_point(method="dmrg")


def test_tfim_bulk_gap_and_energy_approach_the_thermodynamic_limit():
    paramagnet = tfim_point(h=2.0, J=1.0, n=200)
    assert abs(paramagnet["gap"] - 2 * (2.0 - 1.0)) < 1e-3  # 2|h − J| + O(1/n²)
    ferromagnet = tfim_point(h=0.5, J=1.0, n=200)
    assert ferromagnet["gap"] < 1e-12 and abs(ferromagnet["gap_2"] - 1.0) < 0.01  # edge mode, bulk 2|h−J|
    # critical point: E0/n → −4/π
    assert abs(tfim_point(h=1.0, J=1.0, n=400)["energy_per_site"] + 4 / np.pi) < 2e-3


def test_chern_point_separates_the_phases():
    assert chern_point(kappa=0.2, L=12)["abs_chern"] < 0.3
    topological = chern_point(kappa=0.9, L=12)
    assert topological["abs_chern"] > 0.9 and topological["gap"] > 0.5
    assert chern_point(kappa=0.9, disorder=1.0, L=12, seed=1) == chern_point(
        kappa=0.9, disorder=1.0, L=12, seed=1)


def test_run_sweep_writes_a_table_and_a_figure(tmp_path):
    grid = Grid({"h": [0.5, 1.5], "J": [1.0, 2.0]})
    result = run_sweep("tfim-ground-state", grid, fixed={"n": 8}, out=tmp_path, backend="serial",
                       progress=False)
    assert result["points"] == 4 and result["fixed"] == {"n": 8, "method": "auto"}
    with open(result["table"]) as f:
        rows = list(csv.DictReader(f))
    assert [(float(r["h"]), float(r["J"])) for r in rows] == list(itertools.product([0.5, 1.5], [1.0, 2.0]))
    for r in rows:
        expected = tfim_point(h=float(r["h"]), J=float(r["J"]), n=8)  # exact diagonalisation
        assert float(r["energy_per_site"]) == expected["energy_per_site"]  # repr round trip
        assert int(r["n"]) == 8
    pytest.importorskip("matplotlib")
    assert (tmp_path / "sweep.png").stat().st_size > 1000
    assert (tmp_path / "sweep_gap.png").stat().st_size > 1000  # 2-D grid: one map per output


def test_run_sweep_bad_input(tmp_path):
    with pytest.raises(ConfigError, match="unknown name 'nope'; known: chern-phase-diagram"):
        get_sweep("nope")
    with pytest.raises(ConfigError, match="unknown parameter 'x'; parameters: h, J, n, method"):
        run_sweep("tfim-ground-state", {"x": [1]}, out=tmp_path)
    with pytest.raises(ConfigError, match="both as grid axes and fixed values"):
        run_sweep("tfim-ground-state", {"h": [1]}, fixed={"h": 2}, out=tmp_path)
    with pytest.raises(ConfigError, match="table_format"):
        run_sweep("tfim-ground-state", {"h": [1]}, out=tmp_path, table_format="xlsx")
    assert {s.name for s in list_sweeps()} >= {"chern-phase-diagram", "tfim-ground-state"}


def test_parquet_table(tmp_path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        with pytest.raises(ConfigError, match="'parquet' needs pyarrow"):
            run_sweep("tfim-ground-state", {"h": [1]}, out=tmp_path, table_format="parquet")
        return
    result = run_sweep("tfim-ground-state", {"h": [0.5, 1.5]}, fixed={"n": 6}, out=tmp_path,
                       table_format="parquet", backend="serial", progress=False)
    table = pq.read_table(result["table"]).to_pylist()
    assert [r["h"] for r in table] == [0.5, 1.5]
    assert table[1]["energy_per_site"] == tfim_point(h=1.5, n=6)["energy_per_site"]


def test_cli_sweep(tmp_path):
    runner = CliRunner()
    out = tmp_path / "chern"
    result = runner.invoke(app, ["sweep", "chern-phase-diagram", "--grid", "kappa=0.2:0.9:3",
                                 "--set", "L=8", "--backend", "process", "--workers", "2",
                                 "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["kappa"]) for r in rows] == [0.2, 0.55, 0.9] and {r["L"] for r in rows} == {"8"}
    assert float(rows[0]["abs_chern"]) < 0.3 and float(rows[2]["abs_chern"]) > 0.7
    for args, message in [
        (["--grid", "kappa=0:1"], "a range needs exactly start:stop:num"),
        (["--grid", "kappa=0:1:3", "--backend", "ray"], "backend: expected one of"),
        (["--grid", "kappa=0:1:3", "--set", "L"], "--set: expected key=value"),
        (["--grid", "kappa=0:1:3", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9",
          "--timeout", "1"], "cannot reach the Dask scheduler"),
    ]:
        bad = runner.invoke(app, ["sweep", "chern-phase-diagram", *args, "--out", str(tmp_path / "x")])
        assert bad.exit_code == 2 and message in bad.output, bad.output
    listing = runner.invoke(app, ["sweep", "--list"])
    assert "tfim-ground-state" in listing.output and "kappa=0.75" in listing.output
