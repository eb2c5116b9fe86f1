"""Tests of qnets.training.optim: cosine schedule, LARC trust ratio, optimizer factory."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from qnets.errors import ConfigError
from qnets.training import TrainConfig, cosine_lr, larc_, make_optimizer, scheduled_lr


def test_cosine_lr_values():
    assert cosine_lr(0.1, 0, 10) == pytest.approx(0.1)
    assert cosine_lr(0.1, 5, 10) == pytest.approx(0.05)
    assert cosine_lr(0.1, 10, 10) == pytest.approx(0.0, abs=1e-15)
    assert cosine_lr(2.0, 1, 4) == pytest.approx(2.0 * 0.5 * (1 + math.cos(math.pi / 4)))
    values = [cosine_lr(1.0, e, 7) for e in range(7)]
    assert all(a > b for a, b in itertools.pairwise(values))  # strictly decreasing
    assert values[-1] > 0  # last trained epoch keeps a positive rate


def test_scheduled_lr_constant_and_errors():
    assert scheduled_lr("constant", 0.3, 4, 5) == 0.3
    assert scheduled_lr("cosine", 0.3, 2, 4) == cosine_lr(0.3, 2, 4)
    with pytest.raises(ConfigError, match="schedule.*'linear'"):
        scheduled_lr("linear", 0.3, 0, 5)
    with pytest.raises(ConfigError, match="epoch"):
        cosine_lr(0.1, 11, 10)
    with pytest.raises(ConfigError, match="epochs"):
        cosine_lr(0.1, 0, 0)


def _hand_larc(p, g, trust, wd, eps=1e-8):
    pn = math.sqrt(float((p.abs() ** 2).sum()))
    gn = math.sqrt(float((g.abs() ** 2).sum()))
    if pn == 0 or gn == 0:
        return g.clone()
    a = trust * pn / (gn + wd * pn + eps)
    return (g + wd * p) * a


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_larc_matches_hand_computation(dtype, wd):
    g = torch.Generator().manual_seed(1)
    p1 = torch.nn.Parameter(torch.randn(3, 4, dtype=dtype, generator=g))
    p2 = torch.nn.Parameter(torch.randn(5, dtype=dtype, generator=g))
    p1.grad = torch.randn(3, 4, dtype=dtype, generator=g)
    p2.grad = 100 * torch.randn(5, dtype=dtype, generator=g)
    expected = [_hand_larc(p.detach(), p.grad, 0.02, wd) for p in (p1, p2)]
    larc_([p1, p2], trust_coefficient=0.02, weight_decay=wd)
    for p, e in zip((p1, p2), expected):
        assert p.grad.dtype == dtype
        torch.testing.assert_close(p.grad, e, rtol=1e-12, atol=0)
    # explicit numbers for a 1-element case: p = 3, g = 4, trust 0.5, wd 0
    q = torch.nn.Parameter(torch.tensor([3.0], dtype=torch.float64))
    q.grad = torch.tensor([4.0], dtype=torch.float64)
    larc_(q, 0.5, 0.0)
    assert q.grad.item() == pytest.approx(4.0 * 0.5 * 3.0 / (4.0 + 1e-8))


def test_larc_skips_zero_norms_and_missing_grads():
    zero_p = torch.nn.Parameter(torch.zeros(3))
    zero_p.grad = torch.ones(3)
    zero_g = torch.nn.Parameter(torch.ones(3))
    zero_g.grad = torch.zeros(3)
    no_grad = torch.nn.Parameter(torch.ones(3))
    larc_([zero_p, zero_g, no_grad], 1e-3, weight_decay=0.5)
    assert torch.equal(zero_p.grad, torch.ones(3))  # untouched: no scaling, no decay
    assert torch.equal(zero_g.grad, torch.zeros(3))
    assert no_grad.grad is None


def test_larc_bad_arguments():
    p = torch.nn.Parameter(torch.ones(2))
    p.grad = torch.ones(2)
    with pytest.raises(ConfigError, match="trust_coefficient"):
        larc_([p], 0.0)
    with pytest.raises(ConfigError, match="weight_decay"):
        larc_([p], 1e-3, weight_decay=-1.0)


def test_make_optimizer():
    w = torch.nn.Parameter(torch.ones(2, dtype=torch.complex64))
    adam = make_optimizer([w], TrainConfig(lr=0.01, weight_decay=0.1, betas=(0.8, 0.9), eps=1e-6))
    assert isinstance(adam, torch.optim.Adam)
    group = adam.param_groups[0]
    assert (group["lr"], group["betas"], group["eps"], group["weight_decay"]) == (
        0.01,
        (0.8, 0.9),
        1e-6,
        0.1,
    )
    sgd = make_optimizer([w], TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=0.2))
    assert isinstance(sgd, torch.optim.SGD)
    assert (sgd.param_groups[0]["momentum"], sgd.param_groups[0]["weight_decay"]) == (0.9, 0.2)
    # with LARC the decay moves into larc_, the optimizer gets none
    larc_opt = make_optimizer([w], TrainConfig(weight_decay=0.1, larc=True))
    assert larc_opt.param_groups[0]["weight_decay"] == 0.0


def test_make_optimizer_unknown_name():
    class Cfg:  # duck-typed config that bypasses TrainConfig validation
        optimizer = "rmsprop"
        larc = False
        weight_decay = 0.0
        lr = 0.1

    with pytest.raises(ConfigError, match="optimizer.*'rmsprop'"):
        make_optimizer([torch.nn.Parameter(torch.ones(1))], Cfg())
