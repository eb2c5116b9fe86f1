"""Throughput of the FNN forward / forward+backward pass vs the reference approach.

Measures, for a 784-100-64-10 network (complex64, batch 256, LDOS readout, Hamiltonian
input) on this machine's CPU:

* samples/s of the forward pass and of forward + backward (cross-entropy loss), for
  qnets' recursion with the explicit adjoint, for the reference approach (the authors'
  way: ``g_0`` as a dense diagonal matrix, ``torch.linalg.inv`` per layer, autograd), and
  for a stronger baseline (the same autograd recursion with a diagonal-aware first layer);
* the achieved FLOP rate of qnets' forward + backward, from an operation count of the
  recursion and its adjoint, as a fraction of this machine's complex64 GEMM rate
  measured in the same run;
* the estimated time of one MNIST epoch (60k training + 10k test samples);
* the peak resident memory of a training process at batch 256 (a subprocess that holds
  the full MNIST-sized training set and takes optimisation steps).

Prints one JSON line and appends it to ``benchmarks/results/fnn_throughput.jsonl``.

Usage: ``python benchmarks/fnn_throughput.py [--batch 256] [--repeats 10] [--threads N]``
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from qnets.fnn import FermionNetwork
from qnets.fnn.readouts import ldos_readout
from qnets.greens import reference_layered_greens

SIZES = [784, 100, 64, 10]


def _timeit(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after two warm-ups."""
    fn()
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def gemm_rate(n: int = 2048, repeats: int = 5) -> float:
    """Complex64 GEMM rate in real FLOP/s (8 n³ per n×n product)."""
    a = torch.randn(n, n, dtype=torch.complex64)
    b = torch.randn(n, n, dtype=torch.complex64)
    seconds = _timeit(lambda: a @ b, repeats)
    return 8 * n**3 / seconds


def recursion_flops(sizes, batch: int) -> tuple[float, float]:
    """Real FLOPs executed by the forward and by forward + backward (whole batch).

    A complex multiply-add counts 8 real FLOPs, a real one 2. The diagonal input layer runs
    as one real GEMM over the upper triangle (``[d_r; d_i] @ [Re K, Im K]``:
    ``2 n0 n1(n1+1)`` real multiply-adds per sample), and so does its adjoint. A hidden
    layer ``l`` (``1 ≤ l < L``) is solved thin: LU (``n_l³/3`` complex) and two solves with
    ``n_{l+1}`` right-hand sides for ``X_l = g_l T_l`` and ``Y_l = g_l† T_l``
    (``2 n_l² n_{l+1}``); the next self-energy is ``T_l† X_l`` (``n_l n_{l+1}²``). The output
    block is inverted (``4/3 n_L³``). Backward: ``P_L = g_L† Ḡ g_L†`` (``2 n_L³``); for a
    thin layer ``Y_l P_{l+1}``, ``X_l P_{l+1}†`` (``n_l n_{l+1}²`` each) and
    ``(Y_l P_{l+1}) X_l†`` (``n_l² n_{l+1}``). Small element-wise work is not counted.
    """
    n = list(sizes)
    last = len(n) - 1
    first = 2 * 2 * n[0] * n[1] * (n[1] + 1)  # real FLOPs of the Hermitian half-GEMM
    forward = backward = float(first)  # real FLOPs per sample
    for layer in range(1, last):
        a, b = n[layer], n[layer + 1]
        forward += 8 * (a**3 / 3 + 2 * a * a * b + a * b * b)
        backward += 8 * (2 * a * b * b + a * a * b)
    forward += 8 * 4 / 3 * n[last] ** 3
    backward += 8 * 2 * n[last] ** 3
    return batch * forward, batch * (forward + backward)


def _authors_forward(net: FermionNetwork, x: torch.Tensor) -> torch.Tensor:
    """The authors' way: ``g_0`` as a dense diagonal matrix, ``inv`` per layer, autograd."""
    onsite, hoppings = net.layer_matrices()
    g0 = torch.diag_embed(net.encode(x))
    return ldos_readout(reference_layered_greens(g0, onsite, hoppings, net.z).g_out)


def _autograd_forward(net: FermionNetwork, x: torch.Tensor) -> torch.Tensor:
    """The same recursion with a diagonal-aware first layer, ``inv`` per layer, autograd."""
    onsite, hoppings = net.layer_matrices()
    return ldos_readout(reference_layered_greens(net.encode(x), onsite, hoppings, net.z).g_out)


def _peak_memory_mb(batch: int, steps: int = 20) -> float:
    """Peak RSS (MB) of a fresh process training on an MNIST-sized set at ``batch``."""
    code = f"""
import torch
from qnets.fnn import FermionNetwork
torch.manual_seed(0)
x = torch.rand(60000, 784); y = torch.randint(0, 10, (60000,))
net = FermionNetwork({SIZES}, seed=0)
opt = torch.optim.Adam(net.parameters(), lr=5e-3)
for step in range({steps}):
    idx = torch.randint(0, 60000, ({batch},))
    loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
    opt.zero_grad(); loss.backward(); opt.step()
# VmHWM: peak RSS of this process image (ru_maxrss would carry the forking parent's peak)
print([int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocess")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    generator = torch.Generator().manual_seed(0)
    net = FermionNetwork(SIZES, seed=0)
    x = torch.rand(args.batch, SIZES[0], generator=generator)
    y = torch.randint(0, 10, (args.batch,), generator=generator)

    def step(forward):
        def run():
            net.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(forward(net, x), y).backward()

        return run

    def infer(forward):
        def run():
            with torch.no_grad():
                forward(net, x)

        return run

    qnets_forward = lambda model, inputs: model(inputs)
    t_fwd = _timeit(infer(qnets_forward), args.repeats)
    t_train = _timeit(step(qnets_forward), args.repeats)
    t_ref_fwd = _timeit(infer(_authors_forward), args.repeats)
    t_ref_train = _timeit(step(_authors_forward), args.repeats)
    t_auto_fwd = _timeit(infer(_autograd_forward), args.repeats)
    t_auto_train = _timeit(step(_autograd_forward), args.repeats)
    rate = gemm_rate()
    flops_fwd, flops_train = recursion_flops(SIZES, args.batch)
    result = {
        "benchmark": "fnn_throughput",
        "sizes": SIZES,
        "dtype": "complex64",
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "forward_samples_per_s": args.batch / t_fwd,
        "train_samples_per_s": args.batch / t_train,
        "reference_forward_samples_per_s": args.batch / t_ref_fwd,
        "reference_train_samples_per_s": args.batch / t_ref_train,
        "train_speedup_vs_reference": t_ref_train / t_train,
        "diag_autograd_forward_samples_per_s": args.batch / t_auto_fwd,
        "diag_autograd_train_samples_per_s": args.batch / t_auto_train,
        "train_speedup_vs_diag_autograd": t_auto_train / t_train,
        "gemm_gflops": rate / 1e9,
        "forward_gflops": flops_fwd / t_fwd / 1e9,
        "train_gflops": flops_train / t_train / 1e9,
        "train_fraction_of_gemm": flops_train / t_train / rate,
        "estimated_epoch_seconds": 60000 / args.batch * t_train + 10000 / args.batch * t_fwd,
        "peak_rss_mb_training": None if args.no_memory else _peak_memory_mb(args.batch),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    line = json.dumps(result)
    print(line)
    out = Path(__file__).parent / "results" / "fnn_throughput.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as handle:
        handle.write(line + "\n")


if __name__ == "__main__":
    main()
