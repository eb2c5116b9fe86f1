"""Tests of qnets.training.Trainer and the checkpoint files (tiny complex-parameter model)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from qnets.errors import CheckpointError, ConfigError, QnetsWarning, ShapeError
from qnets.training import (
    CHECKPOINT_NAME,
    METRICS_NAME,
    PREV_CHECKPOINT_NAME,
    TrainConfig,
    Trainer,
    default_metrics,
    load_checkpoint,
)

TIMING = {"epoch_seconds", "samples_per_second"}
LOSS = nn.functional.cross_entropy


class ComplexNet(nn.Module):
    """``y = |x W| + b`` with complex ``W`` (4x2) and real ``b``: real outputs (N, 2)."""

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(0.5 * torch.randn(4, 2, dtype=torch.complex64, generator=g))
        self.b = nn.Parameter(torch.zeros(2))

    def forward(self, x):
        return (x.to(self.W.dtype) @ self.W).abs() + self.b


def _data(n: int = 60, seed: int = 123):
    """Separable by |x0| > |x1| (learnable exactly by ComplexNet)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0].abs() > x[:, 1].abs()).long()
    return x, y


TRAIN = _data(50, seed=1)  # 50 = 3 * 16 + 2: last minibatch is partial
TEST = _data(20, seed=2)


def _trainer(config=None, model=None, **kw):
    kw.setdefault("progress", False)
    config = config or TrainConfig(epochs=4, batch_size=16, lr=0.05)
    return Trainer(model or ComplexNet(), LOSS, TRAIN, TEST, config, **kw)


def _strip(history):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in history]


class _Stop(Exception):
    pass


def _stop_after(k):
    def cb(trainer, record):
        if record["epoch"] == k:
            raise _Stop

    return cb


def _params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# --------------------------------------------------------------------------- basics


def test_loss_decreases_and_records_have_all_keys():
    trainer = _trainer(TrainConfig(epochs=6, batch_size=16, lr=0.1))
    history = trainer.fit()
    assert [r["epoch"] for r in history] == list(range(1, 7))
    for r in history:
        assert {
            "epoch",
            "lr",
            "train_loss",
            "train_accuracy",
            "test_loss",
            "test_accuracy",
        } | TIMING <= set(r)
        assert r["samples_per_second"] > 0
    assert history[-1]["train_loss"] < 0.7 * history[0]["train_loss"]
    assert history[-1]["test_accuracy"] >= 0.8
    assert history[0]["lr"] == 0.1
    assert history[3]["lr"] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 3 / 6)))
    assert trainer.model.W.dtype == torch.complex64


def test_sgd_trains_and_constant_schedule():
    cfg = TrainConfig(
        epochs=5, batch_size=10, optimizer="sgd", lr=0.2, momentum=0.9, schedule="constant"
    )
    history = _trainer(cfg).fit()
    assert all(r["lr"] == 0.2 for r in history)
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_fit_is_reproducible_and_leaves_global_rng_alone():
    trainer = _trainer(TrainConfig(epochs=2, batch_size=16, lr=0.05, seed=7))
    rng = torch.get_rng_state()
    first = trainer.fit()
    assert torch.equal(torch.get_rng_state(), rng)
    second = trainer.fit()  # fit(resume=False) restarts from the initial weights
    assert _strip(first) == _strip(second)
    other_seed = _trainer(TrainConfig(epochs=2, batch_size=16, lr=0.05, seed=8)).fit()
    assert _strip(other_seed) != _strip(first)


def test_no_eval_data_and_metrics_fn_extras():
    calls = []

    def extra(outputs, y):
        calls.append(outputs.shape[0])
        return {"mean_out": outputs.mean()}

    trainer = Trainer(
        ComplexNet(),
        LOSS,
        TRAIN,
        None,
        TrainConfig(epochs=1, batch_size=16),
        metrics_fn=extra,
        progress=False,
    )
    (record,) = trainer.fit()
    assert not any(k.startswith("test_") for k in record)
    assert "train_mean_out" in record and "train_accuracy" in record
    assert calls == [16, 16, 16, 2]
    evaluated = trainer.evaluate(TEST)
    assert set(evaluated) == {"loss", "accuracy", "mean_out"}


