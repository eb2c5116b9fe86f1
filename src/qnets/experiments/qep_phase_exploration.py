r"""Experiment ``qep-phase-exploration``: unsupervised QEP walk through the cluster-Ising chain.

Spec ``qep.md`` §3.3 / target T3. Open chain of ``n`` = 10 spins

.. math::

    H = -\Big(g_X \sum_{j=0}^{n-1} X_j + g_{ZZ} \sum_{j=0}^{n-2} Z_j Z_{j+1}
        + 0.5 \sum_{j=1}^{n-3} Z_j X_{j+1} Z_{j+2} + \nu X_0 X_4\Big)

(:func:`qnets.cli.qep_demo.exploration_chain`), trainable ``θ = (g_X, g_ZZ)``, output
``X_0 X_4``, loss ``L = −|⟨X_0 X_4⟩|`` (``ε = −sign⟨O⟩``). One-sided QEP with ``β`` = 0.1
and normalised gradient descent ``θ ← θ − lr · g/|g|`` (lr 0.1) for 100 iterations from
the two starts ``(−0.1, 0.4)`` and ``(0.2, 0.9)``.

Outputs in the run directory: ``start_<i>.json`` per start (trajectory ``θ_t``, loss
``L_t`` for ``t = 0 … iterations`` — the last entry is the loss at the end point — and the
gradient norms; finished starts are skipped on ``--resume``), ``map.npz`` (``⟨X_0 X_4⟩`` on
a ``map_points`` × ``map_points`` grid over ``[−map_range, map_range]²``), ``final.json``
(loss at iterations 0, 10, 19, 99 and end points) and ``exploration.png`` (map with both
trajectories, loss curves). CI size: the packaged config ``ci-small``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qnets.errors import ConfigError
from qnets.experiments.config import config_to_dict
from qnets.experiments.registry import register
from qnets.experiments.rundir import environment_info, write_json, write_yaml

__all__ = [
    "QepPhaseExplorationConfig",
    "check_positive_ints",
    "loss_marks",
    "normalised_descent",
    "run_qep_phase_exploration",
]

_MODES = ("one_sided", "symmetric", "random_sign", "linear_response")


def check_positive_ints(config, names) -> None:
    """Raise :class:`ConfigError` naming the first field of ``names`` that is not an int ≥ 1."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name}: expected a positive integer, got {value!r}")


def _check_starts(starts, width: int, what: str = "starts") -> None:
    if not starts or any(len(s) != width for s in starts):
        raise ConfigError(f"{what}: expected a non-empty list of {width}-element lists, got {starts!r}")


@dataclass
class QepPhaseExplorationConfig:
    """Configuration of ``qep-phase-exploration`` (``--set key=value`` for every field)."""

    n: int = 10
    beta: float = 0.1
    mode: str = "one_sided"
    lr: float = 0.1
    iterations: int = 100
    starts: list[list[float]] = field(default_factory=lambda: [[-0.1, 0.4], [0.2, 0.9]])
    map_points: int = 100
    map_range: float = 2.0
    threads: int = 1

    def __post_init__(self):
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 5:
            raise ConfigError(f"n: expected an integer ≥ 5 (the output is X0 X4), got {self.n!r}")
        if not self.beta > 0:
            raise ConfigError(f"beta: expected > 0, got {self.beta!r}")
        if not self.lr > 0:
            raise ConfigError(f"lr: expected > 0, got {self.lr!r}")
        if self.mode not in _MODES:
            raise ConfigError(f"mode: expected one of {_MODES}, got {self.mode!r}")
        if not self.map_range > 0:
            raise ConfigError(f"map_range: expected > 0, got {self.map_range!r}")
        check_positive_ints(self, ("iterations", "map_points", "threads"))
        _check_starts(self.starts, 2)


