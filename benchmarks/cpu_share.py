"""How many cores one and two busy processes of this session obtain (context for other benchmarks).

Runs a pure-Python busy loop for ``--seconds`` in 1 process, then in 2 processes at once, and
reports CPU seconds / wall seconds of each run. On an idle 2-core machine this is ≈ 1 and ≈ 2;
on a machine shared between sessions with the kernel's session autogrouping
(``/proc/sys/kernel/sched_autogroup_enabled`` = 1), a session's processes share one slice,
so the second process adds little: parallel speed-ups cannot show there.

Prints one JSON line and appends it to ``benchmarks/results/cpu_share.jsonl``.

Usage: ``python benchmarks/cpu_share.py [--seconds 8]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from multiprocessing import Process
from pathlib import Path


def _burn(seconds: float) -> None:
    end = time.time() + seconds
    x = 0
    while time.time() < end:
        x += 1


def _cores(n: int, seconds: float) -> float:
    processes = [Process(target=_burn, args=(seconds,)) for _ in range(n)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return cpu / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    try:
        autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
    except OSError:
        autogroup = None
    record = {
        "benchmark": "cpu_share",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cores_1_process": round(_cores(1, args.seconds), 3),
        "cores_2_processes": round(_cores(2, args.seconds), 3),
        "sched_autogroup_enabled": autogroup,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
    }
    line = json.dumps(record)
    print(line)
    out = Path(__file__).parent / "results" / "cpu_share.jsonl"
    out.parent.mkdir(exist_ok=True)
    with open(out, "a") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    main()
