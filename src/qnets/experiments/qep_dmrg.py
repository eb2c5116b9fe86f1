r"""Experiment ``qep-dmrg``: quantum EP on a 32-spin chain through DMRG (beyond exact diagonalisation).

The open cluster-Ising chain of spec ``qep.md`` §3.3 with a trainable field on every site,

.. math::

    H = -\Big(\sum_{j=0}^{n-1} g_{X,j} X_j + g_{ZZ} \sum_{j=0}^{n-2} Z_j Z_{j+1}
        + 0.5 \sum_{j=1}^{n-3} Z_j X_{j+1} Z_{j+2} + \nu X_a X_b\Big),

``n + 1`` trainable couplings (``g_x0 … g_x{n−1}``, ``g_zz``), output the bulk correlator
``X_a X_b`` (default ``a, b = 14, 18`` of ``n = 32``), loss ``L = −|⟨X_a X_b⟩|``. Every
equilibrium is a DMRG ground state (:func:`qnets.solvers.ground_state` with
``method='dmrg'``, quimb; nudged solves warm-started from the free MPS) — ``2^32``
amplitudes would not fit in memory.

1. **Gradient check** at ``θ_0`` (``g_X = field0`` everywhere, ``g_ZZ = g_zz0``, a gapped
   paramagnetic point): symmetric QEP for each ``β`` in ``check_betas`` (3 DMRG solves
   for all ``n + 1`` components) against central finite differences of the loss
   (``fd_h``) for the parameters in ``fd_params`` (2 solves each; all ``n + 1`` would
   cost ``2n + 2``).
2. **Training**: ``iterations`` normalised steps ``θ ← θ − lr · g/|g|`` with QEP gradients
   (``train_mode``, ``train_beta``).

Outputs: ``check.json`` (QEP gradients, FD components, relative errors, timings; reused
on ``--resume``), ``start_0.json`` (trajectory; per-iteration checkpoint), ``final.json``
and ``qep_dmrg.png`` (gradient profile vs FD; loss; final field profile).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qnets.errors import ConfigError
from qnets.experiments.qep_phase_exploration import (
    _close_run,
    _open_run,
    _run_starts,
    check_positive_ints,
)
from qnets.experiments.registry import register
from qnets.experiments.rundir import write_json

__all__ = ["QepDmrgConfig", "dmrg_chain", "run_qep_dmrg"]


@dataclass
class QepDmrgConfig:
    """Configuration of ``qep-dmrg`` (``--set key=value`` for every field)."""

    n: int = 32
    output_sites: list[int] = field(default_factory=lambda: [14, 18])
    field0: float = 0.8
    g_zz0: float = 0.3
    check_betas: list[float] = field(default_factory=lambda: [0.1, 0.01])
    fd_h: float = 1e-3
    fd_params: list[str] = field(default_factory=lambda: ["g_x0", "g_x14", "g_x16", "g_zz"])
    train_mode: str = "one_sided"
    train_beta: float = 0.1
    lr: float = 0.1
    iterations: int = 10
    bond_dims: list[int] = field(default_factory=lambda: [8, 16, 32])
    threads: int = 1

    def __post_init__(self):
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 4:
            raise ConfigError(f"n: expected an integer ≥ 4, got {self.n!r}")
        sites = self.output_sites
        if len(sites) != 2 or len(set(sites)) != 2 \
                or not all(isinstance(s, int) and 0 <= s < self.n for s in sites):
            raise ConfigError(f"output_sites: expected two different sites in 0 … {self.n - 1}, got {sites!r}")
        if not self.check_betas or any(not b > 0 for b in self.check_betas):
            raise ConfigError(f"check_betas: expected a non-empty list of positive numbers, got {self.check_betas!r}")
        for name in ("fd_h", "train_beta", "lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}: expected > 0, got {getattr(self, name)!r}")
        if self.train_mode not in ("one_sided", "symmetric", "random_sign"):
            raise ConfigError(f"train_mode: expected one_sided, symmetric or random_sign (DMRG has no "
                              f"linear-response mode), got {self.train_mode!r}")
        names = [f"g_x{j}" for j in range(self.n)] + ["g_zz"]
        bad = [p for p in self.fd_params if p not in names]
        if bad or not self.fd_params:
            raise ConfigError(f"fd_params: expected names among g_x0 … g_x{self.n - 1}, g_zz; got {self.fd_params!r}")
        if not self.bond_dims or any(not isinstance(d, int) or d < 1 for d in self.bond_dims):
            raise ConfigError(f"bond_dims: expected positive integers, got {self.bond_dims!r}")
        check_positive_ints(self, ("iterations", "threads"))


def dmrg_chain(n: int, a: int, b: int):
    """The open cluster-Ising chain with per-site trainable fields and output ``−X_a X_b``.

    Terms: fixed ``'zxz'`` (value 1, operator ``−0.5 Σ Z X Z``), trainable ``'g_x{j}'``
    (``−X_j``) and ``'g_zz'`` (``−Σ Z_j Z_{j+1}``), output ``'O'`` (``−X_a X_b``, so
    ``|⟨O⟩| = |⟨X_a X_b⟩|``).
    """
    from qnets.hamiltonians import SpinHamiltonian

    H = SpinHamiltonian(n)
    H.add("zxz", [(-0.5, f"Z{j} X{j + 1} Z{j + 2}") for j in range(1, n - 2)])
    for j in range(n):
        H.add(f"g_x{j}", [(-1.0, f"X{j}")], role="trainable")
    H.add("g_zz", [(-1.0, f"Z{j} Z{j + 1}") for j in range(n - 1)], role="trainable")
    H.add("O", [(-1.0, f"X{a} X{b}")], role="output")
    return H


def _estimator(config, beta: float, mode: str):
    from qnets.ep import NegAbsLoss, QuantumEP

    H = dmrg_chain(config.n, *config.output_sites)
    return QuantumEP(H, NegAbsLoss(), beta=beta, mode=mode, method="dmrg", gap=False,
                     warm_start=True, solver_options={"bond_dims": list(config.bond_dims)})


def _theta0(config) -> np.ndarray:
    return np.r_[np.full(config.n, config.field0), config.g_zz0]


def _gradient_check(config, path: Path, resume: bool, progress: bool) -> dict:
    """QEP (every ``check_betas``) vs central finite differences on ``fd_params``."""
    if resume and path.exists():
        return json.loads(path.read_text())
    theta = _theta0(config)
    out = {"theta0": {"field": config.field0, "g_zz": config.g_zz0}, "qep": []}
    for beta in config.check_betas:
        q = _estimator(config, beta, "symmetric")
        t0 = time.perf_counter()
        g, info = q.gradient(theta)
        out["qep"].append({"beta": beta, "grad": g.tolist(), "seconds": time.perf_counter() - t0,
                           "n_equilibria": info["n_equilibria"], "loss": info["loss"]})
    names = q.param_names
    idx = [names.index(p) for p in config.fd_params]
    t0 = time.perf_counter()
    fd = []
    for j in idx:
        step = np.zeros_like(theta)
        step[j] = config.fd_h
        fd.append((q.loss_value(theta + step) - q.loss_value(theta - step)) / (2 * config.fd_h))
    out["fd"] = {"params": list(config.fd_params), "h": config.fd_h, "grad": fd,
                 "seconds": time.perf_counter() - t0, "n_equilibria": 2 * len(idx)}
    fd = np.array(fd)
    for entry in out["qep"]:
        sub = np.array(entry["grad"])[idx]
        entry["rel_error_vs_fd"] = float(np.linalg.norm(sub - fd) / np.linalg.norm(fd))
        if progress:
            print(f"β = {entry['beta']}: QEP vs FD on {config.fd_params}: relative error "
                  f"{entry['rel_error_vs_fd']:.2e} ({entry['seconds']:.1f} s)", flush=True)
    free = q.systems[0].last_state
    out["max_bond"] = int(free.max_bond()) if free is not None else None
    write_json(path, out)
    return out


@register(
    "qep-dmrg",
    QepDmrgConfig,
    "QEP on a 32-spin cluster-Ising chain with DMRG equilibria; gradient vs finite differences",
)
def run_qep_dmrg(config: QepDmrgConfig, run_dir: Path, *, resume: bool = False,
                 progress: bool = True) -> dict:
    """Gradient check and a short training trajectory; summary and figure."""
    from threadpoolctl import threadpool_limits

    run_dir = _open_run(run_dir, config)
    start = time.perf_counter()
    with threadpool_limits(config.threads):
        check = _gradient_check(config, run_dir / "check.json", resume, progress)
        q = _estimator(config, config.train_beta, config.train_mode)
        run = _run_starts(config, run_dir, q, [_theta0(config).tolist()], resume, progress,
                          label=lambda s: f"g_X = {s[0]}, g_ZZ = {s[-1]}")[0]
    summary = {
        "experiment": "qep-dmrg", "n": config.n, "n_params": config.n + 1,
        "output": f"X{config.output_sites[0]} X{config.output_sites[1]}",
        "check": {"fd_params": check["fd"]["params"], "fd_grad": check["fd"]["grad"],
                  "fd_seconds": check["fd"]["seconds"], "max_bond": check["max_bond"],
                  "qep": [{k: e[k] for k in ("beta", "rel_error_vs_fd", "seconds", "n_equilibria")}
                          for e in check["qep"]]},
        "training": {"loss": {"0": run["loss"][0], "end": run["loss"][-1]},
                     "x_ab_end": -run["outputs"][-1][0],
                     "g_zz_end": run["end"][-1],
                     "field_end_min": min(run["end"][:-1]), "field_end_max": max(run["end"][:-1]),
                     "seconds": run["seconds"], "iterations": config.iterations},
        "seconds_this_call": time.perf_counter() - start,
    }
    return _close_run(run_dir, summary, lambda: _figure(run_dir, config, check, run))


def _figure(run_dir: Path, config, check, run) -> str:
    from qnets.plotting.curves import _pyplot

    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
    sites = np.arange(config.n)
    for k, entry in enumerate(check["qep"]):
        axes[0].plot(sites, entry["grad"][:-1], f"C{k}.-", label=f"QEP symmetric β = {entry['beta']}")
    fd_sites = [int(p[3:]) for p in check["fd"]["params"] if p.startswith("g_x")]
    fd_vals = [v for p, v in zip(check["fd"]["params"], check["fd"]["grad"]) if p.startswith("g_x")]
    axes[0].plot(fd_sites, fd_vals, "kx", ms=9, label=f"finite differences (h = {config.fd_h})")
    axes[0].set_xlabel("site j")
    axes[0].set_ylabel("∂L/∂g_X,j")
    axes[0].set_title(f"gradient at θ0, n = {config.n} (DMRG)")
    axes[0].legend(fontsize=7)
    axes[1].plot(run["loss"], "C3.-")
    axes[1].set_xlabel("iteration")
    axes[1].set_ylabel(f"L = −|⟨X{config.output_sites[0]} X{config.output_sites[1]}⟩|")
    th = np.array(run["theta"])
    axes[2].plot(sites, th[0, :-1], "k--", label="start")
    axes[2].plot(sites, th[-1, :-1], "C3.-", label=f"after {config.iterations} steps")
    for s in config.output_sites:
        axes[2].axvline(s, color="0.7", lw=0.8)
    axes[2].set_xlabel("site j")
    axes[2].set_ylabel("g_X,j")
    axes[2].set_title(f"g_ZZ: {th[0, -1]:.2f} → {th[-1, -1]:.2f}")
    axes[2].legend(fontsize=7)
    fig.savefig(run_dir / "qep_dmrg.png", dpi=150)
    plt.close(fig)
    return "qep_dmrg.png"
