"""Module-level sweep functions for the parallel tests (importable by worker processes)."""

from __future__ import annotations

import os
import time


def square_plus(a, b=0):
    return a * a + b


def fails_at_three(x):
    if x == 3:
        raise ValueError(f"bad value x={x}")
    return x


def flaky_once(x, marker_dir):
    """Fails the first time it sees ``x`` (a marker file remembers), then succeeds."""
    marker = os.path.join(marker_dir, f"seen-{x}")
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError(f"transient failure at x={x}")
    return 2 * x


def slow_logged(x, log):
    """``sin``-like deterministic value after a short sleep; appends ``x`` to ``log``."""
    time.sleep(0.05)
    with open(log, "a") as f:
        f.write(f"{x}\n")
    return {"x": x, "y": (x * 7919) % 101 / 101}


def die(x):
    os._exit(3)


def square_plus_seed(seed, b=0):
    return seed * seed + b
