"""Numerical rank of random ConvAC coefficient tensors vs the hyperedge min-cut: Gaussian vs orthogonal weights.

For ``N = 16`` inputs, ``M = 2``, widths ``(2, 2, 2, 2)`` and a random half partition (min-cut
128 of a 256 × 256 matricization), and for the odd/even partition with widths
``(2, 4, 8, 16)`` (min-cut 256 = full size), builds the coefficient tensor of ``--seeds``
random ConvACs per initialisation and records the numerical rank at the default threshold
``σ > σ_max · max(shape) · eps`` and the conditioning ``σ_k / σ_1`` at k = min-cut.

Prints one JSON line and appends it to ``benchmarks/results/tn_convac_rank.jsonl``.

Usage: ``python benchmarks/tn_convac_rank.py [--seeds 6]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from qnets.tn import ConvAC, canonical_partition, matricization, matricization_rank, mincut_bound


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args()
    start = time.perf_counter()
    record = {"benchmark": "tn_convac_rank", "seeds": args.seeds, "cases": []}
    cases = [((2, 2, 2, 2), canonical_partition("random", 16, seed=18), "random half"),
             ((2, 4, 8, 16), canonical_partition("odd-even", 16), "odd/even")]
    for widths, partition, label in cases:
        cut = mincut_bound(widths, partition, in_features=2)
        for init in ("normal", "orthogonal"):
            ranks, conditioning = [], []
            for seed in range(args.seeds):
                tensor = ConvAC(16, 2, widths, init=init, seed=seed).coefficient_tensor()
                s = np.linalg.svd(matricization(tensor.numpy(), partition), compute_uv=False)
                ranks.append(matricization_rank(tensor, partition))
                conditioning.append(float(s[cut - 1] / s[0]))
            record["cases"].append({"widths": list(widths), "partition": label, "mincut": cut, "init": init,
                                    "ranks": ranks, "sigma_cut_over_sigma_1": conditioning})
    record["seconds"] = time.perf_counter() - start
    line = json.dumps(record)
    print(line)
    out = Path(__file__).parent / "results" / "tn_convac_rank.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as handle:
        handle.write(line + "\n")


if __name__ == "__main__":
    main()
