r"""The supervised QEP task of spec ``qep.md`` §3.1: a 2-qubit sensor learns cluster-Ising phases.

Inputs ``x = (g_ZXZ, g_ZZ, g_X)`` lie on the simplex ``g_ZXZ + g_ZZ + g_X = 4``; labels
follow the thermodynamic-limit boundaries (used on finite rings too): phase II
(ferromagnet) if ``g_ZZ ≥ 2``, else phase I (cluster / SPT) if ``g_X < g_ZXZ``, else phase
III (paramagnet). The sensor outputs ``(⟨P_{++}⟩, ⟨P_{+−}⟩, ⟨P_{−−}⟩)`` are trained by MSE
towards the one-hot label with QEP gradients and Adam (:func:`train_phase_sensor`).

Metrics: *max-choice* accuracy (``argmax ⟨P⟩ = label``, infinite-shot readout) and
*single-shot* accuracy (mean ``⟨P_label⟩``, the chance that one sensor measurement is
right).
"""

from __future__ import annotations

import json
import numbers
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qnets.errors import CheckpointError, ConfigError, ShapeError

__all__ = [
    "PATCH_CENTRES",
    "phase_accuracy",
    "phase_labels",
    "sample_triangle",
    "sensor_theta0",
    "train_phase_sensor",
]

#: Patch centres (g_X, g_ZZ) of the "patches" variant.
PATCH_CENTRES = ((1.0, 0.5), (2.5, 0.5), (0.5, 3.0))
#: Side of each training square of the "patches" variant.
PATCH_WIDTH = 0.4


def sample_triangle(n: int, rng, *, patches: bool = False, width: float = PATCH_WIDTH) -> np.ndarray:
    """``n`` inputs ``(g_ZXZ, g_ZZ, g_X)``, shape ``(n, 3)``, uniform on the simplex (sum 4).

    Draws ``(g_X, g_ZZ) ∈ [0, 4]²`` and reflects points with ``g_X + g_ZZ > 4``. With
    ``patches=True`` the points are uniform in squares of side ``width`` around
    :data:`PATCH_CENTRES` (one centre chosen at random per point).
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ConfigError(f"n must be a positive integer; got {n!r}")
    rng = np.random.default_rng(rng)
    if patches:
        centres = np.array(PATCH_CENTRES)[rng.integers(0, len(PATCH_CENTRES), n)]
        gx_gzz = centres + rng.uniform(-width / 2, width / 2, (n, 2))
        gx_gzz = np.clip(gx_gzz, 0, 4)
    else:
        gx_gzz = rng.uniform(0, 4, (n, 2))
        over = gx_gzz.sum(1) > 4
        gx_gzz[over] = 4 - gx_gzz[over]
    gx, gzz = gx_gzz[:, 0], gx_gzz[:, 1]
    return np.stack([np.clip(4 - gx - gzz, 0, None), gzz, gx], axis=1)


def phase_labels(x) -> np.ndarray:
    """Phase index (0 = I cluster, 1 = II ferromagnet, 2 = III paramagnet) per input row."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if x.shape[1] != 3:
        raise ShapeError(f"x must have shape (n, 3) = (g_zxz, g_zz, g_x); got {x.shape}")
    gzxz, gzz, gx = x.T
    return np.where(gzz >= 2, 1, np.where(gx < gzxz, 0, 2))


def phase_accuracy(probabilities, labels) -> dict:
    """``{'max_choice', 'single_shot'}`` of output probabilities ``(n, 3)`` vs labels ``(n,)``."""
    p = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    if p.ndim != 2 or p.shape[0] != labels.shape[0]:
        raise ShapeError(f"probabilities (n, 3) and labels (n,) disagree: {p.shape}, {labels.shape}")
    return {"max_choice": float(np.mean(p.argmax(1) == labels)),
            "single_shot": float(np.mean(p[np.arange(len(labels)), labels]))}


