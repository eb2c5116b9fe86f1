"""Layer recursion vs the dense inverse, adjoint gradients vs finite differences (spec U1, U2)."""

import itertools

import pytest
import torch
from oracles import directional_fd_check, random_hermitian

from qnets.errors import ShapeError
from qnets.greens import _first_layer as first_layer
from qnets.greens import dense_greens, layered_greens, reference_layered_greens

# hidden layer 1 (7 → 6) is solved through its inverse, layer 2 (6 → 3) by thin solves
SIZES = [12, 7, 6, 3]
Z = 0.05j


def _network(gen, dtype=torch.complex128):
    onsite = [random_hermitian(n, gen, dtype=dtype) for n in SIZES[1:]]
    hoppings = [
        torch.complex(
            torch.randn(a, b, generator=gen, dtype=torch.float64),
            torch.randn(a, b, generator=gen, dtype=torch.float64),
        ).to(dtype)
        for a, b in itertools.pairwise(SIZES)
    ]
    return onsite, hoppings


def _inputs(gen, dtype=torch.complex128, batch=4):
    pixels = torch.rand(batch, SIZES[0], generator=gen, dtype=torch.float64)
    diagonal = (1 / (Z - pixels)).to(dtype)
    h_sys = random_hermitian(SIZES[0], gen, batch=(batch,), dtype=dtype)
    dense = torch.linalg.inv(Z * torch.eye(SIZES[0], dtype=dtype) - h_sys)
    return {"diagonal": diagonal, "dense": dense}


@pytest.mark.parametrize("kind", ["diagonal", "dense"])
def test_recursion_matches_dense_inverse_complex128(gen, kind):
    onsite, hoppings = _network(gen)
    g0 = _inputs(gen)[kind]
    fast = layered_greens(g0, onsite, hoppings, Z, return_in_out=True)
    exact = dense_greens(g0, onsite, hoppings, Z, return_in_out=True)
    assert (fast.g_out - exact.g_out).abs().max() <= 1e-10
    assert (fast.g_in_out - exact.g_in_out).abs().max() <= 1e-10
    source = torch.ones(1, SIZES[0], dtype=g0.dtype)
    with_source = layered_greens(g0, onsite, hoppings, Z, source=source)
    assert with_source.g_in_out.shape == (4, 1, SIZES[-1])
    assert (with_source.g_in_out - exact.g_in_out.sum(1, keepdim=True)).abs().max() <= 1e-10


@pytest.mark.parametrize("kind", ["diagonal", "dense"])
def test_recursion_complex64_within_tolerance(gen, kind):
    onsite, hoppings = _network(gen)
    g0 = _inputs(gen)[kind]
    exact = dense_greens(g0, onsite, hoppings, Z, return_in_out=True)
    cast = [t.to(torch.complex64) for t in onsite], [t.to(torch.complex64) for t in hoppings]
    fast = layered_greens(g0.to(torch.complex64), *cast, Z, return_in_out=True)
    assert fast.g_out.dtype == torch.complex64
    scale = exact.g_out.abs().max()
    assert (fast.g_out.to(torch.complex128) - exact.g_out).abs().max() / scale <= 1e-4


@pytest.mark.parametrize("strategy", ["sparse", "hermitian", "batched"])
@pytest.mark.parametrize("pattern", ["dense", "sparse"])
def test_first_layer_strategies_match_dense_oracle(gen, monkeypatch, strategy, pattern):
    """Every strategy for T† diag(d) T and its adjoint, on a dense and a sparse T_0."""
    onsite, hoppings = _network(gen)
    if pattern == "sparse":  # every input site couples to at most two first-layer sites
        mask = torch.zeros(SIZES[0], SIZES[1], dtype=torch.bool)
        mask[torch.arange(SIZES[0]), torch.arange(SIZES[0]) % SIZES[1]] = True
        mask[torch.arange(0, SIZES[0], 2), (torch.arange(0, SIZES[0], 2) + 3) % SIZES[1]] = True
        hoppings[0] = hoppings[0] * mask
    forced = {"sparse": (1.0, 2**27), "hermitian": (-1.0, 2**27), "batched": (-1.0, 0)}[strategy]
    monkeypatch.setattr(first_layer, "_SPARSE_FRACTION", forced[0])
    monkeypatch.setattr(first_layer, "_MAX_OUTER_ENTRIES", forced[1])
    pattern = hoppings[0].nonzero(as_tuple=True) if strategy == "sparse" else None
    assert first_layer.choose_strategy(hoppings[0], pattern)[0] == strategy
    g0 = _inputs(gen)["diagonal"]
    grads = []
    for fn in (layered_greens, dense_greens):
        params = [t.clone().requires_grad_(True) for t in (g0, *onsite, *hoppings)]
        kwargs = {"input_pattern": pattern} if fn is layered_greens and pattern else {}
        result = fn(params[0], params[1:4], params[4:], Z, **kwargs)
        loss = (result.g_out.imag ** 2).sum() + (result.g_out * weights_like(result.g_out)).real.sum()
        grads.append((result.g_out, torch.autograd.grad(loss, params)))
    (fast, fast_grads), (exact, exact_grads) = grads
    assert (fast - exact).abs().max() <= 1e-10
    if pattern is not None:  # T_0's gradient is defined on the declared pattern only
        mask = torch.zeros_like(hoppings[0], dtype=torch.bool)
        mask[pattern] = True
        exact_grads = list(exact_grads)
        exact_grads[4] = exact_grads[4] * mask
    for a, b in zip(fast_grads, exact_grads):
        assert (a - b).abs().max() <= 1e-9 * max(1.0, b.abs().max().item())


