"""Experiment ``tn-inductive-bias``: local vs global dependencies, wide-base vs wide-tip ConvACs.

The CI-sized analogue (spec ``tn.md`` §1.6, §4.2 T8) of the ICLR 2018 width experiment.
N = 8 tokens over M = 4 symbols, binary-tree ConvAC, unshared 1 × 1 weights.

* **local** task: positives have every adjacent pair equal, ``t_{2i} = t_{2i+1}``;
  negatives change one token of one pair.  The label function
  ``∏_i [t_{2i} = t_{2i+1}]`` has rank ``M^4 = 256`` across the odd/even partition.
* **global** task: positives have ``t_q ≡ t_{q+4} (mod 2)`` for q ∈ {0, 2}; negatives
  flip the parity of one of the two.  ``∏_q [t_q ≡ t_{q+4}]`` has rank 4 across the
  left/right partition.

Families: wide-base (channels shrink with depth) and wide-tip (channels grow).  The min-cut
of each architecture across the task's partition is its rank ceiling: wide-base (4, 2, 2)
has left/right capacity ``min(r_2, r_1, r_0²) = 2 < 4`` (it can model one parity link: test
accuracy ≤ 1/2 + 1/4 = 0.75); wide-tip (2, 4, 4) has odd/even capacity
``min(M, r_0)^4 = 16 < 256``.  Training: Adam, MSE to the 0/1 label, threshold 0.5,
best of ``seeds`` (selected by training accuracy; test accuracy reported).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from qnets.errors import ConfigError
from qnets.experiments.config import config_to_dict
from qnets.experiments.registry import register
from qnets.experiments.rundir import environment_info, write_json, write_yaml

__all__ = [
    "TnInductiveBiasConfig",
    "eckart_young_floor",
    "label_tensor",
    "make_dependency_task",
    "regression_target",
    "run_tn_inductive_bias",
]

TASKS = ("local", "global")
#: The partition whose rank each task needs.
TASK_PARTITION = {"local": "odd-even", "global": "left-right"}


@dataclass
class TnInductiveBiasConfig:
    """Configuration of ``tn-inductive-bias`` (every field can be set with ``--set key=value``).

    ``tasks``: classification tasks (balanced positives / one-defect negatives);
    ``regression_tasks``: the same label functions regressed on uniformly random tokens,
    scored by the fraction of variance unexplained over all ``M^8`` inputs against the
    Eckart–Young floor of the architecture's min-cut.
    ``wide_base`` / ``wide_tip``: lists of width triples (one ConvAC per entry, ascending
    size).  ``n_train`` / ``n_test`` samples per task (balanced), ``steps`` Adam steps of
    ``batch_size`` samples at learning rate ``lr``, ``seeds`` training seeds per
    architecture and task (best by training accuracy is reported), ``data_seed`` seed of the
    data sets, ``init`` ConvAC initialisation, ``threads`` torch CPU threads.
    """

    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    regression_tasks: list[str] = field(default_factory=lambda: list(TASKS))
    wide_base: list[list[int]] = field(default_factory=lambda: [[4, 2, 2], [8, 4, 4]])
    wide_tip: list[list[int]] = field(default_factory=lambda: [[2, 4, 4], [4, 8, 8]])
    n_inputs: int = 8
    in_features: int = 4
    n_train: int = 4000
    n_test: int = 2000
    steps: int = 1500
    batch_size: int = 256
    lr: float = 1e-2
    seeds: int = 3
    data_seed: int = 0
    init: str = "normal"
    threads: int | None = 1

    def __post_init__(self):
        for name in ("tasks", "regression_tasks"):
            for task in getattr(self, name):
                if task not in TASKS:
                    raise ConfigError(f"{name}: expected entries from {TASKS}, got {task!r}")
        if self.n_inputs != 8:
            raise ConfigError(f"n_inputs: the local/global tasks are defined for 8 tokens, got {self.n_inputs}")
        if not isinstance(self.in_features, int) or self.in_features < 2 or self.in_features % 2:
            raise ConfigError(f"in_features: expected an even integer ≥ 2 (parities), got {self.in_features!r}")
        for name in ("wide_base", "wide_tip"):
            family = getattr(self, name)
            if not isinstance(family, list) or not all(
                isinstance(w, (list, tuple)) and len(w) == 3 and all(isinstance(v, int) and v >= 1 for v in w)
                for w in family
            ):
                raise ConfigError(f"{name}: expected a list of width triples of integers ≥ 1, got {family!r}")
        for name in ("n_train", "n_test", "steps", "batch_size", "seeds"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (2 if name in ("n_train", "n_test") else 1):
                raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
        if not self.lr > 0:
            raise ConfigError(f"lr: expected a positive learning rate, got {self.lr!r}")


def make_dependency_task(
    task: str, n_samples: int, in_features: int = 4, *, seed: int | np.random.Generator = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A balanced local or global dependency data set of 8-token sequences.

    Parameters
    ----------
    task : {"local", "global"}
        See the module docstring.
    n_samples : int
        Number of samples (half positive, shuffled).
    in_features : int
        Alphabet size M (even).
    seed : int or numpy.random.Generator

    Returns
    -------
    tokens : torch.Tensor
        ``(n_samples, 8)`` int64 in ``[0, M)``.
    labels : torch.Tensor
        ``(n_samples,)`` float64, 1 for positives and 0 for negatives.
    """
    if task not in TASKS:
        raise ConfigError(f"task: expected one of {TASKS}, got {task!r}")
    rng = np.random.default_rng(seed)
    m = int(in_features)
    t = rng.integers(0, m, size=(n_samples, 8))
    negative = np.arange(n_samples) >= n_samples // 2
    rows = np.flatnonzero(negative)
    if task == "local":
        t[:, 1::2] = t[:, 0::2]
        pair = rng.integers(0, 4, size=n_samples)[rows]
        shift = rng.integers(1, m, size=n_samples)[rows]
        t[rows, 2 * pair + 1] = (t[rows, 2 * pair] + shift) % m
    else:
        for q in (0, 2):
            t[:, q + 4] = (t[:, q + 4] & ~1) | (t[:, q] & 1)
        q = rng.choice([0, 2], size=n_samples)[rows]
        t[rows, q + 4] ^= 1
    perm = rng.permutation(n_samples)
    return torch.as_tensor(t[perm]), torch.as_tensor((~negative[perm]).astype(np.float64))