def test_evaluate_does_not_depend_on_eval_batch_size():
    model = ComplexNet()
    a = Trainer(model, LOSS, TRAIN, config=TrainConfig(eval_batch_size=3), progress=False).evaluate(
        TEST
    )
    b = Trainer(
        model, LOSS, TRAIN, config=TrainConfig(eval_batch_size=100), progress=False
    ).evaluate(TEST)
    assert a["accuracy"] == b["accuracy"]
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-6)
    assert model.training  # evaluate restores the mode


def test_default_metrics():
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert default_metrics(logits, torch.tensor([1, 0, 0]))["accuracy"] == pytest.approx(2 / 3)
    assert default_metrics(logits, torch.tensor([[0, 1], [1, 0], [0, 1.0]]))["accuracy"] == 1.0
    probs = torch.tensor([[0.9], [0.2], [0.6], [0.4]])
    assert default_metrics(probs, torch.tensor([1.0, 0.0, 0.0, 0.0]))["accuracy"] == 0.75
    assert default_metrics(probs[:, 0], torch.tensor([1, 0, 1, 0]))["accuracy"] == 1.0
    assert math.isnan(default_metrics(torch.zeros(2, 2, 2), torch.zeros(2))["accuracy"])


# --------------------------------------------------------------------------- gradients


def _one_sgd_step(clip, loss_scale=1e4, larc=False, wd=0.0):
    cfg = TrainConfig(
        epochs=1,
        batch_size=1000,
        optimizer="sgd",
        lr=0.1,
        schedule="constant",
        clip_grad_norm=clip,
        larc=larc,
        weight_decay=wd,
        trust_coefficient=0.02,
    )
    model = ComplexNet()
    before = _params(model)
    Trainer(model, lambda o, y: loss_scale * LOSS(o, y), TRAIN, config=cfg, progress=False).fit()
    return before, _params(model)


def test_clipping_bounds_the_gradient_norm():
    before, after = _one_sgd_step(clip=1.0)
    step = math.sqrt(sum(float(((after[k] - before[k]).abs() ** 2).sum()) for k in before))
    assert 0.1 * 1.0 * 0.999 < step <= 0.1 * 1.0 * (1 + 1e-5)  # lr * clip
    before, after = _one_sgd_step(clip=None)
    unclipped = math.sqrt(sum(float(((after[k] - before[k]).abs() ** 2).sum()) for k in before))
    assert unclipped > 100 * step