def normalised_descent(estimator, theta0, *, iterations: int, lr: float, x=None, partial=None,
                       callback=None) -> dict:
    r"""Normalised gradient descent ``θ_{t+1} = θ_t − lr · g_t / |g_t|`` with QEP gradients.

    Parameters
    ----------
    estimator : QuantumEP or FiniteDifferenceGradient
        Anything with ``.gradient(theta, x) -> (g, info)`` and ``.loss_value(theta, x)``.
    theta0 : array_like, shape (n_params,)
    iterations : int
        Number of updates.
    lr : float
        Step length in parameter space.
    partial : dict, optional
        A trajectory of this function cut short (``theta``, ``loss``, ``grad_norm``,
        ``outputs`` without the end-point entries): continue it instead of starting anew.
    callback : callable, optional
        ``callback(partial_trajectory)`` after every update (for checkpoints).

    Returns
    -------
    dict
        ``theta``: list of ``iterations + 1`` parameter vectors (start … end);
        ``loss``: ``iterations + 1`` losses (the measured free loss at each ``θ_t``, the last
        one exact at the end point); ``grad_norm``: ``iterations`` gradient norms;
        ``outputs``: free outputs at each ``θ_t`` (last one at the end point).
    """
    theta = np.asarray(theta0, dtype=np.float64).copy()
    thetas, losses, norms, outputs = [theta.tolist()], [], [], []
    if partial is not None:
        thetas, losses = list(partial["theta"]), list(partial["loss"])
        norms, outputs = list(partial["grad_norm"]), list(partial["outputs"])
        theta = np.asarray(thetas[-1], dtype=np.float64)
    for _ in range(len(norms), iterations):
        g, info = estimator.gradient(theta, x)
        losses.append(float(info["loss"]))
        outputs.append(np.asarray(info["outputs"], dtype=float).tolist())
        norm = float(np.linalg.norm(g))
        norms.append(norm)
        theta = theta - lr * g / max(norm, 1e-300)
        thetas.append(theta.tolist())
        if callback is not None:
            callback({"theta": thetas, "loss": losses, "grad_norm": norms, "outputs": outputs})
    losses.append(float(estimator.loss_value(theta, x)))
    outputs.append(np.asarray(estimator.outputs(theta, x), dtype=float).tolist())
    return {"theta": thetas, "loss": losses, "grad_norm": norms, "outputs": outputs}


def loss_marks(values, iterations: int, marks=(0, 10, 19, 20, 99)) -> dict:
    """``{str(i): values[i]}`` for the marked iterations that exist, plus ``'end'``."""
    out = {str(i): values[i] for i in marks if i < iterations}
    out["end"] = values[-1]
    return out


