"""MPS / TTN classifiers: exact contraction vs dense, stability, digits accuracy, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qnets.data import load_digits
from qnets.entanglement import schmidt_values
from qnets.errors import ConfigError, DomainError, ShapeError
from qnets.tn import (
    FEATURE_MAPS,
    MPSClassifier,
    TTNClassifier,
    entanglement_profile,
    get_feature_map,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _dense_scores(tensor: torch.Tensor, phi: torch.Tensor, class_axis: int) -> torch.Tensor:
    """Contract a dense coefficient tensor (inputs + one class axis) with feature vectors."""
    n = phi.shape[1]
    out = []
    for b in range(phi.shape[0]):
        t = tensor
        for i in reversed(range(n)):
            t = torch.tensordot(t, phi[b, i], dims=([i if i < class_axis else i + 1], [0]))
        out.append(t)
    return torch.stack(out)


@pytest.mark.parametrize("label_site", [0, 3, 4, 8])
def test_mps_scores_match_dense_contraction(label_site):
    model = MPSClassifier(8, 3, 4, label_site=label_site, init_std=0.5, seed=1)
    x = torch.rand(6, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    z, log_scale = model.forward_with_log_scale(x)
    scores = z * torch.exp(log_scale)[:, None]
    dense = model.to_mps().to_dense().reshape([2] * label_site + [4] + [2] * (8 - label_site))
    ref = _dense_scores(dense, model.feature_map(x), label_site)
    assert torch.allclose(scores, ref, rtol=1e-12, atol=1e-14)
    assert torch.equal(model(x), z)


def _ttn_dense(model) -> torch.Tensor:
    """Coefficient tensor of the tree (inputs in row-major order, class axis last) by einsum."""
    blocks = None
    for node in model.nodes:
        node = node.detach()
        if blocks is None:  # leaves: one-hot basis vectors
            blocks = [node[j].reshape(-1, node.shape[-1]) for j in range(node.shape[0])]
            continue
        blocks = [
            torch.einsum("li,rj,ijk->lrk", blocks[2 * j], blocks[2 * j + 1], node[j]).reshape(-1, node.shape[-1])
            for j in range(node.shape[0])
        ]
    n = model.n_sites
    dense = blocks[0].reshape([2] * n + [-1])  # axes in tree (Z) order
    inverse = np.argsort(model.order.numpy())
    return dense.permute(*inverse.tolist(), n)


@pytest.mark.parametrize("shape", [8, (4, 4), (2, 8)])
def test_ttn_scores_match_dense_contraction(shape):
    model = TTNClassifier(shape, 3, 5, seed=2)
    n = math.prod(shape) if isinstance(shape, tuple) else shape
    x = torch.rand(4, n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    z, log_scale = model.forward_with_log_scale(x.reshape(4, *np.atleast_1d(shape)))
    scores = z * torch.exp(log_scale)[:, None]
    ref = _dense_scores(_ttn_dense(model), model.feature_map(x), n)
    assert torch.allclose(scores, ref, rtol=1e-10, atol=1e-12)


def test_ttn_2d_tree_merges_square_blocks():
    model = TTNClassifier((4, 4), 2, seed=0)
    assert [b.tolist() for b in model.leaves(0)][:2] == [[0, 1], [4, 5]]
    assert [b.tolist() for b in model.leaves(1)] == [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]


def test_long_chain_is_stable_in_float32():
    """784 sites: the raw scores (cos+sin)^784 overflow float32; the normalised logits do not."""
    model = MPSClassifier(784, 8, 10, feature_map="cos_sin", dtype=torch.float32, seed=0)
    x = torch.full((3, 784), 0.5)
    z, log_scale = model.forward_with_log_scale(x)
    assert torch.all(torch.isfinite(z)) and torch.all(torch.isfinite(log_scale))
    assert torch.all(log_scale > 200)  # ln((cos+sin)(π/4)) * 784 ≈ 272, far beyond float32
    z.sum().backward()
    assert torch.isfinite(model.cores.grad).all()


def test_feature_maps():
    x = torch.tensor([0.0, 0.25, 1.0], dtype=torch.float64)
    assert torch.allclose(FEATURE_MAPS["cos_sin"](x).norm(dim=-1), torch.ones(3, dtype=torch.float64))
    assert torch.allclose(FEATURE_MAPS["linear"](x).sum(-1), torch.ones(3, dtype=torch.float64))
    assert FEATURE_MAPS["bias_linear"](x).shape == (3, 3)
    with pytest.raises(DomainError, match="cos_sin"):
        FEATURE_MAPS["cos_sin"](torch.tensor([0.5, 1.5]))
    with pytest.raises(ConfigError, match="feature_map"):
        get_feature_map("gauss")
    with pytest.raises(ConfigError, match="feature_dim"):
        get_feature_map(lambda t: t)


def test_bad_input():
    with pytest.raises(ConfigError, match="bond_dim"):
        MPSClassifier(10, 0)
    with pytest.raises(ConfigError, match="label_site"):
        MPSClassifier(10, 2, label_site=11)
    with pytest.raises(ConfigError, match="dtype"):
        MPSClassifier(10, 2, dtype=torch.int64)
    with pytest.raises(ConfigError, match="logit_scale"):
        MPSClassifier(10, 2, logit_scale=0.0)
    model = MPSClassifier(10, 2, seed=0)
    with pytest.raises(ShapeError, match="x"):
        model(torch.rand(4, 9))
    with pytest.raises(DomainError, match="expects values in"):
        model(torch.full((2, 10), 255.0))
    with pytest.raises(ConfigError, match="power of two"):
        TTNClassifier((6, 8), 2)
    with pytest.raises(ConfigError, match="bond_dim"):
        TTNClassifier(8, 0)
    with pytest.raises(ShapeError, match="x"):
        TTNClassifier(8, 2, seed=0)(torch.rand(3, 7))
    with pytest.raises(DomainError):
        TTNClassifier(8, 2, seed=0)(-torch.rand(3, 8) - 0.1)


def _train_digits(bond_dim: int, epochs: int = 15, seed: int = 0):
    """Spec T6: 64 sites, label at 32, cos/sin, identity + 1e-2 noise, Adam 5e-3, batch 64."""
    xtr, ytr = load_digits("train", flatten=True, dtype=np.float64)
    xte, yte = load_digits("test", flatten=True, dtype=np.float64)
    xtr, ytr, xte, yte = map(torch.as_tensor, (xtr, ytr, xte, yte))
    model = MPSClassifier(64, bond_dim, 10, feature_map="cos_sin", label_site=32, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), 64):
            idx = perm[i : i + 64]
            loss = torch.nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        accuracy = (model(xte).argmax(1) == yte).double().mean().item()
    return model, accuracy


def test_digits_mps_bond_dim_8():
    """Spec T6 / T5: χ = 8 reaches ≥ 0.93; entropies start ≈ 0, end > 0.5 nats, ≤ ln χ."""
    initial = entanglement_profile(MPSClassifier(64, 8, 10, label_site=32, seed=0))
    assert initial.entropies.max() < 1e-2
    model, accuracy = _train_digits(8)
    assert accuracy >= 0.93
    profile = entanglement_profile(model)
    assert len(profile.entropies) == 64  # 65 chain sites (64 inputs + label)
    assert np.all(profile.entropies <= np.log(8) + 1e-10)
    assert profile.entropies.max() > 0.5


@pytest.mark.slow
def test_digits_accuracy_improves_with_bond_dim():
    accuracies = [_train_digits(chi)[1] for chi in (2, 4, 8)]
    assert accuracies[0] < accuracies[1] < accuracies[2]


@pytest.mark.parametrize("shape", [8, (2, 4)])
def test_ttn_profile_matches_dense_svd(shape):
    """Every tree edge: Schmidt values of the subtree's inputs vs the dense coefficient tensor."""
    model = TTNClassifier(shape, 3, 5, seed=4)
    n = model.n_sites
    dense = _ttn_dense(model).reshape(-1)
    profile = entanglement_profile(model)
    assert len(profile.cuts) == 2 * n - 2  # every edge below the root, leaf legs included
    for leaves, values in zip(profile.cuts, profile.spectra):
        ref = schmidt_values(dense, [2] * n + [5], list(leaves))
        ref = ref / np.linalg.norm(ref)
        assert np.abs(values - ref[: len(values)]).max() < 1e-12
        assert np.all(ref[len(values) :] < 1e-12)
    assert np.all(profile.entropies <= profile.bounds + 1e-12)
    assert np.allclose(entanglement_profile(model, base=2).entropies, profile.entropies / np.log(2))


def test_profile_rejects_other_models():
    with pytest.raises(ConfigError, match="model"):
        entanglement_profile(torch.nn.Linear(2, 2))
