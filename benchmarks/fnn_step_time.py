"""Wall time of one FNN training step for the paper's MNIST networks.

Times ``net(x)`` + loss + backward (no optimiser):

* ``fc``, ``local``: the FC 784-100-64-10 network and the locally connected 784→169→36→10
  network with NN+NNN intra-layer hopping (Hamiltonian input, LDOS readout), on random
  pixels in [0, 1], cross-entropy;
* ``chern-ldos``, ``chern-conductance``: the paper's Chern networks 144-100-64-64-64-2 (LDOS,
  cross-entropy) and 144-100-64×5-1 (conditional conductance, the experiment's binary
  cross-entropy on ``tanh(relu(CC/2))``), dense intra-layer hopping, ``system`` encoder on
  random Hermitian 144 × 144 inputs (``z = 0.01i``).

With ``--cached-greens`` the ``system``-encoder networks start from stored input Green's
functions ``g_0 = (z − H)^{-1}`` (``net.forward_greens``: what the Chern experiments' option
``cache_greens`` trains on), so the step leaves out the inversion of the inputs.

All complex64. Prints one JSON line per network with the median and minimum over
``--repeats`` steps (after one warm-up), the loss and the sum of |gradient| (to compare two
versions of the code numerically).

Usage: ``python benchmarks/fnn_step_time.py [--networks fc local chern-ldos] [--threads 1] [--repeats 6]
[--cached-greens]``
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from qnets.fnn import FermionNetwork

_MNIST = {"encoder": "hamiltonian", "readout": "ldos", "eta": 0.005}
_CHERN = {"encoder": "system", "intra": "dense", "eta": 0.01}
NETWORKS = {
    "fc": {"sizes": [784, 100, 64, 10], "intra": "dense", **_MNIST},
    "local": {
        "sizes": [784, 169, 36, 10], "connectivity": "local", "kernels": [4, 3], "strides": [2, 2],
        "intra": "nnn2d", **_MNIST,
    },
    "chern-ldos": {"sizes": [144, 100, 64, 64, 64, 2], "readout": "ldos", **_CHERN},
    "chern-conductance": {"sizes": [144, 100, 64, 64, 64, 64, 64, 1], "readout": "conductance",
                          **_CHERN},
}


def _batch(name: str, batch: int, generator: torch.Generator):
    """Inputs and labels: pixels for the MNIST networks, Hermitian 144-site systems for Chern."""
    n_in, n_out = NETWORKS[name]["sizes"][0], NETWORKS[name]["sizes"][-1]
    if NETWORKS[name]["encoder"] == "system":
        a = torch.randn(batch, n_in, n_in, dtype=torch.complex64, generator=generator)
        x = (a + a.mH) / 2
    else:
        x = torch.rand(batch, n_in, generator=generator)
    return x, torch.randint(0, max(n_out, 2), (batch,), generator=generator)


def _loss(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if outputs.shape[-1] == 1:  # conditional conductance, as in fnn-chern-conductance
        from qnets.fnn.readouts import conductance_probability

        p = conductance_probability(outputs[:, 0])
        return torch.nn.functional.binary_cross_entropy(p, y.to(p.dtype))
    return torch.nn.functional.cross_entropy(outputs, y)


def step_times(name: str, batch: int, repeats: int, cached_greens: bool = False) -> dict:
    """Median / min seconds of a training step of network ``name`` (from stored ``g_0`` when
    ``cached_greens`` and the network reads a system)."""
    net = FermionNetwork(**NETWORKS[name], init_bound=0.1, seed=0)
    x, y = _batch(name, batch, torch.Generator().manual_seed(0))
    cached = cached_greens and net.encoder == "system"
    if cached:
        with torch.no_grad():
            x = net.encode(x)
    forward = net.forward_greens if cached else net

    def step() -> float:
        net.zero_grad(set_to_none=True)
        loss = _loss(forward(x), y)
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
        "input": "stored g_0" if cached else "raw",
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
    parser.add_argument("--cached-greens", action="store_true", help="system networks start from stored g_0")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.networks:
        print(json.dumps(step_times(name, args.batch, args.repeats, args.cached_greens)))


if __name__ == "__main__":
    main()
