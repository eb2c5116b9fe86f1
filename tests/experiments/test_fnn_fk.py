"""Falicov–Kimball FNN experiments: data rules, the Matsubara network vs a dense oracle, in-situ
DMFT coupling, CI-sized runs of ``fnn-fk-stripe`` / ``fnn-fk-metal`` (spec B9, B10), bad input.

CI-sized gates were set from measured runs (6×6, 10 Matsubara frequencies, 160 train / 40
test, DMFT tol 1e-5): stripe — 100 % test accuracy after 2 epochs, FNN boundary t′ = 0.514,
0.540, 0.610 for seeds 0, 1, 2 (DMFT checkerboard order < 0.1 from t′ ≈ 0.52–0.59 on this
small, hot lattice); metal — 97.5 % after 10 epochs, boundary U ≈ 1.93–1.97 for three
learning-rate / init settings (paper 1.94; DMFT checkerboard onset 1.75 on 6×6).
"""

import math

import numpy as np
import pytest
import torch

from qnets.errors import ConfigError, ShapeError
from qnets.experiments.config import load_config_file
from qnets.experiments.fnn_fk import (
    FKNetwork,
    FnnFkStripeConfig,
    crossing_point,
    fk_dataset,
    fk_sweep,
    pack_features,
)
from qnets.experiments.registry import get_experiment
from qnets.greens import block_tridiagonal
from qnets.hamiltonians import falicov_kimball, half_filling_mu

_SMALL = {"L": 4, "n_matsubara": 6, "dmft_tol": 1e-5}


def test_metal_labels_follow_the_line_with_margin():
    data = fk_dataset("metal", 40, **_SMALL)
    U, T, t_prime, mu = data.params.T
    shifted = np.where(data.labels == 1, U - 0.4, U)
    np.testing.assert_array_equal(data.labels, (shifted > 20 * T - 0.7).astype(int))
    assert ((T >= 0.1) & (T <= 0.2)).all() and ((shifted >= 1) & (shifted <= 3.6)).all()
    np.testing.assert_allclose(mu, U / 2)
    assert (t_prime == 0).all()
    np.testing.assert_allclose(data.n_f.mean(-1), 0.5, atol=1e-6)


def test_stripe_data_ranges_and_independence_of_workers(tmp_path):
    data = fk_dataset("stripe", 12, temperature=0.1, **_SMALL)
    U, T, t_prime, mu = data.params.T
    assert (U == 1).all() and (T == 0.1).all()
    assert (t_prime[data.labels == 0] <= 0.35).all() and (t_prime[data.labels == 1] >= 0.8).all()
    offsets = mu - np.array([half_filling_mu(4, t_prime=tp, U=1.0) for tp in t_prime])
    assert ((offsets >= -0.1) & (offsets <= 0.5)).all()
    parallel = fk_dataset("stripe", 12, temperature=0.1, workers=2, chunk=5, cache_dir=tmp_path, **_SMALL)
    np.testing.assert_allclose(parallel.sigma, data.sigma, atol=1e-10)
    (cached,) = list(tmp_path.glob("fk-stripe-*.npz"))
    again = fk_dataset("stripe", 12, temperature=0.1, workers=2, chunk=5, cache_dir=tmp_path, **_SMALL)
    np.testing.assert_array_equal(again.sigma, parallel.sigma)
    assert cached.is_file()
    # an explicit device solves each chunk in this process; same samples, same cache entry
    on_device = fk_dataset("stripe", 12, temperature=0.1, chunk=12, device="cpu", **_SMALL)
    np.testing.assert_allclose(on_device.sigma, data.sigma, atol=1e-10)


def test_matsubara_readout_matches_the_dense_inverse_of_system_plus_network():
    data = fk_sweep("stripe", np.array([0.3]), temperature=0.2, **_SMALL)
    model = FKNetwork(4, 6, hidden=[5, 3], init_bound=1.0, seed=0)
    with torch.no_grad():
        logits = model(pack_features(data))[0].numpy()
    U, T, t_prime, mu = data.params[0]
    h0 = falicov_kimball(4, U=U, t_prime=t_prime, mu=mu).h0
    expected = np.zeros(2)
    for n, omega in enumerate((2 * np.arange(3) + 1) * math.pi * T):
        system = torch.from_numpy(h0 + np.diag(data.sigma[0, n]))[None].to(torch.complex128)
        onsite, hoppings = model.network.layer_matrices()
        full = block_tridiagonal([system, *onsite], hoppings)[0].detach().numpy()
        g = np.linalg.inv(1j * omega * np.eye(len(full)) - full)
        expected += (-2 / math.pi) * (-1) ** n * np.diag(g).imag[-2:]
    np.testing.assert_allclose(logits, expected, rtol=1e-10)


