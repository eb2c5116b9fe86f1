"""Worker of the data-parallel tests (importable by spawned processes)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.functional import cross_entropy

from qnets.fnn import FermionNetwork
from qnets.training import TrainConfig, Trainer
from qnets.training.distributed import current_context

N_TRAIN, N_TEST = 13, 7
CONFIG = {"epochs": 3, "batch_size": 5, "lr": 0.05, "larc": True, "weight_decay": 1e-3, "seed": 3}


def network(kind: str = "fnn") -> torch.nn.Module:
    if kind == "mps":
        from qnets.tn import MPSClassifier

        return MPSClassifier(6, 3, n_classes=3, seed=2)
    return FermionNetwork([6, 5, 3], dtype=torch.complex128, seed=1)


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(N_TRAIN + N_TEST, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (N_TRAIN + N_TEST,), generator=g)
    return x, y


class Stop(Exception):
    pass


def _stop_after_one(trainer, record):
    if record["epoch"] == 1:
        raise Stop


def trainer(out_dir, callbacks=()) -> Trainer:
    x, y = data()
    return Trainer(network(), cross_entropy, (x[:N_TRAIN], y[:N_TRAIN]), (x[N_TRAIN:], y[N_TRAIN:]),
                   TrainConfig(**CONFIG), out_dir=out_dir, progress=False, callbacks=callbacks)


def worker(rank: int, world: int, init_file: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        ctx = current_context()
        x, y = data()
        grads = {}
        for kind in ("fnn", "mps"):
            net = network(kind)
            params = [p for p in net.parameters() if p.requires_grad]
            for n in (N_TRAIN, 12):  # uneven (7 + 6) and even (6 + 6) global batches
                net.zero_grad(set_to_none=True)
                part = ctx.shard_slice(n)
                cross_entropy(net(x[:n][part]), y[:n][part]).backward()
                ctx.reduce_gradients_(params, part.stop - part.start, n)
                grads[kind, n] = {name: p.grad.clone() for name, p in net.named_parameters()}
        run_dir = Path(out) / f"rank{rank}"  # rank 1 must write nothing there
        try:
            trainer(run_dir, callbacks=[_stop_after_one]).fit()
        except Stop:
            pass
        resumed = trainer(run_dir)
        history = resumed.fit(resume=True)
        if rank == 0:
            torch.save({"grads": grads, "history": history, "state": resumed.model.state_dict()},
                       Path(out) / "ddp.pt")
        dist.barrier()  # no rank tears the group down while the other still uses it
    finally:
        dist.destroy_process_group()
