"""Block-cyclic tridiagonal solves of a 2-D first hidden layer vs dense solves and the dense
route through the whole network (forward and gradients)."""

import torch

from qnets.fnn import FermionNetwork
from qnets.greens import _block_cyclic, recursion


def _block_cyclic_matrix(gen, batch=3, blocks=7, b=4, eta=0.05):
    """``z − H`` with H Hermitian block-cyclic tridiagonal and Im z = eta > 0."""
    n = blocks * b
    dist = (torch.arange(n)[:, None] // b - torch.arange(n)[None, :] // b) % blocks
    mask = (dist <= 1) | (dist == blocks - 1)
    H = torch.complex(torch.randn(batch, n, n, generator=gen, dtype=torch.float64),
                      torch.randn(batch, n, n, generator=gen, dtype=torch.float64))
    H = (H + H.mH) / 2 * mask
    return (0.3 + 1j * eta) * torch.eye(n, dtype=H.dtype) - H, mask


def test_solves_match_dense_solves(gen):
    A, mask = _block_cyclic_matrix(gen)
    assert _block_cyclic.block_size(mask) == 4
    R = torch.complex(torch.randn(28, 5, generator=gen, dtype=torch.float64),
                      torch.randn(28, 5, generator=gen, dtype=torch.float64))
    factors = _block_cyclic.factor(A, 4)
    for adjoint in (False, True):
        got = _block_cyclic.solve(factors, R, adjoint=adjoint)
        want = torch.linalg.solve(A.mH if adjoint else A, R.expand(3, -1, -1))
        assert (got - want).abs().max() <= 1e-10 * want.abs().max()


def _torus(side):
    """Row and column distances (mod side) between the sites of a side × side torus, and
    its NN + NNN pattern (a 9-point stencil)."""
    r, c = torch.arange(side * side) // side, torch.arange(side * side) % side
    dr, dc = (r[:, None] - r[None, :]) % side, (c[:, None] - c[None, :]) % side

    def near(d):
        return (d <= 1) | (d == side - 1)

    return dr, dc, near(dr) & near(dc)


def test_block_size_detection():
    dr, dc, nnn_periodic = _torus(8)
    assert _block_cyclic.block_size(nnn_periodic) == 8
    wider = nnn_periodic | ((dr == 2) & (dc == 0))  # couples grid rows two apart
    assert _block_cyclic.block_size(wider) is None
    assert _block_cyclic.block_size(torch.ones(64, 64, dtype=torch.bool)) is None
    # a 4 × 4 torus has too few rows for the block loop to pay off: the dense LU takes it
    assert _block_cyclic.block_size(_torus(4)[2]) is None


def _local_network(dtype):
    # 14 × 14 input → (kernel 4, stride 2) → 6 × 6 with NN+NNN → 3: the first hidden layer is
    # block-cyclic tridiagonal with 6 × 6 blocks
    return FermionNetwork([196, 36, 3], connectivity=["local", "dense"], kernels=[4],
                          strides=[2], intra=["nnn2d", "dense"], dtype=dtype, seed=3,
                          init_bound=1.0)


def test_network_forward_and_gradients_match_the_dense_route(monkeypatch):
    torch.manual_seed(0)
    x = torch.rand(5, 196, dtype=torch.float64)
    calls = []
    factor = _block_cyclic.factor
    monkeypatch.setattr(_block_cyclic, "factor", lambda A, b: calls.append(b) or factor(A, b))
    results = []
    for structured in (True, False):
        monkeypatch.setattr(recursion, "_USE_BLOCK_CYCLIC", structured)
        net = _local_network(torch.complex128)
        out = net(x)
        loss = (out * torch.linspace(-1, 1, out.numel(), dtype=torch.float64).view_as(out)).sum()
        grads = torch.autograd.grad(loss, list(net.parameters()))
        results.append((out, grads))
    assert calls == [6]  # the structured route ran once (with 6 × 6 blocks), the dense once
    (out_s, grads_s), (out_d, grads_d) = results
    assert (out_s - out_d).abs().max() <= 1e-10 * out_d.abs().max()
    for a, b in zip(grads_s, grads_d):
        assert (a - b).abs().max() <= 1e-9 * max(1e-12, float(b.abs().max()))


def test_network_complex64_stays_close(monkeypatch):
    torch.manual_seed(1)
    x = torch.rand(8, 196)
    outs = []
    for structured in (True, False):
        monkeypatch.setattr(recursion, "_USE_BLOCK_CYCLIC", structured)
        outs.append(_local_network(torch.complex64)(x))
    assert (outs[0] - outs[1]).abs().max() <= 1e-4 * outs[1].abs().max()