def test_larc_step_matches_hand_computation():
    model = ComplexNet()
    loss = LOSS(model(TRAIN[0]), TRAIN[1])
    loss.backward()
    wd, trust, lr = 0.01, 0.02, 0.1
    expected = {}
    for name, p in model.named_parameters():
        pn, gn = torch.linalg.vector_norm(p.detach()), torch.linalg.vector_norm(p.grad)
        a = trust * pn / (gn + wd * pn + 1e-8)
        expected[name] = p.detach() - lr * a * (p.grad + wd * p.detach())
    # b starts at zero: ||p|| = 0, so LARC leaves its gradient alone (plain SGD step)
    expected["b"] = model.b.detach() - lr * model.b.grad
    _, after = _one_sgd_step(clip=None, loss_scale=1.0, larc=True, wd=wd)
    for name, value in expected.items():
        torch.testing.assert_close(after[name], value, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("larc", [False, True])
def test_weight_decay_changes_the_result(larc):
    runs = []
    for wd in (0.0, 0.5):
        cfg = TrainConfig(
            epochs=2, batch_size=16, lr=0.05, weight_decay=wd, larc=larc, trust_coefficient=0.1
        )
        trainer = _trainer(cfg)
        trainer.fit()
        runs.append(_params(trainer.model))
    assert not torch.equal(runs[0]["W"], runs[1]["W"])
    # decay shrinks the complex weights
    assert runs[1]["W"].abs().sum() < runs[0]["W"].abs().sum()


# --------------------------------------------------------------------------- checkpoints


def test_checkpoint_files_and_metrics_jsonl(tmp_path):
    trainer = _trainer(TrainConfig(epochs=3, batch_size=16, lr=0.05), out_dir=tmp_path / "run")
    history = trainer.fit()
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == sorted(
        [CHECKPOINT_NAME, PREV_CHECKPOINT_NAME, METRICS_NAME]
    )
    lines = (run / METRICS_NAME).read_text().splitlines()
    assert [json.loads(line) for line in lines] == history
    state = load_checkpoint(run / CHECKPOINT_NAME)
    assert state["epoch"] == 3 and state["history"] == history
    assert state["config"] == trainer.config.to_dict()
    assert state["model_state"]["W"].dtype == torch.complex64
    assert load_checkpoint(run / PREV_CHECKPOINT_NAME)["epoch"] == 2


@pytest.mark.parametrize(
    "cfg",
    [
        TrainConfig(epochs=4, batch_size=16, lr=0.05, weight_decay=1e-3, clip_grad_norm=0.5),
        TrainConfig(
            epochs=4,
            batch_size=16,
            optimizer="sgd",
            lr=0.1,
            momentum=0.9,
            larc=True,
            trust_coefficient=0.05,
            weight_decay=1e-3,
        ),
    ],
    ids=["adam", "sgd-larc"],
)
def test_interrupted_and_resumed_run_is_exact(tmp_path, cfg):
    full = _trainer(cfg, model=ComplexNet(seed=3), out_dir=tmp_path / "full")
    reference = full.fit()

    interrupted = _trainer(
        cfg, model=ComplexNet(seed=3), out_dir=tmp_path / "cut", callbacks=[_stop_after(2)]
    )
    with pytest.raises(_Stop):
        interrupted.fit()
    assert load_checkpoint(tmp_path / "cut" / CHECKPOINT_NAME)["epoch"] == 2

    seen = []
    resumed_model = ComplexNet(seed=99)  # a new model object, other weights: all comes from disk
    resumed = _trainer(
        cfg,
        model=resumed_model,
        out_dir=tmp_path / "cut",
        callbacks=[lambda t, r: seen.append(r["epoch"])],
    )
    history = resumed.fit(resume=True)
    assert seen == [3, 4]
    assert _strip(history) == _strip(reference)  # == on floats, every epoch
    for k, v in _params(full.model).items():
        assert torch.equal(_params(resumed_model)[k], v)


def test_resume_of_finished_run_does_nothing(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.05)
    history = _trainer(cfg, out_dir=tmp_path).fit()
    ckpt = tmp_path / CHECKPOINT_NAME
    mtime = ckpt.stat().st_mtime_ns
    seen = []
    model = ComplexNet(seed=5)
    again = _trainer(cfg, model=model, out_dir=tmp_path, callbacks=[lambda t, r: seen.append(r)])
    assert again.fit(resume=True) == history
    assert seen == [] and ckpt.stat().st_mtime_ns == mtime
    assert torch.equal(model.W.detach(), load_checkpoint(ckpt)["model_state"]["W"])


def test_resume_without_checkpoint_starts_fresh(tmp_path, capsys):
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.05)
    history = _trainer(cfg, out_dir=tmp_path / "new").fit(resume=True)
    assert "starting a fresh run" in capsys.readouterr().out
    assert _strip(history) == _strip(_trainer(cfg).fit())


def test_resume_with_different_config_raises(tmp_path):
    _trainer(TrainConfig(epochs=2, batch_size=16, lr=0.05), out_dir=tmp_path).fit()
    with pytest.raises(CheckpointError, match=r"lr: checkpoint 0\.05 != current 0\.01") as info:
        _trainer(TrainConfig(epochs=2, batch_size=8, lr=0.01), out_dir=tmp_path).fit(resume=True)
    assert "batch_size" in str(info.value)


