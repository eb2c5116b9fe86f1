"""FermionNetwork: recursion vs the dense inverse of net.hamiltonian(x), gradients, encoders."""

import math
import warnings

import pytest
import torch
from oracles import directional_fd_check, random_hermitian

from qnets.errors import ConfigError, PrecisionWarning, ShapeError, SizeLimitError
from qnets.fnn import FermionNetwork, encode_hamiltonian, encode_ldos, encode_system

C128 = torch.complex128

# (kwargs, input sites) covering every connectivity and every intra-layer option
ARCHITECTURES = {
    "dense-dense": dict(sizes=[12, 7, 5, 3], intra="dense"),
    "dense-none": dict(sizes=[12, 7, 5, 3], intra="none"),
    "dense-nn1d-nnn1d": dict(sizes=[12, 7, 5, 3], intra=["nn1d", "nnn1d", "none"]),
    "local-nn2d": dict(sizes=[36, 16, 4, 3], connectivity="local", kernels=(3, 2), strides=(1, 2), intra="nn2d"),
    "local-nnn2d": dict(sizes=[36, 16, 4, 3], connectivity="local", kernels=(3, 2), strides=(1, 2), intra="nnn2d"),
    "tree-nnn2d": dict(sizes=[64, 16, 4, 2], connectivity="tree", intra=["nnn2d", "nn2d", "dense"]),
}


def _net(name, **extra):
    kwargs = dict(ARCHITECTURES[name], eta=0.05, init_bound=1.0, dtype=C128, seed=7)
    kwargs.update(extra)
    return FermionNetwork(**kwargs)


def _dense_output_block(net, H):
    eye = torch.eye(H.shape[-1], dtype=H.dtype)
    return torch.linalg.inv(net.z * eye - H)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_ldos_matches_dense_inverse_of_hamiltonian(name, gen):
    net = _net(name, energy=0.1)
    x = torch.rand(3, net.sizes[0], generator=gen, dtype=torch.float64)
    H = net.hamiltonian(x)
    assert H.shape == (3, sum(net.sizes), sum(net.sizes))
    assert (H - H.mH).abs().max() == 0
    G = _dense_output_block(net, H)
    n_out = net.sizes[-1]
    expected = -torch.diagonal(G[:, -n_out:, -n_out:], dim1=-2, dim2=-1).imag / math.pi
    assert (net(x) - expected).abs().max() <= 1e-10


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_system_encoder_and_conductance_match_dense_inverse(name, gen):
    net = _net(name, encoder="system", readout="conductance")
    n0, n_out = net.sizes[0], net.sizes[-1]
    h_sys = random_hermitian(n0, gen, batch=(2,))
    G = _dense_output_block(net, net.hamiltonian(h_sys))
    expected = G[:, :n0, -n_out:].sum(1).abs() ** 2
    assert (net(h_sys) - expected).abs().max() <= 1e-10 * max(1.0, expected.abs().max().item())


def test_landauer_matches_fisher_lee_with_lead_self_energies(gen):
    gamma = 0.7
    net = _net("dense-dense", readout="landauer", lead_coupling=gamma)
    x = torch.rand(2, 12, generator=gen, dtype=torch.float64)
    H = net.hamiltonian(x)
    N, n0, n_out = H.shape[-1], 12, 3
    u = torch.zeros(N, dtype=C128)
    u[:n0] = 1
    sigma = -0.5j * gamma * torch.outer(u, u)
    sigma[range(N - n_out, N), range(N - n_out, N)] += -0.5j * gamma
    G = torch.linalg.inv(net.z * torch.eye(N, dtype=C128) - H - sigma)
    gamma_in = gamma * torch.outer(u, u)
    for o in range(n_out):
        gamma_out = torch.zeros(N, N, dtype=C128)
        gamma_out[N - n_out + o, N - n_out + o] = gamma
        fisher_lee = torch.einsum("ij,bjk,kl,bil->b", gamma_in, G, gamma_out, G.conj()).real
        assert torch.allclose(net(x)[:, o], fisher_lee, rtol=1e-10, atol=1e-14)


