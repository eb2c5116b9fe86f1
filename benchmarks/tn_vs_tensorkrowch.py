"""qnets ``MPSClassifier`` vs TensorKrowch ``MPSLayer``: seconds per epoch and test accuracy.

Same configuration for both, trained one after the other in one process with the same
data order: 28 × 28 MNIST (``--n-train`` first training images, full test set), one site
per pixel, bond dimension 10, output (label) node in the middle, embedding
``[1, x, 1 - x]`` (qnets ``feature_map="bias_linear"``; computed once and handed to
TensorKrowch as its ``(batch, 784, 3)`` input), float32, Adam (``--lr``), batch 500,
cross-entropy on the raw outputs. TensorKrowch follows its tutorial setup
(``MPSLayer(n_features=785, in_dim=3, out_dim=10, bond_dim=10, init_method="randn_eye",
std=1e-9)``, ``auto_stack=True``, ``auto_unbind=False``, ``trace`` before training).

TensorKrowch is *not* a qnets dependency: install it only for this benchmark, e.g.
``pip install --target /tmp/tk --no-deps tensorkrowch opt_einsum`` and run with
``PYTHONPATH=/tmp/tk``.

Prints one JSON line and appends it to ``benchmarks/results/tn_vs_tensorkrowch.jsonl``.

Usage: ``QNETS_DATA=… python benchmarks/tn_vs_tensorkrowch.py [--n-train 60000] [--epochs 1]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch


def _epochs(model, x, y, xt, yt, epochs: int, batch: int, lr: float, seed: int, forward=None):
    forward = forward or model
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    records = []
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        start = time.perf_counter()
        losses = []
        for i in range(0, len(x), batch):
            idx = perm[i : i + batch]
            loss = torch.nn.functional.cross_entropy(forward(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        train_seconds = time.perf_counter() - start
        with torch.no_grad():
            correct = sum(
                (forward(xt[i : i + 1000]).argmax(1) == yt[i : i + 1000]).sum().item()
                for i in range(0, len(xt), 1000)
            )
        records.append(
            {
                "epoch": epoch + 1,
                "train_seconds": train_seconds,
                "train_loss": float(np.mean(losses)),
                "test_accuracy": correct / len(xt),
            }
        )
        print(f"  epoch {epoch + 1}: {train_seconds:.1f} s, loss {records[-1]['train_loss']:.4f}, "
              f"test {100 * records[-1]['test_accuracy']:.2f} %", flush=True)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--bond-dim", type=int, default=10)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import tensorkrowch as tk

    from qnets.data import load_mnist
    from qnets.tn import MPSClassifier

    images, labels = load_mnist("train", limit=args.n_train, flatten=True)
    test_images, test_labels = load_mnist("test", limit=args.n_test, flatten=True)
    x, y = torch.as_tensor(images), torch.as_tensor(labels).long()
    xt, yt = torch.as_tensor(test_images), torch.as_tensor(test_labels).long()

    print(f"qnets MPSClassifier (χ = {args.bond_dim}, bias_linear, float32)", flush=True)
    ours = MPSClassifier(784, args.bond_dim, 10, feature_map="bias_linear", dtype=torch.float32, seed=args.seed)
    ours_records = _epochs(ours, x, y, xt, yt, args.epochs, args.batch, args.lr, args.seed)

    print(f"TensorKrowch {tk.__version__} MPSLayer (χ = {args.bond_dim}, same embedding)", flush=True)
    embed = ours.feature_map  # [1, x, 1 - x], shape (B, 784, 3)
    theirs = tk.models.MPSLayer(
        n_features=785, in_dim=3, out_dim=10, bond_dim=args.bond_dim,
        init_method="randn_eye", std=1e-9, dtype=torch.float32,
    )
    theirs.auto_stack = True
    theirs.auto_unbind = False
    theirs.trace(torch.zeros(1, 784, 3))
    their_records = _epochs(theirs, x, y, xt, yt, args.epochs, args.batch, args.lr, args.seed,
                            forward=lambda batch: theirs(embed(batch)))

    ours_s = float(np.median([r["train_seconds"] for r in ours_records]))
    theirs_s = float(np.median([r["train_seconds"] for r in their_records]))
    result = {
        "benchmark": "tn_vs_tensorkrowch",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "n_train": len(x),
        "n_test": len(xt),
        "epochs": args.epochs,
        "bond_dim": args.bond_dim,
        "batch": args.batch,
        "lr": args.lr,
        "threads": args.threads,
        "tensorkrowch": tk.__version__,
        "torch": torch.__version__,
        "platform": platform.platform(),
        "qnets_seconds_per_epoch": ours_s,
        "tensorkrowch_seconds_per_epoch": theirs_s,
        "speedup": theirs_s / ours_s,
        "qnets_test_accuracy": ours_records[-1]["test_accuracy"],
        "tensorkrowch_test_accuracy": their_records[-1]["test_accuracy"],
        "qnets_epochs": ours_records,
        "tensorkrowch_epochs": their_records,
    }
    line = json.dumps(result)
    print(line)
    out = Path(__file__).parent / "results" / "tn_vs_tensorkrowch.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    main()
