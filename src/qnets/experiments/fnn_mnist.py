"""Experiment ``fnn-mnist``: a fermion neural network trained on MNIST-like images.

Defaults reproduce the paper's fully connected 784-100-64-10 network with Hamiltonian
input (z = 0.005i, Adam 5e-3 with LARC and a cosine schedule, weight decay 1e-3, init
bound 0.1, batch 256, gradient clipping 10). Packaged configs (``qnets run fnn-mnist
--config NAME``): ``fc-hamiltonian``, ``fc-ldos``, ``local-nnn``, ``local-nnn-ldos``, ``tree``,
``tree-nnn``, ``ci-small``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qnets.errors import ConfigError
from qnets.experiments.config import train_config
from qnets.experiments.registry import register
from qnets.experiments.rundir import start_run, write_json

__all__ = ["FnnMnistConfig", "build_network", "prepare_images", "run_fnn_mnist", "summarize_history", "train_fnn_mnist"]

DATASETS = ("mnist", "fashion-mnist", "digits")
DTYPES = {"complex64": torch.complex64, "complex128": torch.complex128}


@dataclass
class FnnMnistConfig:
    """Configuration of ``fnn-mnist`` (every field can be set with ``--set key=value``).

    Data: ``dataset`` (mnist | fashion-mnist | digits), ``data_root`` (folder; default
    ``$QNETS_DATA`` / ``~/.cache/qnets``), ``n_train`` / ``n_test`` (first samples;
    ``null`` = all), ``pool`` (average-pooling factor of the images).
    Network: see :class:`qnets.fnn.FermionNetwork`. Training: see
    :class:`qnets.training.TrainConfig`. ``threads``: torch CPU threads (``null`` = default).
    """

    dataset: str = "mnist"
    data_root: str | None = None
    n_train: int | None = None
    n_test: int | None = None
    pool: int = 1
    sizes: list[int] = field(default_factory=lambda: [784, 100, 64, 10])
    connectivity: Any = "dense"
    kernels: list[int] | None = None
    strides: list[int] | None = None
    intra: Any = "dense"
    encoder: str = "hamiltonian"
    readout: str = "ldos"
    energy: float = 0.0
    eta: float = 0.005
    init_bound: float = 0.1
    dtype: str = "complex64"
    epochs: int = 20
    batch_size: int = 256
    optimizer: str = "adam"
    lr: float = 5e-3
    weight_decay: float = 1e-3
    larc: bool = True
    trust_coefficient: float = 1e-3
    schedule: str = "cosine"
    clip_grad_norm: float | None = 10.0
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ConfigError(f"dataset: expected one of {DATASETS}, got {self.dataset!r}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype: expected one of {tuple(DTYPES)}, got {self.dtype!r}")
        if not isinstance(self.pool, int) or self.pool < 1:
            raise ConfigError(f"pool: expected an integer ≥ 1, got {self.pool!r}")
        if not isinstance(self.sizes, (list, tuple)) or len(self.sizes) < 2:
            raise ConfigError(f"sizes: expected a list of ≥ 2 layer widths, got {self.sizes!r}")


def prepare_images(config: FnnMnistConfig, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Load, pool and flatten one split: ``(x (N, n0) float32 in [0, 1], y (N,) int64)``."""
    from qnets.data import load_digits, load_fashion_mnist, load_mnist, pool2d

    limit = config.n_train if split == "train" else config.n_test
    if config.dataset == "digits":
        images, labels = load_digits(split)
        if limit is not None:
            images, labels = images[:limit], labels[:limit]
    else:
        loader = load_mnist if config.dataset == "mnist" else load_fashion_mnist
        images, labels = loader(split, root=config.data_root, limit=limit)
    if config.pool > 1:
        images = pool2d(images, config.pool)
    x = torch.from_numpy(np.ascontiguousarray(images.reshape(len(images), -1), dtype=np.float32))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    if x.shape[1] != config.sizes[0]:
        raise ConfigError(
            f"sizes: the input layer has {config.sizes[0]} sites but {config.dataset} images "
            f"{'pooled by ' + str(config.pool) + ' ' if config.pool > 1 else ''}have {x.shape[1]} "
            f"pixels; set sizes[0]={x.shape[1]} or change pool"
        )
    n_classes = int(y.max()) + 1
    if config.sizes[-1] < n_classes:
        raise ConfigError(
            f"sizes: the output layer has {config.sizes[-1]} sites but the data has {n_classes} classes"
        )
    return x, y