GRADIENT_CASES = [
    ("dense-dense", "hamiltonian", "ldos"),
    ("dense-dense", "ldos", "ldos"),
    ("dense-dense", "system", "ldos"),
    ("local-nnn2d", "hamiltonian", "conductance"),
    ("tree-nnn2d", "ldos", "conductance"),
    ("dense-dense", "system", "conductance"),
    ("dense-nn1d-nnn1d", "system", "landauer"),
]


def _batch(net, gen):
    n0 = net.sizes[0]
    if net.encoder == "system":
        return random_hermitian(n0, gen, batch=(3,))
    return torch.rand(3, n0, generator=gen, dtype=torch.float64) + 0.05


@pytest.mark.parametrize("name,encoder,readout", GRADIENT_CASES)
def test_adjoint_gradients_match_finite_differences(name, encoder, readout, gen):
    net = _net(name, encoder=encoder, readout=readout)
    x = _batch(net, gen)
    labels = torch.randint(0, net.sizes[-1], (3,), generator=gen)
    names = [n for n, _ in net.named_parameters()]

    def loss(params):
        state = dict(zip(names, params))
        out = torch.func.functional_call(net, state, (x,))
        return torch.nn.functional.cross_entropy(out, labels) + out.square().mean()

    error = directional_fd_check(loss, list(net.parameters()), gen, n_directions=2)
    assert error <= 1e-6


HERMITIAN_INPUT_CASES = [c for c in GRADIENT_CASES if c[1] != "ldos" and c[2] != "landauer"]


@pytest.mark.parametrize("name,encoder,readout", HERMITIAN_INPUT_CASES)
def test_adjoint_gradients_match_autograd_through_dense_inverse(name, encoder, readout, gen):
    """Against autograd through (z − net.hamiltonian(x))⁻¹ (cases with a Hermitian input)."""
    net = _net(name, encoder=encoder, readout=readout)
    x = _batch(net, gen)
    out = net(x)
    fast = torch.autograd.grad((out * torch.arange(1.0, out.shape[1] + 1)).sum(), list(net.parameters()))
    H = net.hamiltonian(x)
    G = _dense_output_block(net, H)
    n0, n_out = net.sizes[0], net.sizes[-1]
    if readout == "ldos":
        dense = -torch.diagonal(G[:, -n_out:, -n_out:], dim1=-2, dim2=-1).imag / math.pi
    else:
        dense = G[:, :n0, -n_out:].sum(1).abs() ** 2
    slow = torch.autograd.grad((dense * torch.arange(1.0, out.shape[1] + 1)).sum(), list(net.parameters()))
    for a, b in zip(fast, slow):
        assert (a - b).abs().max() <= 1e-9 * max(1.0, b.abs().max().item())


@pytest.mark.parametrize("name,encoder,readout", GRADIENT_CASES)
def test_every_encoder_and_readout_matches_the_dense_oracle(name, encoder, readout, gen, monkeypatch):
    """The same model evaluated with the dense inverse (qnets.greens.dense_greens) in place
    of the recursion: outputs and gradients agree, for every encoder and readout."""
    from qnets.fnn import model as model_module
    from qnets.greens import dense_greens

    net = _net(name, encoder=encoder, readout=readout)
    x = _batch(net, gen)
    weights = torch.arange(1.0, net.sizes[-1] + 1, dtype=torch.float64)
    results = []
    for greens in (model_module.layered_greens, dense_greens):
        monkeypatch.setattr(model_module, "layered_greens", greens)
        out = net(x)
        results.append((out, torch.autograd.grad((out * weights).sum(), list(net.parameters()))))
    (fast, fast_grads), (exact, exact_grads) = results
    assert (fast - exact).abs().max() <= 1e-10 * max(1.0, exact.abs().max().item())
    for a, b in zip(fast_grads, exact_grads):
        assert (a - b).abs().max() <= 1e-9 * max(1.0, b.abs().max().item())


