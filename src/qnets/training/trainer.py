"""Minibatch training loop with exact, atomic checkpoint/resume.

The :class:`Trainer` trains any :class:`torch.nn.Module` (real or complex
parameters, real outputs) on an in-memory data set ``(x, y)``. A run is a pure
function of the initial model, the data and the :class:`TrainConfig`: the only
randomness it uses is the shuffling :class:`torch.Generator` seeded by
``config.seed`` (global RNG state is never seeded or consumed), and that
generator's state is checkpointed, so a run interrupted after epoch *k* and
resumed from its checkpoint reproduces the uninterrupted run's metrics bit for
bit on deterministic (CPU) kernels.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from qnets.errors import CheckpointError, ConfigError, NumericalError, QnetsWarning, ShapeError
from qnets.training.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    METRICS_NAME,
    PREV_CHECKPOINT_NAME,
    atomic_write_text,
    load_latest_checkpoint,
    save_checkpoint,
)
from qnets.training.distributed import current_context
from qnets.training.optim import OPTIMIZERS, SCHEDULES, larc_, make_optimizer, scheduled_lr

__all__ = ["TrainConfig", "Trainer", "default_metrics"]

Data = tuple[torch.Tensor, torch.Tensor]
Callback = Callable[["Trainer", dict[str, Any]], Any]


# --------------------------------------------------------------------------- config


def _check_int(name: str, value: Any, *, minimum: int | None = 1) -> None:
    """Raise ConfigError unless ``value`` is an int (not bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name}: expected an int, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}: expected an int >= {minimum}, got {value!r}")