def test_corrupt_checkpoint_falls_back_to_prev(tmp_path):
    cfg = TrainConfig(epochs=3, batch_size=16, lr=0.05)
    reference = _trainer(cfg, model=ComplexNet(seed=4)).fit()
    with pytest.raises(_Stop):
        _trainer(cfg, model=ComplexNet(seed=4), out_dir=tmp_path, callbacks=[_stop_after(2)]).fit()
    (tmp_path / CHECKPOINT_NAME).write_bytes(b"not a checkpoint")
    seen = []
    trainer = _trainer(cfg, out_dir=tmp_path, callbacks=[lambda t, r: seen.append(r["epoch"])])
    with pytest.warns(QnetsWarning, match="falling back"):
        history = trainer.fit(resume=True)
    assert seen == [2, 3]  # resumed after epoch 1 (the previous checkpoint)
    assert _strip(history) == _strip(reference)
    # the corrupt file was replaced, and prev is a valid epoch-2 checkpoint again
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)["epoch"] == 3
    assert load_checkpoint(tmp_path / PREV_CHECKPOINT_NAME)["epoch"] == 2


def test_no_usable_checkpoint_raises(tmp_path):
    (tmp_path / CHECKPOINT_NAME).write_bytes(b"garbage")
    (tmp_path / PREV_CHECKPOINT_NAME).write_bytes(b"")
    with pytest.warns(QnetsWarning), pytest.raises(CheckpointError) as info:
        _trainer(out_dir=tmp_path).fit(resume=True)
    assert CHECKPOINT_NAME in str(info.value) and PREV_CHECKPOINT_NAME in str(info.value)


def test_fresh_run_over_existing_checkpoint_warns(tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=16)
    _trainer(cfg, out_dir=tmp_path).fit()
    with pytest.warns(QnetsWarning, match="overwritten"):
        _trainer(cfg, out_dir=tmp_path).fit()
    assert not (tmp_path / PREV_CHECKPOINT_NAME).exists()  # stale prev of the old run cleared


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": -1}, "batch_size"),
        ({"lr": 0.0}, "lr"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"schedule": "linear"}, "schedule"),
        ({"betas": (0.9, 1.5)}, "betas"),
        ({"clip_grad_norm": 0.0}, "clip_grad_norm"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"epochs": 2.5}, "epochs"),
        ({"eval_batch_size": 0}, "eval_batch_size"),
    ],
)
def test_bad_config_values(kwargs, name):
    with pytest.raises(ConfigError, match=name):
        TrainConfig(**kwargs)


def test_config_from_dict():
    cfg = TrainConfig.from_dict({"epochs": 3, "betas": [0.8, 0.9]})
    assert cfg.betas == (0.8, 0.9) and cfg.epochs == 3
    with pytest.raises(ConfigError, match="unknown keys.*'epoch'"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.warns(QnetsWarning, match="momentum"):
        TrainConfig(momentum=0.9)


def test_bad_trainer_arguments(tmp_path):
    x, y = TRAIN
    with pytest.raises(ShapeError, match=r"train_data.*x.shape=\(50, 4\).*y.shape=\(49,\)"):
        Trainer(ComplexNet(), LOSS, (x, y[:-1]))
    with pytest.raises(ShapeError, match="eval_data"):
        Trainer(ComplexNet(), LOSS, TRAIN, (x, y, y))
    with pytest.raises(ShapeError, match="train_data.*torch.Tensor"):
        Trainer(ComplexNet(), LOSS, (x.numpy(), y))
    with pytest.raises(ConfigError, match="model"):
        Trainer(lambda t: t, LOSS, TRAIN)
    with pytest.raises(ConfigError, match="loss_fn"):
        Trainer(ComplexNet(), None, TRAIN)
    with pytest.raises(ConfigError, match="config"):
        Trainer(ComplexNet(), LOSS, TRAIN, config=3)
    with pytest.raises(ConfigError, match="out_dir"):
        _trainer().fit(resume=True)
    with pytest.raises(ShapeError, match="loss_fn.*scalar"):
        Trainer(ComplexNet(), lambda o, t: o, TRAIN, progress=False).fit()


def test_non_finite_loss_stops_with_a_clear_error():
    from qnets.errors import NumericalError

    class Exploding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(3, 2))

        def forward(self, x):
            return x @ self.w * float("inf")

    x, y = torch.ones(8, 3), torch.zeros(8, dtype=torch.long)
    trainer = Trainer(Exploding(), torch.nn.functional.cross_entropy, (x, y), config={"epochs": 1, "batch_size": 4}, progress=False)
    with pytest.raises(NumericalError, match="loss: non-finite value .* epoch 1, minibatch 1/2"):
        trainer.fit()
