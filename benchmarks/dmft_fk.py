"""Cost of real-space Falicov–Kimball DMFT (spec §4.3) per sample, and what a paper-size data
set would cost.

Solves a batch of metal-task samples (``U ~ U[1, 3.6]``, ``T ~ U[0.1, 0.2]``, μ = U/2) on an
``L × L`` torus with ``n_matsubara`` frequencies and reports seconds per sample, per
sample-iteration, iterations, and the extrapolated time of the paper's 11,000-sample set.

Prints one JSON line and appends it to ``benchmarks/results/dmft_fk.jsonl``.

Usage: ``python benchmarks/dmft_fk.py [--L 12] [--n-matsubara 40] [--samples 8] [--threads 1]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from qnets.hamiltonians import falicov_kimball
from qnets.solvers import solve_dmft


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--L", type=int, default=12)
    parser.add_argument("--n-matsubara", type=int, default=40)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    U = rng.uniform(1.0, 3.6, args.samples)
    T = rng.uniform(0.1, 0.2, args.samples)
    h0 = np.stack([falicov_kimball(args.L, U=u).h0 for u in U])
    start = time.perf_counter()
    result = solve_dmft(h0, U, T, n_matsubara=args.n_matsubara, seed=args.seed, on_failure="ignore")
    seconds = time.perf_counter() - start
    iterations = int(result.iterations.sum())
    record = {
        "benchmark": "dmft_fk",
        "L": args.L,
        "n_matsubara": args.n_matsubara,
        "samples": args.samples,
        "threads": args.threads,
        "seconds": round(seconds, 3),
        "seconds_per_sample": round(seconds / args.samples, 4),
        "seconds_per_sample_iteration": round(seconds / iterations, 6),
        "mean_iterations": iterations / args.samples,
        "unconverged": int((~result.converged).sum()),
        "paper_set_hours_estimate": round(11000 * seconds / args.samples / 3600, 2),
        "machine": platform.processor() or platform.machine(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    line = json.dumps(record)
    print(line)
    out = Path(__file__).parent / "results" / "dmft_fk.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as handle:
        handle.write(line + "\n")


if __name__ == "__main__":
    main()
