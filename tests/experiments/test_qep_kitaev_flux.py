"""``qep-kitaev-flux``: simplex Hamiltonian, QEP gradient vs finite differences, small run."""

import functools
from dataclasses import replace

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from qnets.ep import FiniteDifferenceGradient, NegAbsLoss, QuantumEP
from qnets.errors import ConfigError, SweepError
from qnets.experiments import resolve_config, run_experiment
from qnets.experiments.qep_kitaev_flux import kitaev_flux_hamiltonian
from qnets.hamiltonians import kitaev_honeycomb


def test_simplex_hamiltonian_matches_kitaev_model():
    H = kitaev_flux_hamiltonian(4, 2, h=0.1)
    jx, jy = 0.3, 0.45
    ref = kitaev_honeycomb(4, 2, Jx=jx, Jy=jy, Jz=1 - jx - jy, h=0.1)
    diff = H.matrix(theta=[jx, jy]) - ref.matrix()
    assert abs(diff).max() < 1e-12
    assert H.names("trainable") == ["Jx", "Jy"] and H.names("output") == ["W"]


def test_flux_gradient_matches_finite_differences():
    # complex Hamiltonian (the [111] field has Y); gap ≈ 0.08 at this point
    H = kitaev_flux_hamiltonian(4, 2, h=0.1)
    theta = np.array([0.5, 0.2])

    def error(**kw):
        g, _ = QuantumEP(H, NegAbsLoss(), method="dense", **kw).gradient(theta)
        return np.linalg.norm(g - g_fd) / np.linalg.norm(g_fd)

    with threadpool_limits(1):  # small dense eigh: threads only oversubscribe
        g_fd, _ = FiniteDifferenceGradient(H, NegAbsLoss(), h=1e-5, method="dense").gradient(theta)
        e_lr = error(mode="linear_response")
        e3, e4 = error(beta=1e-3, mode="symmetric"), error(beta=1e-4, mode="symmetric")
    assert e_lr < 1e-6
    assert e3 < 2e-4 and 50 < e3 / e4 < 200  # O(β²) bias (measured 6.7e-5, 6.7e-7)


def test_small_run_raises_flux(tmp_path):
    config = resolve_config("qep-kitaev-flux", overrides=[
        "Lx=4", "iterations=8", "lr=0.05", "starts=[[0.6667, 0.1667]]", "sweep_step=0.5",
        "nudge_betas=[0.01, 0.1]"])
    result = run_experiment("qep-kitaev-flux", config, out=tmp_path, progress=False)
    run = result["runs"][0]
    assert run["abs_W"]["end"] > run["abs_W"]["start"] + 0.2
    assert abs(sum(run["end"].values()) - 1) < 1e-12
    assert result["sweep"]["points"] == 6 and len(result["nudge_study"]["runs"]) == 2
    for name in ("final.json", "start_0.json", "nudge_1_0.json", "sweep.csv", "kitaev_flux.png"):
        assert (tmp_path / name).exists()


def test_sweep_resumes_from_partial_points_and_pool_matches_serial(tmp_path, monkeypatch):
    from qnets.experiments import qep_kitaev_flux as kf

    config = resolve_config("qep-kitaev-flux", overrides=["Lx=4", "sweep_step=0.5"])
    for name in ("serial", "interrupted", "pool"):
        (tmp_path / name).mkdir()
    serial = kf._sweep(config, tmp_path / "serial" / "sweep.csv", False, False)
    assert serial.shape == (6, 4) and not (tmp_path / "serial" / "sweep_partial").exists()
    real, calls = kf._flux_at, []

    @functools.wraps(real)  # same name: the resumed sweep recognises its partial results
    def flaky(point, **kwargs):
        if len(calls) == 3:
            raise RuntimeError("interrupted")
        calls.append(point)
        return real(point, **kwargs)

    monkeypatch.setattr(kf, "_flux_at", flaky)
    with pytest.raises(SweepError, match="interrupted"):
        kf._sweep(config, tmp_path / "interrupted" / "sweep.csv", False, False)
    assert (tmp_path / "interrupted" / "sweep_partial").exists()
    calls.clear()
    monkeypatch.setattr(kf, "_flux_at", functools.wraps(real)(
        lambda point, **kwargs: calls.append(point) or real(point, **kwargs)))
    resumed = kf._sweep(config, tmp_path / "interrupted" / "sweep.csv", True, False)
    assert len(calls) == 3  # only the points missing from sweep_partial/
    np.testing.assert_allclose(resumed, serial, rtol=0, atol=1e-12)
    monkeypatch.setattr(kf, "_flux_at", real)
    pooled = kf._sweep(replace(config, workers=2), tmp_path / "pool" / "sweep.csv", False, False)
    np.testing.assert_allclose(pooled, serial, rtol=0, atol=1e-10)


def test_config_validation():
    with pytest.raises(ConfigError, match="Lx"):
        resolve_config("qep-kitaev-flux", overrides=["Lx=3"])
    with pytest.raises(ConfigError, match="sweep_step"):
        resolve_config("qep-kitaev-flux", overrides=["sweep_step=0"])
    with pytest.raises(ConfigError, match="nudge_betas"):
        resolve_config("qep-kitaev-flux", overrides=["nudge_betas=[-0.1]"])
    with pytest.raises(ConfigError, match="workers"):
        resolve_config("qep-kitaev-flux", overrides=["workers=0"])