def test_in_situ_dmft_solves_a_batch_over_the_memory_guard_in_pieces(monkeypatch):
    from qnets.solvers import dmft

    data = fk_dataset("metal", 5, **_SMALL)
    x = pack_features(data)

    def logits():
        net = FKNetwork(4, 6, hidden=[3], init_bound=2.0, seed=0, in_situ=True, dmft_tol=1e-8, dmft_max_iter=500)
        return net(x), net

    whole, _ = logits()
    # room for two samples per solve: the batch of 5 goes in pieces of 2, 2, 1
    monkeypatch.setattr(dmft, "_MAX_BYTES", 2 * 3 * 16 * 16 * 16 * 3)
    with pytest.raises(dmft.SizeLimitError):
        dmft.solve_dmft(np.stack([falicov_kimball(4, U=1.0).h0] * 3), 1.0, 0.1, n_matsubara=6,
                        embedding=np.zeros((3, 3, 16, 16)))
    assert dmft.max_batch(16, 6, embedding=True) == 2
    pieces, net = logits()
    assert len(net._warm) == 5 and net.unconverged == 0
    torch.testing.assert_close(pieces, whole, rtol=1e-9, atol=1e-12)


def test_data_generation_stopped_midway_resumes_from_its_finished_chunks(tmp_path, monkeypatch):
    """The chunks solved before a failure are kept in ``<cache>.partial/``; the next call
    solves only the others, gives the uninterrupted data set, and then drops the folder."""
    import functools

    from qnets.errors import SweepError
    from qnets.experiments import fnn_fk

    solve = fnn_fk._solve_chunk
    calls = []

    @functools.wraps(solve)  # same name, hence the same checkpoint key as the real function
    def failing_after_two(args):
        if len(calls) == 2:
            raise RuntimeError("machine stopped")
        calls.append(len(args[1]))
        return solve(args)

    monkeypatch.setattr(fnn_fk, "_solve_chunk", failing_after_two)
    with pytest.raises(SweepError, match="machine stopped"):
        fk_dataset("metal", 10, chunk=3, cache_dir=tmp_path, **_SMALL)
    assert not list(tmp_path.glob("*.npz")) and len(list(tmp_path.glob("*.partial"))) == 1

    @functools.wraps(solve)
    def counting(args):
        calls.append(len(args[1]))
        return solve(args)

    monkeypatch.setattr(fnn_fk, "_solve_chunk", counting)
    resumed = fk_dataset("metal", 10, chunk=3, cache_dir=tmp_path, **_SMALL)
    assert calls == [3, 3, 3, 1]  # two chunks before the stop, the other two after it
    assert len(list(tmp_path.glob("*.npz"))) == 1 and not list(tmp_path.glob("*.partial"))
    monkeypatch.setattr(fnn_fk, "_solve_chunk", solve)
    fresh = fk_dataset("metal", 10, chunk=3, **_SMALL)
    np.testing.assert_array_equal(resumed.sigma, fresh.sigma)
    np.testing.assert_array_equal(resumed.labels, fresh.labels)


def test_anderson_data_keep_the_fixed_points_and_only_then_change_the_cache_key(tmp_path):
    """``dmft_anderson = 0`` is the old protocol (same cache file); with Anderson the data set
    is cached apart and every converged sample has the same order as with linear mixing."""
    settings = dict(L=6, n_matsubara=10, temperature=0.02, cache_dir=tmp_path, dmft_max_iter=2000)
    linear = fk_dataset("stripe", 6, **settings)
    fk_dataset("stripe", 6, dmft_anderson=0, **settings)  # same key: no new cache file
    assert len(list(tmp_path.glob("fk-stripe-*.npz"))) == 1
    accelerated = fk_dataset("stripe", 6, dmft_anderson=5, **settings)
    assert len(list(tmp_path.glob("fk-stripe-*.npz"))) == 2
    assert linear.converged.all() and accelerated.converged.all()
    from qnets.hamiltonians import checkerboard_order, stripe_order

    for order in (checkerboard_order, stripe_order):
        np.testing.assert_allclose(order(accelerated.n_f, L=6), order(linear.n_f, L=6), atol=1e-3)