def test_exact_zeros_of_a_dense_first_layer_keep_their_gradient(gen):
    """Without a declared pattern, zero entries of T_0 are trainable like any other."""
    onsite, hoppings = _network(gen)
    hoppings[0][:, ::2] = 0  # exact zeros in every other column
    g0 = _inputs(gen)["diagonal"]
    grads = []
    for fn in (layered_greens, dense_greens):
        T0 = hoppings[0].clone().requires_grad_(True)
        result = fn(g0, onsite, [T0, *hoppings[1:]], Z)
        grads.append(torch.autograd.grad((result.g_out.imag ** 2).sum(), T0)[0])
    assert grads[1][:, ::2].abs().min() > 0
    assert (grads[0] - grads[1]).abs().max() <= 1e-9 * grads[1].abs().max()


def weights_like(g):
    return torch.linspace(-1, 1, g.numel(), dtype=torch.float64).reshape(g.shape).to(g.dtype) * (1 + 0.5j)


def test_per_sample_energy(gen):
    onsite, hoppings = _network(gen)
    g0 = _inputs(gen)["dense"]
    z = torch.tensor([0.05j, 0.1 + 0.02j, -0.3 + 0.1j, 0.2j])
    fast = layered_greens(g0, onsite, hoppings, z).g_out
    for b in range(4):
        exact = dense_greens(g0[b : b + 1], onsite, hoppings, complex(z[b])).g_out
        assert (fast[b] - exact[0]).abs().max() <= 1e-10


def _loss(kind, use_source, g0, weights):
    def loss_fn(params):
        n = len(SIZES) - 1
        g0_, onsite, hoppings = params[0], params[1 : 1 + n], params[1 + n :]
        source = torch.ones(1, SIZES[0], dtype=g0_.dtype) if use_source else None
        result = layered_greens(g0_, onsite, hoppings, Z, source=source)
        ldos = -torch.diagonal(result.g_out, dim1=-2, dim2=-1).imag / torch.pi
        value = torch.nn.functional.cross_entropy(ldos, weights["labels"])
        value = value + (result.g_out * weights["out"]).real.sum()
        if use_source:
            value = value + (result.g_in_out.abs() ** 2).sum()
        return value

    return loss_fn


@pytest.mark.parametrize("kind", ["diagonal", "dense"])
@pytest.mark.parametrize("use_source", [False, True])
def test_adjoint_gradient_matches_finite_differences(gen, kind, use_source):
    onsite, hoppings = _network(gen)
    g0 = _inputs(gen)[kind]
    weights = {
        "labels": torch.randint(0, SIZES[-1], (4,), generator=gen),
        "out": torch.randn(4, 3, 3, generator=gen, dtype=torch.float64).to(torch.complex128),
    }
    error = directional_fd_check(_loss(kind, use_source, g0, weights), [g0, *onsite, *hoppings], gen)
    assert error <= 1e-6


@pytest.mark.parametrize("kind", ["diagonal", "dense"])
@pytest.mark.parametrize("use_source", [False, True])
def test_adjoint_gradient_matches_autograd_through_inverse(gen, kind, use_source):
    """Hidden layers come from their LU factors with and without sources (row solves)."""
    onsite, hoppings = _network(gen)
    g0 = _inputs(gen)[kind]
    source = torch.ones(1, SIZES[0], dtype=g0.dtype) if use_source else None
    grads = []
    for fn in (layered_greens, reference_layered_greens, dense_greens):
        params = [t.clone().requires_grad_(True) for t in (g0, *onsite, *hoppings)]
        result = fn(params[0], params[1:4], params[4:], Z, source=source)
        loss = (result.g_out.imag ** 2).sum()
        if use_source:
            loss = loss + (result.g_in_out.abs() ** 2).sum()
        grads.append(torch.autograd.grad(loss, params))
    for other in grads[1:]:
        for a, b in zip(grads[0], other):
            assert (a - b).abs().max() <= 1e-9 * max(1.0, b.abs().max().item())


def test_invalid_shapes_are_named(gen):
    onsite, hoppings = _network(gen)
    g0 = _inputs(gen)["diagonal"]
    with pytest.raises(ShapeError, match="hoppings\\[1\\]"):
        layered_greens(g0, onsite, [hoppings[0], hoppings[2], hoppings[2]], Z)
    with pytest.raises(ShapeError, match="onsite\\[0\\]"):
        layered_greens(g0, [onsite[1], onsite[1], onsite[2]], hoppings, Z)
    with pytest.raises(ShapeError, match="g0"):
        layered_greens(g0.real, onsite, hoppings, Z)
    with pytest.raises(ShapeError, match="z"):
        layered_greens(g0, onsite, hoppings, torch.zeros(3, dtype=torch.complex128))
    with pytest.raises(ShapeError, match="dtype"):
        layered_greens(g0.to(torch.complex64), onsite, hoppings, Z)


