"""Min-cut bounds vs numerical ranks (spec tn.md §4.2 T1–T3), CutGraph, partitions, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qnets.errors import ConfigError, ShapeError
from qnets.tn.convac import ConvAC, OverlappingConvAC
from qnets.tn.mincut import (
    CutGraph,
    as_partition,
    canonical_partition,
    matricization,
    matricization_rank,
    mincut_bound,
)

T1_CONFIGS = [
    (8, 2, (2, 2, 2)),
    (8, 2, (4, 2, 1)),
    (8, 2, (1, 2, 4)),
    (8, 2, (2, 4, 8)),
    (8, 2, (3, 5, 7)),
    (8, 3, (3, 5, 7)),
    (8, 3, (2, 2, 2)),
    (16, 2, (2, 2, 2, 2)),
    (16, 2, (2, 4, 8, 16)),
    (16, 2, (3, 5, 7, 7)),
]


@pytest.mark.parametrize("n, m, widths", T1_CONFIGS)
def test_t1_tree_rank_equals_hyperedge_mincut(n, m, widths):
    # orthogonal random weights: generic, and singular values within a few decades
    # (Gaussian weights spread them over > 13 decades, below float64 resolution)
    model = ConvAC(n, m, widths, init="orthogonal", seed=sum(widths) + n)
    tensor = model.coefficient_tensor()
    gaussian = ConvAC(n, m, widths, seed=n).coefficient_tensor()
    for name in ("left-right", "odd-even", "blocks-2", "random"):
        partition = canonical_partition(name, n, seed=n + m)
        bound = mincut_bound(widths, partition, in_features=m)
        assert bound == mincut_bound(widths, partition, in_features=m, method="maxflow")
        assert bound == mincut_bound(model, partition)
        rank = matricization_rank(tensor, partition)
        assert matricization_rank(gaussian, partition) <= bound
        full = m ** min(len(partition[0]), len(partition[1]))
        assert rank <= bound, (name, rank, bound)
        slack = 3 if bound == full else 0  # spec §1.4: full-rank cases lose a few tiny σ
        assert rank >= bound - slack, (name, rank, bound)


@pytest.mark.parametrize("widths", [(2, 2), (4, 2), (2, 8), (3, 5)])
def test_t2_2d_hyperedge_semantics(widths):
    model = ConvAC(16, 2, widths, geometry="2d", seed=sum(widths))
    tensor = model.coefficient_tensor()
    for name in ("left-right", "top-bottom", "checkerboard", "column-interleave"):
        partition = canonical_partition(name, 16, "2d")
        bound = mincut_bound(widths, partition, "2d", in_features=2)
        assert bound == mincut_bound(widths, partition, "2d", in_features=2, method="maxflow")
        node = mincut_bound(widths, partition, "2d", in_features=2, semantics="node")
        rank = matricization_rank(tensor, partition)
        assert rank == bound and node >= rank
    checker = canonical_partition("checkerboard", 16, "2d")
    if widths == (2, 2):
        assert mincut_bound(widths, checker, "2d", in_features=2) == 16
        assert mincut_bound(widths, checker, "2d", in_features=2, semantics="node") == 256
    if widths == (3, 5):
        assert mincut_bound(widths, canonical_partition("left-right", 16, "2d"), "2d", in_features=2) == 5


def test_values_quoted_in_results():
    names = ("left-right", "odd-even", "blocks-2", "random")
    for n, m, widths, expected in [(8, 3, (3, 5, 7), [5, 81, 9, 81]), (16, 2, (3, 5, 7, 7), [7, 256, 81, 192])]:
        got = [mincut_bound(widths, canonical_partition(p, n, seed=n + m), in_features=m) for p in names]
        assert got == expected
    for widths, names2d, hyper, node in [
        ((2, 2), ("checkerboard", "column-interleave", "left-right"), [16, 16, 2], [256, 256, 4]),
        ((3, 5), ("checkerboard", "left-right"), [81, 5], [256, 9]),
    ]:
        parts = [canonical_partition(p, 16, "2d") for p in names2d]
        assert [mincut_bound(widths, p, "2d", in_features=2) for p in parts] == hyper
        assert [mincut_bound(widths, p, "2d", in_features=2, semantics="node") for p in parts] == node


def _left_right_closed_form(m: int, widths: tuple[int, ...]) -> int:
    """Spec §1.4: r_{L-t} has exponent max(1, 2^{t-2}) from the root down; M has N/2."""
    n_layers = len(widths)
    terms = [widths[n_layers - t] ** max(1, 2 ** (t - 2)) for t in range(1, n_layers + 1)]
    return min(terms + [m ** (2**n_layers // 2)])


def test_t3_closed_forms_random_widths():
    rng = np.random.default_rng(7)
    for _ in range(60):
        n_layers = int(rng.integers(2, 7))
        n = 2**n_layers
        m = int(rng.integers(1, 6))
        widths = tuple(int(w) for w in rng.integers(1, 9, size=n_layers))
        odd_even = mincut_bound(widths, canonical_partition("odd-even", n), in_features=m)
        assert odd_even == min(m, widths[0]) ** (n // 2)
        left_right = mincut_bound(widths, canonical_partition("left-right", n), in_features=m)
        assert left_right == _left_right_closed_form(m, widths)
    # the spec's checks
    for widths, expected in [((2, 4, 8), 4), ((3, 5, 7), 5), ((2, 4, 8, 16), 8), ((3, 5, 7, 7), 7)]:
        n = 2 ** len(widths)
        assert mincut_bound(widths, canonical_partition("left-right", n), in_features=2) == expected


def test_dp_equals_maxflow_random_partitions():
    rng = np.random.default_rng(1)
    for _ in range(25):
        geometry = "2d" if rng.random() < 0.4 else "1d"
        n_layers = int(rng.integers(1, 4 if geometry == "1d" else 3))
        n = 2**n_layers if geometry == "1d" else 4**n_layers
        widths = tuple(int(w) for w in rng.integers(1, 7, size=n_layers))
        perm = rng.permutation(n)
        cut = int(rng.integers(1, n))
        partition = (perm[:cut].tolist(), perm[cut:].tolist())
        m = int(rng.integers(1, 5))
        args = (widths, partition, geometry)
        assert mincut_bound(*args, in_features=m, method="dp") == mincut_bound(*args, in_features=m, method="maxflow")


def test_overlapping_rank_below_duplicated_mincut():
    for kernel, widths in [(2, (2, 2)), (2, (2, 2, 2)), (3, (2, 3))]:
        model = OverlappingConvAC(8, 2, widths, kernel=kernel, seed=len(widths))
        tensor = model.coefficient_tensor()
        for name in ("left-right", "odd-even", "blocks-2"):
            partition = canonical_partition(name, 8)
            bound = mincut_bound(model, partition)
            assert bound == mincut_bound(widths, partition, in_features=2, kernel=kernel)
            assert matricization_rank(tensor, partition) <= bound <= 2**4
    # stride = kernel: the duplicated graph is the tree and agrees with the DP
    partition = canonical_partition("blocks-2", 16)
    assert mincut_bound((3, 5, 2, 2), partition, in_features=3, kernel=2, stride=2) == mincut_bound(
        (3, 5, 2, 2), partition, in_features=3
    )


def test_overlapping_grows_faster_than_tree():
    # contiguous block [0, 4) of 16 inputs, M = 2: the overlapping network reaches the
    # volume-law value 2^4 while the tree with the same width is capped by its two cut bonds
    block = (list(range(4)), list(range(4, 16)))
    assert mincut_bound((4, 4, 4), block, in_features=2, kernel=2) == 16
    assert mincut_bound((2, 2, 2, 2), block, in_features=2) == 2


def test_cutgraph_small_examples():
    g = CutGraph()
    a, b, c = g.add_node(), g.add_node(), g.add_node()
    g.add_edge(a, c, 3)
    g.add_edge(b, c, 5)
    g.pin(a, 0)
    g.pin(b, 1)
    assert g.mincut() == 3
    value, sides = g.mincut(return_sides=True)
    assert value == 3 and sides.tolist() == [0, 1, 1]
    # a 4-leg δ with two pins per side: hyperedge costs r once, node semantics r^2
    h = CutGraph()
    nodes = [h.add_node() for _ in range(4)]
    h.add_hyperedge(nodes, 7)
    for node, side in zip(nodes, (0, 0, 1, 1)):
        h.pin(node, side)
    assert h.mincut() == 7 and h.mincut("node") == 49


def test_matricization_rank_known_tensors():
    u, v = np.arange(1.0, 4.0), np.array([1.0, -2.0])
    product = np.einsum("i,j,k->ijk", u, v, u)
    assert matricization_rank(product, ([0, 2], [1])) == 1
    ghz = np.zeros((2,) * 4)
    ghz[0, 0, 0, 0] = ghz[1, 1, 1, 1] = 1
    assert matricization_rank(ghz, ([0, 3], [1, 2])) == 2
    assert matricization_rank(torch.zeros(2, 2, 2), ([0], [1, 2])) == 0
    t = np.random.default_rng(0).normal(size=(2, 3, 4))
    assert matricization(t, ([2, 0], [1])).shape == (8, 3)
    assert np.allclose(matricization(t, ([2, 0], [1]))[5], t[1, :, 2])


@pytest.mark.parametrize(
    "partition, match",
    [
        (([0, 1, 2], [3, 4, 5, 6]), r"inputs \[7\] are in neither part"),
        (([0, 1, 2, 3], [3, 4, 5, 6, 7]), "more than once"),
        (([0, 1, 2, 8], [3, 4, 5, 6]), "outside range"),
        (([], list(range(8))), "part A is empty"),
        ("left-right", "pair"),
        (([0.5, 1, 2, 3], [4, 5, 6, 7]), "integers"),
    ],
)
def test_not_a_partition(partition, match):
    with pytest.raises(ConfigError, match=match):
        mincut_bound((2, 2, 2), partition, in_features=2)


def test_bad_arguments():
    lr = canonical_partition("left-right", 8)
    with pytest.raises(ConfigError, match=r"widths\[1\].*≥ 1.*0"):
        mincut_bound((2, 0, 2), lr, in_features=2)
    with pytest.raises(ConfigError, match=r"partition: inputs \[4, 5, 6, 7\].*range\(4\)|outside range\(4\)"):
        mincut_bound((2, 2), lr, in_features=2)
    with pytest.raises(ConfigError, match="partition: a ConvAC with 2 layers.*4 inputs.*n_inputs=8"):
        mincut_bound((2, 2), lr, in_features=2, n_inputs=8)
    with pytest.raises(ConfigError, match="in_features"):
        mincut_bound((2, 2, 2), lr, in_features=0)
    with pytest.raises(ConfigError, match="semantics"):
        mincut_bound((2, 2, 2), lr, in_features=2, semantics="edge")
    with pytest.raises(ConfigError, match="method: 'dp'"):
        mincut_bound((2, 2, 2), lr, in_features=2, method="dp", semantics="node")
    with pytest.raises(ConfigError, match="name"):
        canonical_partition("checkerboard", 8)
    with pytest.raises(ConfigError, match="seed"):
        canonical_partition("random", 8)
    with pytest.raises(ConfigError, match="partition"):
        matricization_rank(np.zeros((2,) * 4), ([0, 1], [2]))
    with pytest.raises(ShapeError, match="order"):
        matricization_rank(np.zeros(3), ([0], []))
    with pytest.raises(ConfigError, match="rtol"):
        matricization_rank(np.ones((2, 2)), ([0], [1]), rtol=2.0)
    g = CutGraph()
    with pytest.raises(ConfigError, match="dim"):
        g.add_edge(g.add_node(), g.add_node(), 0)
    with pytest.raises(ConfigError, match="pins"):
        g.mincut()
    assert as_partition(([1, 0], [2]), 3).tolist() == [0, 0, 1]
    assert math.isfinite(mincut_bound((2, 2, 2), lr))  # in_features=None: widths alone