def test_encoders_match_their_definitions(gen):
    z = 0.2 + 0.005j
    x = torch.rand(2, 5, generator=gen, dtype=torch.float64)
    assert torch.allclose(encode_hamiltonian(x, z, dtype=C128), 1 / (z - x.to(C128)))
    assert torch.allclose(encode_ldos(x, dtype=C128), -1j * math.pi * x.to(C128))
    h = random_hermitian(5, gen, batch=(2,))
    expected = torch.linalg.inv(z * torch.eye(5, dtype=C128) - h)
    assert torch.allclose(encode_system(h, z, dtype=C128), expected)
    # images are flattened row-major
    images = x.reshape(2, 5, 1)
    assert torch.equal(encode_hamiltonian(images, z, dtype=C128), encode_hamiltonian(x, z, dtype=C128))


def test_retarded_convention_single_site_lorentzian():
    """One isolated site at ε: LDOS(E) = (η/π) / ((E − ε)² + η²) > 0 (docs/conventions.md)."""
    eta, eps, energy = 0.1, 0.3, 0.25
    g = encode_hamiltonian(torch.tensor([[eps]], dtype=torch.float64), complex(energy, eta), dtype=C128)
    ldos = -g.imag / math.pi
    assert torch.allclose(ldos, torch.tensor([[eta / math.pi / ((energy - eps) ** 2 + eta**2)]], dtype=torch.float64))


@pytest.mark.parametrize("encoder", ["hamiltonian", "ldos"])
def test_ldos_output_non_negative(encoder, gen):
    net = FermionNetwork([20, 10, 5], encoder=encoder, eta=0.01, init_bound=1.0, seed=3)
    x = torch.rand(16, 20, generator=gen)
    out = net(x)
    assert out.dtype == torch.float32
    assert (out >= 0).all()


def test_spec_parameter_counts():
    fc = FermionNetwork([784, 100, 64, 10], seed=0)
    assert fc.num_real_parameters() == 2 * 85440 + 2 * (4950 + 2016 + 45) + 174
    overlap = FermionNetwork(
        [784, 169, 36, 10], connectivity="local", kernels=(4, 3), strides=(2, 2), intra="nnn2d", seed=0
    )
    assert overlap.num_real_parameters() == 2 * (2704 + 324 + 360) + 2 * (676 + 144) + 215
    tree = FermionNetwork([784, 196, 49, 10], connectivity="tree", intra="none", seed=0)
    assert tree.num_real_parameters() == 2 * (784 + 196 + 490) + 255


def test_initialisation_bound_and_seed():
    a = FermionNetwork([50, 20, 4], init_bound=0.5, seed=11)
    b = FermionNetwork([50, 20, 4], init_bound=0.5, seed=11)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    bound = 0.5 / math.sqrt(50)
    weight = a.hoppings[0].weight
    assert weight.real.abs().max() <= bound and weight.imag.abs().max() <= bound
    assert weight.real.abs().max() > 0.8 * bound


