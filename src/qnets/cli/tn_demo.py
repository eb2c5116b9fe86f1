"""Tensor-network part of ``qnets demo``: an MPS classifier on digits and its entanglement profile."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["run_tn_demo"]

_BARS = " ▁▂▃▄▅▆▇█"


def run_tn_demo(
    *, epochs: int = 15, seed: int = 0, out: Path | None = None, progress: bool = False,
    echo: Callable[[str], object] = print,
) -> dict:
    """Train the ``tn-digits`` MPS (χ = 8) and print accuracy and the entropy per cut.

    Returns the ``tn-mnist`` result dict (with ``entanglement`` summary).
    """
    import json

    from qnets.experiments import resolve_config, run_experiment

    config = resolve_config(
        "tn-mnist", config_file="tn-digits", overrides=[f"epochs={epochs}", f"seed={seed}"]
    )
    echo(
        f"TN demo: MPS classifier, χ = {config.bond_dim}, {config.feature_map} feature map, "
        f"64 sites + label at site {config.label_site}, {config.epochs} epochs on scikit-learn digits"
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(out) if out is not None else Path(tmp) / "tn-demo"
        result = run_experiment("tn-mnist", config, out=run_dir, progress=progress)
        profile = json.loads((run_dir / "entanglement_profile.json").read_text())
    entropies = profile["entropies"]
    top = max(profile["max_bound"], 1e-12)
    bars = "".join(_BARS[min(len(_BARS) - 1, round(s / top * (len(_BARS) - 1)))] for s in entropies)
    echo(
        f"test accuracy {100 * result['final_test_accuracy']:.2f} % (best {100 * result['best_test_accuracy']:.2f} % "
        f"at epoch {result['best_epoch']}), {result['num_parameters']} parameters, "
        f"{time.perf_counter() - start:.1f} s"
    )
    echo(
        f"entanglement entropy per cut (nats, scale 0 … ln χ = {top:.2f}): max {profile['max_entropy']:.3f} "
        f"at '{profile['argmax_cut']}', mean {profile['mean_entropy']:.3f}"
    )
    echo(f"  |{bars}|")
    return result
