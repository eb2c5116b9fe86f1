"""I(output : input) of a finished ``fnn-mnist`` run (Hamiltonian input): initial vs trained network.

Loads the run's ``config.yaml`` and ``checkpoint.pt`` (and ``checkpoint.prev.pt`` when present),
rebuilds the untrained network from the same seed, and prints the mean ± std over the first
``--n-probe`` test images of ``I(A:C)``, ``I(A:D)``, ``I(A:CD)`` and ``I3`` (nats), where A =
output, C = input, D = first hidden layer (spec fnn.md §5.2; paper, 784-100-64-10: I(A:C)
7.15 → 10.81 nats at weight decay 1e-3 after 121 epochs, bound 2·10·ln 2 = 13.86).

    QNETS_DATA=../shared/data python benchmarks/fnn_entanglement_of_run.py --run runs/fc-ham-e30

Appends one JSON line to ``benchmarks/results/fnn_entanglement_of_run.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import yaml

from qnets.experiments.fnn_entanglement import probe_information
from qnets.experiments.fnn_mnist import FnnMnistConfig, build_network, prepare_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="run directory of a finished fnn-mnist run")
    parser.add_argument("--n-probe", type=int, default=16, help="test images averaged over")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    stored = yaml.safe_load((args.run / "config.yaml").read_text())
    config = FnnMnistConfig(**{k: v for k, v in stored.items() if k in FnnMnistConfig.__dataclass_fields__})
    config.device = "cpu"  # the probes are dense CPU ground states; a run trained on a GPU loads here too
    if config.encoder != "hamiltonian":
        raise SystemExit(f"--run: needs a Hamiltonian-input run, {args.run} used encoder {config.encoder!r}")
    x_test, _ = prepare_images(config, "test")
    x_probe = x_test[: args.n_probe]
    rows = []
    net = build_network(config)
    start = time.perf_counter()
    rows.append({"epoch": 0, **probe_information(net, x_probe)})
    for name in ("checkpoint.prev.pt", "checkpoint.pt"):
        path = args.run / name
        if path.is_file():
            state = torch.load(path, map_location="cpu", weights_only=False)
            net.load_state_dict(state["model_state"])
            history = state["history"]
            rows.append({"epoch": state["epoch"], "test_accuracy": history[-1].get("test_accuracy"),
                         **probe_information(net, x_probe)})
    seconds = time.perf_counter() - start
    bound = 2 * config.sizes[-1] * math.log(2)
    print(f"{args.run}: sizes {config.sizes}, weight decay {config.weight_decay}, {len(x_probe)} probe images, "
          f"bound {bound:.2f} nats, {seconds:.1f} s")
    for r in rows:
        print(f"  epoch {r['epoch']:>3}: I(A:C) = {r['I_AC']:.3f} ± {r['I_AC_std']:.3f}   I(A:D) = {r['I_AD']:.3f}   "
              f"I(A:CD) = {r['I_ACD']:.3f}   I3 = {r['I3']:.3f}"
              + (f"   test acc {100 * r['test_accuracy']:.2f} %" if r.get("test_accuracy") is not None else ""))
    out = Path(__file__).parent / "results" / "fnn_entanglement_of_run.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as handle:
        handle.write(json.dumps({"run": str(args.run), "sizes": config.sizes, "weight_decay": config.weight_decay,
                                 "n_probe": len(x_probe), "bound": bound, "seconds": seconds, "rows": rows}) + "\n")


if __name__ == "__main__":
    main()
