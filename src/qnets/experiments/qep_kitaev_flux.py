r"""Experiment ``qep-kitaev-flux``: QEP drives a Kitaev honeycomb towards maximal plaquette flux.

Spec ``qep.md`` §3.5 / target T5. Periodic brick-wall honeycomb of ``Ly`` × ``Lx`` spins
(paper: 2 × 8 = 16) with a [111] field that breaks integrability,

.. math::

    H = J_x \sum_{x} X_iX_j + J_y \sum_{y} Y_iY_j + J_z \sum_{z} Z_iZ_j
        + h \sum_j (X_j + Y_j + Z_j) + \nu W_p ,

with the simplex constraint ``J_z = 1 − J_x − J_y`` built into the operators: the
trainable terms are ``A_x = H_x − H_z`` and ``A_y = H_y − H_z`` and ``H_z`` is a fixed term
(``qnets.hamiltonians.kitaev_honeycomb`` supplies ``H_x, H_y, H_z`` and the field;
``plaquette_operator`` the flux ``W_p = XYZXYZ`` of hexagon ``plaquette``). Loss
``L = −|⟨W_p⟩|``; one-sided QEP with ``β`` = 0.01; normalised steps ``lr`` = 0.01;
40 iterations from the three gapped corners ``(J_x, J_y)`` = (1/6, 1/6), (2/3, 1/6),
(1/6, 2/3).

Also: the phase-diagram sweep of ``⟨W_p⟩`` over the simplex on a grid of step
``sweep_step`` (``null`` skips it) and the nudge-size study — the same descent from
``nudge_start`` for each ``β`` in ``nudge_betas`` (empty skips it).

Outputs: ``start_<i>.json`` / ``nudge_<k>_0.json`` (trajectories; skipped on ``--resume``),
``sweep.csv`` (points computed so far kept in ``sweep_partial/`` for ``--resume``;
``workers`` > 1 spreads them over a process pool), ``final.json`` (end points ``(J_x, J_y, J_z)``, final ``|⟨W_p⟩|``, sweep
maximum / minimum and where they lie, nudge-study end points and their spread) and
``kitaev_flux.png``. The 16-spin model is complex (the field has ``Y``) with ``2^16``
amplitudes: each gradient costs two sparse Lanczos solves (≈ 10–40 s on a shared CPU).
"""

from __future__ import annotations

import functools
import shutil
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

__all__ = ["QepKitaevFluxConfig", "kitaev_flux_hamiltonian", "run_qep_kitaev_flux"]


