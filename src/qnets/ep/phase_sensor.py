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

import numbers
from collections.abc import Callable

import numpy as np

from qnets.errors import ConfigError, ShapeError

__all__ = [
    "PATCH_CENTRES",
    "phase_accuracy",
    "phase_labels",
    "sample_triangle",
    "sensor_theta0",
    "train_phase_sensor",
]

#: Patch centres (g_X, g_ZZ) of the "patches" variant, width 0.4 each.
PATCH_CENTRES = ((1.0, 0.5), (2.5, 0.5), (0.5, 3.0))


def sample_triangle(n: int, rng, *, patches: bool = False, width: float = 0.4) -> np.ndarray:
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
        Called with each evaluation record.

    Returns
    -------
    dict
        ``theta`` (final), ``history`` (list of evaluation records with ``batch``,
        ``max_choice``, ``single_shot``, ``train_loss``), ``final`` (last record).
    """
    rng = np.random.default_rng(seed)
    theta = np.array(theta0, dtype=np.float64)
    adam = _Adam(theta.shape, lr)
    labels_test = None if test_x is None else phase_labels(test_x)
    history: list[dict] = []
    losses: list[float] = []

    def evaluate(batch):
        record = {"batch": batch, "train_loss": float(np.mean(losses)) if losses else None}
        if test_x is not None:
            probs = np.stack([estimator.outputs(theta, x) for x in test_x])
            record.update(phase_accuracy(probs, labels_test))
        history.append(record)
        losses.clear()
        if callback is not None:
            callback(record)

    for batch in range(n_batches):
        if eval_every and batch % eval_every == 0:
            evaluate(batch)
        xs = sample_triangle(batch_size, rng, patches=patches)
        onehot = np.eye(3)[phase_labels(xs)]
        grad = np.zeros(theta.shape[0])
        for x, y in zip(xs, onehot):
            g, info = estimator.gradient(theta, x, y)
            grad += g / batch_size
            losses.append(info["loss"])
        theta = adam.step(theta, grad)
    evaluate(n_batches)
    return {"theta": theta, "history": history, "final": history[-1]}


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
