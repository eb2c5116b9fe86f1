"""CI-sized versions of the paper's MNIST comparisons (spec §7.2, B1–B4).

All on 2×2-pooled MNIST (14×14 = 196 inputs), the first 5000 training and 2000 test
images, 5 epochs, complex128 on CPU, Adam + LARC + cosine, clip 10:

* B1  FC 196-64-32-10, Hamiltonian input (z = 0.005i, lr 5e-3, init 0.1, wd 1e-3)
* B3  the same network with LDOS input (z = 0.001i, lr 1e-3, init 1.0, wd 1e-3)
* B2  locally connected 196 (14²) → 36 (6², k4 s2) → 10 with 2-D NN+NNN hopping
* B4  tree 196 → 49 (7², 2×2 blocks) → 10, onsite only vs + NN+NNN hopping

Prints one JSON line per variant and appends them to ``benchmarks/results/fnn_mnist_ci.jsonl``.

Usage: ``QNETS_DATA=../shared/data python benchmarks/fnn_mnist_ci.py [--epochs 5]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from qnets.experiments import resolve_config, run_experiment

COMMON = ["pool=2", "n_train=5000", "n_test=2000", "dtype=complex128"]
HAMILTONIAN = ["encoder=hamiltonian", "eta=0.005", "lr=0.005", "init_bound=0.1", "weight_decay=0.001"]
LDOS = ["encoder=ldos", "eta=0.001", "lr=0.001", "init_bound=1.0", "weight_decay=0.001"]
VARIANTS = {
    "B1 fc hamiltonian": ["sizes=[196,64,32,10]", *HAMILTONIAN],
    "B3 fc ldos": ["sizes=[196,64,32,10]", *LDOS],
    "B2 local nnn": ["sizes=[196,36,10]", "connectivity=local", "kernels=[4]", "strides=[2]",
                     "intra=nnn2d", *HAMILTONIAN],
    "B4 tree onsite": ["sizes=[196,49,10]", "connectivity=tree", "intra=none", *HAMILTONIAN],
    "B4 tree nnn": ["sizes=[196,49,10]", "connectivity=tree", "intra=nnn2d", *HAMILTONIAN],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(__file__).parent / "results" / "fnn_mnist_ci.jsonl"
    out.parent.mkdir(exist_ok=True)
    for name, overrides in VARIANTS.items():
        config = resolve_config(
            "fnn-mnist", overrides=[*COMMON, *overrides, f"epochs={args.epochs}", f"seed={args.seed}"]
        )
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            result = run_experiment("fnn-mnist", config, out=Path(tmp) / "run", progress=False)
        line = json.dumps({
            "benchmark": "fnn_mnist_ci",
            "variant": name,
            "epochs": args.epochs,
            "seed": args.seed,
            "num_real_parameters": result["num_real_parameters"],
            "best_test_accuracy": result["best_test_accuracy"],
            "final_test_accuracy": result["final_test_accuracy"],
            "seconds": time.perf_counter() - start,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        })
        print(line, flush=True)
        with out.open("a") as handle:
            handle.write(line + "\n")


if __name__ == "__main__":
    main()
