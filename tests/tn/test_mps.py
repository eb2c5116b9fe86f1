"""MPS core: Schmidt spectra vs dense SVD, canonical forms, log-scale tracking, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qnets.entanglement import schmidt_values
from qnets.errors import ConfigError, NumericalError, ShapeError, SizeLimitError
from qnets.tn import MPS, spectrum_entropy

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _dense_values(psi, n, region):
    ref = schmidt_values(psi, [2] * n, region)
    return ref / np.linalg.norm(ref)


def _compare(values, ref):
    k = len(values)
    assert np.all(np.abs(ref[k:]) < 1e-12)
    return np.abs(values - ref[:k]).max()


def test_all_cut_spectra_match_dense_svd():
    mps = MPS.random(12, 2, 6, seed=0)
    psi = mps.to_dense()
    spectra = mps.schmidt_spectra()
    assert len(spectra) == 11
    err = max(_compare(s, _dense_values(psi, 12, list(range(k + 1)))) for k, s in enumerate(spectra))
    assert err < 1e-12
    assert all(abs(np.sum(s**2) - 1) < 1e-12 for s in spectra)


def test_complex_spectra_match_dense_svd():
    mps = MPS.random(8, 2, 4, seed=3, dtype=torch.complex128)
    psi = mps.to_dense()
    for k, s in enumerate(mps.schmidt_spectra()):
        assert _compare(s, _dense_values(psi, 8, list(range(k + 1)))) < 1e-12


@pytest.mark.parametrize("form,center", [("left", None), ("right", None), ("mixed", 0), ("mixed", 5), ("mixed", 9)])
def test_canonical_forms_leave_state_unchanged(form, center):
    mps = MPS.random(10, 3, 5, seed=1)
    psi = mps.to_dense()
    can = mps.canonicalize(form, center=center)
    assert torch.allclose(can.to_dense(), psi, rtol=0, atol=1e-13 * psi.abs().max())
    c = {"left": 9, "right": 0}.get(form, center)
    for i, core in enumerate(can.cores):
        mat_l = core.reshape(-1, core.shape[2])
        mat_r = core.reshape(core.shape[0], -1)
        if i < c:
            assert torch.allclose(mat_l.T @ mat_l, torch.eye(mat_l.shape[1], dtype=core.dtype), atol=1e-12)
        if i > c:
            assert torch.allclose(mat_r @ mat_r.T, torch.eye(mat_r.shape[0], dtype=core.dtype), atol=1e-12)
    assert abs(can.log_scale - mps.log_norm()) < 1e-12


def test_dense_roundtrip_and_norm():
    rng = np.random.default_rng(0)
    psi = rng.normal(size=2**9) * 7.0
    mps = MPS.from_dense(psi, [2] * 9)
    assert np.allclose(mps.to_dense().numpy(), psi, atol=1e-12)
    assert abs(mps.log_norm() - math.log(np.linalg.norm(psi))) < 1e-12
    assert abs(mps.norm() - np.linalg.norm(psi)) < 1e-10


def test_overlap_against_dense():
    a, b = MPS.random(9, 2, 4, seed=1), MPS.random(9, 2, 4, seed=2)
    phase, log_abs = a.overlap(b)
    ref = float(a.to_dense() @ b.to_dense())
    assert abs(phase * math.exp(log_abs) - ref) < 1e-13


def test_entropy_bound_ln_chi_every_cut():
    mps = MPS.random(30, 2, 8, seed=4)
    entropies = mps.entropies()
    assert np.all(entropies <= np.log(np.array(mps.bond_dims)) + 1e-12)
    assert entropies.max() > 0.5
    bits = mps.entropies(base=2)
    assert np.allclose(bits, entropies / math.log(2))


def _scaled_chain(bond_dim):
    mps = MPS.random(784, 2, bond_dim, seed=5)
    return mps, MPS([c * 4.0 for c in mps.cores])


def _check_long_chain(mps, big, bond_dim):
    log_norm = big.log_norm()
    assert math.isfinite(log_norm) and log_norm > 709  # e^{ln‖ψ‖} overflows float64
    assert abs(log_norm - (mps.log_norm() + 784 * math.log(4.0))) < 1e-8
    spectra = big.schmidt_spectra()
    assert len(spectra) == 783
    assert all(np.all(np.isfinite(s)) for s in spectra)
    assert all(abs(np.sum(s**2) - 1) < 1e-10 for s in spectra)
    assert max(len(s) for s in spectra) == bond_dim
    assert np.all(big.entropies() <= np.log(bond_dim) + 1e-10)


def test_long_chain_no_overflow():
    """784 sites at χ = 64, cores scaled by 4: ‖ψ‖ ~ e^{1000} overflows float64 unless tracked."""
    mps, big = _scaled_chain(64)
    _check_long_chain(mps, big, 64)
    with pytest.raises(SizeLimitError):
        big.to_dense()


def test_noncontiguous_partition_dense_and_rho_routes_agree():
    mps = MPS.random(12, 2, 6, seed=6)
    psi = mps.to_dense()
    for region in ([0, 3, 4, 9], [1, 2, 10, 11], [0, 2, 4, 6, 8, 10]):
        ref = _dense_values(psi, 12, region)
        assert _compare(mps.schmidt_values(region), ref) < 1e-12
        rho = mps._rho_values(np.array(region))
        assert np.abs(rho[:6] - ref[:6]).max() < 1e-7  # eigenvalues of ρ: √ε accuracy of s
    # contiguous blocks and int cuts take the canonical route
    assert _compare(mps.schmidt_values(5), _dense_values(psi, 12, list(range(5)))) < 1e-12
    assert _compare(mps.schmidt_values([7, 8, 9, 10, 11]), _dense_values(psi, 12, list(range(7)))) < 1e-12
    s = mps.schmidt_values([0, 3, 4, 9])
    assert abs(mps.entanglement_entropy([0, 3, 4, 9]) - spectrum_entropy(s)) < 1e-14


def test_noncontiguous_partition_large_chain_uses_rho():
    mps = MPS.random(30, 2, 4, seed=7)
    s = mps.schmidt_values([0, 10, 20])  # 2^30 entries: dense route refused, ρ_A route used
    assert len(s) == 8 and abs(np.sum(s**2) - 1) < 1e-12
    # a product of the left and right halves has no entanglement across any partition of one half
    with pytest.raises(SizeLimitError):
        MPS.random(40, 2, 16, seed=0).schmidt_values(list(range(0, 40, 2)))


def test_spectrum_entropy_values():
    assert spectrum_entropy([1.0, 0.0]) == 0.0
    assert abs(spectrum_entropy([1.0, 1.0]) - math.log(2)) < 1e-15
    assert abs(spectrum_entropy([1.0, 1.0], base=2) - 1.0) < 1e-15
    assert abs(spectrum_entropy([1, 1, 1, 1], alpha=2) - math.log(4)) < 1e-14


def test_bad_input():
    core = torch.zeros(1, 2, 3, dtype=torch.float64)
    with pytest.raises(ConfigError, match="cores"):
        MPS([])
    with pytest.raises(ShapeError, match="open boundaries"):
        MPS([core])
    with pytest.raises(ShapeError, match="left bond"):
        MPS([core, torch.zeros(2, 2, 1, dtype=torch.float64)])
    with pytest.raises(ShapeError, match="cores\\[0\\]"):
        MPS([torch.zeros(2, 2)])
    with pytest.raises(ConfigError, match="bond_dim"):
        MPS.random(4, 2, 0)
    with pytest.raises(ConfigError, match="form"):
        MPS.random(4, 2, 2, seed=0).canonicalize("up")
    with pytest.raises(ConfigError, match="center"):
        MPS.random(4, 2, 2, seed=0).canonicalize("mixed", center=4)
    with pytest.raises(ShapeError, match="psi"):
        MPS.from_dense(np.ones(7), [2, 2, 2])
    with pytest.raises(NumericalError):
        MPS.from_dense(np.zeros(8), [2, 2, 2])
    mps = MPS.random(6, 2, 2, seed=0)
    with pytest.raises(ConfigError, match="region"):
        mps.schmidt_values([0, 0, 1])
    with pytest.raises(ConfigError, match="region"):
        mps.schmidt_values([0, 6])
    with pytest.raises(ConfigError, match="region"):
        mps.schmidt_values(6)
    with pytest.raises(ConfigError, match="base"):
        mps.entropies(base=1)
