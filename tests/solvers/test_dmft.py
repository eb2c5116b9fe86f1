"""Real-space DMFT of the Falicov–Kimball model: exact limits, fixed points, embedding, bad input."""

import math

import numpy as np
import pytest
import torch

from qnets.errors import ConfigError, ConvergenceError, ShapeError, SizeLimitError
from qnets.fnn import FermionNetwork
from qnets.hamiltonians import checkerboard_order, falicov_kimball
from qnets.solvers import (
    dmft_step,
    embedding_self_energy,
    local_greens,
    matsubara_frequencies,
    solve_dmft,
)


def _free_local_greens(h0, omega):
    energies, vectors = np.linalg.eigh(h0)
    weights = np.abs(vectors) ** 2  # (site, level)
    return (weights[None] / (1j * omega[:, None, None] - energies[None, None, :])).sum(-1)


def test_matsubara_frequencies():
    np.testing.assert_allclose(matsubara_frequencies(0.1, 6), np.pi * 0.1 * np.array([1, 3, 5]))


def test_tail_corrected_densities_match_the_fermi_function_at_zero_interaction():
    model = falicov_kimball(6, U=0.0, mu=0.4)
    T = 0.2
    result = solve_dmft(model.h0, 0.0, T, n_matsubara=40)
    energies, vectors = np.linalg.eigh(model.h0)
    exact = (np.abs(vectors) ** 2 / (np.exp(energies / T) + 1)).sum(1)
    np.testing.assert_allclose(result.n_d, exact, atol=1e-4)


def test_zero_interaction_gives_zero_self_energy_and_the_free_local_greens_function():
    model = falicov_kimball(6, U=0.0, t_prime=0.3, mu=0.2)
    result = solve_dmft(model.h0, 0.0, 0.1, n_matsubara=20, seed=1)
    assert result.converged and result.iterations <= 2
    assert np.abs(result.sigma).max() < 1e-14
    free = _free_local_greens(model.h0, matsubara_frequencies(0.1, 20))
    np.testing.assert_allclose(result.g_loc, free, atol=1e-12)
    assert result.n_f.mean() == pytest.approx(0.5, abs=1e-7)


def test_f_filling_constraint_holds_to_tolerance():
    models = [falicov_kimball(4, U=U, mu=0.3) for U in (0.5, 2.0, 4.0)]
    h0 = np.stack([m.h0 for m in models])
    for n_f in (0.5, 0.3):
        result = solve_dmft(h0, [0.5, 2.0, 4.0], 0.15, n_f=n_f, n_matsubara=16,
                            filling_tol=1e-9, seed=0)
        assert result.converged.all()
        np.testing.assert_allclose(result.n_f.mean(-1), n_f, atol=1e-9)
        assert ((result.n_f >= 0) & (result.n_f <= 1)).all()


def test_atomic_limit_is_exact_after_one_iteration():
    U, T, mu = 2.0, 0.2, 0.7
    model = falicov_kimball(4, U=U, t=0.0, mu=mu)
    result = solve_dmft(model.h0, U, T, n_matsubara=10, init="uniform", tol=1e-12)
    omega = matsubara_frequencies(T, 10)[:, None]
    atomic = 0.5 / (1j * omega + mu - U) + 0.5 / (1j * omega + mu)
    np.testing.assert_allclose(result.g_loc, np.broadcast_to(atomic, result.g_loc.shape), atol=1e-10)
    np.testing.assert_allclose(result.n_f, 0.5, atol=1e-10)
    # d density of the atom: n_d = ½ f(−μ + U) + ½ f(−μ) (Fermi function f)
    fermi = lambda e: 1 / (math.exp(e / T) + 1)
    assert result.n_d.mean() == pytest.approx(0.5 * fermi(U - mu) + 0.5 * fermi(-mu), abs=2e-3)


def test_converged_solution_is_a_fixed_point_of_one_more_iteration():
    model = falicov_kimball(6, U=2.0)
    tol = 1e-8
    result = solve_dmft(model.h0, 2.0, 0.1, n_matsubara=12, tol=tol, max_iter=500, seed=3)
    assert result.converged
    new_sigma, residual = dmft_step(model.h0, 2.0, 0.1, result.sigma)
    assert residual < tol
    assert np.abs(new_sigma - result.sigma).max() < 100 * tol
    assert checkerboard_order(result.n_f) > 0.5  # U = 2, T = 0.1: checkerboard


def test_homogeneous_start_reproduces_momentum_space_dmft():
    """Uniform Σ stays uniform; then G_loc = (1/N) Σ_k 1/(iω + μ − ε_k − Σ) at every site."""
    L, U, T = 6, 1.0, 0.3
    model = falicov_kimball(L, U=U, t_prime=0.2)
    result = solve_dmft(model.h0, U, T, n_matsubara=12, init="uniform")
    assert np.ptp(result.sigma.real, axis=1).max() < 1e-10
    k = 2 * np.pi * np.arange(L) / L
    kx, ky = np.meshgrid(k, k)
    eps = (-2 * (np.cos(kx) + np.cos(ky)) - 0.8 * np.cos(kx) * np.cos(ky)).ravel() - model.mu
    omega = matsubara_frequencies(T, 12)
    sigma = result.sigma[:, 0]
    g_k = (1 / (1j * omega[:, None] - eps[None, :] - sigma[:, None])).mean(-1)
    np.testing.assert_allclose(result.g_loc, np.broadcast_to(g_k[:, None], result.g_loc.shape), atol=1e-12)
    # the single-site impurity relation holds at the fixed point
    weiss_inv = 1 / g_k + sigma
    g_imp = 0.5 / (weiss_inv - U) + 0.5 / weiss_inv
    np.testing.assert_allclose(g_imp, g_k, atol=1e-5)