@dataclass
class QepKitaevFluxConfig:
    """Configuration of ``qep-kitaev-flux`` (``--set key=value`` for every field).

    ``starts`` and ``nudge_start`` are ``(J_x, J_y)`` pairs; ``J_z = 1 − J_x − J_y``.
    """

    Lx: int = 8
    Ly: int = 2
    h: float = 0.1
    plaquette: int = 0
    beta: float = 0.01
    mode: str = "one_sided"
    lr: float = 0.01
    iterations: int = 40
    starts: list[list[float]] = field(
        default_factory=lambda: [[1 / 6, 1 / 6], [2 / 3, 1 / 6], [1 / 6, 2 / 3]])
    sweep_step: float | None = 0.05
    nudge_start: list[float] = field(default_factory=lambda: [0.25, 0.144])
    nudge_betas: list[float] = field(default_factory=lambda: [0.001, 0.01, 0.1, 0.5])
    threads: int = 1
    workers: int = 1

    def __post_init__(self):
        for name in ("Lx", "Ly"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 2 or value % 2:
                raise ConfigError(f"{name}: expected an even integer ≥ 2, got {value!r}")
        if self.Lx < 4:
            raise ConfigError(f"Lx: a hexagon spans 3 columns, expected Lx ≥ 4, got {self.Lx!r}")
        for name in ("beta", "lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}: expected > 0, got {getattr(self, name)!r}")
        if self.mode not in ("one_sided", "symmetric", "random_sign", "linear_response"):
            raise ConfigError(f"mode: expected a QuantumEP mode, got {self.mode!r}")
        if self.sweep_step is not None and not 0 < self.sweep_step <= 0.5:
            raise ConfigError(f"sweep_step: expected a number in (0, 0.5] or null, got {self.sweep_step!r}")
        if any(not b > 0 for b in self.nudge_betas):
            raise ConfigError(f"nudge_betas: expected positive numbers, got {self.nudge_betas!r}")
        check_positive_ints(self, ("iterations", "threads", "workers"))
        _check_starts(self.starts, 2)
        _check_starts([self.nudge_start], 2, "nudge_start")


def kitaev_flux_hamiltonian(Lx: int, Ly: int, *, h: float = 0.1, plaquette: int = 0):
    r"""Kitaev honeycomb on the ``J_x + J_y + J_z = 1`` simplex with a flux output.

    Terms: fixed ``'Hz'`` (value 1), trainable ``'Jx'`` (operator ``H_x − H_z``) and
    ``'Jy'`` (``H_y − H_z``), fixed ``'h'`` (value ``h``, operator ``Σ_j X_j + Y_j + Z_j``)
    and output ``'W'`` (the plaquette operator of hexagon ``plaquette``). So
    ``H(J_x, J_y) = J_x H_x + J_y H_y + (1 − J_x − J_y) H_z + h Σ (X + Y + Z)``.
    """
    from qnets.hamiltonians import SpinHamiltonian, kitaev_honeycomb, plaquette_operator

    base = kitaev_honeycomb(Lx, Ly, h=h, roles={"h": "fixed"})
    hx, hy, hz, fld = (base.term(n).operator for n in ("Jx", "Jy", "Jz", "h"))
    H = SpinHamiltonian(Lx * Ly)
    H.add("Hz", hz, value=1.0)
    H.add("Jx", hx - hz, role="trainable")
    H.add("Jy", hy - hz, role="trainable")
    H.add("h", fld, value=h)
    H.add("W", plaquette_operator(Lx, Ly, plaquette), role="output")
    return H


def _estimator(config, beta):
    from qnets.ep import NegAbsLoss, QuantumEP

    H = kitaev_flux_hamiltonian(config.Lx, config.Ly, h=config.h, plaquette=config.plaquette)
    return QuantumEP(H, NegAbsLoss(), beta=beta, mode=config.mode, gap=False, warm_start=True)


def _sweep(config, path: Path, resume: bool, progress: bool) -> np.ndarray:
    """Rows ``(J_x, J_y, J_z, ⟨W_p⟩)`` on the simplex grid (``sweep.csv``).

    The points go through :func:`qnets.parallel.map_grid` (``workers`` processes, serial for
    one), with partial results in ``sweep_partial/`` so that ``--resume`` computes only the
    missing points.
    """
    from qnets.parallel import map_grid

    if resume and path.exists():
        return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    k = round(1 / config.sweep_step)
    points = [(i / k, j / k) for i in range(k + 1) for j in range(k + 1 - i)]
    partial = path.parent / "sweep_partial"
    if not resume and partial.exists():
        shutil.rmtree(partial)
    flux = functools.partial(_flux_at, Lx=config.Lx, Ly=config.Ly, h=config.h,
                             plaquette=config.plaquette)
    values = map_grid(flux, points, backend="process" if config.workers > 1 else "serial",
                      workers=config.workers, threads_per_worker=config.threads,
                      checkpoint_dir=partial, checkpoint_every=30.0, retries=0, progress=progress)
    rows = np.array([(jx, jy, 1 - jx - jy, w) for (jx, jy), w in zip(points, values)])
    np.savetxt(path, rows, delimiter=",", header="Jx,Jy,Jz,W", comments="")
    shutil.rmtree(partial, ignore_errors=True)
    return rows


@functools.lru_cache(maxsize=2)
def _flux_estimator(Lx: int, Ly: int, h: float, plaquette: int):
    """One estimator per lattice and process, reused by every sweep point (no warm start, so
    a point's value does not depend on which points its process solved before)."""
    from qnets.ep import NegAbsLoss, QuantumEP

    H = kitaev_flux_hamiltonian(Lx, Ly, h=h, plaquette=plaquette)
    return QuantumEP(H, NegAbsLoss(), gap=False)


def _flux_at(point, *, Lx: int, Ly: int, h: float, plaquette: int) -> float:
    """Free-state ``⟨W_p⟩`` at ``point = (J_x, J_y)`` (one sweep point)."""
    q = _flux_estimator(Lx, Ly, h, plaquette)
    return float(q.outputs(np.asarray(point, dtype=float))[0])


def _point(theta) -> dict:
    jx, jy = theta
    return {"Jx": jx, "Jy": jy, "Jz": 1 - jx - jy}


@register(
    "qep-kitaev-flux",
    QepKitaevFluxConfig,
    "unsupervised QEP maximises the plaquette flux |⟨W_p⟩| of a Kitaev honeycomb in a [111] field (§3.5)",
)
def run_qep_kitaev_flux(config: QepKitaevFluxConfig, run_dir: Path, *, resume: bool = False,
                        progress: bool = True) -> dict:
    """Corner starts, simplex sweep and nudge-size study; summary and figure."""
    from threadpoolctl import threadpool_limits

    run_dir = _open_run(run_dir, config)
    start = time.perf_counter()
    with threadpool_limits(config.threads):
        runs = _run_starts(config, run_dir, _estimator(config, config.beta), config.starts,
                           resume, progress)
        nudge_runs = []
        for i, beta in enumerate(config.nudge_betas):
            nudge_runs += _run_starts(config, run_dir, _estimator(config, beta),
                                      [config.nudge_start], resume, progress,
                                      prefix=f"nudge_{i}", label=lambda s, b=beta: f"{s}, β = {b}")
        sweep = None if config.sweep_step is None else \
            _sweep(config, run_dir / "sweep.csv", resume, progress)
    summary = {
        "experiment": "qep-kitaev-flux", "lattice": [config.Ly, config.Lx], "h": config.h,
        "runs": [{"start": _point(r["start"]), "end": _point(r["end"]),
                  "abs_W": {"start": abs(r["outputs"][0][0]), "end": abs(r["outputs"][-1][0])},
                  "seconds": r["seconds"]} for r in runs],
    }
    if nudge_runs:
        ends = np.array([r["end"] for r in nudge_runs])
        summary["nudge_study"] = {
            "start": _point(config.nudge_start),
            "runs": [{"beta": b, "end": _point(r["end"]), "abs_W_end": abs(r["outputs"][-1][0])}
                     for b, r in zip(config.nudge_betas, nudge_runs)],
            "end_spread": float(np.max(np.linalg.norm(ends - ends.mean(0), axis=1))),
        }
    if sweep is not None:
        kmax, kmin = int(np.argmax(sweep[:, 3])), int(np.argmin(sweep[:, 3]))
        summary["sweep"] = {"points": len(sweep),
                            "max": {"W": sweep[kmax, 3], **_point(sweep[kmax, :2])},
                            "min": {"W": sweep[kmin, 3], **_point(sweep[kmin, :2])}}
    summary["seconds_this_call"] = time.perf_counter() - start
    return _close_run(run_dir, summary, lambda: _figure(run_dir, config, runs, nudge_runs, sweep))


def _simplex_xy(jx, jy):
    """Barycentric ``(J_x, J_y, J_z)`` → plane: ``J_x`` corner at (1, 0), ``J_y`` at (½, √3/2)."""
    jx, jy = np.asarray(jx), np.asarray(jy)
    return jx + 0.5 * jy, np.sqrt(3) / 2 * jy


def _figure(run_dir: Path, config, runs, nudge_runs, sweep) -> str:
    from qnets.plotting.curves import _pyplot

    plt = _pyplot()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    if sweep is not None:
        sc = ax.scatter(*_simplex_xy(sweep[:, 0], sweep[:, 1]), c=sweep[:, 3], cmap="RdBu_r",
                        vmin=-1, vmax=1, s=40, marker="h")
        fig.colorbar(sc, ax=ax, label="⟨W_p⟩")
    ax.plot([0, 1, 0.5, 0], [0, 0, np.sqrt(3) / 2, 0], "k-", lw=0.8)
    for k, r in enumerate(runs):
        th = np.array(r["theta"])
        ax.plot(*_simplex_xy(th[:, 0], th[:, 1]), f"C{k + 2}.-", ms=3, label=f"corner {k}")
        ax.plot(*_simplex_xy(*th[0]), f"C{k + 2}o")
        ax2.plot([abs(o[0]) for o in r["outputs"]], f"C{k + 2}-", label=f"corner {k}")
    for k, (b, r) in enumerate(zip(config.nudge_betas, nudge_runs)):
        th = np.array(r["theta"])
        ax.plot(*_simplex_xy(th[:, 0], th[:, 1]), "k" + ("-", ":", "--", "-.")[k % 4], lw=1, label=f"β = {b}")
        ax2.plot([abs(o[0]) for o in r["outputs"]], "k" + ("-", ":", "--", "-.")[k % 4], lw=1, label=f"β = {b}")
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(f"Kitaev {config.Ly}×{config.Lx}, h = {config.h}: J_z (0,0), J_x (1,0), J_y (top)",
                 fontsize=9)
    ax.legend(fontsize=6, loc="upper right")
    ax2.set_xlabel("iteration")
    ax2.set_ylabel("|⟨W_p⟩|")
    ax2.legend(fontsize=7)
    fig.savefig(run_dir / "kitaev_flux.png", dpi=150)
    plt.close(fig)
    return "kitaev_flux.png"
