r"""Experiment ``qep-phase-sensor``: a 2-qubit sensor learns cluster-Ising phases by QEP.

Spec ``qep.md`` §3.1 / target T2: cluster-Ising ring (``n_sys`` = 8) + sensor qubits A, B
in the joint ground state; 51 trainable couplings (``couplings='xyz'``; ``'xz'`` = 39,
``'z'`` = 27); outputs the Z-basis projectors ``P++, P+−, P−−``; MSE towards the one-hot
phase; symmetric nudging β = 0.4; Gaussian shot noise with ``shots`` = 10 per measured
expectation (``shots: null`` = exact); Adam 0.01, batch 10, 5000 batches; soft coupling
cutoff ``0.02 · Σ max(|θ| − 0.1, 0)`` on the 36 system–sensor couplings (``cutoff``).
Paper (30 runs): max-choice ≈ 0.94, single-shot ≈ 0.86; XZ ≈ 0.95; Z-only ≈ 0.61 (fails);
patches ≈ 0.93.

One training per seed in ``seeds``; every ``eval_every`` batches the exact outputs on
``n_test`` fixed test points give max-choice and single-shot accuracy (``metrics.jsonl``).
Outputs: ``final.json`` (per-seed final accuracies, mean / min / max, θ), ``seed_<s>.json``
(finished seeds are skipped on ``--resume``; a seed in progress resumes from
``seed_<s>.ckpt.json``, written every ``eval_every`` batches), ``training_curve.png`` and
``triangle_map.png`` (the three output probabilities over the input triangle for the last
seed). ``workers`` > 1 trains that many seeds at once in a process pool
(:func:`qnets.parallel.map_grid`), each with ``threads`` BLAS threads. CI size:
``--set n_sys=4 --set n_batches=500 --set shots=null``.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qnets.errors import ConfigError
from qnets.experiments.config import config_to_dict
from qnets.experiments.registry import register
from qnets.experiments.rundir import environment_info, write_json, write_yaml

__all__ = ["QepPhaseSensorConfig", "build_sensor_estimator", "run_qep_phase_sensor"]

_COUPLINGS = ("xyz", "xz", "z")


@dataclass
class QepPhaseSensorConfig:
    """Configuration of ``qep-phase-sensor`` (``--set key=value`` for every field)."""

    n_sys: int = 8
    couplings: str = "xyz"
    beta: float = 0.4
    mode: str = "symmetric"
    shots: int | None = 10
    cutoff: bool = True
    cutoff_strength: float = 0.02
    cutoff_bound: float = 0.1
    lr: float = 0.01
    batch_size: int = 10
    n_batches: int = 5000
    patches: bool = False
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    n_test: int = 200
    test_seed: int = 12345
    eval_every: int = 50
    map_points: int = 20
    threads: int = 1
    workers: int = 1

    def __post_init__(self):
        if self.couplings not in _COUPLINGS:
            raise ConfigError(f"couplings: expected one of {_COUPLINGS}, got {self.couplings!r}")
        if not isinstance(self.n_sys, int) or self.n_sys < 3:
            raise ConfigError(f"n_sys: expected an integer ≥ 3, got {self.n_sys!r}")
        if not self.beta > 0:
            raise ConfigError(f"beta: expected > 0, got {self.beta!r}")
        if self.shots is not None and (not isinstance(self.shots, int) or self.shots < 1):
            raise ConfigError(f"shots: expected a positive integer or null, got {self.shots!r}")
        for name in ("batch_size", "n_batches", "n_test", "map_points", "threads", "workers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
        if not isinstance(self.eval_every, int) or self.eval_every < 0:
            raise ConfigError(f"eval_every: expected an integer ≥ 0, got {self.eval_every!r}")
        if not self.seeds or not all(isinstance(s, int) and not isinstance(s, bool)
                                     for s in self.seeds):
            raise ConfigError(f"seeds: expected a non-empty list of integers, got {self.seeds!r}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds: expected distinct seeds, got {self.seeds!r}")


def build_sensor_estimator(config: QepPhaseSensorConfig, seed: int):
    """``(QuantumEP, hamiltonian)`` for one seed (shot noise seeded by ``seed``)."""
    from qnets.ep import HingePenalty, QuantumEP
    from qnets.hamiltonians import cluster_ising_sensor

    H = cluster_ising_sensor(config.n_sys, couplings=config.couplings)
    penalty = None
    if config.cutoff:
        names = [n for n in H.names("trainable") if n.startswith("c_")]
        penalty = HingePenalty(config.cutoff_strength, config.cutoff_bound, names=names)
    q = QuantumEP(H, "mse", beta=config.beta, mode=config.mode,
                  measurement=None if config.shots is None else "gaussian", shots=config.shots,
                  penalty=penalty, seed=seed + 7919, gap=False)
    return q, H


def _triangle_grid(points: int) -> np.ndarray:
    """Points (g_zxz, g_zz, g_x) on a regular grid of the simplex (sum 4), interior only."""
    out = []
    for i in range(points + 1):
        for j in range(points + 1 - i):
            gx, gzz = 4 * (i + 1 / 3) / (points + 1), 4 * (j + 1 / 3) / (points + 1)
            if gx + gzz < 4:
                out.append((4 - gx - gzz, gzz, gx))
    return np.array(out)


@register(
    "qep-phase-sensor",
    QepPhaseSensorConfig,
    "QEP-trained 2-qubit sensor classifies cluster-Ising phases (Wanjura & Marquardt §3.1)",
)
def run_qep_phase_sensor(config: QepPhaseSensorConfig, run_dir: Path, *, resume: bool = False,
                         progress: bool = True) -> dict:
    """Train one sensor per seed; write metrics, per-seed results, summary and figures."""
    from qnets.ep.phase_sensor import sample_triangle

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_yaml(run_dir / "config.yaml", config_to_dict(config))
    write_json(run_dir / "environment.json", environment_info())
    test_x = sample_triangle(config.n_test, np.random.default_rng(config.test_seed))
    metrics = run_dir / "metrics.jsonl"
    if not resume:
        for stale in [metrics, *(run_dir / f"seed_{s}.ckpt.json" for s in config.seeds)]:
            stale.unlink(missing_ok=True)
    start = time.perf_counter()
    finished = {}
    for seed in config.seeds:
        seed_file = run_dir / f"seed_{seed}.json"
        if resume and seed_file.exists():
            finished[seed] = json.loads(seed_file.read_text())
    todo = [s for s in config.seeds if s not in finished]
    job = functools.partial(_train_seed, config=config, run_dir=run_dir, test_x=test_x,
                            progress=progress)
    if config.workers > 1 and len(todo) > 1:
        from qnets.parallel import map_grid

        results = map_grid(job, todo, backend="process", workers=min(config.workers, len(todo)),
                           threads_per_worker=config.threads, chunksize=1, retries=0,
                           progress=False)
    else:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(config.threads):
            results = [job(seed) for seed in todo]
    finished.update(zip(todo, results))
    runs = [finished[seed] for seed in config.seeds]
    max_choice = np.array([r["max_choice"] for r in runs])
    single = np.array([r["single_shot"] for r in runs])
    summary = {
        "experiment": "qep-phase-sensor",
        "couplings": config.couplings,
        "n_sys": config.n_sys,
        "n_params": len(runs[-1]["theta"]),
        "seeds": [r["seed"] for r in runs],
        "max_choice": max_choice.tolist(),
        "single_shot": single.tolist(),
        "max_choice_mean": float(max_choice.mean()),
        "max_choice_min": float(max_choice.min()),
        "max_choice_max": float(max_choice.max()),
        "single_shot_mean": float(single.mean()),
        "seconds_per_run": float(np.mean([r["seconds"] for r in runs])),
        "seconds_this_call": time.perf_counter() - start,
        "paper": {"xyz": [0.938, 0.859], "xz": [0.946, 0.868], "z": [0.612, 0.573],
                  "patches": [0.934, 0.865]},
    }
    try:
        summary["figures"] = _figures(run_dir, config, runs)
    except ImportError as error:  # matplotlib is an optional extra
        summary["figures"] = f"not written: {error}"
    write_json(run_dir / "final.json", summary)
    return summary


def _train_seed(seed: int, *, config: QepPhaseSensorConfig, run_dir: Path, test_x,
                progress: bool) -> dict:
    """Train (or finish) one seed; write ``seed_<s>.json`` and drop its checkpoint."""
    from qnets.ep.phase_sensor import sensor_theta0, train_phase_sensor

    q, _ = build_sensor_estimator(config, seed)
    metrics = run_dir / "metrics.jsonl"
    checkpoint = run_dir / f"seed_{seed}.ckpt.json"

    def log(record):
        with metrics.open("a") as fh:  # one short line per append: safe across workers
            fh.write(json.dumps({"seed": seed, **record}) + "\n")
        if progress:
            print(f"seed {seed} batch {record['batch']}: max-choice "
                  f"{record.get('max_choice')}, single-shot "
                  f"{record.get('single_shot', float('nan')):.3f}", flush=True)

    result = train_phase_sensor(
        q, sensor_theta0(q.param_names, seed), n_batches=config.n_batches,
        batch_size=config.batch_size, lr=config.lr, seed=seed, patches=config.patches,
        test_x=test_x, eval_every=config.eval_every, callback=log, checkpoint=checkpoint)
    run = {"seed": seed, **result["final"], "seconds": result["seconds"],
           "resumed_from": result["resumed_from"],
           "theta": dict(zip(q.param_names, map(float, result["theta"]))),
           "history": result["history"]}
    write_json(run_dir / f"seed_{seed}.json", run)
    checkpoint.unlink(missing_ok=True)
    return run


def _figures(run_dir: Path, config, runs) -> list[str]:
    from matplotlib.patches import Rectangle

    from qnets.ep.phase_sensor import PATCH_CENTRES, PATCH_WIDTH
    from qnets.plotting.curves import _pyplot, save_figure

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for r in runs:
        batches = [h["batch"] for h in r["history"]]
        ax.plot(batches, [h["max_choice"] for h in r["history"]], "C0-", alpha=0.6)
        ax.plot(batches, [h["single_shot"] for h in r["history"]], "C1-", alpha=0.6)
    ax.plot([], [], "C0-", label="max-choice")
    ax.plot([], [], "C1-", label="single-shot")
    ax.set_xlabel("batch")
    ax.set_ylabel("test accuracy")
    trained_on = ", trained on patches" if config.patches else ""
    ax.set_title(f"QEP phase sensor ({config.couplings}, N_sys = {config.n_sys}{trained_on})")
    ax.legend()
    save_figure(ax, run_dir / "training_curve.png")

    q, _ = build_sensor_estimator(config, runs[-1]["seed"])
    theta = np.array([runs[-1]["theta"][n] for n in q.param_names])
    grid = _triangle_grid(config.map_points)
    probs = np.stack([q.outputs(theta, x) for x in grid])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), constrained_layout=True)
    for k, (ax, name) in enumerate(zip(axes, ("P++ (I, cluster)", "P+− (II, ferro)",
                                              "P−− (III, para)"))):
        sc = ax.scatter(grid[:, 2], grid[:, 1], c=probs[:, k], vmin=0, vmax=1, s=18, cmap="viridis")
        ax.plot([0, 4, 0, 0], [0, 0, 4, 0], "k-", lw=0.8)
        ax.plot([0, 2], [2, 2], "w--", lw=0.8)
        ax.plot([2, 1], [0, 2], "w--", lw=0.8)
        if config.patches:  # the training squares
            for gx, gzz in PATCH_CENTRES:
                corner = (gx - PATCH_WIDTH / 2, gzz - PATCH_WIDTH / 2)
                ax.add_patch(Rectangle(corner, PATCH_WIDTH, PATCH_WIDTH, fill=False, ec="r", lw=1.0))
        ax.set_xlabel("g_X")
        ax.set_ylabel("g_ZZ")
        ax.set_title(name)
        ax.set_aspect("equal")
    fig.colorbar(sc, ax=list(axes), shrink=0.8)
    fig.savefig(run_dir / "triangle_map.png", dpi=150)
    plt.close(fig)
    np.savetxt(run_dir / "triangle_map.csv", np.hstack([grid, probs]), delimiter=",",
               header="g_zxz,g_zz,g_x,P++,P+-,P--", comments="")
    return ["training_curve.png", "triangle_map.png"]
