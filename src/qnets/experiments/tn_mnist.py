"""Experiment ``tn-mnist``: an MPS (or tree) tensor-network classifier on MNIST-like images.

Defaults: MPS on full 28 × 28 MNIST, bond dimension 16, linear feature map ``[1 - x, x]``,
label tensor in the middle, identity + 1e-2 noise initialisation, logit scale 10, Adam
1e-3 with a cosine schedule over 12 epochs, batch 200, float32. Writes the per-epoch metrics, checkpoints (resume
with ``--resume``), ``final.json`` with the entanglement profile of the trained model,
``learning_curves.png`` and ``entanglement_profile.png``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qnets.errors import ConfigError
from qnets.experiments.config import train_config
from qnets.experiments.registry import register
from qnets.experiments.rundir import start_run, write_json

__all__ = ["TnMnistConfig", "build_tn_classifier", "load_tn_images", "run_tn_mnist"]

_DATASETS = ("mnist", "fashion-mnist", "digits")
_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_MODELS = ("mps", "ttn")


@dataclass
class TnMnistConfig:
    """Configuration of ``tn-mnist`` (every field can be set with ``--set key=value``).

    Data: ``dataset`` (mnist | fashion-mnist | digits), ``data_root``, ``n_train`` /
    ``n_test`` (first samples; ``null`` = all), ``pool`` (average pooling factor).
    Model: ``model`` (mps | ttn), ``bond_dim``, ``feature_map`` (cos_sin | linear |
    bias_linear), ``label_site`` (MPS; ``null`` = middle), ``init_std``, ``logit_scale`` (MPS), ``dtype``
    (float32 | float64). TTN inputs are zero-padded to a power-of-two square.
    Training: see :class:`qnets.training.TrainConfig`. ``threads``: torch CPU threads.
    """

    dataset: str = "mnist"
    data_root: str | None = None
    n_train: int | None = None
    n_test: int | None = None
    pool: int = 1
    model: str = "mps"
    bond_dim: int = 16
    feature_map: str = "linear"
    label_site: int | None = None
    init_std: float = 1e-2
    logit_scale: float = 10.0
    dtype: str = "float32"
    epochs: int = 12
    batch_size: int = 200
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    clip_grad_norm: float | None = 10.0
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self):
        if self.dataset not in _DATASETS:
            raise ConfigError(f"dataset: expected one of {_DATASETS}, got {self.dataset!r}")
        if self.model not in _MODELS:
            raise ConfigError(f"model: expected one of {_MODELS}, got {self.model!r}")
        if self.dtype not in _DTYPES:
            raise ConfigError(f"dtype: expected one of {tuple(_DTYPES)}, got {self.dtype!r}")
        for name in ("pool", "bond_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected an integer >= 1, got {value!r}")


def load_tn_images(config: TnMnistConfig, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One split as ``(x (N, H, W) in [0, 1], y (N,) int64)``, pooled and (TTN) padded."""
    from qnets.data import load_digits, load_fashion_mnist, load_mnist, pool2d

    limit = config.n_train if split == "train" else config.n_test
    if config.dataset == "digits":
        images, labels = load_digits(split, dtype=np.float64)
        if limit is not None:
            images, labels = images[:limit], labels[:limit]
    else:
        loader = load_mnist if config.dataset == "mnist" else load_fashion_mnist
        images, labels = loader(split, root=config.data_root, limit=limit, dtype=np.float64)
    if config.pool > 1:
        images = pool2d(images, config.pool)
    images = np.clip(images, 0.0, 1.0)
    if config.model == "ttn":
        side = 1 << (max(images.shape[1:]) - 1).bit_length()
        pad_h, pad_w = side - images.shape[1], side - images.shape[2]
        images = np.pad(
            images, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))
        )
    x = torch.from_numpy(np.ascontiguousarray(images)).to(_DTYPES[config.dtype])
    return x, torch.from_numpy(np.asarray(labels, dtype=np.int64))


def build_tn_classifier(config: TnMnistConfig, image_shape: tuple[int, int], n_classes: int = 10):
    """The :class:`~qnets.tn.MPSClassifier` / :class:`~qnets.tn.TTNClassifier` of ``config``."""
    from qnets.tn import MPSClassifier, TTNClassifier

    if config.model == "mps":
        return MPSClassifier(
            math.prod(image_shape),
            config.bond_dim,
            n_classes,
            feature_map=config.feature_map,
            label_site=config.label_site,
            init_std=config.init_std,
            logit_scale=config.logit_scale,
            dtype=_DTYPES[config.dtype],
            device=config.device,
            seed=config.seed,
        )
    return TTNClassifier(
        tuple(image_shape),
        config.bond_dim,
        n_classes,
        feature_map=config.feature_map,
        dtype=_DTYPES[config.dtype],
        device=config.device,
        seed=config.seed,
    )


@register("tn-mnist", TnMnistConfig, "MPS / tree tensor-network classifier on MNIST / Fashion-MNIST / digits, with entanglement profile")
def run_tn_mnist(config: TnMnistConfig, run_dir: Path, *, resume: bool = False, progress: bool = True) -> dict:
    """Train, then write metrics, ``final.json`` (with the entanglement profile) and figures."""
    from qnets.tn import entanglement_profile
    from qnets.training import Trainer

    run_dir = start_run(run_dir, config, resume)
    x_train, y_train = load_tn_images(config, "train")
    x_test, y_test = load_tn_images(config, "test")
    model = build_tn_classifier(config, tuple(x_train.shape[1:]), int(y_train.max()) + 1)
    device = torch.device(config.device)
    trainer = Trainer(
        model,
        torch.nn.functional.cross_entropy,
        (x_train.to(device), y_train.to(device)),
        (x_test.to(device), y_test.to(device)),
        train_config(config),
        out_dir=run_dir,
        progress=progress,
    )
    start = time.perf_counter()
    history = trainer.fit(resume=resume)
    profile = entanglement_profile(model)
    best = max(history, key=lambda r: r["test_accuracy"])
    result = {
        "experiment": "tn-mnist",
        "dataset": config.dataset,
        "model": config.model,
        "bond_dim": config.bond_dim,
        "feature_map": config.feature_map,
        "n_train": len(x_train),
        "n_test": len(x_test),
        "image_shape": list(x_train.shape[1:]),
        "num_parameters": model.num_parameters(),
        "epochs": len(history),
        "best_test_accuracy": best["test_accuracy"],
        "best_epoch": best["epoch"],
        "final_test_accuracy": history[-1]["test_accuracy"],
        "final_train_loss": history[-1]["train_loss"],
        "train_seconds_total": sum(r.get("epoch_seconds", 0.0) for r in history),
        "seconds_per_epoch": float(np.mean([r.get("epoch_seconds", 0.0) for r in history])),
        "seconds_this_call": time.perf_counter() - start,
        "entanglement": profile.summary(),
    }
    write_json(run_dir / "final.json", result)
    write_json(run_dir / "entanglement_profile.json", profile.to_dict())
    try:
        from qnets.plotting import learning_curves, save_figure
        from qnets.plotting.tn import plot_entanglement_profile

        name = f"{config.model.upper()} χ={config.bond_dim} on {config.dataset}"
        save_figure(learning_curves(history, title=name), run_dir / "learning_curves.png")
        save_figure(plot_entanglement_profile(profile, title=name), run_dir / "entanglement_profile.png")
    except ImportError as error:  # matplotlib is an optional extra
        import warnings

        warnings.warn(f"figures not written: {error}", stacklevel=2)
    return result
