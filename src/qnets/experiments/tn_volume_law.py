"""Experiment ``tn-volume-law``: entanglement capacity of information re-use (spec ``tn.md`` §1.7, §2.5).

For a subsystem A of growing size (a centred block of ℓ inputs in 1-D, a centred ℓ × ℓ
square in 2-D) it compares the **entanglement capacity** ``ln mincut_{A, Ā}`` (an upper
bound on the entanglement entropy of the coefficient tensor, and on ``ln`` of its Schmidt
rank; reached by the rank for generic weights in the ConvAC checks of spec §1.4) of

* an **MPS** of bond dimension χ (1-D chain; snake order in 2-D),
* a **tree** ConvAC (binary / 2 × 2 pooling) of width r,
* **overlapping** ConvACs (kernel K, stride 1, L layers, width r) — information re-use,
  analysed on the duplicated-input tensor network.

Area law: the MPS saturates at ``#cut bonds · ln χ``; the tree grows only with the
number of tree edges crossing the boundary.  Volume law: the overlapping network reaches
the maximal ``|A| ln M`` up to a block size set by its depth (≈ ``c·|∂A|·L·K`` inputs),
with parameters linear in L (``L·K^d·r²`` shared).  Parameter counts are reported for
each network; the volume law of an MPS needs χ ≥ M^{|A|/2}.

A small-N check builds the coefficient tensors (orthogonal random weights, well
conditioned) and reports the numerical Schmidt rank next to the min-cut.  Random weights
are no proxy for entropies (their spectra are extremely skewed, spec §2.5); capacities are
statements about the best weights.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qnets.errors import ConfigError
from qnets.experiments.config import config_to_dict
from qnets.experiments.registry import register
from qnets.experiments.rundir import environment_info, write_json, write_yaml

__all__ = ["TnVolumeLawConfig", "capacity_curves", "centred_block", "mps_mincut", "run_tn_volume_law"]


@dataclass
class TnVolumeLawConfig:
    """Configuration of ``tn-volume-law`` (every field can be set with ``--set key=value``).

    ``geometries``: subset of ``["1d", "2d"]``.  ``n_1d``: chain length (a power of 2);
    ``side_2d``: lattice side D (a power of 2).  ``in_features`` M, ``mps_bond`` χ,
    ``tree_width`` and ``overlap_width`` r, ``kernel`` K, ``layers_1d`` / ``layers_2d``: the
    depths L of the overlapping networks.  ``check_n``: chain length of the numerical rank
    check (M^check_n entries; 0 skips it), ``check_layers``: its overlapping depths.
    """

    geometries: list[str] = field(default_factory=lambda: ["1d", "2d"])
    n_1d: int = 32
    side_2d: int = 16
    in_features: int = 2
    mps_bond: int = 4
    tree_width: int = 4
    overlap_width: int = 4
    kernel: int = 2
    layers_1d: list[int] = field(default_factory=lambda: [2, 4, 8])
    layers_2d: list[int] = field(default_factory=lambda: [1, 2, 4])
    check_n: int = 16
    check_layers: list[int] = field(default_factory=lambda: [2, 4])
    seed: int = 0

    def __post_init__(self):
        for g in self.geometries:
            if g not in ("1d", "2d"):
                raise ConfigError(f"geometries: expected entries '1d' or '2d', got {g!r}")
        for name in ("n_1d", "side_2d"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 2 or value & (value - 1):
                raise ConfigError(f"{name}: expected a power of 2 ≥ 2, got {value!r}")
        for name in ("in_features", "mps_bond", "tree_width", "overlap_width", "kernel"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected an integer ≥ 1, got {value!r}")
        for name, limit in (("layers_1d", self.n_1d), ("layers_2d", self.side_2d)):
            for depth in getattr(self, name):
                if not isinstance(depth, int) or depth < 1 or depth * (self.kernel - 1) >= limit:
                    raise ConfigError(
                        f"{name}: depth {depth!r} must be ≥ 1 and leave at least one position "
                        f"(L·(K−1) < {limit})"
                    )
        if not isinstance(self.check_n, int) or self.check_n < 0 or self.check_n > 20:
            raise ConfigError(f"check_n: expected 0 (skip) or a chain length ≤ 20, got {self.check_n!r}")


def centred_block(size: int, side: int, geometry: str) -> tuple[list[int], list[int]]:
    """Partition (A, B): A = a centred block of ``size`` inputs (1-D) or ``size × size`` (2-D)."""
    if geometry == "1d":
        start = (side - size) // 2
        in_a = np.zeros(side, dtype=bool)
        in_a[start : start + size] = True
    else:
        start = (side - size) // 2
        grid = np.zeros((side, side), dtype=bool)
        grid[start : start + size, start : start + size] = True
        in_a = grid.ravel()
    idx = np.arange(in_a.size)
    return idx[in_a].tolist(), idx[~in_a].tolist()


def mps_mincut(partition, n_sites: int, bond: int, in_features: int, order=None) -> int:
    """Min-cut of an open-boundary MPS (bond χ, physical dimension M) across a partition.

    ``order``: the chain order of the inputs (default ``0 … N−1``; a snake for 2-D).
    """
    from qnets.tn.mincut import CutGraph, as_partition

    sides = as_partition(partition, n_sites)
    order = list(range(n_sites)) if order is None else list(order)
    graph = CutGraph()
    sites = [graph.add_node() for _ in order]
    for a, b in itertools.pairwise(sites):
        graph.add_edge(a, b, bond)
    for node, i in zip(sites, order):
        terminal = graph.add_node()
        graph.pin(terminal, int(sides[i]))
        graph.add_edge(node, terminal, in_features)
    return graph.mincut()


def _snake(side: int) -> list[int]:
    rows = [list(range(r * side, (r + 1) * side)) for r in range(side)]
    return [i for r, row in enumerate(rows) for i in (row if r % 2 == 0 else row[::-1])]


def _mps_parameters(n_sites: int, bond: int, m: int) -> int:
    dims = [1] + [bond] * (n_sites - 1) + [1]
    return sum(dims[i] * m * dims[i + 1] for i in range(n_sites))


def capacity_curves(config: TnVolumeLawConfig, geometry: str) -> dict:
    """Capacities ``ln mincut`` per subsystem size for every network of one geometry."""
    from qnets.tn import OverlappingConvAC, convac_num_parameters, mincut_bound

    m, r, k = config.in_features, config.overlap_width, config.kernel
    if geometry == "1d":
        side, n, sizes = config.n_1d, config.n_1d, list(range(1, config.n_1d // 2 + 1))
        depths, order = config.layers_1d, None
    else:
        side, n = config.side_2d, config.side_2d**2
        sizes, depths, order = list(range(1, config.side_2d // 2 + 1)), config.layers_2d, _snake(config.side_2d)
    tree_layers = round(math.log2(side))
    networks = {
        f"MPS χ={config.mps_bond}": {
            "parameters": _mps_parameters(n, config.mps_bond, m),
            "cut": lambda p: mps_mincut(p, n, config.mps_bond, m, order),
        },
        f"tree r={config.tree_width}": {
            "parameters": convac_num_parameters(n, m, [config.tree_width] * tree_layers, geometry),
            "cut": lambda p: mincut_bound([config.tree_width] * tree_layers, p, geometry, in_features=m),
        },
    }
    for depth in depths:
        model = OverlappingConvAC(n, m, [r] * depth, geometry, kernel=k)
        shared = OverlappingConvAC(n, m, [r] * depth, geometry, kernel=k, shared=True)
        networks[f"overlapping L={depth}"] = {
            "parameters": model.num_parameters(),
            "parameters_shared": shared.num_parameters(),
            "cut": lambda p, depth=depth: mincut_bound(
                [r] * depth, p, geometry, in_features=m, kernel=k, n_inputs=n
            ),
        }
    curves = {}
    for name, spec in networks.items():
        start = time.perf_counter()
        cuts = [spec["cut"](centred_block(s, side, geometry)) for s in sizes]
        curves[name] = {
            "parameters": spec["parameters"],
            **({"parameters_shared": spec["parameters_shared"]} if "parameters_shared" in spec else {}),
            "mincut": [int(c) for c in cuts],
            "capacity_nats": [math.log(c) for c in cuts],
            "seconds": time.perf_counter() - start,
        }
    volume = [len(centred_block(s, side, geometry)[0]) for s in sizes]
    return {
        "geometry": geometry,
        "n_inputs": n,
        "block_sizes": sizes,
        "subsystem_inputs": volume,
        "volume_law_nats": [v * math.log(m) for v in volume],
        "networks": curves,
    }


def _rank_check(config: TnVolumeLawConfig) -> dict:
    """Numerical Schmidt ranks (orthogonal random weights) vs min-cuts, 1-D, N = check_n."""
    from qnets.tn import ConvAC, OverlappingConvAC, matricization_rank, mincut_bound

    n, m, r = config.check_n, config.in_features, config.overlap_width
    sizes = list(range(1, n // 2 + 1))
    models = {f"overlapping L={d}": OverlappingConvAC(n, m, [r] * d, kernel=config.kernel, init="orthogonal",
                                                     seed=config.seed) for d in config.check_layers}
    if n & (n - 1) == 0:
        layers = round(math.log2(n))
        models[f"tree r={config.tree_width}"] = ConvAC(n, m, [config.tree_width] * layers, init="orthogonal",
                                                       seed=config.seed)
    out = {}
    for name, model in models.items():
        tensor = model.coefficient_tensor()
        ranks, cuts = [], []
        for s in sizes:
            partition = centred_block(s, n, "1d")
            ranks.append(matricization_rank(tensor, partition))
            cuts.append(mincut_bound(model, partition))
        out[name] = {"rank": ranks, "mincut": cuts}
    return {"n_inputs": n, "block_sizes": sizes, "models": out}


def _plot(curves: list[dict], run_dir: Path) -> None:
    from qnets.plotting import save_figure
    from qnets.plotting.curves import _pyplot

    plt = _pyplot()
    _fig, axes = plt.subplots(1, len(curves), figsize=(5.6 * len(curves), 4.2), squeeze=False)
    for ax, data in zip(axes[0], curves):
        x = data["subsystem_inputs"]
        ax.plot(x, data["volume_law_nats"], "k:", lw=1, label="volume law |A| ln M")
        for i, (name, curve) in enumerate(data["networks"].items()):
            params = f"{curve['parameters']} params"
            if "parameters_shared" in curve:
                params += f", {curve['parameters_shared']} shared"
            style = "--s" if name.startswith("MPS") else "-o"
            ax.plot(x, curve["capacity_nats"], f"C{i}{style}", ms=4 if style == "--s" else 3, label=f"{name} ({params})")
        ax.set_xlabel("subsystem size |A| (inputs)")
        ax.set_ylabel("capacity ln min-cut (nats)")
        ax.set_title(f"{data['geometry']}: N = {data['n_inputs']} inputs")
        ax.legend(fontsize=7, loc="upper left")
    save_figure(axes[0][0], run_dir / "capacity_vs_subsystem.png")


@register(
    "tn-volume-law",
    TnVolumeLawConfig,
    "Entanglement capacity vs subsystem size: overlapping (duplicated-input) ConvACs vs tree and MPS",
)
def run_tn_volume_law(config: TnVolumeLawConfig, run_dir: Path, *, resume: bool = False, progress: bool = True) -> dict:
    """Compute the capacity curves (and the small rank check); write ``final.json`` and the figure."""
    del resume  # deterministic and short
    run_dir = Path(run_dir)
    write_yaml(run_dir / "config.yaml", config_to_dict(config))
    write_json(run_dir / "environment.json", environment_info())
    start = time.perf_counter()
    curves = []
    for geometry in config.geometries:
        data = capacity_curves(config, geometry)
        curves.append(data)
        if progress:
            for name, curve in data["networks"].items():
                bits = [round(c / math.log(config.in_features), 1) for c in curve["capacity_nats"]]
                print(f"{geometry} {name:18s} params {curve['parameters']:7d}  capacity/ln M {bits}", flush=True)
    result = {"experiment": "tn-volume-law", "curves": curves}
    if config.check_n:
        result["rank_check"] = _rank_check(config)
        if progress:
            for name, row in result["rank_check"]["models"].items():
                print(f"check N={config.check_n} {name}: rank {row['rank']} min-cut {row['mincut']}", flush=True)
    result["seconds_total"] = time.perf_counter() - start
    write_json(run_dir / "final.json", result)
    try:
        _plot(curves, run_dir)
    except ImportError as error:  # matplotlib is an optional extra
        import warnings

        warnings.warn(f"capacity_vs_subsystem.png not written: {error}", stacklevel=2)
    return result