def _check_real(
    name: str, value: Any, *, positive: bool = False, upper: float | None = None
) -> None:
    """Raise ConfigError unless ``value`` is a finite real (> 0 if ``positive``, else >= 0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigError(
            f"{name}: expected a finite float, got {value!r} ({type(value).__name__})"
        )
    if positive and not value > 0:
        raise ConfigError(f"{name}: expected a float > 0, got {value!r}")
    if not positive and not value >= 0:
        raise ConfigError(f"{name}: expected a float >= 0, got {value!r}")
    if upper is not None and not value < upper:
        raise ConfigError(f"{name}: expected a float < {upper}, got {value!r}")


@dataclass
class TrainConfig:
    """Hyper-parameters of a training run (validated on construction).

    Attributes
    ----------
    epochs : int, default 10
        Number of passes over the training set (> 0).
    batch_size : int, default 256
        Minibatch size (> 0); the last minibatch of an epoch may be smaller.
    optimizer : {"adam", "sgd"}, default "adam"
    lr : float, default 1e-3
        Initial learning rate :math:`\\mathrm{lr}_0` (> 0).
    momentum : float, default 0.0
        SGD momentum (ignored, with a warning if non-zero, by Adam).
    betas : tuple of float, default (0.9, 0.999)
        Adam's :math:`(\\beta_1, \\beta_2)`, each in ``[0, 1)``.
    eps : float, default 1e-8
        Adam's :math:`\\epsilon` (>= 0).
    weight_decay : float, default 0.0
        Coupled L2 decay :math:`\\lambda` (``g <- g + lambda * p``), as torch's
        ``weight_decay``; applied inside LARC instead when ``larc`` is true.
    larc : bool, default False
        Rescale gradients by the LARC trust ratio (:func:`qnets.training.larc_`).
    trust_coefficient : float, default 1e-3
        LARC's :math:`\\eta` (> 0).
    schedule : {"cosine", "constant"}, default "cosine"
        Per-epoch learning rate; cosine: :math:`\\mathrm{lr}_0\\,\\tfrac12(1+\\cos(\\pi e/E))`
        for 0-based epoch :math:`e`.
    clip_grad_norm : float or None, default 10.0
        Max total gradient norm (``torch.nn.utils.clip_grad_norm_``); ``None`` disables.
    seed : int, default 0
        Seeds only the shuffling :class:`torch.Generator`, never global RNG state.
    eval_batch_size : int or None, default None
        Evaluation batch size; ``None`` means ``batch_size``.

    Raises
    ------
    ConfigError
        On construction, for any invalid value; the message names the field.
    """

    epochs: int = 10
    batch_size: int = 256
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    larc: bool = False
    trust_coefficient: float = 1e-3
    schedule: str = "cosine"
    clip_grad_norm: float | None = 10.0
    seed: int = 0
    eval_batch_size: int | None = None

    def __post_init__(self) -> None:
        _check_int("epochs", self.epochs)
        _check_int("batch_size", self.batch_size)
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"optimizer: expected one of {list(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        _check_real("lr", self.lr, positive=True)
        _check_real("momentum", self.momentum)
        if self.optimizer != "sgd" and self.momentum != 0:
            warnings.warn(
                f"momentum={self.momentum!r} is only used by optimizer='sgd'; "
                f"it is ignored by optimizer={self.optimizer!r}",
                QnetsWarning,
                stacklevel=3,
            )
        if (
            isinstance(self.betas, (str, bytes))
            or not isinstance(self.betas, Sequence)
            or len(self.betas) != 2
        ):
            raise ConfigError(f"betas: expected a pair (beta1, beta2), got {self.betas!r}")
        for i, b in enumerate(self.betas):
            _check_real(f"betas[{i}]", b, upper=1.0)
        self.betas = (self.betas[0], self.betas[1])
        _check_real("eps", self.eps)
        _check_real("weight_decay", self.weight_decay)
        if not isinstance(self.larc, bool):
            raise ConfigError(f"larc: expected a bool, got {self.larc!r}")
        _check_real("trust_coefficient", self.trust_coefficient, positive=True)
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule: expected one of {list(SCHEDULES)}, got {self.schedule!r}")
        if self.clip_grad_norm is not None:
            _check_real("clip_grad_norm", self.clip_grad_norm, positive=True)
        _check_int("seed", self.seed, minimum=None)
        if self.eval_batch_size is not None:
            _check_int("eval_batch_size", self.eval_batch_size)

    @property
    def effective_eval_batch_size(self) -> int:
        """``eval_batch_size``, or ``batch_size`` when it is ``None``."""
        return self.batch_size if self.eval_batch_size is None else self.eval_batch_size

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (``betas`` as a tuple)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build a config from a mapping (e.g. parsed YAML); lists become tuples.

        Raises
        ------
        ConfigError
            If ``data`` has keys that are not fields, or invalid values.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"config: expected a mapping, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"config: unknown keys {unknown}; valid keys are {names}")
        kwargs = dict(data)
        if isinstance(kwargs.get("betas"), list):
            kwargs["betas"] = tuple(kwargs["betas"])
        return cls(**kwargs)


def _normalize(value: Any) -> Any:
    """Lists -> tuples, recursively, so stored and current configs compare equal."""
    if isinstance(value, (list, tuple)):
        return tuple(_normalize(v) for v in value)
    return value


def _config_differences(stored: Mapping[str, Any], current: TrainConfig) -> list[str]:
    """Describe every field whose stored and current values differ."""
    now = current.to_dict()
    diffs = []
    for key in list(now) + [k for k in stored if k not in now]:
        old = _normalize(stored.get(key, "<missing>"))
        new = _normalize(now.get(key, "<missing>"))
        if old != new:
            diffs.append(f"{key}: checkpoint {old!r} != current {new!r}")
    return diffs


# --------------------------------------------------------------------------- helpers


def _check_pair(name: str, data: Any) -> Data:
    """Validate an ``(x, y)`` pair of tensors with equal, non-zero first dimensions."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        length = f" of length {len(data)}" if isinstance(data, (tuple, list)) else ""
        raise ShapeError(
            f"{name}: expected a pair (x, y) of tensors, got {type(data).__name__}{length}"
        )
    x, y = data
    for part, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor):
            raise ShapeError(
                f"{name}: expected {part} to be a torch.Tensor, got {type(t).__name__} "
                "(convert with torch.as_tensor)"
            )
        if t.ndim == 0:
            raise ShapeError(f"{name}: {part} must have a sample dimension, got a 0-d tensor")
    if x.shape[0] != y.shape[0]:
        raise ShapeError(
            f"{name}: x and y must have the same number of samples (first dimension), got "
            f"x.shape={tuple(x.shape)} and y.shape={tuple(y.shape)}"
        )
    if x.shape[0] == 0:
        raise ShapeError(f"{name}: expected at least one sample, got x.shape={tuple(x.shape)}")
    return x, y