def _open_run(run_dir, config) -> Path:
    """Create the run directory; write ``config.yaml`` and ``environment.json``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_yaml(run_dir / "config.yaml", config_to_dict(config))
    write_json(run_dir / "environment.json", environment_info())
    return run_dir


def _close_run(run_dir: Path, summary: dict, figure) -> dict:
    """Draw the figure (``figure()`` returns its file name), write ``final.json``."""
    try:
        summary["figures"] = [figure()]
    except ImportError as error:  # matplotlib is an optional extra
        summary["figures"] = f"not written: {error}"
    write_json(run_dir / "final.json", summary)
    return summary


def _run_starts(config, run_dir: Path, estimator, starts, resume: bool, progress: bool,
                label=lambda s: s, prefix: str = "start") -> list[dict]:
    """Run :func:`normalised_descent` from each start; ``<prefix>_<i>.json`` per start.

    Every update is checkpointed to ``<prefix>_<i>.partial.json``; ``resume`` skips finished
    starts and continues a partial one.
    """
    runs = []
    for i, start in enumerate(starts):
        path = run_dir / f"{prefix}_{i}.json"
        if resume and path.exists():
            runs.append(json.loads(path.read_text()))
            continue
        t0 = time.perf_counter()
        partial_path = run_dir / f"{prefix}_{i}.partial.json"
        partial = json.loads(partial_path.read_text()) if resume and partial_path.exists() else None
        traj = normalised_descent(estimator, start, iterations=config.iterations, lr=config.lr,
                                  partial=partial, callback=lambda p, path=partial_path: write_json(path, p))
        run = {"start": list(start), "end": traj["theta"][-1], **traj,
               "seconds": time.perf_counter() - t0}
        write_json(path, run)
        partial_path.unlink(missing_ok=True)
        if progress:
            print(f"start {label(start)}: loss {traj['loss'][0]:+.4f} → {traj['loss'][-1]:+.4f}, "
                  f"end {np.round(traj['theta'][-1], 4).tolist()} ({run['seconds']:.1f} s)",
                  flush=True)
        runs.append(run)
    return runs


def _correlator_map(config, path: Path, resume: bool):
    """``⟨X0 X4⟩`` on the grid (``map.npz``; reused on resume)."""
    from qnets.cli.qep_demo import exploration_chain
    from qnets.ep import NegAbsLoss, QuantumEP

    if resume and path.exists():
        data = np.load(path)
        return data["axis"], data["values"]
    q = QuantumEP(exploration_chain(config.n), NegAbsLoss(), beta=1.0, gap=False, warm_start=True)
    axis = np.linspace(-config.map_range, config.map_range, config.map_points)
    values = np.empty((config.map_points, config.map_points))
    for i, gx in enumerate(axis):
        for j, gzz in enumerate(axis):
            values[j, i] = -q.outputs(np.array([gx, gzz]))[0]  # output operator is −X0 X4
    np.savez(path, axis=axis, values=values)
    return axis, values


@register(
    "qep-phase-exploration",
    QepPhaseExplorationConfig,
    "unsupervised QEP maximises |⟨X0 X4⟩| over (g_X, g_ZZ) of the cluster-Ising chain (§3.3)",
)
def run_qep_phase_exploration(config: QepPhaseExplorationConfig, run_dir: Path, *,
                              resume: bool = False, progress: bool = True) -> dict:
    """Run both starts and the background map; write trajectories, summary and figure."""
    from threadpoolctl import threadpool_limits

    from qnets.cli.qep_demo import exploration_chain
    from qnets.ep import NegAbsLoss, QuantumEP

    run_dir = _open_run(run_dir, config)
    start = time.perf_counter()
    with threadpool_limits(config.threads):
        q = QuantumEP(exploration_chain(config.n), NegAbsLoss(), beta=config.beta,
                      mode=config.mode, gap=False, warm_start=True)
        runs = _run_starts(config, run_dir, q, config.starts, resume, progress)
        t_map = time.perf_counter()
        axis, values = _correlator_map(config, run_dir / "map.npz", resume)
        t_map = time.perf_counter() - t_map
    summary = {
        "experiment": "qep-phase-exploration",
        "n": config.n,
        "runs": [{"start": r["start"], "end": r["end"],
                  "loss": loss_marks(r["loss"], config.iterations),
                  "x0x4_end": -r["outputs"][-1][0], "seconds": r["seconds"]} for r in runs],
        "map_max_abs": float(np.abs(values).max()),
        "map_seconds": t_map,
        "seconds_this_call": time.perf_counter() - start,
    }
    return _close_run(run_dir, summary, lambda: _figure(run_dir, config, runs, axis, values))


def _figure(run_dir: Path, config, runs, axis, values) -> str:
    from qnets.plotting.curves import _pyplot

    plt = _pyplot()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    r = config.map_range
    im = ax.imshow(values, origin="lower", extent=(-r, r, -r, r), cmap="RdBu_r", vmin=-1, vmax=1,
                   aspect="auto")
    fig.colorbar(im, ax=ax, label="⟨X0 X4⟩")
    for k, run in enumerate(runs):
        th = np.array(run["theta"])
        ax.plot(th[:, 0], th[:, 1], f"C{k + 2}.-", ms=3, lw=1, label=f"start {run['start']}")
        ax.plot(*th[0], f"C{k + 2}o")
        ax2.plot(run["loss"], f"C{k + 2}-", label=f"start {run['start']}")
    ax.set_xlabel("g_X")
    ax.set_ylabel("g_ZZ")
    ax.set_title(f"QEP phase exploration, open chain N = {config.n}")
    ax.legend(fontsize=7)
    ax2.set_xlabel("iteration")
    ax2.set_ylabel("L = −|⟨X0 X4⟩|")
    ax2.legend(fontsize=7)
    fig.savefig(run_dir / "exploration.png", dpi=150)
    plt.close(fig)
    return "exploration.png"
