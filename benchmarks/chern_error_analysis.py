"""Where a trained ``fnn-chern-*`` network errs: κ, disorder strength, spectral gap and |C|.

Loads a finished run directory of ``qnets run fnn-chern-ldos`` / ``fnn-chern-conductance``
(its ``config.yaml``, a checkpoint and the cached data), evaluates the network on the test set
and prints one JSON line. For every misclassified sample it gives the test index, the label,
P(topological), clean or disordered, κ, the onsite disorder strength W, the spectral gap at
E = 0 and the real-space Chern number |C| (:func:`qnets.solvers.free_fermion.real_space_chern_number`).
The same quantities are summarised for the disordered errors and for a seeded random reference
of ``--reference`` disordered test samples, to show whether the errors sit where the labels are
hard (strong disorder, small gap, |C| near the label thresholds 0.3 / 0.7, trivial-third
samples labelled 0 by κ < 0.5 although |C| > 0.3) or spread over the test set. With
``--compare OUTPUT.json`` (an earlier output of this script) it also counts the errors both
networks share.

Usage: ``python benchmarks/chern_error_analysis.py RUN_DIR [--checkpoint checkpoint.pt]
[--reference 300] [--compare OUTPUT.json] [--batch 256] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from qnets.experiments.config import config_from_mapping
from qnets.experiments.fnn_chern import (
    FnnChernConductanceConfig,
    FnnChernConfig,
    build_chern_network,
    chern_parts,
    phase_probabilities,
)
from qnets.fnn.datasets import SparseSystemInput
from qnets.solvers.free_fermion import real_space_chern_number, spectral_gap

_STRONG_W = 2.6  # the top 20 % of the disorder ramp W = 1 → 3
_MARGIN = 0.1  # "near a threshold": |C| in (0.3 − margin, 0.3] or [0.7, 0.7 + margin)


def _sample_row(part, i: int, index: int, p: float, L: int) -> dict:
    """κ, W, gap and |C| of sample ``i`` of ``part`` (test index ``index``)."""
    h = part.dense([i])[0]
    return {"index": index, "clean": not part.strengths[i].any(), "label": int(part.labels[i]),
            "p": round(p, 3), "kappa": round(float(part.kappas[i]), 4), "W": round(float(part.strengths[i, 0]), 3),
            "gap": round(spectral_gap(h), 4), "abs_chern": round(abs(real_space_chern_number(h, L)), 3)}


def _summary(rows: list[dict]) -> dict:
    if not rows:
        return {"n": 0}
    c, gap, w, kappa, label, p = (np.array([r[k] for r in rows]) for k in ("abs_chern", "gap", "W", "kappa", "label", "p"))
    near = ((c > 0.3 - _MARGIN) & (c <= 0.3)) | ((c >= 0.7) & (c < 0.7 + _MARGIN))
    return {
        "n": len(rows),
        "label_1": int(label.sum()),
        "W_median": round(float(np.median(w)), 3),
        f"W_at_least_{_STRONG_W}": int((w >= _STRONG_W).sum()),
        "gap_median": round(float(np.median(gap)), 4),
        "fraction_gap_below_0.05": round(float((gap < 0.05).mean()), 3),
        "abs_chern_near_a_threshold": int(near.sum()),
        "label_0_kappa_above_0.5_abs_chern_in_0.2_0.3": int(((label == 0) & (kappa > 0.5) & (c > 0.2) & (c <= 0.3)).sum()),
        "label_1_abs_chern_in_0.7_0.8": int(((label == 1) & (c >= 0.7) & (c < 0.8)).sum()),
        "kappa_below_0.5_abs_chern_above_0.3": int(((kappa < 0.5) & (c > 0.3)).sum()),
        "fraction_abs_chern_in_0.7_0.85": round(float(((c > 0.7) & (c < 0.85)).mean()), 3),
        "fraction_abs_chern_in_0.15_0.3": round(float(((c > 0.15) & (c < 0.3)).mean()), 3),
        "fraction_kappa_above_0.5": round(float((kappa > 0.5).mean()), 3),
        "confident_p_below_0.1_or_above_0.9": int(((p < 0.1) | (p > 0.9)).sum()),
    }


def main() -> None:
    import yaml

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--checkpoint", default="checkpoint.pt")
    parser.add_argument("--reference", type=int, default=300, help="random disordered test samples for comparison")
    parser.add_argument("--compare", type=Path, default=None, help="an earlier output of this script")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()

    mapping = yaml.safe_load((args.run_dir / "config.yaml").read_text())
    cls = FnnChernConductanceConfig if mapping.get("readout") == "conductance" else FnnChernConfig
    config = config_from_mapping(cls, mapping, where=str(args.run_dir / "config.yaml"))
    parts = chern_parts(config, "test")
    net = build_chern_network(config)
    model = torch.nn.Sequential(SparseSystemInput(parts[0].rows, parts[0].cols, config.L**2), net)
    state = torch.load(args.run_dir / args.checkpoint, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model_state"])
    model.eval()
    torch.set_num_threads(args.threads)

    wrong_rows, reference_rows, offset = [], [], 0
    rng = np.random.default_rng(0)
    for part in parts:
        p = phase_probabilities(model, torch.from_numpy(part.values).to(net.dtype), config.readout, args.batch)
        wrong = np.flatnonzero((p > 0.5).astype(int) != part.labels)
        reference = [] if not part.strengths.any() else rng.choice(len(part), min(args.reference, len(part)), replace=False)
        for rows, indices in ((wrong_rows, wrong), (reference_rows, reference)):
            rows.extend(_sample_row(part, int(i), offset + int(i), float(p[i]), config.L) for i in indices)
        offset += len(part)
    result = {
        "run_dir": str(args.run_dir), "checkpoint": args.checkpoint, "epoch": state["epoch"],
        "n_test": offset, "accuracy": 1 - len(wrong_rows) / offset, "wrong": len(wrong_rows),
        "wrong_clean": sum(r["clean"] for r in wrong_rows),
        "errors_disordered": _summary([r for r in wrong_rows if not r["clean"]]),
        "reference_disordered": _summary(reference_rows),
    }
    if args.compare is not None:
        other = json.loads(args.compare.read_text())
        mine, theirs = {r["index"] for r in wrong_rows}, {r["index"] for r in other["samples"]}
        result["compare"] = {"run_dir": other["run_dir"], "wrong": len(theirs), "shared": len(mine & theirs),
                             "only_this_run": len(mine - theirs), "only_the_other": len(theirs - mine)}
    print(json.dumps(result | {"samples": wrong_rows}))


if __name__ == "__main__":
    main()