def test_batch_equals_single_solves():
    models = [falicov_kimball(4, U=U) for U in (1.0, 3.0)]
    batch = solve_dmft(np.stack([m.h0 for m in models]), [1.0, 3.0], [0.2, 0.1], n_matsubara=8,
                       init="uniform")
    for i, (m, U, T) in enumerate(zip(models, (1.0, 3.0), (0.2, 0.1))):
        single = solve_dmft(m.h0, U, T, n_matsubara=8, init="uniform")
        np.testing.assert_allclose(batch.sigma[i], single.sigma, atol=1e-12)
    seeds = np.random.SeedSequence(5).spawn(2)
    random_batch = solve_dmft(np.stack([m.h0 for m in models]), [1.0, 3.0], 0.1, n_matsubara=8,
                              seed=list(seeds))
    second = solve_dmft(models[1].h0, 3.0, 0.1, n_matsubara=8, seed=seeds[1])
    np.testing.assert_allclose(random_batch.sigma[1], second.sigma, atol=1e-12)


def _stripe_lattices(L, cases):
    from qnets.hamiltonians import half_filling_mu

    return np.stack([
        falicov_kimball(L, U=1.0, t_prime=tp, mu=half_filling_mu(L, t_prime=tp, U=1.0) + offset).h0
        for tp, offset in cases
    ])


def test_anderson_reaches_the_linear_mixing_fixed_point_in_fewer_iterations():
    """A unique fixed point (checkerboard, U = 2, T = 0.1, and the metal at U = 1, T = 0.2):
    both iterations end on it; the accelerated one is a fixed point of one more step."""
    models = [falicov_kimball(6, U=U) for U in (2.0, 1.0)]
    h0 = np.stack([m.h0 for m in models])
    options = dict(n_matsubara=12, tol=1e-9, max_iter=1000, seed=[3, 4])
    linear = solve_dmft(h0, [2.0, 1.0], [0.1, 0.2], **options)
    accelerated = solve_dmft(h0, [2.0, 1.0], [0.1, 0.2], anderson=5, **options)
    assert linear.converged.all() and accelerated.converged.all()
    assert (accelerated.iterations < linear.iterations).all()
    np.testing.assert_allclose(accelerated.sigma, linear.sigma, atol=1e-7)
    np.testing.assert_allclose(accelerated.n_f, linear.n_f, atol=1e-7)
    new_sigma, residual = dmft_step(h0, [2.0, 1.0], [0.1, 0.2], accelerated.sigma)
    assert (residual < 1e-9).all()
    assert np.abs(new_sigma - accelerated.sigma).max() < 1e-7


def test_anderson_converges_low_temperature_stripes_that_linear_mixing_does_not():
    """Stripe side of the paper's stripe task (U = 1, T = 0.005, t' = 0.9 and 1.1): linear
    mixing 0.5 needs > 200 iterations (the paper's limit); Anderson converges well within."""
    h0 = _stripe_lattices(8, [(0.9, 0.0), (1.1, 0.4)])
    linear = solve_dmft(h0, 1.0, 0.005, seed=[0, 0], on_failure="ignore")
    accelerated = solve_dmft(h0, 1.0, 0.005, seed=[0, 0], anderson=6)
    assert not linear.converged.any()
    assert accelerated.converged.all() and accelerated.iterations.max() <= 100
    _, residual = dmft_step(h0, 1.0, 0.005, accelerated.sigma)
    assert (residual < 1e-6).all()


def test_anderson_histories_are_per_sample():
    """A sample's accelerated solve does not depend on the batch it is solved in (samples
    leave the batch when they converge; histories are indexed by sample)."""
    h0 = _stripe_lattices(6, [(0.1, 0.0), (0.9, 0.0), (1.1, 0.4)])
    batch = solve_dmft(h0, 1.0, 0.005, seed=[0, 1, 2], anderson=4, on_failure="ignore")
    assert len(set(batch.iterations.tolist())) > 1  # they leave the batch at different times
    for i in range(3):
        single = solve_dmft(h0[i], 1.0, 0.005, seed=i, anderson=4, on_failure="ignore")
        assert single.iterations == batch.iterations[i]
        np.testing.assert_allclose(batch.sigma[i], single.sigma, atol=1e-12)


