"""Experiment ``tn-born-bas``: MPS Born machines on bars-and-stripes vs the optimum ln(#patterns).

The data distribution is uniform over the ``2^R + 2^C - 2`` bars-and-stripes patterns, so
the best possible NLL is ``ln(#patterns)``. A Born machine reaches it exactly iff its MPS
can represent a state ``ψ`` with ``|ψ(x)|² = 1/#patterns`` on the patterns and 0 elsewhere;
for real amplitudes ``ψ(x) = ±1/√#patterns``, so the smallest sufficient bond dimension is
the minimum over sign assignments of the maximal Schmidt rank across the chain's cuts.
The experiment computes the ranks of the uniform-sign target state, that minimum (by
enumeration when there are ≤ 16 patterns), trains Born machines at several bond
dimensions and records NLL curves, gaps and their entanglement profiles.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from qnets.errors import ConfigError
from qnets.experiments.config import config_to_dict
from qnets.experiments.registry import register
from qnets.experiments.rundir import environment_info, write_json, write_yaml

__all__ = ["TnBornBasConfig", "min_signed_max_rank", "run_tn_born_bas", "schmidt_ranks"]

_RANK_TOL = 1e-10
_MAX_SIGN_ENUMERATION = 16


@dataclass
class TnBornBasConfig:
    """Configuration of ``tn-born-bas``.

    ``rows``, ``cols``: grid (pixels flattened row-major along the chain); ``bond_dims``:
    bond dimensions to train; ``steps``, ``lr``: full-batch Adam; ``init_std``: noise of
    the identity initialisation; ``seeds``: restarts per bond dimension (the best final
    NLL is reported); ``threads``: torch CPU threads.
    """

    rows: int = 3
    cols: int = 3
    bond_dims: list[int] = field(default_factory=lambda: [2, 4, 6, 7, 8, 10])
    steps: int = 400
    lr: float = 0.05
    init_std: float = 0.1
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    threads: int | None = 1

    def __post_init__(self):
        for name in ("rows", "cols", "steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected an integer >= 1, got {value!r}")
        if not self.bond_dims or any(
            isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in self.bond_dims
        ):
            raise ConfigError(f"bond_dims: expected a non-empty list of ints >= 1, got {self.bond_dims!r}")
        if not self.seeds:
            raise ConfigError(f"seeds: expected a non-empty list of ints, got {self.seeds!r}")


def _target_state(patterns: np.ndarray, signs: np.ndarray | None = None) -> np.ndarray:
    n = patterns.shape[1]
    psi = np.zeros(2**n)
    index = patterns.astype(np.int64) @ (2 ** np.arange(n - 1, -1, -1))
    psi[index] = (np.ones(len(patterns)) if signs is None else signs) / math.sqrt(len(patterns))
    return psi


def schmidt_ranks(psi: np.ndarray, n_sites: int) -> list[int]:
    """Numerical Schmidt rank of a qubit state at every contiguous cut (``n_sites - 1`` ints)."""
    ranks = []
    for k in range(1, n_sites):
        s = np.linalg.svd(psi.reshape(2**k, -1), compute_uv=False)
        ranks.append(int((s > _RANK_TOL * s[0]).sum()))
    return ranks


def min_signed_max_rank(patterns: np.ndarray) -> int | None:
    """``min`` over sign assignments ``ψ(x) = ±1`` of the maximal Schmidt rank (≤ 16 patterns).

    The global sign is fixed, so ``2^(#patterns - 1)`` assignments are enumerated; ``None``
    when there are more than 16 patterns.
    """
    if len(patterns) > _MAX_SIGN_ENUMERATION:
        return None
    n = patterns.shape[1]
    best = None
    for bits in itertools.product((1.0, -1.0), repeat=len(patterns) - 1):
        worst = max(schmidt_ranks(_target_state(patterns, np.array((1.0, *bits))), n))
        best = worst if best is None else min(best, worst)
    return best


@register("tn-born-bas", TnBornBasConfig, "MPS Born machine on bars-and-stripes: NLL vs ln(#patterns) and the bond dimension needed")
def run_tn_born_bas(config: TnBornBasConfig, run_dir: Path, *, resume: bool = False, progress: bool = True) -> dict:
    """Train Born machines at each bond dimension; write ``final.json`` and ``nll.png``."""
    from qnets.data import bars_and_stripes
    from qnets.tn import MPSBornMachine, entanglement_profile

    if config.threads:
        torch.set_num_threads(int(config.threads))
    run_dir = Path(run_dir)
    write_yaml(run_dir / "config.yaml", config_to_dict(config))
    write_json(run_dir / "environment.json", environment_info())
    patterns = bars_and_stripes(config.rows, config.cols)
    n = config.rows * config.cols
    optimum = math.log(len(patterns))
    target_ranks = schmidt_ranks(_target_state(patterns), n)
    max_rank = max(target_ranks)
    signed = min_signed_max_rank(patterns)
    data = torch.as_tensor(patterns).long()
    runs, curves = [], {}
    for chi in config.bond_dims:
        best = None
        for seed in config.seeds:
            start = time.perf_counter()
            model = MPSBornMachine(n, chi, init_std=config.init_std, seed=seed)
            history = model.fit(data, steps=config.steps, lr=config.lr)
            nll = model.nll(data).item()
            record = {
                "bond_dim": chi,
                "seed": seed,
                "final_nll": nll,
                "gap": nll - optimum,
                "seconds": time.perf_counter() - start,
                "max_entropy": float(entanglement_profile(model).entropies.max()),
            }
            if best is None or nll < best[0]["final_nll"]:
                best = (record, history)
        runs.append(best[0])
        curves[chi] = best[1] + [best[0]["final_nll"]]
        if progress:
            print(
                f"χ = {chi:3d}: NLL {best[0]['final_nll']:.4f} (gap {best[0]['gap']:.4f}), "
                f"max entropy {best[0]['max_entropy']:.3f} nats",
                flush=True,
            )
    result = {
        "experiment": "tn-born-bas",
        "grid": [config.rows, config.cols],
        "n_patterns": len(patterns),
        "optimum_nll": optimum,
        "target_schmidt_ranks": target_ranks,
        "target_max_rank": max_rank,
        "target_max_entropy": float(
            max(-np.sum(p * np.log(p)) for p in _cut_spectra(_target_state(patterns), n))
        ),
        "min_signed_max_rank": signed,
        "runs": runs,
        "below_rank_gaps": {r["bond_dim"]: r["gap"] for r in runs if r["bond_dim"] < (signed or max_rank)},
        "at_or_above_rank_gaps": {r["bond_dim"]: r["gap"] for r in runs if r["bond_dim"] >= (signed or max_rank)},
    }
    write_json(run_dir / "final.json", result)
    write_json(run_dir / "curves.json", {str(k): v for k, v in curves.items()})
    try:
        from qnets.plotting import save_figure
        from qnets.plotting.tn import plot_born_nll

        title = f"MPS Born machine, bars and stripes {config.rows}×{config.cols}"
        ax = plot_born_nll(curves, optimum, max_rank=signed or max_rank, title=title)
        save_figure(ax, run_dir / "nll.png")
    except ImportError as error:  # matplotlib is an optional extra
        import warnings

        warnings.warn(f"nll.png not written: {error}", stacklevel=2)
    return result


def _cut_spectra(psi: np.ndarray, n: int) -> list[np.ndarray]:
    out = []
    for k in range(1, n):
        s = np.linalg.svd(psi.reshape(2**k, -1), compute_uv=False)
        p = s**2 / np.sum(s**2)
        out.append(p[p > 0])
    return out
