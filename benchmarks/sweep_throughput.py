"""Throughput of a 400-point Chern phase diagram: serial vs process pool vs Dask local cluster.

The grid is ``kappa = 0.1:1.0:20`` × ``disorder = 0:2:20`` (400 points) of
:func:`qnets.experiments.sweeps.chern_point` (``L × L`` torus, default ``L = 16``: one dense
eigendecomposition of a 256 × 256 Hamiltonian and the real-space Chern number per point).
Every backend runs single-threaded BLAS per process (``OMP_NUM_THREADS=1`` etc. are set
before numpy is imported), so the comparison is per core. The modes run round-robin
``--repeats`` times (the median is reported) to spread the machine's load fluctuations
over all of them; the load average is recorded before and after. Results of all backends
are checked to be identical.

* ``serial``: ``map_grid(backend="serial")``;
* ``process``: ``map_grid(backend="process", workers=W)`` (a fresh pool per run);
* ``dask``: ``map_grid(backend="dask", workers=W)``, a fresh ``LocalCluster`` per run
  (start-up and shut-down included);
* ``dask_warm``: an already running ``LocalCluster`` (connected by address), after one
  warm-up sweep.

Prints one JSON line and appends it to ``benchmarks/results/sweep_throughput.jsonl``.

Usage: ``python benchmarks/sweep_throughput.py [--L 16] [--workers 2] [--repeats 2]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import json
import platform
import resource
import statistics
import time
from functools import partial
from pathlib import Path


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its terminated, reaped children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--L", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--kappa", default="kappa=0.1:1.0:20")
    parser.add_argument("--disorder", default="disorder=0:2:20")
    args = parser.parse_args()

    from dask.distributed import Client, LocalCluster

    from qnets.experiments.sweeps import chern_point
    from qnets.parallel import map_grid, parse_grid

    grid = parse_grid([args.kappa, args.disorder])
    fn = partial(chern_point, L=args.L)
    load_before = os.getloadavg()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    map_grid(fn, grid[: 4 * args.workers], backend="dask", scheduler=client, progress=False)
    map_grid(fn, grid[:2], backend="serial", progress=False)  # imports, first-call costs

    modes = {
        "serial": lambda: map_grid(fn, grid, backend="serial", progress=False),
        "process": lambda: map_grid(fn, grid, backend="process", workers=args.workers,
                                    progress=False),
        "dask": lambda: map_grid(fn, grid, backend="dask", workers=args.workers, progress=False),
        "dask_warm": lambda: map_grid(fn, grid, backend="dask", scheduler=cluster.scheduler_address,
                                      progress=False),
    }
    times: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    results = {}
    for _ in range(args.repeats):
        for mode, run in modes.items():
            before = _cpu_seconds()
            start = time.perf_counter()
            results[mode] = run()
            times[mode].append(time.perf_counter() - start)
            cpu[mode].append(_cpu_seconds() - before)
    client.close()
    cluster.close()
    identical = all(results[m] == results["serial"] for m in modes)
    median = {m: statistics.median(t) for m, t in times.items()}
    record = {
        "benchmark": "sweep_throughput",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "points": len(grid),
        "L": args.L,
        "workers": args.workers,
        "repeats": args.repeats,
        "seconds": {m: round(v, 3) for m, v in median.items()},
        "seconds_all": {m: [round(v, 3) for v in t] for m, t in times.items()},
        "points_per_second": {m: round(len(grid) / v, 2) for m, v in median.items()},
        "speedup_vs_serial": {m: round(median["serial"] / v, 3) for m, v in median.items()},
        "identical_results": identical,
        # CPU seconds of this process and its reaped children (pool workers, Dask nannies and
        # workers) per run, and the cores obtained on average (cpu / wall); dask_warm's
        # workers are not children of the run, so its CPU time is not counted.
        "cpu_seconds": {m: round(statistics.median(c), 2) for m, c in cpu.items()},
        "cores_obtained": {m: round(statistics.median(c) / median[m], 2) for m, c in cpu.items()},
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    line = json.dumps(record)
    print(line)
    out = Path(__file__).parent / "results" / "sweep_throughput.jsonl"
    out.parent.mkdir(exist_ok=True)
    with open(out, "a") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    main()
