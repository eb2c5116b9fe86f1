"""Experiment ``ep-mnist``: classical equilibrium propagation on MNIST (spec ``qep.md`` §7).

Defaults follow Scellier & Bengio (2017), 784-500-10: a layered continuous Hopfield
network (:class:`qnets.ep.HopfieldEP`), squared-error output layer, 20 free / 4 nudged
Euler steps of size 0.5, β = 0.5 with a random sign per minibatch, persistent free-phase
states per training sample, batch 20, plain SGD with per-layer learning rates 0.1 and 0.05,
25 epochs. Test accuracy is measured after a free relaxation from zero of ``eval_steps``
steps (no persistent state). Packaged configs: ``ep-mnist-symmetric`` (symmetric nudging,
no persistent states), ``ep-mnist-ce-symmetric`` (plus a cross-entropy read-out) and ``ep-mnist-ci-small`` (2×2-pooled MNIST, 5k samples, about a
minute).

The run directory gets ``config.yaml``, ``environment.json``, ``metrics.jsonl`` (one record
per epoch), ``checkpoint.pt`` (model, persistent states, shuffling generator; resumable with
``--resume``), ``final.json`` and ``learning_curves.png``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from qnets.errors import ConfigError, NumericalError
from qnets.experiments.config import config_to_dict
from qnets.experiments.registry import register
from qnets.experiments.rundir import check_device, environment_info, write_json, write_yaml

__all__ = ["EpMnistConfig", "evaluate", "run_ep_mnist"]

_DATASETS = ("mnist", "fashion-mnist", "digits")
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass
class EpMnistConfig:
    """Configuration of ``ep-mnist`` (every field can be set with ``--set key=value``).

    Data: ``dataset`` (mnist | fashion-mnist | digits), ``data_root``, ``n_train`` /
    ``n_test`` (first samples; ``null`` = all), ``pool`` (average pooling factor).
    Model: ``sizes``, ``output`` (mse | cross_entropy), ``epsilon``, ``free_steps``,
    ``nudged_steps``, ``eval_steps`` (see :class:`qnets.ep.HopfieldEP`).
    EP: ``beta`` (> 0), ``estimator`` (one_sided | symmetric | random_sign),
    ``persistent`` (keep each training sample's free state between epochs).
    Optimisation: plain SGD with one learning rate per weight matrix ``lrs`` (each bias
    uses the rate of the weights that feed its layer), ``batch_size``, ``epochs``.
    ``seed`` seeds initialisation, shuffling and the nudge signs. ``threads``: torch CPU
    threads (default 1: the relaxation is many small matrix products, for which extra
    intra-op threads cost more CPU time than they save; ``null`` = torch's default).
    """

    dataset: str = "mnist"
    data_root: str | None = None
    n_train: int | None = None
    n_test: int | None = None
    pool: int = 1
    sizes: list[int] = field(default_factory=lambda: [784, 500, 10])
    output: str = "mse"
    epsilon: float = 0.5
    free_steps: int = 20
    nudged_steps: int = 4
    eval_steps: int = 100
    beta: float = 0.5
    estimator: str = "random_sign"
    persistent: bool = True
    lrs: list[float] = field(default_factory=lambda: [0.1, 0.05])
    batch_size: int = 20
    epochs: int = 25
    seed: int = 0
    dtype: str = "float32"
    device: str = "cpu"
    threads: int | None = 1

    def __post_init__(self):
        from qnets.ep.classical import ESTIMATORS

        if self.dataset not in _DATASETS:
            raise ConfigError(f"dataset: expected one of {_DATASETS}, got {self.dataset!r}")
        if self.dtype not in _DTYPES:
            raise ConfigError(f"dtype: expected one of {tuple(_DTYPES)}, got {self.dtype!r}")
        if self.estimator not in ESTIMATORS:
            raise ConfigError(f"estimator: expected one of {ESTIMATORS}, got {self.estimator!r}")
        if not isinstance(self.sizes, (list, tuple)) or len(self.sizes) < 2:
            raise ConfigError(f"sizes: expected a list of >= 2 layer widths, got {self.sizes!r}")
        if not isinstance(self.lrs, (list, tuple)) or len(self.lrs) != len(self.sizes) - 1:
            raise ConfigError(
                f"lrs: expected {len(self.sizes) - 1} learning rates (one per weight matrix of "
                f"sizes={list(self.sizes)}), got {self.lrs!r}"
            )
        for i, lr in enumerate(self.lrs):
            if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
                raise ConfigError(f"lrs[{i}]: expected a float > 0, got {lr!r}")
        for name in ("pool", "batch_size", "epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected an int >= 1, got {value!r}")
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) or not self.beta > 0:
            raise ConfigError(f"beta: expected a float > 0, got {self.beta!r}")
        if not isinstance(self.persistent, bool):
            raise ConfigError(f"persistent: expected a bool, got {self.persistent!r}")


def _load(config: EpMnistConfig, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One split as ``(x (N, n_0) in [0, 1] of config.dtype, y (N,) int64)``."""
    from qnets.experiments.fnn_mnist import prepare_images

    x, y = prepare_images(config, split)  # same fields: dataset, data_root, n_*, pool, sizes
    return x.to(_DTYPES[config.dtype]), y


@torch.no_grad()
def evaluate(net, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1000) -> dict[str, float]:
    """Loss and accuracy after a free relaxation from zero (``net.eval_steps`` steps).

    Returns ``{"loss": mean C(s0, d), "accuracy": mean(argmax outputs == y)}``.
    """
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        states = net.relax(xb, steps=net.eval_steps)
        total_loss += net.cost(states, yb).sum().item()
        correct += (net.outputs(states).argmax(-1) == yb.to(net.device)).sum().item()
    return {"loss": total_loss / len(x), "accuracy": correct / len(x)}


def _build(config: EpMnistConfig):
    from qnets.ep.classical import HopfieldEP

    return HopfieldEP(
        config.sizes,
        output=config.output,
        epsilon=config.epsilon,
        free_steps=config.free_steps,
        nudged_steps=config.nudged_steps,
        eval_steps=config.eval_steps,
        seed=config.seed,
        dtype=_DTYPES[config.dtype],
        device=config.device,
    )


def _optimizer(net, config: EpMnistConfig) -> torch.optim.SGD:
    n = len(net.weights)
    groups = [{"params": [net.weights[k], net.biases[k]], "lr": float(config.lrs[k])} for k in range(n)]
    return torch.optim.SGD(groups, lr=float(config.lrs[0]))


def _check_resume(run_dir: Path, config: EpMnistConfig) -> None:
    import yaml

    stored_path = run_dir / "config.yaml"
    if not stored_path.is_file():
        return
    stored = yaml.safe_load(stored_path.read_text())
    current = config_to_dict(config)
    differing = [k for k in current if stored.get(k) != current[k] and k not in ("threads", "device", "epochs")]
    if differing:
        details = ", ".join(f"{k}: {stored.get(k)!r} → {current[k]!r}" for k in differing)
        raise ConfigError(
            f"--resume: the config differs from the one in {stored_path} ({details}); "
            "resume with the same settings (only epochs, threads and device may change) or use a new --out"
        )


@register("ep-mnist", EpMnistConfig, "Classical equilibrium propagation (Hopfield 784-500-10) on MNIST")
def run_ep_mnist(config: EpMnistConfig, run_dir: Path, *, resume: bool = False, progress: bool = True) -> dict:
    """Train by EP with persistent free states; write metrics, checkpoints, final.json, figure."""
    from tqdm.auto import tqdm

    from qnets.training import (
        CHECKPOINT_NAME,
        METRICS_NAME,
        PREV_CHECKPOINT_NAME,
        atomic_write_text,
        load_latest_checkpoint,
        save_checkpoint,
    )

    device = check_device(config.device)
    if config.threads:
        torch.set_num_threads(int(config.threads))
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if resume:
        _check_resume(run_dir, config)
    write_yaml(run_dir / "config.yaml", config_to_dict(config))
    write_json(run_dir / "environment.json", environment_info())
    x_train, y_train = (t.to(device) for t in _load(config, "train"))
    x_test, y_test = (t.to(device) for t in _load(config, "test"))
    net = _build(config)
    optimizer = _optimizer(net, config)
    shuffle = torch.Generator().manual_seed(config.seed)
    signs = torch.Generator().manual_seed(config.seed + 1)
    persistent = [torch.zeros(len(x_train), n, dtype=net.dtype, device=device) for n in net.state_sizes]
    history: list[dict] = []
    if resume:
        found = load_latest_checkpoint(run_dir)
        if found is not None:
            state, _ = found
            net.load_state_dict(state["model_state"])
            optimizer.load_state_dict(state["optimizer_state"])
            shuffle.set_state(state["generator_state"])
            signs.set_state(state["sign_generator_state"])
            persistent = [p.to(device) for p in state["persistent_states"]]
            history = list(state["history"])
    start_call = time.perf_counter()
    for epoch in range(len(history) + 1, config.epochs + 1):
        t0 = time.perf_counter()
        order = torch.randperm(len(x_train), generator=shuffle).to(device)
        batches = range(0, len(order), config.batch_size)
        loss_sum, correct = 0.0, 0
        bar = tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", disable=not progress, leave=False)
        for start in bar:
            idx = order[start : start + config.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            init = [p[idx] for p in persistent] if config.persistent else None
            res = net.ep_gradient(xb, yb, config.beta, estimator=config.estimator, states=init, generator=signs)
            optimizer.step()
            if config.persistent:
                for p, s in zip(persistent, res.free_states):
                    p[idx] = s
            if not math.isfinite(res.loss):
                raise NumericalError(f"ep-mnist: non-finite loss at epoch {epoch}, minibatch {start // config.batch_size}")
            loss_sum += res.loss * len(idx)
            correct += (res.outputs.argmax(-1) == yb).sum().item()
        train_seconds = time.perf_counter() - t0
        test = evaluate(net, x_test, y_test)
        record = {
            "epoch": epoch,
            "train_loss": loss_sum / len(x_train),
            "train_accuracy": correct / len(x_train),
            "test_loss": test["loss"],
            "test_accuracy": test["accuracy"],
            "epoch_seconds": train_seconds,
            "eval_seconds": time.perf_counter() - t0 - train_seconds,
        }
        history.append(record)
        save_checkpoint(
            {
                "format": 1,
                "epoch": epoch,
                "model_state": net.state_dict(),
                "optimizer_state": optimizer.state_dict(),
                "generator_state": shuffle.get_state(),
                "sign_generator_state": signs.get_state(),
                "persistent_states": [p.cpu() for p in persistent],
                "history": history,
                "config": config_to_dict(config),
            },
            run_dir / CHECKPOINT_NAME,
            prev_path=run_dir / PREV_CHECKPOINT_NAME,
        )
        atomic_write_text(run_dir / METRICS_NAME, "".join(json.dumps(r) + "\n" for r in history))
        tqdm.write(
            f"epoch {epoch}: train loss {record['train_loss']:.4f} acc {record['train_accuracy']:.4f} | "
            f"test acc {record['test_accuracy']:.4f} | {train_seconds:.1f} s"
        )
    best = max(history, key=lambda r: r["test_accuracy"])
    result = {
        "experiment": "ep-mnist",
        "dataset": config.dataset,
        "n_train": len(x_train),
        "n_test": len(x_test),
        "sizes": list(config.sizes),
        "output": config.output,
        "estimator": config.estimator,
        "beta": config.beta,
        "epochs": len(history),
        "best_test_accuracy": best["test_accuracy"],
        "best_epoch": best["epoch"],
        "final_test_accuracy": history[-1]["test_accuracy"],
        "final_train_accuracy": history[-1]["train_accuracy"],
        "train_seconds_total": sum(r["epoch_seconds"] for r in history),
        "seconds_this_call": time.perf_counter() - start_call,
    }
    write_json(run_dir / "final.json", result)
    try:
        from qnets.plotting import learning_curves, save_figure

        ax = learning_curves(history, title=f"EP Hopfield {list(config.sizes)} ({config.estimator}, β={config.beta})")
        save_figure(ax, run_dir / "learning_curves.png")
    except ImportError as error:  # matplotlib is an optional extra
        import warnings

        warnings.warn(f"learning_curves.png not written: {error}", stacklevel=2)
    return result
