"""Where a trained ``fnn-fk-*`` network errs, set against the DMFT order of each test sample.

Loads a finished run directory of ``qnets run fnn-fk-metal`` / ``fnn-fk-stripe`` (its
``config.yaml``, ``final.json``, a checkpoint and the cached data), evaluates the network on the test set and prints one JSON
line: accuracy, the misclassified samples (index, label, P(label 1), ``U``, ``T``, checkerboard
order ``O_cb``, DMFT converged), and how far the labels themselves agree with the DMFT order
(label 1 with ``O_cb ≤ 0.1``, label 0 with ``O_cb > 0.1``, accuracy of the rule ``O_cb > 0.1``).
For ``metal`` the label is checkerboard; for ``stripe`` the rule uses the stripe order.

Usage: ``python benchmarks/fk_label_diagnosis.py RUN_DIR [--checkpoint checkpoint.pt]
[--cache-dir DIR]`` (default cache: the run's ``cache_dir``, else ``RUN_DIR/data``; the data
are read from there, and solved again only if they are missing).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import yaml

from qnets.experiments.fnn_fk import FKNetwork, fk_dataset, pack_features
from qnets.hamiltonians import checkerboard_order, stripe_order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--checkpoint", default="checkpoint.pt")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--batch", type=int, default=32, help="test samples per forward pass")
    args = parser.parse_args()

    config = yaml.safe_load((args.run_dir / "config.yaml").read_text())
    task = json.loads((args.run_dir / "final.json").read_text())["experiment"].removeprefix("fnn-fk-")
    cache = args.cache_dir or config.get("cache_dir") or args.run_dir / "data"
    keys = ("L", "n_matsubara", "chunk", "workers", "temperature", "dmft_mixing", "dmft_tol",
            "dmft_max_iter", "dmft_anderson")
    common = {key: config[key] for key in keys} | {"cache_dir": cache, "progress": True}
    n_train = config["n_train"]
    test = fk_dataset(task, config["n_test"], seed=config["seed"] + 1, **common)

    model = FKNetwork(config["L"], config["n_matsubara"], hidden=config["hidden"],
                      init_bound=config["init_bound"], in_situ=False, seed=config["seed"])
    state = torch.load(args.run_dir / args.checkpoint, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model_state"])
    x = pack_features(test, index_offset=n_train)
    with torch.no_grad():
        p = torch.cat([torch.softmax(model(x[i : i + args.batch]), -1)[:, 1]
                       for i in range(0, len(x), args.batch)]).numpy()

    order = (checkerboard_order if task == "metal" else stripe_order)(test.n_f, L=config["L"])
    ordered = order > 0.1
    wrong = np.flatnonzero((p > 0.5).astype(int) != test.labels)
    result = {
        "run_dir": str(args.run_dir), "checkpoint": args.checkpoint, "epoch": state["epoch"],
        "task": task, "n_test": len(test), "accuracy": 1 - len(wrong) / len(test),
        "wrong": len(wrong), "wrong_label_1": int((test.labels[wrong] == 1).sum()),
        "wrong_without_order": int((~ordered[wrong]).sum()),
        "p_of_wrong": [float(p[wrong].min()), float(p[wrong].max())] if len(wrong) else None,
        "label_1_without_order": int(((test.labels == 1) & ~ordered).sum()),
        "label_0_with_order": int(((test.labels == 0) & ordered).sum()),
        "order_rule_accuracy": float((ordered.astype(int) == test.labels).mean()),
        "dmft_unconverged": int((~test.converged).sum()),
        "samples": [{"index": int(i), "label": int(test.labels[i]), "p": round(float(p[i]), 3),
                     "U": round(float(test.params[i, 0]), 3), "T": round(float(test.params[i, 1]), 3),
                     "order": round(float(order[i]), 3), "converged": bool(test.converged[i])}
                    for i in wrong],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
