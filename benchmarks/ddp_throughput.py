"""Data-parallel FNN training throughput on CPU: 1 process vs 2 processes (gloo).

Trains the ``ci-small`` network of ``fnn-mnist`` (196-64-32-10, Hamiltonian input,
complex128, batch 256, Adam + LARC) on 2×2-pooled MNIST (``--n-train`` samples) with
:class:`qnets.training.Trainer`, in

* ``1proc_1thread``: one process, one torch thread;
* ``1proc_Pthreads``: one process, ``P`` torch threads (intra-op parallelism);
* ``Pproc_1thread``: ``P`` processes of one thread each, data parallel over gloo
  (spawned with ``torch.multiprocessing``, as under ``torchrun``);

and reports the training samples/s (the Trainer's ``samples_per_second``: training set
size over the epoch's training wall time, evaluation excluded), median over the epochs
after the first. The final training losses of the 1- and P-process runs are compared
(they agree to rounding: same global batches, exactly averaged gradients).

Prints one JSON line and appends it to ``benchmarks/results/ddp_throughput.jsonl``.

Usage: ``QNETS_DATA=… python benchmarks/ddp_throughput.py [--n-train 4096] [--epochs 3] [--procs 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path


def _train(rank: int, world: int, init_file: str | None, threads: int, args: dict, out: str) -> None:
    import torch

    torch.set_num_threads(threads)
    if world > 1:
        import torch.distributed as dist

        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        from qnets.experiments import resolve_config
        from qnets.experiments.fnn_mnist import build_network, prepare_images, train_config
        from qnets.training import Trainer

        config = resolve_config("fnn-mnist", config_file="ci-small", overrides=[
            f"n_train={args['n_train']}", f"n_test={args['n_test']}", f"epochs={args['epochs']}"])
        x, y = prepare_images(config, "train")
        xt, yt = prepare_images(config, "test")
        trainer = Trainer(build_network(config), torch.nn.functional.cross_entropy, (x, y), (xt, yt),
                          train_config(config), progress=False)
        history = trainer.fit()
        if rank == 0:
            Path(out).write_text(json.dumps(history))
    finally:
        if world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()


def _run(world: int, threads: int, args: dict) -> list[dict]:
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "history.json")
        if world == 1:
            _train(0, 1, None, threads, args, out)
        else:
            mp.spawn(_train, args=(world, os.path.join(tmp, "init"), threads, args, out), nprocs=world)
        return json.loads(Path(out).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=4096)
    parser.add_argument("--n-test", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--procs", type=int, default=2)
    a = parser.parse_args()
    args = {"n_train": a.n_train, "n_test": a.n_test, "epochs": a.epochs}
    load_before = os.getloadavg()
    modes = {"1proc_1thread": (1, 1), f"1proc_{a.procs}threads": (1, a.procs),
             f"{a.procs}proc_1thread": (a.procs, 1)}
    rates, losses, wall = {}, {}, {}
    for mode, (world, threads) in modes.items():
        start = time.perf_counter()
        history = _run(world, threads, args)
        wall[mode] = round(time.perf_counter() - start, 2)
        steady = [r["samples_per_second"] for r in history[1:]] or [history[0]["samples_per_second"]]
        rates[mode] = round(statistics.median(steady), 1)
        losses[mode] = history[-1]["train_loss"]
    serial = rates["1proc_1thread"]
    record = {
        "benchmark": "ddp_throughput",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "config": "fnn-mnist ci-small (196-64-32-10, complex128, batch 256)",
        **args,
        "samples_per_second": rates,
        "speedup_vs_1proc_1thread": {m: round(r / serial, 3) for m, r in rates.items()},
        "final_train_loss": losses,
        "wall_seconds": wall,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    line = json.dumps(record)
    print(line)
    path = Path(__file__).parent / "results" / "ddp_throughput.jsonl"
    path.parent.mkdir(exist_ok=True)
    with open(path, "a") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    main()
