"""Classical EP gradient vs the exact equilibrium gradient (spec ``qep.md`` §6 T8).

A 6-5-4-3 layered Hopfield network (:class:`qnets.ep.HopfieldEP`, Glorot weights × 0.5,
biases U(0.3, 0.5), float64), a batch of 4 random inputs; the exact gradient of
J = mean C(s*) comes from implicit differentiation (:func:`qnets.ep.implicit_gradient`,
checked against finite differences in the tests). For each output (MSE, cross-entropy),
estimator (one-sided, symmetric) and β it records the relative error ‖ĝ − g‖/‖g‖ and the
cosine similarity; 400 free and 400 nudged steps (converged to ~1e-13).

Prints one JSON line and appends it to ``benchmarks/results/ep_classical_gradient.jsonl``.

Usage: ``python benchmarks/ep_classical_gradient.py``
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import torch

from qnets.ep import HopfieldEP, implicit_gradient

STEPS = 400
BETAS = (1e-1, 1e-2, 1e-3, 1e-4)


def _case(output: str):
    net = HopfieldEP([6, 5, 4, 3], output=output, seed=1, free_steps=STEPS, nudged_steps=STEPS)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for w in net.weights:
            w.mul_(0.5)
        for b in net.biases:
            b.copy_(0.2 * torch.rand(b.shape, generator=gen, dtype=b.dtype) + 0.3)
    return net, torch.rand(4, 6, generator=gen, dtype=torch.float64), torch.tensor([0, 1, 2, 1])


def main() -> dict:
    torch.set_num_threads(1)
    start = time.perf_counter()
    record = {"benchmark": "ep_classical_gradient", "sizes": [6, 5, 4, 3], "batch": 4, "steps": STEPS}
    for output in ("mse", "cross_entropy"):
        net, x, y = _case(output)
        exact = torch.cat([g.reshape(-1) for g in implicit_gradient(net, x, y, steps=STEPS, tol=1e-12)])
        for estimator in ("one_sided", "symmetric"):
            for beta in BETAS:
                est = torch.cat([g.reshape(-1) for g in net.ep_gradient(x, y, beta, estimator=estimator).gradients])
                key = f"{output}/{estimator}/{beta:g}"
                record[f"rel_err {key}"] = float((est - exact).norm() / exact.norm())
                record[f"cosine {key}"] = float(torch.nn.functional.cosine_similarity(est, exact, dim=0))
    record["seconds"] = time.perf_counter() - start
    record["torch"] = torch.__version__
    record["python"] = platform.python_version()
    line = json.dumps(record)
    print(line)
    out = Path(__file__).parent / "results" / "ep_classical_gradient.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as f:
        f.write(line + "\n")
    return record


if __name__ == "__main__":
    main()