def label_tensor(task: str, in_features: int = 4) -> np.ndarray:
    """The task's label function on all ``M^8`` token sequences, shape ``(M,) * 8``."""
    m = int(in_features)
    grids = np.meshgrid(*([np.arange(m)] * 8), indexing="ij", sparse=True)
    if task == "local":
        value = np.ones((1,) * 8, dtype=bool)
        for i in range(4):
            value = value & (grids[2 * i] == grids[2 * i + 1])
    elif task == "global":
        value = ((grids[0] - grids[4]) % 2 == 0) & ((grids[2] - grids[6]) % 2 == 0)
    else:
        raise ConfigError(f"task: expected one of {TASKS}, got {task!r}")
    return np.broadcast_to(value, (m,) * 8).astype(np.float64)


def eckart_young_floor(target: np.ndarray, partition, rank: int) -> float:
    """Least fraction of variance unexplained by any function of Schmidt rank ≤ ``rank``.

    Over the uniform distribution on all inputs, ``MSE(h) = ‖A_h − F‖²_F / M^N`` and
    ``rank ⟦A_h⟧_{A,B} ≤ rank`` give ``MSE ≥ Σ_{k > rank} σ_k² / M^N`` (Eckart–Young, σ the
    singular values of ``⟦F⟧_{A,B}``); returned divided by ``Var F``.
    """
    from qnets.tn import matricization

    sigma = np.linalg.svd(matricization(target, partition), compute_uv=False)
    return float((sigma[rank:] ** 2).sum() / target.size / target.var())


def _spectrum(tensor: np.ndarray, partition) -> tuple[int, float]:
    """(numerical rank, von Neumann entropy in nats) of the normalised matricization."""
    from qnets.tn import matricization, matricization_rank

    sigma = np.linalg.svd(matricization(tensor, partition), compute_uv=False)
    p = sigma**2 / (sigma**2).sum()
    p = p[p > 0]
    return matricization_rank(tensor, partition), float(-(p * np.log(p)).sum())


