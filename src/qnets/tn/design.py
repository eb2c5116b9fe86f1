"""Width design for ConvACs: the smallest layer widths whose min-cuts model given partitions.

Spec ``tn.md`` §1.5.  Channel counts control a ConvAC's inductive bias through the min-cuts
of §1.4: the rank a ConvAC can reach across a partition (A, B) is its min-cut, so a task
that needs rank ``t`` across (A, B) needs ``mincut_{A,B}(r_0 … r_{L-1}) ≥ t``.  Interleaved
partitions (odd/even; short-range dependencies) are cut near the leaves and need wide
**early** layers; coarse partitions (left/right; long-range dependencies) are cut near the
root and need wide **deep** layers.

The planner (§1.5 recipe) minimises the parameter count

    P(r) = Σ_l N_l · r_{l-1} · r_l + r_{L-1} · Y      (unshared; shared: Σ_l r_{l-1} r_l + r_{L-1} Y)

(``N_l`` input positions of layer l, ``r_{-1} = M``) subject to ``mincut_{A_k,B_k}(r) ≥ t_k``
for every requirement k, with each ``r_l`` from a candidate set (powers of two by default).
Widths above ``max_k t_k`` never help (a cut through such an edge already costs more than
every target), so candidates stop at the first one ≥ ``max_k t_k``.  Search: best-first over
the candidate lattice in order of P (P grows strictly with every width), so the first
feasible point popped is a global minimum; each feasibility test is the §1.4 tree DP.

An entanglement estimate S (nats) of the data across a partition translates to the target
rank ``t = ⌈e^S⌉``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qnets.errors import ConfigError, SizeLimitError
from qnets.tn.convac import _build_layers, _grid_shape, _per_layer
from qnets.tn.mincut import _tree_dp, as_partition, canonical_partition

__all__ = ["WidthDesign", "convac_num_parameters", "design_widths"]

_MAX_STATES = 500_000


@dataclass(frozen=True)
class WidthDesign:
    """Result of :func:`design_widths`.

    Attributes
    ----------
    widths : tuple of int
        ``(r_0, …, r_{L-1})``.
    num_parameters : int
        Parameter count of the ConvAC with these widths.
    mincuts : tuple of int
        Min-cut of each requirement's partition at these widths.
    targets : tuple of int
        The required ranks, in the order given.
    """

    widths: tuple[int, ...]
    num_parameters: int
    mincuts: tuple[int, ...]
    targets: tuple[int, ...]


def _layer_positions(layers) -> list[int]:
    return [int(layer.index.size) for layer in layers]


def _count(positions: Sequence[int], in_features: int, widths: Sequence[int], n_outputs: int, shared: bool) -> int:
    total, fan_in = 0, in_features
    for n_pos, width in zip(positions, widths):
        total += (1 if shared else n_pos) * fan_in * width
        fan_in = width
    return total + fan_in * n_outputs


def convac_num_parameters(
    n_inputs: int,
    in_features: int,
    widths: Sequence[int],
    geometry: str = "1d",
    *,
    pooling: int | Sequence[int] = 2,
    n_outputs: int = 1,
    shared: bool = False,
) -> int:
    """Parameter count of ``ConvAC(n_inputs, in_features, widths, geometry, pooling, …)``.

    ``Σ_l N_l r_{l-1} r_l + r_{L-1}·Y`` (unshared) or ``Σ_l r_{l-1} r_l + r_{L-1}·Y`` (shared),
    without building the model.
    """
    windows = _per_layer("pooling", pooling, len(widths))
    layers = _build_layers(int(n_inputs), geometry, windows, windows, "widths")
    return _count(_layer_positions(layers), int(in_features), widths, int(n_outputs), shared)


def _requirements(requirements, n_inputs: int, geometry: str) -> list[tuple[str, np.ndarray, int]]:
    items = list(requirements.items()) if isinstance(requirements, Mapping) else requirements
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or len(items) == 0:
        raise ConfigError(
            f"requirements: expected a non-empty list of (partition, target_rank) pairs or a "
            f"mapping partition name → target rank, got {requirements!r}"
        )
    parsed = []
    for k, item in enumerate(items):
        if not isinstance(item, Sequence) or len(item) != 2:
            raise ConfigError(f"requirements[{k}]: expected a (partition, target_rank) pair, got {item!r}")
        partition, target = item
        label = partition if isinstance(partition, str) else f"requirements[{k}]"
        if isinstance(partition, str):
            partition = canonical_partition(partition, n_inputs, geometry)
        sides = as_partition(partition, n_inputs, name=f"requirements[{k}] partition")
        if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or target < 1:
            raise ConfigError(f"requirements[{k}]: target rank must be an integer ≥ 1, got {target!r}")
        parsed.append((label, sides, int(target)))
    return parsed


def design_widths(
    requirements,
    n_inputs: int,
    in_features: int,
    geometry: str = "1d",
    *,
    pooling: int | Sequence[int] = 2,
    n_outputs: int = 1,
    shared: bool = False,
    candidates: Sequence[int] | None = None,
) -> WidthDesign:
    """Fewest-parameter ConvAC widths whose min-cuts reach the required ranks.

    Parameters
    ----------
    requirements : sequence of (partition, int) or mapping
        ``(partition, target_rank)`` pairs; a partition is ``(A, B)`` or a name of
        :func:`~qnets.tn.mincut.canonical_partition` (``"odd-even"``, ``"left-right"`` …).
    n_inputs, in_features : int
        N inputs, representation size M.
    geometry : {"1d", "2d"}
    pooling : int or sequence of int
        Pooling windows; the number of layers L follows from N.
    n_outputs : int
        Number of outputs Y (enters the parameter count).
    shared : bool
        Count shared (convolutional) weights instead of locally connected ones.
    candidates : sequence of int, optional
        Allowed widths (default: powers of two up to the first ≥ the largest target).

    Returns
    -------
    WidthDesign
        Widths, parameter count and the min-cut of every requirement.

    Raises
    ------
    ConfigError
        A requirement no widths can meet (e.g. a target above ``M^{min(|A|, |B|)}``); the
        message gives the largest reachable rank.

    Examples
    --------
    >>> design_widths({"left-right": 4}, 8, 4).widths      # long-range: wide deep layers
    (2, 4, 4)
    >>> design_widths({"odd-even": 256}, 8, 4).widths      # short-range: wide first layer
    (4, 1, 1)
    """
    n_inputs = int(n_inputs)
    if isinstance(in_features, bool) or not isinstance(in_features, (int, np.integer)) or in_features < 1:
        raise ConfigError(f"in_features: expected an integer ≥ 1, got {in_features!r}")
    side = _grid_shape(n_inputs, geometry)[0]
    if isinstance(pooling, (int, np.integer)) and not isinstance(pooling, bool):
        if pooling < 2:
            raise ConfigError(f"pooling: expected an integer window ≥ 2, got {pooling!r}")
        n_layers = round(math.log(side, pooling))
        if pooling**n_layers != side:
            raise ConfigError(
                f"n_inputs: {n_inputs} inputs in geometry {geometry!r} are not a tree of pooling "
                f"windows {pooling} (need {'N' if geometry == '1d' else 'sqrt(N)'} = {pooling}^L)"
            )
    else:
        n_layers = len(pooling)
    windows = _per_layer("pooling", pooling, n_layers)
    if math.prod(windows) != side:
        raise ConfigError(f"pooling: windows {windows} do not multiply to {side} (inputs per dimension)")
    layers = _build_layers(n_inputs, geometry, windows, windows, "pooling")
    reqs = _requirements(requirements, n_inputs, geometry)
    top = max(t for _, _, t in reqs)
    if candidates is None:
        values = [1]
        while values[-1] < top:
            values.append(values[-1] * 2)
    else:
        if isinstance(candidates, (str, bytes)) or not isinstance(candidates, Sequence) or not candidates:
            raise ConfigError(f"candidates: expected a non-empty list of widths ≥ 1, got {candidates!r}")
        for c in candidates:
            if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1:
                raise ConfigError(f"candidates: expected integers ≥ 1, got {c!r}")
        values = sorted({int(c) for c in candidates})
        # keep candidates up to the first one ≥ the largest target (larger never helps)
        cut = next((i for i, c in enumerate(values) if c >= top), len(values) - 1)
        values = values[: cut + 1]

    def cuts(widths) -> list[int]:
        return [_tree_dp(layers, widths, in_features, sides) for _, sides, _ in reqs]

    widest = (values[-1],) * n_layers
    for (label, _, target), value in zip(reqs, cuts(widest)):
        if value < target:
            raise ConfigError(
                f"requirements: partition {label!r} needs rank {target}, but the largest min-cut any "
                f"widths ≤ {values[-1]} reach is {value} (M = {in_features}; at most "
                f"M^min(|A|,|B|)); lower the target or allow wider candidates"
            )
    positions = _layer_positions(layers)

    def params(index) -> int:
        return _count(positions, in_features, [values[i] for i in index], n_outputs, shared)

    start = (0,) * n_layers
    heap = [(params(start), start)]
    seen = {start}
    while heap:
        cost, index = heapq.heappop(heap)
        widths = tuple(values[i] for i in index)
        reached = cuts(widths)
        if all(v >= t for v, (_, _, t) in zip(reached, reqs)):
            return WidthDesign(widths, cost, tuple(reached), tuple(t for _, _, t in reqs))
        for layer in range(n_layers):
            if index[layer] + 1 < len(values):
                nxt = index[:layer] + (index[layer] + 1,) + index[layer + 1 :]
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (params(nxt), nxt))
        if len(seen) > _MAX_STATES:
            raise SizeLimitError(
                f"design_widths: more than {_MAX_STATES} width combinations explored; give fewer "
                f"candidates or fewer layers"
            )
    raise AssertionError("unreachable: the widest candidate is feasible")  # pragma: no cover