def build_network(config: FnnMnistConfig):
    """The :class:`~qnets.fnn.FermionNetwork` described by ``config`` (seeded by ``seed``)."""
    from qnets.fnn import FermionNetwork

    return FermionNetwork(
        config.sizes,
        connectivity=config.connectivity,
        kernels=config.kernels,
        strides=config.strides,
        intra=config.intra,
        encoder=config.encoder,
        readout=config.readout,
        energy=config.energy,
        eta=config.eta,
        init_bound=config.init_bound,
        dtype=DTYPES[config.dtype],
        device=config.device,
        seed=config.seed,
    )


def train_fnn_mnist(config: FnnMnistConfig, run_dir: Path, *, resume: bool = False, progress: bool = True,
                    callbacks=()) -> tuple[torch.nn.Module, list[dict], dict]:
    """Train the network of ``config`` in ``run_dir`` (config, environment, metrics, checkpoints).

    ``callbacks`` are passed to :class:`~qnets.training.Trainer` (``cb(trainer, record)``
    after each epoch). Returns ``(net, history, data)`` with ``data`` holding the
    ``x_train`` / ``y_train`` / ``x_test`` / ``y_test`` tensors.
    """
    from qnets.training import Trainer

    run_dir = start_run(run_dir, config, resume)
    x_train, y_train = prepare_images(config, "train")
    x_test, y_test = prepare_images(config, "test")
    net = build_network(config)
    device = torch.device(config.device)
    trainer = Trainer(
        net,
        torch.nn.functional.cross_entropy,
        (x_train.to(device), y_train.to(device)),
        (x_test.to(device), y_test.to(device)),
        train_config(config),
        out_dir=run_dir,
        progress=progress,
        callbacks=callbacks,
    )
    history = trainer.fit(resume=resume)
    return net, history, {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def summarize_history(history: list[dict]) -> dict[str, Any]:
    """Best / final accuracy, epochs and total training time of a training history."""
    best = max(history, key=lambda r: r["test_accuracy"])
    return {
        "epochs": len(history),
        "best_test_accuracy": best["test_accuracy"],
        "best_epoch": best["epoch"],
        "final_test_accuracy": history[-1]["test_accuracy"],
        "final_train_loss": history[-1]["train_loss"],
        "train_seconds_total": sum(r.get("epoch_seconds", 0.0) for r in history),
    }


@register("fnn-mnist", FnnMnistConfig, "Fermion neural network on MNIST / Fashion-MNIST / digits (LDOS readout)")
def run_fnn_mnist(config: FnnMnistConfig, run_dir: Path, *, resume: bool = False, progress: bool = True) -> dict:
    """Train the network, write metrics, checkpoints, ``final.json`` and learning curves."""
    start = time.perf_counter()
    net, history, data = train_fnn_mnist(config, run_dir, resume=resume, progress=progress)
    result = {
        "experiment": "fnn-mnist",
        "dataset": config.dataset,
        "n_train": len(data["x_train"]),
        "n_test": len(data["x_test"]),
        "sizes": list(config.sizes),
        "encoder": config.encoder,
        "num_real_parameters": net.num_real_parameters(),
        **summarize_history(history),
        "seconds_this_call": time.perf_counter() - start,
    }
    write_json(Path(run_dir) / "final.json", result)
    try:
        from qnets.plotting import learning_curves, save_figure

        ax = learning_curves(history, title=f"FNN {config.sizes} ({config.encoder} input)")
        save_figure(ax, Path(run_dir) / "learning_curves.png")
    except ImportError as error:  # matplotlib is an optional extra
        import warnings

        warnings.warn(f"learning_curves.png not written: {error}", stacklevel=2)
    return result
