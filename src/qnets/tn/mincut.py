"""Min-cut rank bounds and numerical matricization ranks of ConvAC coefficient tensors.

For a partition (A, B) of the N inputs the matricization ``⟦𝒜⟧_{A,B}`` (A-modes as rows,
B-modes as columns) of the coefficient tensor of any tensor network obeys

    rank ⟦𝒜⟧_{A,B}  ≤  min over cuts C separating A-legs from B-legs of  ∏_{e ∈ C} dim(e)

(spec ``tn.md`` §1.4).  For a ConvAC, with Gaussian random weights, equality holds
generically (measured in every trial of the spec; tests T1/T2).

**Pooling nodes are hyperedges.**  Product pooling is a δ (copy) tensor; every non-trivial
matricization of a δ tensor of dimension r has rank exactly r, so a cut passing *through*
a δ costs r **once**, however its legs split.  Treating δ as an ordinary node (every
crossing leg costs r) is also a valid bound but over-counts in 2-D (4 × 4 inputs, M = 2,
r = (2, 2), checkerboard: hyperedge min-cut 16 = rank, node semantics 256).

Algorithms
----------
* ``method="dp"`` (ConvAC trees, hyperedge semantics): the bottom-up dynamic programme of
  spec §1.4 with exact Python integers, O(N·window).
* ``method="maxflow"`` (any network, :class:`CutGraph`): s–t max-flow (Dinic) on
  capacities ``ln dim``.  A hyperedge ``e`` of dimension r on members ``S_e`` becomes the
  gadget ``n → e_in`` (∞), ``e_in → e_out`` (ln r), ``e_out → n`` (∞) for ``n ∈ S_e``
  (Lawler), which makes the directed s–t min-cut equal the hypergraph min-cut.  The
  returned value is the exact integer product of the dimensions of the cut found.
* Duplicated inputs (overlapping windows, spec §2.5): every re-use of a vector gets its own
  copy of the sub-network below it; all copies of input i hang on one hyperedge of
  dimension M with input i's terminal (the one-hot copy tensor, exact for discrete inputs),
  pinned to i's side.

``matricization_rank`` builds the coefficient tensor by contracting the network (small N)
and counts singular values ``σ > σ_max · max(shape) · eps`` (≈ 1e-13 relative in float64;
a 1e-10 threshold under-counts random ConvAC spectra, spec §1.4).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np
import torch

from qnets.errors import ConfigError, NumericalError, ShapeError
from qnets.tn.convac import _build_layers, _per_layer

__all__ = [
    "CutGraph",
    "as_partition",
    "canonical_partition",
    "matricization",
    "matricization_rank",
    "mincut_bound",
]

_INF = float("inf")
_EPS = 1e-10


# ----------------------------------------------------------------------------- partitions
def as_partition(partition, n_inputs: int, *, name: str = "partition") -> np.ndarray:
    """Validate a partition of ``range(n_inputs)`` and return the side of every input.

    Parameters
    ----------
    partition : (A, B) pair of integer sequences
        Disjoint, both non-empty, together exactly ``{0, …, n_inputs − 1}``.
    n_inputs : int
        Number of inputs N.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` int8: 0 for inputs in A, 1 for inputs in B.

    Raises
    ------
    ConfigError
        If ``partition`` is not a partition of the inputs (the message says which inputs
        are missing, repeated or out of range).
    """
    if isinstance(partition, (str, bytes)) or not isinstance(partition, Sequence) or len(partition) != 2:
        raise ConfigError(
            f"{name}: expected a pair (A, B) of index lists partitioning range({n_inputs}), got {partition!r}"
        )
    sides = np.full(n_inputs, -1, dtype=np.int8)
    for side, part in enumerate(partition):
        label = "AB"[side]
        try:
            items = list(part)
        except TypeError:
            raise ConfigError(f"{name}: part {label} must be a sequence of input indices, got {part!r}") from None
        if not items:
            raise ConfigError(f"{name}: part {label} is empty; both parts of a partition must be non-empty")
        for i in items:
            if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
                raise ConfigError(f"{name}: indices must be integers, got {i!r} in part {label}")
            if not 0 <= i < n_inputs:
                raise ConfigError(f"{name}: index {i} in part {label} is outside range({n_inputs})")
            if sides[i] != -1:
                raise ConfigError(f"{name}: input {i} appears more than once (A and B must be disjoint)")
            sides[i] = side
    missing = np.flatnonzero(sides < 0)
    if missing.size:
        raise ConfigError(
            f"{name}: inputs {missing.tolist()[:10]}{' …' if missing.size > 10 else ''} are in neither part; "
            f"A and B must together cover range({n_inputs})"
        )
    return sides


def canonical_partition(name: str, n_inputs: int, geometry: str = "1d", *, seed: int | None = None):
    """Named partitions ``(A, B)`` of N inputs (2-D: ``D × D`` grid, row-major indices).

    1-D: ``"left-right"`` (first half | second half), ``"odd-even"`` (even | odd
    positions), ``"blocks-k"`` (alternating blocks of k, e.g. ``"blocks-2"``: 0,1,4,5,… |
    2,3,6,7,…), ``"random"`` (random half; needs ``seed``).
    2-D: ``"left-right"`` (columns), ``"top-bottom"``, ``"checkerboard"``,
    ``"column-interleave"`` (even | odd columns), ``"random"``.
    """
    n = int(n_inputs)
    idx = np.arange(n)
    if name == "random":
        if seed is None:
            raise ConfigError("seed: the 'random' partition needs an explicit seed")
        perm = np.random.default_rng(seed).permutation(n)
        in_a = np.zeros(n, dtype=bool)
        in_a[perm[: n // 2]] = True
    elif geometry == "1d":
        if name == "left-right":
            in_a = idx < n // 2
        elif name == "odd-even":
            in_a = idx % 2 == 0
        elif name.startswith("blocks-") and name[7:].isdigit() and int(name[7:]) > 0:
            in_a = (idx // int(name[7:])) % 2 == 0
        else:
            raise ConfigError(
                f"name: expected 'left-right', 'odd-even', 'blocks-k' or 'random' in 1-D, got {name!r}"
            )
    elif geometry == "2d":
        side = math.isqrt(n)
        if side * side != n:
            raise ConfigError(f"n_inputs: geometry '2d' needs a square number of inputs, got {n}")
        row, col = np.divmod(idx, side)
        table = {
            "left-right": col < side // 2,
            "top-bottom": row < side // 2,
            "checkerboard": (row + col) % 2 == 0,
            "column-interleave": col % 2 == 0,
        }
        if name not in table:
            raise ConfigError(f"name: expected one of {sorted(table) + ['random']} in 2-D, got {name!r}")
        in_a = table[name]
    else:
        raise ConfigError(f"geometry: expected '1d' or '2d', got {geometry!r}")
    return idx[in_a].tolist(), idx[~in_a].tolist()


# ----------------------------------------------------------------------------- max-flow
def _max_flow(n_nodes: int, arcs: list[tuple[int, int, float]], source: int, sink: int):
    """Dinic max-flow with float capacities; returns (flow, reachable-from-source mask)."""
    head: list[list[int]] = [[] for _ in range(n_nodes)]
    to: list[int] = []
    cap: list[float] = []
    for u, v, c in arcs:
        head[u].append(len(to))
        to.append(v)
        cap.append(c)
        head[v].append(len(to))
        to.append(u)
        cap.append(0.0)

    def levels() -> list[int]:
        level = [-1] * n_nodes
        level[source] = 0
        queue = deque([source])
        while queue:
            u = queue.popleft()
            for a in head[u]:
                if cap[a] > _EPS and level[to[a]] < 0:
                    level[to[a]] = level[u] + 1
                    queue.append(to[a])
        return level

    flow = 0.0
    while True:
        level = levels()
        if level[sink] < 0:
            return flow, np.array(level) >= 0
        pointer = [0] * n_nodes
        while True:
            path: list[int] = []
            u = source
            while u != sink:
                advanced = False
                while pointer[u] < len(head[u]):
                    a = head[u][pointer[u]]
                    if cap[a] > _EPS and level[to[a]] == level[u] + 1:
                        path.append(a)
                        u = to[a]
                        advanced = True
                        break
                    pointer[u] += 1
                if not advanced:
                    if u == source:
                        break
                    level[u] = -1
                    a = path.pop()
                    u = to[a ^ 1]
                    pointer[u] += 1
            if u != sink:
                break
            push = min(cap[a] for a in path)
            if push == _INF:
                raise NumericalError("min-cut: source and sink are joined by uncuttable edges (infeasible pins)")
            for a in path:
                cap[a] -= push
                cap[a ^ 1] += push
            flow += push


class CutGraph:
    """A tensor-network graph for min-cut rank bounds: nodes, edges, hyperedges, pinned nodes.

    Edges carry bond dimensions; a cut costs the product of the dimensions of the edges
    whose ends lie on different sides and of the hyperedges whose members are not all on
    one side (each once).  Pinned nodes (the open input legs) are fixed to side 0 (A) or
    1 (B); unpinned open legs (outputs) are free.

    Examples
    --------
    >>> g = CutGraph()
    >>> a, b, c = g.add_node(), g.add_node(), g.add_node()
    >>> g.add_edge(a, c, 3); g.add_edge(b, c, 5)
    >>> g.pin(a, 0); g.pin(b, 1)
    >>> g.mincut()
    3
    """

    def __init__(self) -> None:
        self.n_nodes = 0
        self.edges: list[tuple[int, int, int]] = []
        self.hyperedges: list[tuple[tuple[int, ...], int]] = []
        self.pins: dict[int, int] = {}

    def add_node(self) -> int:
        """A new node; returns its id."""
        self.n_nodes += 1
        return self.n_nodes - 1

    def _check_node(self, node) -> int:
        if isinstance(node, bool) or not isinstance(node, (int, np.integer)) or not 0 <= node < self.n_nodes:
            raise ConfigError(f"node: expected a node id in [0, {self.n_nodes}), got {node!r}")
        return int(node)

    def add_edge(self, u: int, v: int, dim: int) -> None:
        """An edge (bond) of dimension ``dim ≥ 1`` between nodes ``u`` and ``v``."""
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ConfigError(f"dim: expected an integer bond dimension ≥ 1, got {dim!r}")
        self.edges.append((self._check_node(u), self._check_node(v), int(dim)))

    def add_hyperedge(self, members: Sequence[int], dim: int) -> None:
        """A δ (copy) tensor of dimension ``dim`` joining ``members``: cut costs ``dim`` once."""
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ConfigError(f"dim: expected an integer dimension ≥ 1, got {dim!r}")
        nodes = tuple(self._check_node(m) for m in members)
        if len(nodes) < 2:
            raise ConfigError(f"members: a hyperedge needs at least 2 nodes, got {list(members)!r}")
        self.hyperedges.append((nodes, int(dim)))

    def pin(self, node: int, side: int) -> None:
        """Fix ``node`` to side 0 (A) or 1 (B)."""
        if side not in (0, 1):
            raise ConfigError(f"side: expected 0 (A) or 1 (B), got {side!r}")
        self.pins[self._check_node(node)] = side

    def cut_value(self, sides: np.ndarray, semantics: str = "hyperedge") -> int:
        """Exact cost (product of dimensions) of the cut given by ``sides`` (0/1 per node)."""
        value = 1
        for u, v, d in self.edges:
            if sides[u] != sides[v]:
                value *= d
        for members, d in self.hyperedges:
            on = {int(sides[m]) for m in members}
            if len(on) > 1:
                if semantics == "hyperedge":
                    value *= d
                else:  # δ as an ordinary node placed on its cheaper side: each crossing leg costs d
                    counts = [sum(1 for m in members if sides[m] == s) for s in (0, 1)]
                    value *= d ** min(counts)
        return value

    def mincut(self, semantics: str = "hyperedge", *, return_sides: bool = False):
        """Minimum cut separating the side-0 pins from the side-1 pins.

        Parameters
        ----------
        semantics : {"hyperedge", "node"}
            ``"hyperedge"``: a δ tensor costs its dimension once when cut (tight);
            ``"node"``: a δ tensor is an ordinary node, each cut leg costs its dimension.
        return_sides : bool
            Also return the side (0/1) of every node in the minimal cut found.

        Returns
        -------
        int or (int, numpy.ndarray)
            The exact product of the dimensions cut (a rank upper bound).
        """
        if semantics not in ("hyperedge", "node"):
            raise ConfigError(f"semantics: expected 'hyperedge' or 'node', got {semantics!r}")
        if set(self.pins.values()) != {0, 1}:
            raise ConfigError("pins: the graph needs pinned nodes on both sides (0 and 1)")
        n = self.n_nodes
        source, sink = n, n + 1
        total = n + 2
        arcs: list[tuple[int, int, float]] = []
        for u, v, d in self.edges:
            if d > 1:
                arcs += [(u, v, math.log(d)), (v, u, math.log(d))]
        extra = []  # (members, dim, node ids) of node-semantics δ nodes
        for members, d in self.hyperedges:
            if d == 1:
                continue
            if semantics == "hyperedge":
                e_in, e_out = total, total + 1
                total += 2
                arcs.append((e_in, e_out, math.log(d)))
                for m in members:
                    arcs += [(m, e_in, _INF), (e_out, m, _INF)]
            else:
                hub = total
                total += 1
                extra.append(hub)
                for m in members:
                    arcs += [(m, hub, math.log(d)), (hub, m, math.log(d))]
        for node, side in self.pins.items():
            arcs.append((source, node, _INF) if side == 0 else (node, sink, _INF))
        flow, reachable = _max_flow(total, arcs, source, sink)
        sides = np.where(reachable[:n], 0, 1).astype(np.int8)
        value = self.cut_value(sides, semantics)
        if abs(math.log(value) - flow) > 1e-7 * max(1.0, flow):
            raise NumericalError(f"min-cut: max-flow {flow} and cut ln {math.log(value)} disagree")
        return (value, sides) if return_sides else value


# ----------------------------------------------------------------------------- networks
def _layers_of(widths, geometry, pooling, kernel, stride, n_inputs):
    """Index tables of a ConvAC (``kernel is None``) or overlapping ConvAC."""

    n_layers = len(widths)
    if kernel is None:
        windows = _per_layer("pooling", pooling, n_layers)
        side = math.prod(windows)
        expected = side if geometry == "1d" else side * side
        if n_inputs != expected:
            raise ConfigError(
                f"partition: a ConvAC with {n_layers} layers and pooling windows {windows} in "
                f"geometry {geometry!r} has {expected} inputs, but n_inputs={n_inputs}"
            )
        return _build_layers(n_inputs, geometry, windows, windows, "widths")
    kernels = _per_layer("kernel", kernel, n_layers)
    strides = _per_layer("stride", stride, n_layers)
    return _build_layers(n_inputs, geometry, kernels, strides, "widths")


def _duplicated_graph(layers, widths, in_features, sides) -> CutGraph:
    """Duplicated-input tensor network of a (possibly overlapping) product circuit."""
    graph = CutGraph()
    n_inputs = len(sides)
    input_members: list[list[int]] = [[] for _ in range(n_inputs)]

    def build(level: int, position: int) -> list[int]:
        """Nodes (W matrices) feeding the δ of (level, position); returns the δ's members."""
        members = []
        for child in layers[level].index[position]:
            w = graph.add_node()
            members.append(w)
            if level == 0:
                input_members[child].append(w)
            else:
                below = build(level - 1, int(child))
                graph.add_hyperedge(below + [w], widths[level - 1])
        return members

    top = []
    last = len(layers) - 1
    for position in range(layers[last].index.shape[0]):
        top += build(last, position)
    root = graph.add_node()  # output W: its class leg is open and free
    graph.add_hyperedge(top + [root], widths[last])
    for i, members in enumerate(input_members):
        terminal = graph.add_node()
        graph.pin(terminal, int(sides[i]))
        if in_features is None:  # unbounded input dimension: copies are glued to the terminal
            for m in members:
                graph.add_edge(terminal, m, 2**62)
        else:
            graph.add_hyperedge(members + [terminal], in_features)
    return graph


def _tree_dp(layers, widths, in_features, sides) -> int:
    """Spec §1.4 dynamic programme (hyperedge semantics), exact integers."""
    big = in_features if in_features is not None else 2**62
    # cost[j] = (cost if the W node of input j sits on side A, on side B)
    costs = [(1 if s == 0 else big, big if s == 0 else 1) for s in sides]
    for level, layer in enumerate(layers):
        r = widths[level]
        new = []
        for children in layer.index:
            kids = [costs[c] for c in children]
            whole = [math.prod(min(k[s], k[1 - s] * r) for k in kids) for s in (0, 1)]
            split = r * math.prod(min(k) for k in kids)
            delta = [min(whole[s], split) for s in (0, 1)]
            new.append((min(delta[0], delta[1] * r), min(delta[1], delta[0] * r)))
        costs = new
    return min(costs[0])


def _model_structure(model):
    from qnets.tn.convac import ConvAC, OverlappingConvAC

    if isinstance(model, ConvAC):
        return model.widths, model.in_features, model.geometry, model.pooling, None, None
    if isinstance(model, OverlappingConvAC):
        return model.widths, model.in_features, model.geometry, None, model.kernel, model.stride
    return None


def mincut_bound(
    widths,
    partition,
    geometry: str = "1d",
    *,
    in_features: int | None = None,
    pooling: int | Sequence[int] = 2,
    kernel: int | Sequence[int] | None = None,
    stride: int | Sequence[int] = 1,
    n_inputs: int | None = None,
    semantics: str = "hyperedge",
    method: str = "auto",
) -> int:
    """Min-cut upper bound on ``rank ⟦A^y⟧_{A,B}`` of a ConvAC for a partition of its inputs.

    Parameters
    ----------
    widths : sequence of int, or ConvAC / OverlappingConvAC
        Channels ``(r_0, …, r_{L-1})``; a model instance supplies widths, ``in_features``,
        geometry and windows itself.
    partition : (A, B)
        A partition of the N inputs (row-major indices in 2-D); N follows from the
        architecture and is checked.
    geometry : {"1d", "2d"}
    in_features : int, optional
        Input dimension M (cutting an input leg costs M).  ``None``: unbounded, i.e. the
        bound from the channel widths alone.
    pooling : int or sequence of int
        Pooling windows of a ConvAC (ignored when ``kernel`` is given).
    kernel, stride : int or sequence of int, optional
        Give ``kernel`` for an overlapping ConvAC (windows ``kernel`` with ``stride``, then
        global product pooling); the bound is the min-cut of its duplicated-input network.
    n_inputs : int, optional
        Number of inputs N; a ConvAC's windows fix it (``∏ pooling``, squared in 2-D), an
        overlapping ConvAC takes ``len(A) + len(B)`` by default.  The partition must
        cover exactly ``range(N)``.
    semantics : {"hyperedge", "node"}
        δ tensors as hyperedges (tight, default) or as ordinary nodes (over-counts in 2-D).
    method : {"auto", "dp", "maxflow"}
        ``"dp"``: tree dynamic programme (ConvAC, hyperedge semantics only);
        ``"maxflow"``: Dinic max-flow on the (duplicated-input) graph; ``"auto"`` picks dp
        when it applies.

    Returns
    -------
    int
        ``min_C ∏_{e∈C} dim(e)``; the Schmidt rank of the network across (A, B) is at most
        this, so its entanglement entropy is at most ``ln`` of it.

    Examples
    --------
    >>> mincut_bound((2, 2), canonical_partition("checkerboard", 16, "2d"), "2d", in_features=2)
    16
    """
    structure = _model_structure(widths)
    if structure is not None:
        n_inputs = widths.n_inputs
        widths, in_features, geometry, pooling, kernel, stride = structure
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or len(widths) == 0:
        raise ConfigError(f"widths: expected a non-empty sequence of channel counts, got {widths!r}")
    for i, w in enumerate(widths):
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1:
            raise ConfigError(f"widths[{i}]: expected an integer channel count ≥ 1, got {w!r}")
    widths = tuple(int(w) for w in widths)
    if in_features is not None and (
        isinstance(in_features, bool) or not isinstance(in_features, (int, np.integer)) or in_features < 1
    ):
        raise ConfigError(f"in_features: expected an integer ≥ 1 or None, got {in_features!r}")
    if geometry not in ("1d", "2d"):
        raise ConfigError(f"geometry: expected '1d' or '2d', got {geometry!r}")
    if semantics not in ("hyperedge", "node"):
        raise ConfigError(f"semantics: expected 'hyperedge' or 'node', got {semantics!r}")
    if method not in ("auto", "dp", "maxflow"):
        raise ConfigError(f"method: expected 'auto', 'dp' or 'maxflow', got {method!r}")
    if isinstance(partition, (str, bytes)) or not isinstance(partition, Sequence) or len(partition) != 2:
        raise ConfigError(f"partition: expected a pair (A, B) of index lists, got {partition!r}")
    if n_inputs is None and kernel is None:  # a ConvAC's tree fixes N
        windows = _per_layer("pooling", pooling, len(widths))
        n_inputs = math.prod(windows) ** (1 if geometry == "1d" else 2)
    elif n_inputs is None:
        try:
            n_inputs = len(partition[0]) + len(partition[1])
        except TypeError:
            raise ConfigError(f"partition: expected a pair (A, B) of index lists, got {partition!r}") from None
    layers = _layers_of(widths, geometry, pooling, kernel, stride, n_inputs)
    sides = as_partition(partition, n_inputs)
    is_tree = all(layer.kernel == layer.stride for layer in layers) and layers[-1].index.shape[0] == 1
    if method == "dp" and not (is_tree and semantics == "hyperedge"):
        raise ConfigError("method: 'dp' applies to non-overlapping ConvACs with hyperedge semantics; use 'maxflow'")
    if method == "dp" or (method == "auto" and is_tree and semantics == "hyperedge"):
        return _tree_dp(layers, widths, in_features, sides)
    return _duplicated_graph(layers, widths, in_features, sides).mincut(semantics)


# ----------------------------------------------------------------------------- ranks
def _as_array(tensor) -> np.ndarray:
    if isinstance(tensor, torch.Tensor):
        return tensor.detach().cpu().numpy()
    return np.asarray(tensor)


def matricization(tensor, partition) -> np.ndarray:
    """``⟦T⟧_{A,B}``: the order-N tensor reshaped to ``∏_{i∈A} d_i × ∏_{i∈B} d_i``.

    Rows enumerate the A-modes in the order given in A (C order), columns the B-modes.
    """
    array = _as_array(tensor)
    as_partition(partition, array.ndim)
    a, b = [int(i) for i in partition[0]], [int(i) for i in partition[1]]
    rows = math.prod(array.shape[i] for i in a)
    return array.transpose(a + b).reshape(rows, -1)


def matricization_rank(model_or_tensor, partition, *, output: int = 0, rtol: float | None = None) -> int:
    """Numerical rank of the matricization of a coefficient tensor across ``(A, B)``.

    Parameters
    ----------
    model_or_tensor : ConvAC, OverlappingConvAC, torch.Tensor or numpy.ndarray
        A model (its :meth:`coefficient_tensor` for class ``output`` is contracted; M^N
        entries, small N only) or an order-N tensor.
    partition : (A, B)
        A partition of the N modes.
    output : int
        Class index y of a model.
    rtol : float, optional
        Relative threshold: count ``σ_k > rtol · σ_max``.  Default ``max(shape) · eps``
        of float64 (≈ 5.7e-14 for a 256 × 256 matricization); random ConvAC spectra span
        > 10 decades, so 1e-10 would under-count.

    Returns
    -------
    int
        The numerical rank (0 for the zero tensor).
    """
    if hasattr(model_or_tensor, "coefficient_tensor"):
        tensor = model_or_tensor.coefficient_tensor(output)
    else:
        tensor = model_or_tensor
    array = _as_array(tensor).astype(np.float64 if not np.iscomplexobj(tensor) else np.complex128)
    if array.ndim < 2:
        raise ShapeError(f"model_or_tensor: expected a tensor of order ≥ 2, got shape {array.shape}")
    matrix = matricization(array, partition)
    if rtol is None:
        rtol = max(matrix.shape) * np.finfo(np.float64).eps
    if not (isinstance(rtol, (int, float)) and 0 < rtol < 1):
        raise ConfigError(f"rtol: expected a number in (0, 1), got {rtol!r}")
    s = np.linalg.svd(matrix, compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 0
    return int(np.count_nonzero(s > rtol * s[0]))