def _train_one(widths, task, seed, data, config, *, target: np.ndarray, partition) -> dict:
    from qnets.tn import ConvAC

    (x_train, y_train), (x_test, y_test) = data
    model = ConvAC(config.n_inputs, config.in_features, widths, init=config.init, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(config.steps):
        batch = torch.randint(0, len(x_train), (config.batch_size,), generator=generator)
        loss = ((model(x_train[batch])[:, 0] - y_train[batch]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        train_out = model(x_train)[:, 0]
        test_out = model(x_test)[:, 0]
        coefficients = model.coefficient_tensor().numpy()
    rank, entropy = _spectrum(coefficients, partition)
    return {
        "widths": list(widths),
        "task": task,
        "seed": seed,
        "train_loss": float(((train_out - y_train) ** 2).mean()),
        "train_accuracy": float(((train_out > 0.5).double() == y_train).double().mean()),
        "test_accuracy": float(((test_out > 0.5).double() == y_test).double().mean()),
        "test_mse": float(((test_out - y_test) ** 2).mean()),
        "fvu_all_inputs": float(((coefficients - target) ** 2).mean() / target.var()),
        "trained_rank": rank,
        "trained_entropy": entropy,
        "num_parameters": model.num_parameters(),
        "seconds": time.perf_counter() - start,
    }


def regression_target(task: str, in_features: int = 4) -> np.ndarray:
    """Dense regression targets on all ``M^8`` inputs, shape ``(M,) * 8``.

    ``local``: ``∏_i ([t_{2i} = t_{2i+1}] − 1/M) / ((M−1)/M²)²`` — zero mean, unit variance, each factor of rank M − 1
    across its pair, so rank ``(M − 1)^4`` (81 for M = 4) across odd/even.
    ``global``: the classification label ``[t_0 ≡ t_4][t_2 ≡ t_6]`` (mod 2), rank 4 across
    left/right.  Unlike threshold classification (which a rank-2 function can solve for both
    tasks, see the tests), the error of any model on these targets is bounded below by the
    Eckart–Young floor of its min-cut.
    """
    if task == "global":
        return label_tensor("global", in_features)
    if task != "local":
        raise ConfigError(f"task: expected one of {TASKS}, got {task!r}")
    m = int(in_features)
    grids = np.meshgrid(*([np.arange(m)] * 8), indexing="ij", sparse=True)
    value = np.ones((1,) * 8)
    for i in range(4):
        value = value * ((grids[2 * i] == grids[2 * i + 1]) - 1.0 / m)
    std = ((m - 1) / m**2) ** 2  # E[g²] = (M − 1)/M² per pair factor
    return np.broadcast_to(value / std, (m,) * 8).astype(np.float64)


def _uniform_task(task: str, n_samples: int, target: np.ndarray, seed) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, target.shape[0], size=(n_samples, 8))
    return torch.as_tensor(tokens), torch.as_tensor(target[tuple(tokens.T)])


def _plot(results: list[dict], run_dir: Path) -> None:
    from qnets.plotting import save_figure
    from qnets.plotting.curves import _pyplot

    plt = _pyplot()
    modes = [m for m in ("classification", "regression") if any(r["mode"] == m for r in results)]
    tasks = [t for t in TASKS if any(r["task"] == t for r in results)]
    _, axes = plt.subplots(len(modes), len(tasks), figsize=(5.4 * len(tasks), 4 * len(modes)), squeeze=False)
    for (row, mode), (col, task) in itertools.product(enumerate(modes), enumerate(tasks)):
        ax = axes[row][col]
        key = "test_accuracy" if mode == "classification" else "fvu_all_inputs"
        for family, style in (("wide-base", "C0-o"), ("wide-tip", "C3-s")):
            rows = sorted((r for r in results if r["family"] == family and r["task"] == task and r["mode"] == mode),
                          key=lambda r: r["num_parameters"])
            ax.plot([r["num_parameters"] for r in rows], [r[key] for r in rows], style, label=family)
            for r in rows:
                note = f"{tuple(r['widths'])}\ncut {r['mincut']}/{r['required_rank']}"
                if mode == "regression":
                    ax.plot(r["num_parameters"], r["fvu_floor"], "k_", ms=14)
                ax.annotate(note, (r["num_parameters"], r[key]), fontsize=7, textcoords="offset points",
                            xytext=(4, -14 if family == "wide-tip" else 4))
        ax.set_title(f"{task} {mode} (partition {TASK_PARTITION[task]})", fontsize=9)
        ax.set_xlabel("parameters")
        if mode == "classification":
            ax.axhline(0.75, color="grey", lw=0.8, ls=":")
            ax.set_ylabel("test accuracy (best of seeds)")
            ax.set_ylim(0.45, 1.03)
        else:
            ax.set_ylabel("variance unexplained, all inputs (— : min-cut floor)")
            ax.set_ylim(-0.03, 1.05)
        ax.legend(fontsize=8, loc="center right")
    save_figure(axes[0][0], run_dir / "accuracy_vs_parameters.png")


@register(
    "tn-inductive-bias",
    TnInductiveBiasConfig,
    "Local vs global dependencies: wide-base vs wide-tip ConvACs and their min-cut caps (CI-sized ICLR 2018)",
)
def run_tn_inductive_bias(
    config: TnInductiveBiasConfig, run_dir: Path, *, resume: bool = False, progress: bool = True
) -> dict:
    """Train every architecture on every task; write metrics, ``final.json`` and the figure."""
    import json

    from qnets.tn import canonical_partition, matricization_rank, mincut_bound

    del resume  # each run is short; a rerun starts over
    if config.threads:
        torch.set_num_threads(int(config.threads))
    run_dir = Path(run_dir)
    write_yaml(run_dir / "config.yaml", config_to_dict(config))
    write_json(run_dir / "environment.json", environment_info())
    m, n = config.in_features, config.n_inputs
    tasks = sorted(set(config.tasks) | set(config.regression_tasks))
    partitions = {task: canonical_partition(TASK_PARTITION[task], n) for task in tasks}
    targets = {("classification", t): label_tensor(t, m) for t in config.tasks}
    targets |= {("regression", t): regression_target(t, m) for t in config.regression_tasks}
    required = {key: matricization_rank(value, partitions[key[1]]) for key, value in targets.items()}
    jobs = []  # (mode, task, data)
    for task in config.tasks:  # data seeds depend on the task's name, not on its list position
        k = TASKS.index(task)
        data = (
            make_dependency_task(task, config.n_train, m, seed=[config.data_seed, k, 0]),
            make_dependency_task(task, config.n_test, m, seed=[config.data_seed, k, 1]),
        )
        jobs.append(("classification", task, data))
    for task in config.regression_tasks:
        k = TASKS.index(task)
        data = (
            _uniform_task(task, config.n_train, targets["regression", task], [config.data_seed, k, 2]),
            _uniform_task(task, config.n_test, targets["regression", task], [config.data_seed, k, 3]),
        )
        jobs.append(("regression", task, data))
    architectures = [("wide-base", tuple(w)) for w in config.wide_base] + [
        ("wide-tip", tuple(w)) for w in config.wide_tip
    ]
    results = []
    start = time.perf_counter()
    with open(run_dir / "metrics.jsonl", "w") as metrics:
        for family, widths in architectures:
            for mode, task, data in jobs:
                runs = [
                    _train_one(widths, task, seed, data, config, target=targets[mode, task],
                               partition=partitions[task])
                    for seed in range(config.seeds)
                ]
                for record in runs:
                    metrics.write(json.dumps({"family": family, "mode": mode, **record}) + "\n")
                    metrics.flush()
                best = max(runs, key=lambda r: (r["train_accuracy"], -r["train_loss"]) if mode == "classification"
                           else (-r["train_loss"],))
                cut = mincut_bound(widths, partitions[task], in_features=m)
                row = {
                    "family": family,
                    "widths": list(widths),
                    "mode": mode,
                    "task": task,
                    "partition": TASK_PARTITION[task],
                    "num_parameters": best["num_parameters"],
                    "mincut": cut,
                    "required_rank": required[mode, task],
                    "capped": cut < required[mode, task],
                    "trained_rank": best["trained_rank"],
                    "trained_entropy": best["trained_entropy"],
                    "ln_mincut": float(np.log(cut)),
                    "fvu_all_inputs": best["fvu_all_inputs"],
                    "fvu_floor": eckart_young_floor(targets[mode, task], partitions[task], cut),
                    "test_accuracy": best["test_accuracy"],
                    "train_accuracy": best["train_accuracy"],
                    "test_mse": best["test_mse"],
                    "all_seeds": {key: [r[key] for r in runs] for key in ("test_accuracy", "fvu_all_inputs")},
                    "seconds": sum(r["seconds"] for r in runs),
                }
                results.append(row)
                if progress:
                    print(
                        f"{family:9s} {widths!s:10s} {task:6s} {mode:14s} params {row['num_parameters']:4d} "
                        f"cut {cut:4d}/{row['required_rank']:<4d} rank {row['trained_rank']:4d} "
                        f"S {row['trained_entropy']:.2f}/{row['ln_mincut']:.2f}  test acc {row['test_accuracy']:.3f} "
                        f"FVU {row['fvu_all_inputs']:.3f} (floor {row['fvu_floor']:.3f}) "
                        f"seeds {row['all_seeds']['test_accuracy']}",
                        flush=True,
                    )
    result = {
        "experiment": "tn-inductive-bias",
        "required_rank": {f"{mode}/{task}": rank for (mode, task), rank in required.items()},
        "results": results,
        "seconds_total": time.perf_counter() - start,
    }
    write_json(run_dir / "final.json", result)
    try:
        _plot(results, run_dir)
    except ImportError as error:  # matplotlib is an optional extra
        import warnings

        warnings.warn(f"accuracy_vs_parameters.png not written: {error}", stacklevel=2)
    return result