@pytest.mark.parametrize("anderson", [0, 5])
def test_in_situ_dmft_uses_the_network_embedding_and_warm_starts(anderson):
    data = fk_dataset("metal", 4, **_SMALL)
    x = pack_features(data)
    bare = FKNetwork(4, 6, hidden=[3], init_bound=2.0, seed=0)
    coupled = FKNetwork(4, 6, hidden=[3], init_bound=2.0, seed=0, in_situ=True, dmft_tol=1e-8,
                        dmft_max_iter=500, dmft_anderson=anderson)
    out = coupled(x)
    assert len(coupled._warm) == 4 and coupled.unconverged == 0
    sigma = torch.stack([coupled._warm[i] for i in range(4)]).numpy()
    assert np.abs(sigma - data.sigma).max() > 1e-4  # the attached network changes the DMFT
    assert not torch.allclose(out, bare(x))
    out.sum().backward()  # gradients flow through the network (DMFT is a constant)
    assert all(p.grad is not None for p in coupled.parameters())
    from qnets.solvers import dmft_step

    omega = (2 * torch.arange(3, dtype=torch.float64) + 1) * math.pi * x[:, 2:3]
    emb = coupled.embedding(omega).numpy()
    h0 = np.stack([falicov_kimball(4, U=p[0], mu=p[3]).h0 for p in data.params])
    _, residual = dmft_step(h0, data.params[:, 0], data.params[:, 1], sigma, embedding=emb)
    assert (residual < 1e-8).all()  # the warm-start cache holds converged in-situ solutions


def test_crossing_point():
    axis = np.array([0.0, 1.0, 2.0, 3.0])
    assert crossing_point(axis, np.array([0.1, 0.3, 0.7, 0.9])) == pytest.approx(1.5)
    assert math.isnan(crossing_point(axis, np.array([0.1, 0.2, 0.3, 0.4])))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature": 0.0}, "temperature: expected T > 0"),
        ({"L": 5}, "L: expected an even integer"),
        ({"n_matsubara": 3}, "n_matsubara"),
        ({"sweep_range": [1.0, 0.5]}, "sweep_range"),
        ({"workers": 0}, "workers"),
        ({"chunk": 0}, "chunk: expected a positive integer"),
        ({"device": "gpu0"}, "device: expected a torch device name"),
        ({"dmft_anderson": -2}, "dmft_anderson: expected a history depth"),
    ],
)
def test_bad_config_is_named(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        FnnFkStripeConfig(**kwargs)


def test_bad_dataset_and_feature_arguments():
    with pytest.raises(ConfigError, match="task: expected one of"):
        fk_dataset("spiral", 4, **_SMALL)
    with pytest.raises(ShapeError, match="packed features"):
        FKNetwork(4, 6, hidden=[3])(torch.zeros(2, 7, dtype=torch.float64))


def _ci_run(name, tmp_path):
    experiment = get_experiment(name)
    config = load_config_file(experiment.config_cls, "ci-small", name)
    return experiment.run(config, tmp_path, progress=False)


def test_ci_sized_fnn_fk_stripe(tmp_path):
    """Spec B9 (CI-sized): 6×6, T = 0.05, 10 frequencies, 200 samples, 2 epochs."""
    result = _ci_run("fnn-fk-stripe", tmp_path)
    assert result["best_test_accuracy"] >= 0.95
    assert 0.45 <= result["fnn_boundary"] <= 0.75
    assert result["dmft_checkerboard_below_0.1_from"] <= 0.7
    assert (tmp_path / "phase_diagram.png").is_file() and (tmp_path / "final.json").is_file()


def test_ci_sized_fnn_fk_metal(tmp_path):
    """Spec B10 (CI-sized): 6×6 metal vs checkerboard, sweep at T = 0.11."""
    result = _ci_run("fnn-fk-metal", tmp_path)
    assert result["best_test_accuracy"] >= 0.9
    assert 1.4 <= result["fnn_boundary"] <= 2.3
    assert 1.4 <= result["dmft_checkerboard_above_0.1_from"] <= 2.0
    with np.load(tmp_path / "phase_diagram.npz") as pd:
        assert pd["probability"][0] < 0.5 < pd["probability"][-1]