def default_metrics(outputs: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Accuracy of classifier outputs: ``{"accuracy": a}``.

    * ``outputs`` of shape ``(N, C)`` with ``C > 1``: :math:`a = \\mathrm{mean}(\\arg\\max_c
      \\mathrm{outputs}_{nc} = y_n)` with integer labels ``y`` of shape ``(N,)``, or
      ``y`` of shape ``(N, C)`` (one-hot/probabilities; compared by its argmax);
    * ``outputs`` of shape ``(N,)`` or ``(N, 1)`` (binary probabilities):
      :math:`a = \\mathrm{mean}((\\mathrm{outputs}_n > 0.5) = (y_n > 0.5))`;
    * anything else: ``nan``.

    Parameters
    ----------
    outputs : Tensor, shape (N, C), (N, 1) or (N,)
        Real model outputs.
    y : Tensor, shape (N,) or (N, C)
        Targets.

    Returns
    -------
    dict
        ``{"accuracy": float}``.
    """
    out = outputs.detach()
    target = y.detach().to(out.device)
    n = out.shape[0] if out.ndim else 0
    if out.ndim == 2 and out.shape[1] > 1:
        if target.ndim == 1 and target.shape[0] == n:
            labels = target
        elif target.shape == out.shape:
            labels = target.argmax(-1)
        else:
            return {"accuracy": math.nan}
        return {"accuracy": (out.argmax(-1) == labels).double().mean().item()}
    if out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1):
        p, t = out.reshape(-1), target.reshape(-1)
        if t.numel() != p.numel() or p.is_complex() or t.is_complex():
            return {"accuracy": math.nan}
        return {"accuracy": ((p > 0.5) == (t.double() > 0.5)).double().mean().item()}
    return {"accuracy": math.nan}


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------- trainer


class Trainer:
    """Train a model on ``(x, y)`` tensors with shuffled minibatches and per-epoch checkpoints.

    Parameters
    ----------
    model : torch.nn.Module
        Real or complex parameters; ``model(x_batch)`` returns real outputs whose
        first dimension is the batch.
    loss_fn : callable
        ``loss_fn(outputs, y_batch) -> scalar real tensor`` (mean over the batch).
    train_data : (Tensor, Tensor)
        ``(x, y)`` with ``x.shape[0] == y.shape[0] = N > 0``. Batches are moved to
        the device of the model's parameters.
    eval_data : (Tensor, Tensor), optional
        Evaluated after every epoch (``test_*`` metrics).
    config : TrainConfig or mapping, optional
        Default ``TrainConfig()``; a mapping goes through :meth:`TrainConfig.from_dict`.
    out_dir : path-like, optional
        Run directory for ``checkpoint.pt``, ``checkpoint.prev.pt`` and
        ``metrics.jsonl`` (created when first written). Needed for ``fit(resume=True)``.
    metrics_fn : callable, optional
        ``metrics_fn(outputs, y) -> dict[str, float]`` of extra metrics, recorded as
        ``train_<name>`` (batch-size weighted mean over the epoch's minibatches) and
        ``test_<name>``; may override ``"accuracy"``, must not return ``"loss"``.
    progress : bool, default True
        Show a tqdm bar over the minibatches of each epoch. The one-line epoch
        summary is printed (``tqdm.write``) either way.
    callbacks : iterable of callable
        ``cb(trainer, record)`` after each epoch, once its checkpoint is written.

    Attributes
    ----------
    optimizer : torch.optim.Optimizer
    generator : torch.Generator
        The shuffling generator (CPU), seeded by ``config.seed``.
    history : list of dict
        One metrics record per completed epoch (see :meth:`fit`).
    epoch : int
        Number of completed epochs.

    Raises
    ------
    ConfigError, ShapeError
        For invalid arguments; the message names the argument.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        train_data: Data,
        eval_data: Data | None = None,
        config: TrainConfig | Mapping[str, Any] | None = None,
        *,
        out_dir: str | os.PathLike[str] | None = None,
        metrics_fn: Callable[[torch.Tensor, torch.Tensor], Mapping[str, float]] | None = None,
        progress: bool = True,
        callbacks: Iterable[Callback] = (),
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise ConfigError(f"loss_fn: expected a callable, got {type(loss_fn).__name__}")
        if config is None:
            config = TrainConfig()
        elif isinstance(config, Mapping):
            config = TrainConfig.from_dict(config)
        elif not isinstance(config, TrainConfig):
            raise ConfigError(
                f"config: expected a TrainConfig, a mapping or None, got {type(config).__name__}"
            )
        if metrics_fn is not None and not callable(metrics_fn):
            raise ConfigError(
                f"metrics_fn: expected a callable or None, got {type(metrics_fn).__name__}"
            )
        callbacks = tuple(callbacks)
        for i, cb in enumerate(callbacks):
            if not callable(cb):
                raise ConfigError(f"callbacks: expected callables, item {i} is {type(cb).__name__}")
        self.model = model
        self.loss_fn = loss_fn
        self.train_data: Data = _check_pair("train_data", train_data)
        self.eval_data: Data | None = (
            None if eval_data is None else _check_pair("eval_data", eval_data)
        )
        self.config: TrainConfig = config
        self.out_dir: Path | None = None if out_dir is None else Path(out_dir)
        self.metrics_fn = metrics_fn
        self.progress = bool(progress)
        self.callbacks: tuple[Callback, ...] = callbacks
        self._params = [p for p in model.parameters() if p.requires_grad]
        if not self._params:
            raise ConfigError(
                "model: expected at least one parameter with requires_grad=True, found none"
            )
        # Data parallel under torchrun (qnets.training.distributed): identical replicas,
        # sharded minibatches, gradients averaged over ranks; only rank 0 writes.
        self._dist = current_context()
        self._writes = self._dist is None or self._dist.is_writer
        if self._dist is not None:
            world = self._dist.world_size
            if config.batch_size < world or self.train_data[0].shape[0] < world:
                raise ConfigError(
                    f"batch_size: data-parallel training on {world} processes needs batch_size "
                    f"and the training set ≥ {world}, got batch_size={config.batch_size}, "
                    f"{self.train_data[0].shape[0]} samples"
                )
            self._dist.broadcast_module_(model)
            self.progress = self.progress and self._dist.is_writer
        # Snapshot of the initial weights: fit(resume=False) always starts from them.
        self._initial_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self._reset()

    # ----------------------------------------------------------------- state

    def _reset(self) -> None:
        """Initial weights, fresh optimizer, freshly seeded generator, empty history."""
        self.model.load_state_dict(self._initial_state)
        self.optimizer = make_optimizer(self._params, self.config)
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(self.config.seed)
        self.history: list[dict[str, Any]] = []
        self.epoch = 0
        # What to do with checkpoint.prev.pt at the next save: "rotate" (current
        # -> prev), "keep" (prev is the right fallback already) or "clear" (stale
        # files of an earlier run).
        self._prev_policy = "clear"

    def _device(self) -> torch.device:
        return self._params[0].device

    def _state(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "model_state": self.model.state_dict(),
            "optimizer_state": self.optimizer.state_dict(),
            "generator_state": self.generator.get_state(),
            "history": [dict(r) for r in self.history],
            "config": self.config.to_dict(),
            "n_train": int(self.train_data[0].shape[0]),
        }

    def _restore(self, state: Mapping[str, Any], path: Path) -> None:
        diffs = _config_differences(state["config"], self.config)
        if diffs:
            raise CheckpointError(
                f"{path}: the checkpoint's TrainConfig differs from the current one in "
                f"{len(diffs)} field(s): "
                + "; ".join(diffs)
                + " (use the same config to resume, or start a new run in another out_dir)"
            )
        n_train = int(self.train_data[0].shape[0])
        if "n_train" in state and state["n_train"] != n_train:
            raise CheckpointError(
                f"{path}: the checkpoint was trained on {state['n_train']} samples, "
                f"train_data has {n_train}"
            )
        if state["epoch"] > self.config.epochs:
            raise CheckpointError(
                f"{path}: checkpoint is after epoch {state['epoch']}, beyond config.epochs="
                f"{self.config.epochs}"
            )
        try:
            self.model.load_state_dict(state["model_state"])
        except Exception as exc:
            raise CheckpointError(f"{path}: model_state does not fit the model ({exc})") from exc
        optimizer = make_optimizer(self._params, self.config)
        try:
            optimizer.load_state_dict(state["optimizer_state"])
        except Exception as exc:
            raise CheckpointError(
                f"{path}: optimizer_state does not fit the optimizer ({exc})"
            ) from exc
        generator = torch.Generator(device="cpu")
        try:
            generator.set_state(state["generator_state"])
        except Exception as exc:
            raise CheckpointError(f"{path}: generator_state is invalid ({exc})") from exc
        self.optimizer = optimizer
        self.generator = generator
        self.history = [dict(r) for r in state["history"]]
        self.epoch = int(state["epoch"])
        self._prev_policy = "rotate" if path.name == CHECKPOINT_NAME else "keep"

    def _save(self) -> None:
        assert self.out_dir is not None
        ckpt = self.out_dir / CHECKPOINT_NAME
        prev = self.out_dir / PREV_CHECKPOINT_NAME
        if self._prev_policy == "clear":
            prev.unlink(missing_ok=True)
        save_checkpoint(
            self._state(), ckpt, prev_path=prev if self._prev_policy == "rotate" else None
        )
        self._prev_policy = "rotate"
        lines = "".join(json.dumps(r) + "\n" for r in self.history)
        atomic_write_text(self.out_dir / METRICS_NAME, lines)

    # ----------------------------------------------------------------- metrics

    def _metrics(self, outputs: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        metrics = default_metrics(outputs, y)
        if self.metrics_fn is not None:
            extra = self.metrics_fn(outputs, y)
            if not isinstance(extra, Mapping):
                raise ConfigError(
                    "metrics_fn: expected it to return a dict[str, float], got "
                    f"{type(extra).__name__}"
                )
            if "loss" in extra:
                raise ConfigError(
                    "metrics_fn: must not return the key 'loss' (it is recorded already)"
                )
            for k, v in extra.items():
                try:
                    metrics[str(k)] = float(v)
                except (TypeError, ValueError) as exc:
                    raise ConfigError(
                        f"metrics_fn: value of {k!r} must convert to float, got {type(v).__name__}"
                    ) from exc
        return metrics

    def _loss(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = self.loss_fn(outputs, y)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or loss.is_complex():
            got = (
                f"tensor of shape {tuple(loss.shape)} and dtype {loss.dtype}"
                if isinstance(loss, torch.Tensor)
                else type(loss).__name__
            )
            raise ShapeError(f"loss_fn: expected a real scalar tensor, got {got}")
        return loss.reshape(())

    def evaluate(self, data: Data) -> dict[str, float]:
        """Loss and metrics of the model on ``data`` (no gradients, eval mode).

        The model runs on contiguous batches of ``config.eval_batch_size`` (default
        ``batch_size``); the outputs are concatenated and ``loss_fn``/metrics are
        computed once on all of them, so the result does not depend on the
        batching (up to floating-point reassociation inside the model).

        Parameters
        ----------
        data : (Tensor, Tensor)
            ``(x, y)``, ``x.shape[0] == y.shape[0] > 0``.

        Returns
        -------
        dict
            ``{"loss": float, "accuracy": float, **metrics_fn extras}``.
        """
        x, y = _check_pair("data", data)
        device = self._device()
        bs = self.config.effective_eval_batch_size
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                shard = self._dist is not None and x.shape[0] >= self._dist.world_size
                xs = x[self._dist.shard_slice(x.shape[0])] if shard else x
                outs = [self.model(xs[i : i + bs].to(device)) for i in range(0, xs.shape[0], bs)]
                outputs = torch.cat(outs, dim=0)
                if shard:
                    outputs = self._dist.gather_rows(outputs, x.shape[0])
                y_dev = y.to(device)
                loss = self._loss(outputs, y_dev)
                return {"loss": loss.item(), **self._metrics(outputs, y_dev)}
        finally:
            self.model.train(was_training)

    # ----------------------------------------------------------------- training

    def _train_epoch(self, e: int) -> dict[str, Any]:
        """Run 0-based epoch ``e``; return its record (without timing of callers)."""
        cfg = self.config
        lr = scheduled_lr(cfg.schedule, cfg.lr, e, cfg.epochs)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x, y = self.train_data
        n = x.shape[0]
        bs = cfg.batch_size
        n_batches = math.ceil(n / bs)
        device = self._device()
        perm = torch.randperm(n, generator=self.generator)
        self.model.train()
        losses: list[float] = []
        sums: dict[str, float] = {}
        t0 = time.perf_counter()
        bar = tqdm(
            total=n_batches,
            desc=f"epoch {e + 1}/{cfg.epochs}",
            unit="batch",
            leave=False,
            disable=not self.progress,
            dynamic_ncols=True,
        )
        try:
            for b in range(n_batches):
                idx = perm[b * bs : (b + 1) * bs]
                n_batch = idx.shape[0]
                if self._dist is not None:
                    idx = idx[self._dist.shard_slice(n_batch)]
                xb = x[idx.to(x.device)].to(device)
                yb = y[idx.to(y.device)].to(device)
                self.optimizer.zero_grad(set_to_none=True)
                outputs = self.model(xb) if idx.shape[0] else None
                loss = self._loss(outputs, yb) if idx.shape[0] else None
                value = self._batch_loss(loss, idx.shape[0], n_batch)
                if not math.isfinite(value):
                    raise NumericalError(
                        f"loss: non-finite value {value} at epoch {e + 1}, minibatch "
                        f"{b + 1}/{n_batches}; the last checkpoint (if any) holds epoch {e}. "
                        "Lower lr, raise clip_grad_norm's strictness, or use complex128 / a larger eta"
                    )
                if loss is not None:
                    loss.backward()
                if self._dist is not None:
                    self._dist.reduce_gradients_(self._params, idx.shape[0], n_batch)
                if cfg.clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(self._params, cfg.clip_grad_norm)
                if cfg.larc:
                    larc_(self._params, cfg.trust_coefficient, cfg.weight_decay)
                self.optimizer.step()
                losses.append(value)
                for k, v in (self._metrics(outputs.detach(), yb) if idx.shape[0] else {}).items():
                    sums[k] = sums.get(k, 0.0) + v * idx.shape[0]
                bar.update(1)
                bar.set_postfix(loss=f"{value:.4f}", refresh=False)
        finally:
            bar.close()
        if self._dist is not None and sums:  # batch-size weighted sums over all ranks
            keys = sorted(sums)
            total = self._dist.all_reduce_(torch.tensor([sums[k] for k in keys], dtype=torch.float64))
            sums = dict(zip(keys, total.tolist()))
        t_train = time.perf_counter() - t0
        record: dict[str, Any] = {"epoch": e + 1, "lr": float(lr)}
        record["train_loss"] = sum(losses) / len(losses)
        for k, v in sums.items():
            record[f"train_{k}"] = v / n
        if self.eval_data is not None:
            for k, v in self.evaluate(self.eval_data).items():
                record[f"test_{k}"] = v
        record["epoch_seconds"] = time.perf_counter() - t0
        record["samples_per_second"] = n / t_train if t_train > 0 else math.inf
        return record

    def _batch_loss(self, loss: torch.Tensor | None, n_local: int, n_batch: int) -> float:
        """The minibatch's mean loss; across ranks ``Σ_r (n_r / N) L_r`` (data parallel)."""
        if self._dist is None:
            return loss.item()
        local = torch.zeros((), dtype=torch.float64)
        if loss is not None:
            local += loss.detach().double().cpu() * (n_local / n_batch)
        return self._dist.all_reduce_(local).item()

    def _load_latest(self) -> tuple[dict[str, Any], Path] | None:
        """:func:`load_latest_checkpoint` (read by rank 0 and broadcast when data parallel)."""
        if self._dist is None:
            return load_latest_checkpoint(self.out_dir)
        outcome: tuple[str, Any] | None = None
        if self._dist.is_writer:
            try:
                outcome = ("ok", load_latest_checkpoint(self.out_dir))
            except CheckpointError as exc:
                outcome = ("error", exc)
        outcome = self._dist.broadcast_object(outcome)
        if outcome[0] == "error":
            raise outcome[1]
        return outcome[1]

    def _summary(self, r: Mapping[str, Any]) -> str:
        parts = [f"epoch {r['epoch']}/{self.config.epochs}", f"lr {r['lr']:.3g}"]
        for key, label in (
            ("train_loss", "train_loss"),
            ("train_accuracy", "train_acc"),
            ("test_loss", "test_loss"),
            ("test_accuracy", "test_acc"),
        ):
            if key in r:
                parts.append(f"{label} {_fmt(r[key])}")
        parts.append(f"{r['epoch_seconds']:.2f} s")
        return "  ".join(parts)

    def fit(self, resume: bool = False) -> list[dict[str, Any]]:
        """Train for ``config.epochs`` epochs (or the remaining ones when resuming).

        Each epoch (0-based ``e``): set the learning rate
        (:func:`~qnets.training.scheduled_lr`), draw a permutation of the
        ``N`` training samples from :attr:`generator`, and for every minibatch run
        forward, ``loss.backward()``, gradient-norm clipping (if
        ``clip_grad_norm``), LARC (if ``larc``) and ``optimizer.step()``. Then the
        model is evaluated on ``eval_data``, the record is appended to
        :attr:`history` and printed, the checkpoint and ``metrics.jsonl`` are
        written atomically (with ``out_dir``), and the callbacks are called.

        A record holds ``epoch`` (1-based), ``lr``, ``train_loss`` (mean over the
        epoch's minibatches), ``train_accuracy`` (batch-size weighted, from the
        minibatch outputs during the epoch), ``test_loss`` and ``test_accuracy``
        (only with ``eval_data``), ``train_<m>``/``test_<m>`` for every
        ``metrics_fn`` extra, ``epoch_seconds`` (training + evaluation wall time)
        and ``samples_per_second`` (``N`` / training wall time).

        Parameters
        ----------
        resume : bool, default False
            ``False``: start from the model's weights at construction of the
            Trainer, a fresh optimizer and the seeded generator (so repeated calls
            give the same run); an existing checkpoint in ``out_dir`` is
            overwritten (with a warning). ``True``: load ``out_dir/checkpoint.pt``
            (falling back, with a warning, to ``checkpoint.prev.pt`` if it is
            unusable), check that its config equals :attr:`config`, restore model,
            optimizer, generator and history, and continue with the next epoch; a
            finished run is returned as is; without a checkpoint, start fresh.

        Returns
        -------
        list of dict
            The metric history, one record per epoch (a copy).

        Raises
        ------
        ConfigError
            If ``resume`` is true without ``out_dir``.
        CheckpointError
            If no checkpoint file is usable, or the checkpoint's config (or
            training-set size, or model/optimizer structure) differs.
        """
        cfg = self.config
        if resume:
            if self.out_dir is None:
                raise ConfigError(
                    "resume: resume=True needs out_dir (the run directory), got out_dir=None"
                )
            loaded = self._load_latest()
            if loaded is None:
                if self._writes:
                    tqdm.write(f"no checkpoint in {self.out_dir}; starting a fresh run")
                self._reset()
            else:
                state, path = loaded
                self._restore(state, path)
                if self.epoch >= cfg.epochs:
                    if self._writes:
                        tqdm.write(f"run in {self.out_dir} already finished ({self.epoch} epochs)")
                    return [dict(r) for r in self.history]
                if self._writes:
                    tqdm.write(f"resuming from {path} after epoch {self.epoch}/{cfg.epochs}")
        else:
            if self._writes and self.out_dir is not None and (self.out_dir / CHECKPOINT_NAME).exists():
                warnings.warn(
                    f"out_dir {self.out_dir} already holds a checkpoint; it will be overwritten "
                    "by this fresh run (use fit(resume=True) to continue it)",
                    QnetsWarning,
                    stacklevel=2,
                )
            self._reset()
        for e in range(self.epoch, cfg.epochs):
            record = self._train_epoch(e)
            self.history.append(record)
            self.epoch = e + 1
            if self._writes:
                tqdm.write(self._summary(record))
            if self.out_dir is not None and self._writes:
                self._save()
            for cb in self.callbacks:
                cb(self, record)
        return [dict(r) for r in self.history]