def test_non_finite_parameters_raise_a_numerical_error(gen):
    from qnets.errors import NumericalError

    onsite, hoppings = _network(gen)
    onsite[1] = onsite[1].clone()
    onsite[1][0, 0] = float("nan")
    with pytest.raises(NumericalError, match="layer 2 .* non-finite for 4 of 4"):
        layered_greens(_inputs(gen)["diagonal"], onsite, hoppings, Z)


@pytest.mark.parametrize("use_source", [False, True])
def test_a_failing_lapack_solve_is_redone_in_complex128(gen, monkeypatch, use_source):
    """MKL's batched complex64 LU once raised on its own pivots mid-training; the layer is
    then solved again in complex128 (with a warning) and the result and gradients (through the
    kept complex128 factors, with sources) are unchanged."""
    from qnets.errors import PrecisionWarning

    onsite, hoppings = _network(gen)
    g0 = _inputs(gen)["diagonal"]
    source = torch.ones(1, SIZES[0], dtype=torch.complex64) if use_source else None

    def value_and_grads():
        params = [t.to(torch.complex64).requires_grad_(True) for t in (g0, *onsite, *hoppings)]
        result = layered_greens(params[0], params[1:4], params[4:], Z, source=source)
        loss = (result.g_out.imag ** 2).sum()
        if use_source:
            loss = loss + (result.g_in_out.abs() ** 2).sum()
        return result.g_out.detach(), torch.autograd.grad(loss, params)

    expected, expected_grads = value_and_grads()
    real_solve = torch.linalg.lu_solve

    def flaky(lu, pivots, rhs, **kwargs):
        if lu.dtype == torch.complex64:
            raise RuntimeError("torch.linalg.lu_solve: Pivots given to lu_solve must all be greater or equal to 1.")
        return real_solve(lu, pivots, rhs, **kwargs)

    monkeypatch.setattr(torch.linalg, "lu_solve", flaky)
    with pytest.warns(PrecisionWarning, match="recomputed in complex128"):
        result, grads = value_and_grads()
    assert result.dtype == torch.complex64
    assert torch.allclose(result, expected, rtol=1e-4, atol=1e-5)
    for a, b in zip(grads, expected_grads, strict=True):
        assert a.dtype == b.dtype
        assert (a - b).abs().max() <= 1e-3 * b.abs().max()


def test_a_singular_block_in_complex128_raises(gen, monkeypatch):
    from qnets.errors import NumericalError

    onsite, hoppings = _network(gen)
    info = torch.ones(4, dtype=torch.int32)
    monkeypatch.setattr(
        torch.linalg, "lu_factor_ex",
        lambda block: (torch.zeros_like(block), torch.ones(block.shape[:-1], dtype=torch.int32), info),
    )
    with pytest.raises(NumericalError, match="layer 1 .* singular"):
        layered_greens(_inputs(gen)["diagonal"], onsite, hoppings, Z)


def test_batched_solves_of_large_blocks_work_with_two_threads():
    """torch 2.13 CPU: batched LU with > 1 thread fails for n ≥ 160 (MKL ?LASWP error);
    qnets.greens._linalg solves such batches per matrix. Checked against numpy."""
    import numpy as np

    from qnets.greens import _linalg

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        g = torch.Generator().manual_seed(0)
        for dtype in (torch.complex64, torch.complex128):
            a = torch.randn(3, 170, 170, generator=g, dtype=dtype) * 0.01 + 0.005j * torch.eye(170, dtype=dtype)
            eye = torch.eye(170, dtype=dtype).expand(3, 170, 170)
            expected = np.linalg.inv(a.numpy())
            tol = 1e-3 if dtype == torch.complex64 else 1e-9
            scale = np.abs(expected).max()
            assert np.abs(_linalg.inv(a).numpy() - expected).max() <= tol * scale
            lu, pivots, info = _linalg.lu_factor_ex(a)
            assert int(info.abs().sum()) == 0
            for adjoint, oracle in ((False, expected), (True, np.conj(np.swapaxes(expected, 1, 2)))):
                x = _linalg.lu_solve(lu, pivots, eye, adjoint=adjoint)
                assert np.abs(x.numpy() - oracle).max() <= tol * scale
    finally:
        torch.set_num_threads(threads)


def test_both_hidden_layer_solves_are_exercised(gen):
    """SIZES covers a hidden layer solved through g = A⁻¹ and one solved thin (A⁻¹ T)."""
    from qnets.greens import recursion

    _, hoppings = _network(gen)
    assert [recursion._via_inverse(*T.shape) for T in hoppings[1:]] == [True, False]
