r"""Experiment ``qep-sensitivity``: sensitivity optimisation / phase-boundary finding by QEP.

Spec ``qep.md`` §3.4 / target T4. Two copies of the open cluster-Ising chain of §3.3,

.. math::

    H_c = -\Big(g_c \sum_j X_j + g_{ZZ} \sum_j Z_j Z_{j+1} + 0.5 \sum_{j=1}^{n-3} Z_j X_{j+1} Z_{j+2}
          + \nu_c X_0 X_4\Big), \qquad c = 1, 2,

share ``g_ZZ`` and differ in the field (``g_1``, ``g_2``). The two-copy slope loss
(:class:`qnets.ep.SlopeLoss`)

.. math::

    L = -\frac{|\langle X_0X_4\rangle_{g_1} - \langle X_0X_4\rangle_{g_2}|}{|g_1 - g_2|}

is the finite-difference slope of the correlator with respect to the field: minimising it
moves the pair to where ``⟨X_0 X_4⟩`` changes fastest (the finite-size crossover, the
sensor's best working point). ``∂⟨O⟩_c/∂(g_c, g_ZZ)`` comes from one nudged equilibrium per
copy (one-sided QEP, ``β`` = 0.1); the explicit ``1/|g_1 − g_2|`` dependence is added
analytically. Normalised steps ``lr`` = 0.1, 100 iterations, from ``(g_ZZ, g_1, g_2)`` =
``(−1.5, −0.2, −1.5)`` and ``(1.0, −0.5, 0.3)``.

Outputs: ``start_<i>.json`` (trajectory ``(g_ZZ, g_1, g_2)_t``, loss, free outputs;
skipped on ``--resume``), ``final.json`` (slope ``−L`` at iterations 0, 10, 20, 99 and the
end; end points; for each run the crossover of ``⟨X_0 X_4⟩(g_X)`` at the final ``g_ZZ`` —
the local maximum of ``|d⟨X_0X_4⟩/dg_X|`` on a ``curve_points`` grid nearest the pair —
next to the pair's midpoint) and
``sensitivity.png`` (trajectories in the ``(g_1, g_2)`` plane over iterations, slope curve,
and the correlator curve at the final ``g_ZZ`` with the pair marked).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qnets.errors import ConfigError
from qnets.experiments.qep_phase_exploration import (
    _check_starts,
    _close_run,
    _open_run,
    _run_starts,
    check_positive_ints,
)
from qnets.experiments.registry import register

__all__ = ["QepSensitivityConfig", "run_qep_sensitivity", "slope_copies"]

PARAMS = ("g_zz", "g1", "g2")


@dataclass
class QepSensitivityConfig:
    """Configuration of ``qep-sensitivity`` (``--set key=value`` for every field).

    ``starts`` are ``(g_ZZ, g_1, g_2)`` triples.
    """

    n: int = 10
    beta: float = 0.1
    mode: str = "one_sided"
    lr: float = 0.1
    iterations: int = 100
    starts: list[list[float]] = field(
        default_factory=lambda: [[-1.5, -0.2, -1.5], [1.0, -0.5, 0.3]])
    curve_points: int = 241
    curve_range: float = 3.0
    threads: int = 1

    def __post_init__(self):
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 5:
            raise ConfigError(f"n: expected an integer ≥ 5 (the output is X0 X4), got {self.n!r}")
        for name in ("beta", "lr", "curve_range"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}: expected > 0, got {getattr(self, name)!r}")
        if self.mode not in ("one_sided", "symmetric", "random_sign", "linear_response"):
            raise ConfigError(f"mode: expected a QuantumEP mode, got {self.mode!r}")
        check_positive_ints(self, ("iterations", "curve_points", "threads"))
        _check_starts(self.starts, 3)
        if any(s[1] == s[2] for s in self.starts):
            raise ConfigError(f"starts: g1 and g2 must differ (the slope is undefined); got {self.starts!r}")


def slope_copies(n: int):
    r"""The two copies of the §3.3 chain with fields named ``'g1'`` and ``'g2'``.

    Built from :func:`qnets.cli.qep_demo.exploration_chain` (output operator ``−X0 X4``),
    with the shared ``'g_zz'`` first, so the estimator's parameter order is
    :data:`PARAMS` = ``(g_zz, g1, g2)``.
    """
    from qnets.cli.qep_demo import exploration_chain
    from qnets.hamiltonians import SpinHamiltonian

    base = exploration_chain(n)
    copies = []
    for field_name in ("g1", "g2"):
        H = SpinHamiltonian(n)
        order = sorted(base.terms, key=lambda t: t.name != "g_zz")
        for t in order:
            name = field_name if t.name == "g_x" else t.name
            H.add(name, t.operator, role=t.role, value=t.value)
        copies.append(H)
    return copies


def _estimator(config):
    from qnets.ep import QuantumEP, SlopeLoss

    q = QuantumEP(slope_copies(config.n), SlopeLoss("g1", "g2"), beta=config.beta,
                  mode=config.mode, gap=False, warm_start=True)
    if tuple(q.param_names) != PARAMS:  # pragma: no cover - guards the copy construction
        raise ConfigError(f"unexpected parameter order {q.param_names}")
    return q


def _crossover(config, g_zz: float, near: float):
    """``⟨X0 X4⟩(g_X)`` at fixed ``g_ZZ`` and the steepest point nearest ``near``.

    Returns ``(fields, correlator, g_star, |slope(g_star)|)`` where ``g_star`` is the local
    maximum of ``|d⟨X0 X4⟩/dg_X|`` (grid derivative) closest to ``near`` (the pair's midpoint):
    the crossover flank the pair sits on.
    """
    from qnets.cli.qep_demo import exploration_chain
    from qnets.ep import NegAbsLoss, QuantumEP

    q = QuantumEP(exploration_chain(config.n), NegAbsLoss(), beta=1.0, gap=False, warm_start=True)
    fields = np.linspace(-config.curve_range, config.curve_range, config.curve_points)
    corr = np.array([-q.outputs(np.array([g, g_zz]))[0] for g in fields])
    slope = np.abs(np.gradient(corr, fields))
    peaks = [k for k in range(len(slope))
             if slope[k] >= slope[max(k - 1, 0)] and slope[k] >= slope[min(k + 1, len(slope) - 1)]]
    k = min(peaks, key=lambda k: abs(fields[k] - near))
    return fields, corr, float(fields[k]), float(slope[k])


@register(
    "qep-sensitivity",
    QepSensitivityConfig,
    "two-copy slope loss: QEP finds the steepest point of ⟨X0 X4⟩(g_X) (§3.4)",
)
def run_qep_sensitivity(config: QepSensitivityConfig, run_dir: Path, *, resume: bool = False,
                        progress: bool = True) -> dict:
    """Run every start; locate the crossover at the final ``g_ZZ``; write summary and figure."""
    from threadpoolctl import threadpool_limits

    run_dir = _open_run(run_dir, config)
    start = time.perf_counter()
    summaries, curves = [], []
    with threadpool_limits(config.threads):
        runs = _run_starts(config, run_dir, _estimator(config), config.starts, resume, progress,
                           label=lambda s: dict(zip(PARAMS, s)))
        for run in runs:
            slopes = [-v for v in run["loss"]]
            g_zz, g1, g2 = run["end"]
            fields, corr, g_star, best = _crossover(config, g_zz, 0.5 * (g1 + g2))
            curves.append((fields, corr))
            summaries.append({
                "start": dict(zip(PARAMS, run["start"])), "end": dict(zip(PARAMS, run["end"])),
                "slope": {str(i): slopes[i] for i in (0, 10, 20, 99) if i < config.iterations}
                | {"end": slopes[-1]},
                "x0x4_end": [-o for o in run["outputs"][-1]],
                "crossover_field": g_star, "crossover_slope": best,
                "pair_midpoint": 0.5 * (g1 + g2), "seconds": run["seconds"],
            })
    summary = {"experiment": "qep-sensitivity", "n": config.n, "runs": summaries,
               "seconds_this_call": time.perf_counter() - start}
    return _close_run(run_dir, summary, lambda: _figure(run_dir, config, runs, curves))


def _figure(run_dir: Path, config, runs, curves) -> str:
    from qnets.plotting.curves import _pyplot

    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
    for k, (run, (fields, corr)) in enumerate(zip(runs, curves)):
        th = np.array(run["theta"])
        c = f"C{k}"
        axes[0].plot(th[:, 0], c + ":", label=f"g_ZZ, start {k}")
        axes[0].plot(th[:, 1], c + "-", label=f"g_1, start {k}")
        axes[0].plot(th[:, 2], c + "--", label=f"g_2, start {k}")
        axes[1].plot([-v for v in run["loss"]], c + "-", label=f"start {run['start']}")
        g_zz, g1, g2 = run["end"]
        axes[2].plot(fields, corr, c + "-", label=f"g_ZZ = {g_zz:.2f} (end of start {k})")
        o1, o2 = (-o for o in run["outputs"][-1])
        axes[2].plot([g1, g2], [o1, o2], c + "o-", lw=2)
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("coupling")
    axes[0].legend(fontsize=6)
    axes[1].set_xlabel("iteration")
    axes[1].set_ylabel("slope |Δ⟨X0X4⟩| / |g1 − g2|")
    axes[1].legend(fontsize=7)
    axes[2].set_xlabel("g_X")
    axes[2].set_ylabel("⟨X0 X4⟩")
    axes[2].set_title("final pair (dots) on the correlator curve")
    axes[2].legend(fontsize=7)
    fig.suptitle(f"QEP sensitivity optimisation, open chain N = {config.n}")
    fig.savefig(run_dir / "sensitivity.png", dpi=150)
    plt.close(fig)
    return "sensitivity.png"
