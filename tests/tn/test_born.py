"""MPS Born machine: exact normalisation, exact sampling (χ² test), BAS NLL gap, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from qnets.data import bars_and_stripes
from qnets.errors import ConfigError, ShapeError, SizeLimitError
from qnets.tn import MPS, MPSBornMachine, entanglement_profile

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_probabilities_are_exact_born_rule(dtype):
    model = MPSBornMachine(7, 3, phys_dim=3, init_std=0.7, dtype=dtype, seed=0)
    probs = model.probabilities()
    psi = model.to_mps().to_dense()
    ref = psi.abs() ** 2 / (psi.abs() ** 2).sum()
    assert abs(probs.sum().item() - 1) < 1e-12
    assert torch.allclose(probs, ref, rtol=1e-10, atol=1e-15)


def test_long_chain_normalisation_is_finite():
    model = MPSBornMachine(400, 6, init_std=1.0, seed=1)
    log_z = model.log_normalization().item()
    assert math.isfinite(log_z) and log_z > 300  # Z itself would overflow float64
    assert abs(log_z - 2 * model.to_mps().log_norm()) < 1e-8
    x = torch.randint(0, 2, (5, 400), generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(model.log_prob(x)).all()


def test_samples_follow_born_probabilities():
    model = MPSBornMachine(6, 3, init_std=0.8, seed=2)
    probs = model.probabilities().numpy()
    samples = model.sample(20000, seed=0).numpy()
    index = samples @ (2 ** np.arange(5, -1, -1))
    observed = np.bincount(index, minlength=64)
    expected = probs * len(samples)
    keep = expected > 5  # pool rare configurations into one bin for the χ² test
    f_obs = np.append(observed[keep], observed[~keep].sum())
    f_exp = np.append(expected[keep], expected[~keep].sum())
    assert chisquare(f_obs, f_exp).pvalue > 1e-3
    assert np.array_equal(model.sample(50, seed=3).numpy(), model.sample(50, seed=3).numpy())


def test_bars_and_stripes_target_ranks():
    """Spec T7 oracle: exact Schmidt ranks of the uniform BAS 3 × 3 state (row-major)."""
    patterns = bars_and_stripes(3)
    assert len(patterns) == 14 and len(bars_and_stripes(4)) == 30
    psi = np.zeros(2**9)
    psi[patterns @ (2 ** np.arange(8, -1, -1))] = 1 / math.sqrt(14)
    target = MPS.from_dense(psi, [2] * 9, cutoff=1e-12)
    assert target.bond_dims == (2, 4, 7, 8, 8, 7, 4, 2)
    assert abs(target.entropies().max() - 1.847) < 1e-3


def test_bars_and_stripes_gap_and_bond_dimension_below_rank():
    """Spec T7: χ = 8 reaches ln 14 within 0.15; χ = 4 < max Schmidt rank 8 cannot."""
    data = torch.as_tensor(bars_and_stripes(3)).long()
    optimum = math.log(14)
    gaps = {}
    for chi in (4, 8):
        model = MPSBornMachine(9, chi, seed=0)
        model.fit(data, steps=250, lr=0.05)
        gaps[chi] = model.nll(data).item() - optimum
        assert gaps[chi] > -1e-9  # NLL ≥ entropy of the data distribution
    assert gaps[8] <= 0.15
    assert gaps[4] >= 0.5
    profile = entanglement_profile(model)
    assert np.all(profile.entropies <= np.log(8) + 1e-10)


def test_bad_input():
    with pytest.raises(ConfigError, match="bond_dim"):
        MPSBornMachine(4, 0)
    model = MPSBornMachine(4, 2, seed=0)
    with pytest.raises(ShapeError, match="x"):
        model.log_prob(torch.zeros(3, 5, dtype=torch.long))
    with pytest.raises(ConfigError, match="values"):
        model.log_prob(torch.full((2, 4), 2))
    with pytest.raises(ConfigError, match="integer"):
        model.log_prob(torch.full((2, 4), 0.5))
    with pytest.raises(ConfigError, match="n_samples"):
        model.sample(0)
    with pytest.raises(SizeLimitError):
        MPSBornMachine(30, 2, seed=0).probabilities()
