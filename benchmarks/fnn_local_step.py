"""Training step of the paper's locally connected FNN, with and without the block-cyclic
solve of its first hidden layer (``qnets.greens._block_cyclic``).

784 → 169 (kernel 4, stride 2) → 36 (kernel 3, stride 2) → 10 with 2-D NN+NNN periodic
intra-layer hopping (config ``local-nnn``), Hamiltonian input, complex64, batch 256 of MNIST
test images, cross-entropy on the LDOS logits. The first hidden layer's block
``z − h − T† diag(g_0) T`` is block-cyclic tridiagonal (13 × 13 blocks); the structured
route solves it block by block instead of one dense 169 × 169 LU per sample. Prints the
time per step (forward + backward, minimum over ``--repeats``) of both routes, the samples
per second, and the largest relative differences of the logits and of the gradients
between them; appends one JSON line to ``benchmarks/results/fnn_local_step.jsonl``.

Usage: ``python benchmarks/fnn_local_step.py [--threads 1] [--repeats 5] [--checkpoint RUN/checkpoint.pt]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from qnets.data import load_mnist
from qnets.fnn import FermionNetwork
from qnets.greens import recursion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--checkpoint", default=None, help="a local-nnn run's checkpoint.pt")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = FermionNetwork([784, 169, 36, 10], connectivity="local", kernels=[4, 3], strides=[2, 2],
                         intra="nnn2d", encoder="hamiltonian", eta=0.005, init_bound=0.1, seed=0)
    if args.checkpoint:
        net.load_state_dict(torch.load(args.checkpoint, weights_only=False)["model_state"])
    x, y = load_mnist("test", limit=args.batch, flatten=True)
    x, y = torch.tensor(x), torch.tensor(y).long()

    def step(structured: bool):
        recursion._USE_BLOCK_CYCLIC = structured
        net.zero_grad()
        logits = net(x)
        torch.nn.functional.cross_entropy(logits, y).backward()
        return logits.detach(), [p.grad.clone() for p in net.parameters()]

    record = {"benchmark": "fnn_local_step", "threads": args.threads, "batch": args.batch,
              "checkpoint": args.checkpoint}
    outputs = {}
    for structured in (False, True):
        outputs[structured] = step(structured)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            step(structured)
            times.append(time.perf_counter() - start)
        key = "structured" if structured else "dense"
        record[f"{key}_step_s"] = round(min(times), 4)
        record[f"{key}_samples_per_s"] = round(args.batch / min(times), 1)
    record["speedup"] = round(record["dense_step_s"] / record["structured_step_s"], 2)
    (l_d, g_d), (l_s, g_s) = outputs[False], outputs[True]
    record["logits_rel_diff"] = float((l_d - l_s).abs().max() / l_d.abs().max())
    record["grad_rel_diff"] = max(float((a - b).abs().max() / a.abs().max()) for a, b in zip(g_d, g_s))
    record["time"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    line = json.dumps(record)
    print(line)
    out = Path(__file__).parent / "results" / "fnn_local_step.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as fh:
        fh.write(line + "\n")


if __name__ == "__main__":
    main()
