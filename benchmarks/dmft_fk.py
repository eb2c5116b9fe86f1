"""Cost of real-space Falicov–Kimball DMFT (spec §4.3) per sample, and what a paper-size data
set would cost.

Solves a batch of samples of the ``metal`` task (``U ~ U[1, 3.6]``, ``T ~ U[0.1, 0.2]``,
μ = U/2) or the ``stripe`` task (``U = 1``, ``T = 0.005``, ``t'`` and μ as in
:mod:`qnets.experiments.fnn_fk`) on an ``L × L`` torus with ``n_matsubara`` frequencies and
reports seconds per sample, per sample-iteration, iterations, unconverged samples (≤ 200
iterations, the paper's limit) and the extrapolated time of the paper's 11,000-sample set.
``--anderson K`` solves with Anderson acceleration of depth ``K`` (0: the paper's linear
mixing 0.5). ``--compare`` also solves the same samples with linear mixing and up to 3000
iterations and reports how far the two solutions are apart (f occupations, checkerboard
and stripe order): Anderson must land on the fixed point linear mixing reaches.

Prints one JSON line and appends it to ``benchmarks/results/dmft_fk.jsonl``.

Usage: ``python benchmarks/dmft_fk.py [--task metal] [--L 12] [--n-matsubara 40] [--samples 8]
[--threads 1] [--anderson 0]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from qnets.experiments.fnn_fk import _draw
from qnets.hamiltonians import checkerboard_order, falicov_kimball, stripe_order
from qnets.solvers import solve_dmft


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("metal", "stripe"), default="metal")
    parser.add_argument("--L", type=int, default=12)
    parser.add_argument("--n-matsubara", type=int, default=40)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--anderson", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=0.005, help="stripe task only")
    parser.add_argument("--compare", action="store_true", help="also solve with linear mixing, 3000 iterations")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    params = np.array([_draw(args.task, i, rng, args.L, args.temperature)[:4] for i in range(args.samples)])
    U, T = params[:, 0], params[:, 1]
    h0 = np.stack([falicov_kimball(args.L, U=u, t_prime=tp, mu=mu).h0 for u, _, tp, mu in params])
    start = time.perf_counter()
    result = solve_dmft(h0, U, T, n_matsubara=args.n_matsubara, seed=args.seed, on_failure="ignore",
                        anderson=args.anderson)
    seconds = time.perf_counter() - start
    iterations = int(result.iterations.sum())
    record = {
        "benchmark": "dmft_fk",
        "task": args.task,
        "anderson": args.anderson,
        "L": args.L,
        "n_matsubara": args.n_matsubara,
        "samples": args.samples,
        "threads": args.threads,
        "seconds": round(seconds, 3),
        "seconds_per_sample": round(seconds / args.samples, 4),
        "seconds_per_sample_iteration": round(seconds / iterations, 6),
        "mean_iterations": iterations / args.samples,
        "max_iterations": int(result.iterations.max()),
        "unconverged": int((~result.converged).sum()),
        "paper_set_hours_estimate": round(11000 * seconds / args.samples / 3600, 2),
        "machine": platform.processor() or platform.machine(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if args.compare:
        reference = solve_dmft(h0, U, T, n_matsubara=args.n_matsubara, seed=args.seed,
                               on_failure="ignore", max_iter=3000)
        both = result.converged & reference.converged
        gap = np.abs(result.n_f - reference.n_f).max(-1)[both]
        orders = [np.abs(f(result.n_f, L=args.L) - f(reference.n_f, L=args.L))[both]
                  for f in (checkerboard_order, stripe_order)]
        record.update({
            "reference_unconverged": int((~reference.converged).sum()),
            "reference_mean_iterations": float(reference.iterations.mean()),
            "compared": int(both.sum()),
            "same_fixed_point": int((gap < 1e-3).sum()),
            "max_n_f_difference": float(gap.max()) if gap.size else None,
            "max_order_difference": float(max(o.max() for o in orders)) if gap.size else None,
        })
    line = json.dumps(record)
    print(line)
    out = Path(__file__).parent / "results" / "dmft_fk.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as handle:
        handle.write(line + "\n")


if __name__ == "__main__":
    main()