def sensor_theta0(param_names, rng) -> np.ndarray:
    """Initial couplings: system–sensor ``c_*`` from U(−0.1, 0.1), sensor terms from N(0, 1)."""
    rng = np.random.default_rng(rng)
    return np.array([rng.uniform(-0.1, 0.1) if n.startswith("c_") else rng.normal()
                     for n in param_names])


def train_phase_sensor(
    estimator,
    theta0,
    *,
    n_batches: int,
    batch_size: int = 10,
    lr: float = 0.01,
    seed=0,
    patches: bool = False,
    test_x=None,
    eval_every: int = 0,
    callback: Callable[[dict], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
) -> dict:
    """Train the sensor couplings with QEP gradients and Adam (numpy, float64).

    Parameters
    ----------
    estimator : QuantumEP or FiniteDifferenceGradient
        Built on a :func:`~qnets.hamiltonians.cluster_ising_sensor` Hamiltonian with the
        MSE loss; its ``.gradient(theta, x, onehot)`` gives per-sample gradients, averaged
        over the batch.
    theta0 : ndarray, shape (n_params,)
    n_batches, batch_size, lr : training schedule (Adam with β1 = 0.9, β2 = 0.999,
        ε = 1e-8, as optax / torch defaults).
    seed : int or Generator
        Draws the training inputs.
    patches : bool
        Train only in the patches of :data:`PATCH_CENTRES`.
    test_x : ndarray (n_test, 3), optional
        Evaluated every ``eval_every`` batches (and at the end) with exact outputs.
    callback : callable, optional
        Called with each evaluation record (after the checkpoint that contains it is
        written, so a resumed run never reports a batch twice).
    checkpoint : path-like, optional
        JSON file holding the training state: batch, θ, Adam moments, the input and
        shot-noise generators, history and the pending losses. Written atomically every
        ``checkpoint_every`` batches; if the file exists, training resumes from it (its
        schedule must match this call, else :class:`~qnets.errors.CheckpointError`). The
        continuation follows the same input and shot-noise draws as an uninterrupted run;
        it is not bit-identical, because ARPACK draws its own Lanczos start vectors.
    checkpoint_every : int, optional
        Batches between checkpoints (default ``eval_every``, or 100 when that is 0).

    Returns
    -------
    dict
        ``theta`` (final), ``history`` (list of evaluation records with ``batch``,
        ``max_choice``, ``single_shot``, ``train_loss``), ``final`` (last record),
        ``seconds`` (training time, summed over resumed parts) and ``resumed_from``
        (the batch the run resumed at, or ``None``).
    """
    for name, value in (("n_batches", n_batches), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ConfigError(f"{name} must be a positive integer; got {value!r}")
    if isinstance(eval_every, bool) or not isinstance(eval_every, numbers.Integral) or eval_every < 0:
        raise ConfigError(f"eval_every must be an integer ≥ 0; got {eval_every!r}")
    if checkpoint_every is None:
        checkpoint_every = eval_every or 100
    elif isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, numbers.Integral) \
            or checkpoint_every < 1:
        raise ConfigError(f"checkpoint_every must be a positive integer; got {checkpoint_every!r}")
    rng = np.random.default_rng(seed)
    theta = np.array(theta0, dtype=np.float64)
    adam = _Adam(theta.shape, lr)
    labels_test = None if test_x is None else phase_labels(test_x)
    history: list[dict] = []
    losses: list[float] = []
    schedule = {"n_batches": int(n_batches), "batch_size": int(batch_size), "lr": float(lr),
                "patches": bool(patches), "n_params": int(theta.shape[0])}
    start, elapsed, resumed_from = 0, 0.0, None
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        if checkpoint.exists():
            start, elapsed, theta = _load_state(checkpoint, schedule, estimator, rng, adam,
                                                history, losses)
            resumed_from = start
    clock = time.perf_counter()

    def evaluate(batch):
        record = {"batch": batch, "train_loss": float(np.mean(losses)) if losses else None}
        if test_x is not None:
            probs = np.stack([estimator.outputs(theta, x) for x in test_x])
            record.update(phase_accuracy(probs, labels_test))
        history.append(record)
        losses.clear()
        return record

    def step_done(batch):
        due_eval = bool(eval_every) and batch % eval_every == 0
        record = evaluate(batch) if due_eval or batch == n_batches else None
        if checkpoint is not None and (batch % checkpoint_every == 0 or batch == n_batches) and batch:
            _save_state(checkpoint, batch, theta, schedule, estimator, rng, adam, history,
                        losses, elapsed + time.perf_counter() - clock)
        if record is not None and callback is not None:
            callback(record)

    if start == 0 and eval_every:
        step_done(0)
    for batch in range(start, n_batches):
        xs = sample_triangle(batch_size, rng, patches=patches)
        onehot = np.eye(3)[phase_labels(xs)]
        grad = np.zeros(theta.shape[0])
        for x, y in zip(xs, onehot):
            g, info = estimator.gradient(theta, x, y)
            grad += g / batch_size
            losses.append(info["loss"])
        theta = adam.step(theta, grad)
        step_done(batch + 1)
    return {"theta": theta, "history": history, "final": history[-1],
            "seconds": elapsed + time.perf_counter() - clock, "resumed_from": resumed_from}


def _save_state(path: Path, batch, theta, schedule, estimator, rng, adam, history, losses,
                seconds):
    """Write the training state after ``batch`` batches to ``path`` atomically (JSON)."""
    from qnets.training.checkpoint import atomic_write_text

    est_rng = getattr(estimator, "rng", None)
    state = {
        "format": "qnets.phase_sensor/1",
        "batch": batch,
        "schedule": schedule,
        "theta": theta.tolist(),
        "adam": {"m": adam.m.tolist(), "v": adam.v.tolist(), "t": adam.t},
        "rng": rng.bit_generator.state,
        "estimator_rng": None if est_rng is None else est_rng.bit_generator.state,
        "history": history,
        "losses": losses,
        "seconds": seconds,
    }
    atomic_write_text(path, json.dumps(state))


def _load_state(path: Path, schedule, estimator, rng, adam, history, losses):
    """Restore a :func:`_save_state` file into the given objects; return ``(batch, seconds, θ)``."""
    try:
        state = json.loads(path.read_text())
        if state.get("format") != "qnets.phase_sensor/1":
            raise KeyError("format")
        saved = state["schedule"]
        batch = int(state["batch"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(
            f"checkpoint {path} is not a phase-sensor training state ({error!r}); "
            f"delete it to start afresh"
        ) from error
    if saved != schedule:
        diff = {k: (saved.get(k), v) for k, v in schedule.items() if saved.get(k) != v}
        raise CheckpointError(
            f"checkpoint {path} belongs to another schedule; (saved, requested): {diff}. "
            f"Use a new checkpoint path or delete it"
        )
    adam.m = np.array(state["adam"]["m"], dtype=np.float64)
    adam.v = np.array(state["adam"]["v"], dtype=np.float64)
    adam.t = int(state["adam"]["t"])
    rng.bit_generator.state = state["rng"]
    est_rng = getattr(estimator, "rng", None)
    if est_rng is not None and state["estimator_rng"] is not None:
        est_rng.bit_generator.state = state["estimator_rng"]
    history.extend(state["history"])
    losses.extend(state["losses"])
    return batch, float(state["seconds"]), np.array(state["theta"], dtype=np.float64)


class _Adam:
    """Adam (Kingma & Ba) on a flat float64 vector, bias-corrected."""

    def __init__(self, shape, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps = lr, b1, b2, eps
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)
        self.t = 0

    def step(self, theta, grad):
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * grad
        self.v = self.b2 * self.v + (1 - self.b2) * grad**2
        m_hat = self.m / (1 - self.b1**self.t)
        v_hat = self.v / (1 - self.b2**self.t)
        return theta - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
