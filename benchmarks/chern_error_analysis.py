"""Where a trained ``fnn-chern-*`` network errs: κ, disorder strength, spectral gap and |C|.

Loads a finished run directory of ``qnets run fnn-chern-ldos`` / ``fnn-chern-conductance``
(its ``config.yaml``, a checkpoint and the cached data), evaluates the network on the test set
and prints one JSON line. For every misclassified sample it gives the test index, the label, P(topological),
clean or disordered, κ, the onsite disorder strength W, the spectral gap at E = 0 and the
real-space Chern number |C| (:func:`qnets.solvers.free_fermion.real_space_chern_number`). The
same quantities are summarised over a seeded random reference of ``--reference`` disordered
test samples, to show whether the errors sit where the labels are hard (strong disorder, small
gap, |C| near the label thresholds 0.3 / 0.7) or spread over the test set.

Usage: ``python benchmarks/chern_error_analysis.py RUN_DIR [--checkpoint checkpoint.pt]
[--reference 300]``.
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
)
from qnets.fnn.datasets import SparseSystemInput
from qnets.fnn.readouts import conductance_probability
from qnets.solvers.free_fermion import real_space_chern_number, spectral_gap


def _p_topological(model, values: np.ndarray, readout: str, dtype, batch: int) -> np.ndarray:
    out = []
    with torch.no_grad():
        for start in range(0, len(values), batch):
            y = model(torch.from_numpy(values[start : start + batch]).to(dtype))
            p = torch.softmax(y, -1)[:, 1] if readout == "ldos" else conductance_probability(y[:, 0])
            out.append(p.double().numpy())
    return np.concatenate(out)


def _physics(part, index: int, L: int) -> tuple[float, float]:
    """``(spectral gap, |C|)`` of sample ``index`` of ``part``."""
    h = part.dense([index])[0]
    return spectral_gap(h), abs(real_space_chern_number(h, L))


def _summary(rows: list[dict]) -> dict:
    if not rows:
        return {"n": 0}
    c = np.array([r["abs_chern"] for r in rows])
    gap = np.array([r["gap"] for r in rows])
    w = np.array([r["W"] for r in rows])
    return {
        "n": len(rows),
        "W_median": round(float(np.median(w)), 3),
        "gap_median": round(float(np.median(gap)), 4),
        "fraction_gap_below_0.05": round(float((gap < 0.05).mean()), 3),
        "fraction_abs_chern_in_0.7_0.85": round(float(((c > 0.7) & (c < 0.85)).mean()), 3),
        "fraction_abs_chern_in_0.15_0.3": round(float(((c > 0.15) & (c < 0.3)).mean()), 3),
        "fraction_kappa_above_0.5": round(float((np.array([r["kappa"] for r in rows]) > 0.5).mean()), 3),
    }


def main() -> None:
    import yaml

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--checkpoint", default="checkpoint.pt")
    parser.add_argument("--reference", type=int, default=300, help="random disordered test samples for comparison")
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
    dtype = next(net.parameters()).dtype

    wrong_rows, reference_rows, n_test, n_wrong = [], [], 0, 0
    rng = np.random.default_rng(0)
    for part in parts:
        clean = not part.strengths.any()
        p = _p_topological(model, part.values, config.readout, dtype, args.batch)
        wrong = np.flatnonzero((p > 0.5).astype(int) != part.labels)
        n_test, n_wrong = n_test + len(part), n_wrong + len(wrong)
        reference = [] if clean else rng.choice(len(part), min(args.reference, len(part)), replace=False)
        for rows, indices in ((wrong_rows, wrong), (reference_rows, reference)):
            for i in indices:
                gap, chern = _physics(part, int(i), config.L)
                rows.append({"index": n_test - len(part) + int(i), "clean": clean, "label": int(part.labels[i]), "p": round(float(p[i]), 3),
                             "kappa": round(float(part.kappas[i]), 4), "W": round(float(part.strengths[i, 0]), 3),
                             "gap": round(gap, 4), "abs_chern": round(chern, 3)})
    disordered_wrong = [r for r in wrong_rows if not r["clean"]]
    print(json.dumps({
        "run_dir": str(args.run_dir), "checkpoint": args.checkpoint, "epoch": state["epoch"],
        "n_test": n_test, "accuracy": 1 - n_wrong / n_test, "wrong": n_wrong,
        "wrong_clean": len(wrong_rows) - len(disordered_wrong),
        "wrong_label_1": sum(r["label"] for r in wrong_rows),
        "errors_disordered": _summary(disordered_wrong),
        "reference_disordered": _summary(reference_rows),
        "samples": wrong_rows,
    }))


if __name__ == "__main__":
    main()
