"""ConvAC and overlapping ConvAC: coefficient tensor oracles, numerics, gradients, bad input."""

from __future__ import annotations

import itertools
import string

import numpy as np
import pytest
import torch

from qnets.errors import ConfigError, ShapeError, SizeLimitError
from qnets.tn.convac import ConvAC, OverlappingConvAC


def _multilinear(tensor: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Σ_d A_{d_1…d_N} ∏_i x[b, i, d_i] by einsum (the defining formula)."""
    n = tensor.dim()
    letters = string.ascii_letters[:n]
    operands = [x[:, i, :] for i in range(n)]
    spec = letters + "," + ",".join("Z" + c for c in letters) + "->Z"
    return torch.einsum(spec, tensor, *operands)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_inputs": 8, "in_features": 3, "widths": (2, 3, 4), "n_outputs": 2},
        {"n_inputs": 8, "in_features": 2, "widths": (3, 2, 2), "shared": True},
        {"n_inputs": 16, "in_features": 2, "widths": (3, 2), "geometry": "2d"},
        {"n_inputs": 9, "in_features": 2, "widths": (2, 3), "pooling": 3},
        {"n_inputs": 12, "in_features": 2, "widths": (2, 2, 3), "pooling": (2, 3, 2)},
    ],
)
def test_coefficient_tensor_is_the_function(kwargs):
    model = ConvAC(**kwargs, seed=3)
    output = model.n_outputs - 1
    tensor = model.coefficient_tensor(output)
    assert tensor.shape == (model.in_features,) * model.n_inputs
    # contraction of the tree == network on all one-hot inputs
    grid = model.grid_tensor(output)
    assert torch.allclose(tensor, grid, rtol=1e-12, atol=1e-14 * tensor.abs().max())
    # multilinear in the representation vectors
    x = torch.randn(4, model.n_inputs, model.in_features, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(model(x)[:, output], _multilinear(tensor, x), rtol=1e-10, atol=1e-14)


def _naive_overlapping(model: OverlappingConvAC, tokens: list[int]) -> float:
    """Direct loops over positions, windows and channels (1-D, unshared)."""
    vecs = [np.eye(model.in_features)[t] for t in tokens]
    for layer, weight in zip(model.layers, model.weights):
        w = weight.detach().numpy()
        out = []
        for p in range(layer.index.shape[0]):
            v = np.ones(w.shape[-1])
            for k in range(layer.index.shape[1]):
                v = v * (vecs[layer.index[p, k]] @ w[p, k])
            out.append(v)
        vecs = out
    top = np.prod(np.array(vecs), axis=0)
    return float(top @ model.output_weight.detach().numpy()[:, 0])


def test_overlapping_forward_matches_loops():
    model = OverlappingConvAC(7, 3, (2, 3, 2), kernel=(2, 3, 2), stride=1, seed=4)
    rng = np.random.default_rng(0)
    for _ in range(5):
        tokens = rng.integers(0, 3, size=7).tolist()
        got = model(torch.tensor([tokens]))[0, 0].item()
        assert got == pytest.approx(_naive_overlapping(model, tokens), rel=1e-12)


def test_overlapping_with_stride_equal_kernel_is_a_convac():
    conv = ConvAC(16, 2, (3, 2), geometry="2d", seed=5)
    over = OverlappingConvAC(16, 2, (3, 2), geometry="2d", kernel=2, stride=2, seed=9)
    over.load_state_dict(conv.state_dict())
    x = torch.randn(6, 16, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(over(x), conv(x), rtol=1e-13)
    # information re-use: a stride-1 network has more windows than positions
    assert OverlappingConvAC(8, 2, (2, 2), kernel=2).layers[0].index.shape == (7, 2)


def test_log_forward_does_not_overflow():
    model = ConvAC(1024, 2, [6] * 10, init_std=3.0, seed=0)
    x = torch.randint(0, 2, (3, 1024), generator=torch.Generator().manual_seed(2))
    sign, logabs = model.log_forward(x)
    assert torch.isfinite(logabs).all() and (logabs > 800).all()  # exp(logabs) overflows float64
    assert torch.isinf(model(x)).all()
    small = ConvAC(8, 2, (2, 2, 2), seed=1)
    xs = torch.randn(5, 8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    sign, logabs = small.log_forward(xs)
    assert torch.allclose(sign * torch.exp(logabs), small(xs), rtol=1e-12)


def test_gradients_match_finite_differences():
    model = OverlappingConvAC(6, 2, (2, 2), kernel=2, seed=0)
    x = torch.randn(3, 6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    names = [name for name, _ in model.named_parameters()]

    def f(*ps):
        return torch.func.functional_call(model, dict(zip(names, ps)), (x,))

    assert torch.autograd.gradcheck(f, tuple(p.detach().clone().requires_grad_() for p in model.parameters()))


def test_dtype_and_parameter_count():
    model = ConvAC(8, 4, (4, 2, 2), dtype=torch.float32)
    assert model(torch.zeros(2, 8, dtype=torch.long)).dtype == torch.float32
    assert ConvAC(8, 4, (4, 2, 2)).num_parameters() == 170  # spec §1.6 table
    assert ConvAC(8, 4, (2, 4, 4)).num_parameters() == 132
    assert ConvAC(8, 4, (2, 4, 4), shared=True).num_parameters() == 4 * 2 + 2 * 4 + 4 * 4 + 4
    a, b = ConvAC(8, 2, (2, 2, 2), seed=1), ConvAC(8, 2, (2, 2, 2), seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_inputs": 8, "in_features": 2, "widths": (2, 0, 2)}, r"widths\[1\].*≥ 1.*0"),
        ({"n_inputs": 8, "in_features": 2, "widths": (2, -3, 2)}, r"widths\[1\]"),
        ({"n_inputs": 8, "in_features": 2, "widths": ()}, "widths"),
        ({"n_inputs": 8, "in_features": 2, "widths": (2, 2)}, r"widths:.*n_inputs=8"),
        ({"n_inputs": 10, "in_features": 2, "widths": (2, 2), "geometry": "2d"}, "square"),
        ({"n_inputs": 8, "in_features": 0, "widths": (2, 2, 2)}, "in_features"),
        ({"n_inputs": 8, "in_features": 2, "widths": (2, 2, 2), "geometry": "3d"}, "geometry"),
        ({"n_inputs": 8, "in_features": 2, "widths": (2, 2, 2), "pooling": 0}, "pooling"),
    ],
)
def test_bad_construction(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ConvAC(**kwargs)


def test_bad_overlapping_construction():
    with pytest.raises(ConfigError, match="kernel"):
        OverlappingConvAC(8, 2, (2, 2), kernel=(2, 2, 2))
    with pytest.raises(ConfigError, match="stride"):
        OverlappingConvAC(8, 2, (2,), kernel=3, stride=2)  # (8 − 3) not divisible by 2


def test_bad_inputs():
    model = ConvAC(8, 3, (2, 2, 2))
    with pytest.raises(ShapeError, match=r"x:.*\(batch, n_inputs=8, in_features=3\).*\(2, 8, 2\)"):
        model(torch.zeros(2, 8, 2))
    with pytest.raises(ShapeError, match=r"x: integer tokens.*\(batch, 8\)"):
        model(torch.zeros(2, 7, dtype=torch.long))
    with pytest.raises(ShapeError, match=r"tokens must lie in \[0, in_features=3\).*\[0, 3\]"):
        model(torch.tensor([[0, 1, 2, 3, 0, 0, 0, 0]]))
    with pytest.raises(ConfigError, match="output"):
        model.coefficient_tensor(1)
    with pytest.raises(SizeLimitError, match="mincut_bound"):
        ConvAC(64, 2, (2,) * 6).coefficient_tensor()


def test_grid_enumeration_order():
    model = ConvAC(4, 3, (2, 2), seed=2)
    grid = model.grid_tensor()
    for d in itertools.islice(itertools.product(range(3), repeat=4), 0, 81, 7):
        assert grid[d].item() == pytest.approx(model(torch.tensor([d]))[0, 0].item(), rel=1e-12)
