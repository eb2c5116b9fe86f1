"""Thin solves vs the inverse for one hidden layer of the FNN recursion.

For a batch of ``n × n`` blocks ``A`` and a hopping ``T`` (``n × m``), times the two ways
:mod:`qnets.greens.recursion` can form ``X = A⁻¹ T`` and ``Y = A⁻ᴴ T``:

* thin: one LU, then two triangular solves with ``m`` right-hand sides;
* via the inverse: one LU, the inverse ``g`` (``n`` right-hand sides), ``g T`` and ``g† T``.

Prints one JSON line per ``(n, m)`` with the median milliseconds of each (the crossover sets
``qnets.greens.recursion._via_inverse``).

Usage: ``python benchmarks/fnn_layer_solve.py [--batch 256] [--threads 1] [--repeats 7]``
"""

from __future__ import annotations

import argparse
import json

import torch
from fnn_throughput import _timeit  # the median timer of the throughput benchmark

SHAPES = [(64, 64), (100, 64), (64, 10), (169, 36), (100, 100), (144, 100)]


def _thin(a: torch.Tensor, t: torch.Tensor):
    lu, pivots, _ = torch.linalg.lu_factor_ex(a)
    return torch.linalg.lu_solve(lu, pivots, t), torch.linalg.lu_solve(lu, pivots, t, adjoint=True)


def _via_inverse(a: torch.Tensor, t: torch.Tensor):
    lu, pivots, _ = torch.linalg.lu_factor_ex(a)
    g = torch.linalg.lu_solve(lu, pivots, torch.eye(a.shape[-1], dtype=a.dtype).expand_as(a))
    return g @ t, g.mH @ t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    for n, m in SHAPES:
        a = torch.randn(args.batch, n, n, dtype=torch.complex64, generator=generator) + 10 * torch.eye(n)
        t = torch.randn(n, m, dtype=torch.complex64, generator=generator)

        print(json.dumps({"n": n, "m": m, "batch": args.batch, "threads": torch.get_num_threads(),
                          "thin_ms": 1e3 * _timeit(lambda a=a, t=t: _thin(a, t), args.repeats),
                          "via_inverse_ms": 1e3 * _timeit(lambda a=a, t=t: _via_inverse(a, t), args.repeats)}))


if __name__ == "__main__":
    main()
