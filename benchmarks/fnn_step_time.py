"""Wall time of one FNN training step for the paper's MNIST networks.

Times ``net(x)`` + cross-entropy + backward (no optimiser) on a random batch of pixels in
[0, 1], for the FC 784-100-64-10 network and the locally connected 784→169→36→10 network
with NN+NNN intra-layer hopping (Hamiltonian input, LDOS readout, complex64). Prints one JSON
line per network with the median and minimum over ``--repeats`` steps (after one warm-up),
the loss and the sum of |gradient| (to compare two versions of the code numerically).

Usage: ``python benchmarks/fnn_step_time.py [--networks fc local] [--threads 1] [--repeats 6]``
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from qnets.fnn import FermionNetwork

NETWORKS = {
    "fc": {"sizes": [784, 100, 64, 10], "intra": "dense"},
    "local": {
        "sizes": [784, 169, 36, 10], "connectivity": "local", "kernels": [4, 3], "strides": [2, 2],
        "intra": "nnn2d",
    },
}


def step_times(name: str, batch: int, repeats: int) -> dict:
    """Median / min seconds of a training step of network ``name``."""
    net = FermionNetwork(**NETWORKS[name], encoder="hamiltonian", readout="ldos", eta=0.005,
                         init_bound=0.1, seed=0)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 784, generator=generator)
    y = torch.randint(0, 10, (batch,), generator=generator)

    def step() -> float:
        net.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        return loss.item()

    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "network": name,
        "batch": batch,
        "threads": torch.get_num_threads(),
        "median_s": times[len(times) // 2],
        "min_s": times[0],
        "loss": loss,
        "grad_abs_sum": float(sum(p.grad.abs().sum() for p in net.parameters())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", choices=sorted(NETWORKS), default=sorted(NETWORKS))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.networks:
        print(json.dumps(step_times(name, args.batch, args.repeats)))


if __name__ == "__main__":
    main()