def test_bad_input_errors(gen):
    net = FermionNetwork([12, 5, 3], eta=0.05, seed=0)
    x = torch.rand(4, 12, generator=gen)
    bad = x.clone()
    bad[1, 3] = float("nan")
    with pytest.raises(ConfigError, match="x: expected finite"):
        net(bad)
    bad[1, 3] = float("inf")
    with pytest.raises(ConfigError, match="x: expected finite"):
        net(bad)
    with pytest.raises(ShapeError, match="12 sites.*10 values"):
        net(torch.rand(4, 10))
    with pytest.raises(ShapeError, match="x: expected a batch"):
        net(torch.rand(12))
    with pytest.raises(ConfigError, match="eta"):
        FermionNetwork([12, 5, 3], eta=0.0)
    with pytest.raises(ConfigError, match="eta"):
        FermionNetwork([12, 5, 3], eta=-1e-3)
    with pytest.warns(PrecisionWarning, match="eta=1e-06"):
        FermionNetwork([12, 5, 3], eta=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FermionNetwork([12, 5, 3], eta=1e-6, dtype=C128)
    with pytest.raises(ConfigError, match="encoder.*'pixels'"):
        FermionNetwork([12, 5, 3], encoder="pixels")
    with pytest.raises(ConfigError, match="readout.*'current'"):
        FermionNetwork([12, 5, 3], readout="current")
    with pytest.raises(ConfigError, match="connectivity.*'conv'"):
        FermionNetwork([12, 5, 3], connectivity="conv")
    with pytest.raises(ConfigError, match="intra.*'nn3d'"):
        FermionNetwork([12, 5, 3], intra="nn3d")
    with pytest.raises(ShapeError, match="kernel 3 and stride 2 gives a 4×4"):
        FermionNetwork([100, 9, 3], connectivity="local", kernels=(3,), strides=(2,))
    with pytest.raises(ShapeError, match="square number of sites"):
        FermionNetwork([12, 5, 3], connectivity="tree")
    with pytest.raises(ConfigError, match="kernels/strides"):
        FermionNetwork([36, 16, 3], connectivity="local")
    with pytest.raises(ConfigError, match="sizes"):
        FermionNetwork([12])
    ldos_net = FermionNetwork([12, 5, 3], encoder="ldos", eta=0.05)
    with pytest.raises(ConfigError, match="non-negative"):
        ldos_net(-x)
    with pytest.raises(ConfigError, match="Hermitian input layer"):
        ldos_net.hamiltonian(x)
    with pytest.raises(SizeLimitError, match="layered_greens"):
        net.hamiltonian(x, max_sites=10)
    system_net = FermionNetwork([12, 5, 3], encoder="system", eta=0.05)
    with pytest.raises(ShapeError, match="\\(B, n0, n0\\)"):
        system_net(x)


def test_finite_check_accepts_finite_entries_whose_sum_overflows():
    """The finiteness check sums first; an overflowing sum of finite entries is not an error."""
    from qnets.fnn.encoders import _check_finite

    big = torch.full((2, 3), 3e38, dtype=torch.float32)
    assert not torch.isfinite(big.sum())
    _check_finite(big)
    big[1, 2] = float("-inf")
    with pytest.raises(ConfigError, match=r"x: expected finite .*index \(1, 2\)"):
        _check_finite(big)


def test_system_encoder_refuses_non_hermitian_hamiltonians(gen):
    net = FermionNetwork([4, 3, 2], encoder="system", dtype=torch.complex128, seed=0)
    h = torch.randn(2, 4, 4, generator=gen, dtype=torch.float64)
    h = (h + h.transpose(-1, -2)).to(torch.complex128)
    net(h)  # Hermitian: fine
    h[1, 0, 1] += 0.5j
    with pytest.raises(ConfigError, match="Hermitian .* sample 1"):
        net(h)


@pytest.mark.parametrize(("size", "accepted"), [(0.9e-6, True), (1.1e-6, False)])
def test_system_encoder_hermiticity_tolerance_is_on_the_modulus(size, accepted):
    """1e-6 relative to max(max |H|, 1), on |H − H†| (the fast screen by real and
    imaginary parts must not change which inputs pass)."""
    net = FermionNetwork([4, 3, 2], encoder="system", dtype=torch.complex128, seed=0)
    h = torch.eye(4, dtype=torch.complex128).unsqueeze(0) * 0.5
    direction = (1 + 0.2j) / abs(1 + 0.2j)
    h[0, 0, 1] += size * direction  # |H − H†| at (0, 1) = size
    if accepted:
        net(h)
    else:
        with pytest.raises(ConfigError, match="Hermitian"):
            net(h)