def test_embedding_self_energy_is_the_schur_complement_of_system_plus_network():
    net = FermionNetwork([9, 5, 3], encoder="system", dtype=torch.complex128, init_bound=1.0, seed=0)
    h_sys = falicov_kimball(4, U=0.0, t_prime=0.2).h0[:9, :9]
    onsite, hoppings = [h.detach() for h in net.layer_matrices()[0]], [
        T.detach() for T in net.layer_matrices()[1]
    ]
    z = np.array([0.3j, 1.1j, 0.2 + 0.5j])
    sigma = embedding_self_energy(onsite, hoppings, z).numpy()
    full = net.hamiltonian(torch.from_numpy(h_sys)[None].to(torch.complex128))[0].detach().numpy()
    for zi, s in zip(z, sigma):
        dense = np.linalg.inv(zi * np.eye(len(full)) - full)[:9, :9]
        np.testing.assert_allclose(np.linalg.inv(zi * np.eye(9) - h_sys - s), dense, atol=1e-12)


def test_local_greens_with_embedding_matches_the_dense_inverse():
    rng = np.random.default_rng(0)
    model = falicov_kimball(4, U=1.0)
    n, m = 16, 3
    omega = matsubara_frequencies(0.1, 2 * m)
    sigma = rng.normal(size=(m, n)) + 1j * rng.normal(size=(m, n))
    T = rng.normal(size=(n, 4)) * 0.5
    h = np.diag(rng.normal(size=4))
    emb = embedding_self_energy([h], [T], 1j * omega).numpy()
    g = local_greens(torch.from_numpy(model.h0)[None], torch.from_numpy(sigma)[None],
                     torch.from_numpy(omega)[None], torch.from_numpy(emb)[None])[0].numpy()
    big = np.block([[model.h0, T], [T.T, h]])
    for k in range(m):
        extra = np.zeros((n + 4, n + 4), complex)
        extra[:n, :n] = np.diag(sigma[k])
        dense = np.linalg.inv(1j * omega[k] * np.eye(n + 4) - big - extra)
        np.testing.assert_allclose(g[k], np.diag(dense)[:n], atol=1e-12)


def test_network_embedding_changes_the_solution_and_still_fixes_the_filling():
    model = falicov_kimball(4, U=2.0)
    omega = matsubara_frequencies(0.1, 8)
    rng = np.random.default_rng(1)
    emb = embedding_self_energy([np.zeros((3, 3))], [rng.normal(size=(16, 3))], 1j * omega)
    bare = solve_dmft(model.h0, 2.0, 0.1, n_matsubara=8, seed=0)
    coupled = solve_dmft(model.h0, 2.0, 0.1, n_matsubara=8, seed=0, embedding=emb)
    assert coupled.converged and np.abs(coupled.sigma - bare.sigma).max() > 1e-3
    assert coupled.n_f.mean() == pytest.approx(0.5, abs=1e-7)


def test_non_convergence_raises_with_the_last_residual():
    model = falicov_kimball(6, U=2.0)
    with pytest.raises(ConvergenceError, match="not converged after 2 iterations") as info:
        solve_dmft(model.h0, 2.0, 0.1, n_matsubara=8, max_iter=2, seed=0)
    assert info.value.residual > 1e-6
    with pytest.warns(UserWarning, match="not converged"):
        result = solve_dmft(model.h0, 2.0, 0.1, n_matsubara=8, max_iter=2, seed=0, on_failure="warn")
    assert not result.converged and result.residual == pytest.approx(info.value.residual)


@pytest.mark.parametrize("T", [0.0, -0.1, float("nan")])
def test_non_positive_temperature_is_refused(T):
    with pytest.raises(ConfigError, match="temperature: expected"):
        solve_dmft(falicov_kimball(4, U=1.0).h0, 1.0, T)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_matsubara": 7}, ConfigError, "n_matsubara: expected an even integer"),
        ({"mixing": 0.0}, ConfigError, "mixing"),
        ({"n_f": 1.2}, ConfigError, "n_f"),
        ({"init": "checker"}, ConfigError, "init"),
        ({"on_failure": "skip"}, ConfigError, "on_failure"),
        ({"sigma0": np.zeros((3, 16))}, ShapeError, "sigma0"),
        ({"embedding": np.zeros((5, 16, 16))}, ShapeError, "embedding"),
        ({"max_sites": 10}, SizeLimitError, "max_sites=10"),
        ({"anderson": -1}, ConfigError, "anderson: expected a history depth"),
        ({"anderson": True}, ConfigError, "anderson: expected a history depth"),
        ({"anderson": 2.5}, ConfigError, "anderson: expected a history depth"),
        ({"anderson_start": 0.0}, ConfigError, "anderson_start"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        solve_dmft(falicov_kimball(4, U=1.0).h0, 1.0, 0.1, **kwargs)


def test_non_hermitian_or_negative_U_is_refused():
    h0 = falicov_kimball(4, U=1.0).h0.astype(complex)
    h0[0, 1] += 0.5j
    with pytest.raises(ConfigError, match="Hermitian"):
        solve_dmft(h0, 1.0, 0.1)
    with pytest.raises(ConfigError, match="U: expected U ≥ 0"):
        solve_dmft(falicov_kimball(4, U=1.0).h0, -1.0, 0.1)
