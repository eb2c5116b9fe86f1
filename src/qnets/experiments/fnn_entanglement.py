r"""Experiment ``fnn-entanglement``: how much the output of an MNIST FNN is entangled with its input.

With Hamiltonian input the image plus the network is one Hermitian single-particle
Hamiltonian (``net.hamiltonian(x)``); its ground state at ``μ = Re z`` is a Slater
determinant, and Peschel's formula gives the mutual information

.. math::  I(A : C) = S_A + S_C − S_{AC} \le 2 \min(|A|, |C|) \ln 2

between the output layer ``A`` and the input layer ``C`` (spec ``fnn.md`` §5.2). Before
training and after every epoch the experiment averages ``I(A:C)``, ``I(A:D)``,
``I(A:CD)`` and the tripartite ``I3 = I(A:C) + I(A:D) − I(A:CD)`` (``D`` = first hidden
layer) over ``n_probe`` fixed test images. One network is trained per value of
``weight_decays`` (paper, 784-100-64-10, 121 epochs: ``I(A:C)`` 7.33 → 13.17 nats at weight
decay 0 and 7.15 → 10.81 at 1e-3, below the bound ``2·10·ln 2 = 13.86``). After training,
the decision flow (single-site ``I(site : target-class site)`` per layer, before and after
the layer-wise unitary) of the first probe image through the network of the first weight
decay is recorded.

Outputs: one sub-directory per weight decay (``wd-<value>/``: a complete ``fnn-mnist``-style
training run plus ``entanglement.jsonl``), ``entanglement.png``, ``decision_flow.png``,
``final.json``. ``--resume`` continues every sub-run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from qnets.errors import ConfigError
from qnets.experiments.fnn_mnist import FnnMnistConfig, summarize_history, train_fnn_mnist
from qnets.experiments.registry import register
from qnets.experiments.rundir import start_run, write_json

__all__ = ["FnnEntanglementConfig", "probe_information", "run_fnn_entanglement"]

_KEYS = ("I_AC", "I_AD", "I_ACD", "I3")
LOG_NAME = "entanglement.jsonl"


@dataclass
class FnnEntanglementConfig(FnnMnistConfig):
    """Configuration of ``fnn-entanglement``: an ``fnn-mnist`` config (Hamiltonian input) plus

    ``weight_decays`` (one training run per value; ``weight_decay`` is ignored),
    ``n_probe`` (test images whose information is averaged) and ``mu`` (Fermi level of the
    ground state; ``null`` = ``energy``, the readout energy).
    """

    weight_decays: list[float] = field(default_factory=lambda: [0.0, 1e-3])
    n_probe: int = 8
    mu: float | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.encoder != "hamiltonian":
            raise ConfigError(
                f"encoder: fnn-entanglement needs a Hermitian input + network (the 'hamiltonian' encoder; "
                f"the LDOS encoder makes the system open), got {self.encoder!r}"
            )
        if not isinstance(self.weight_decays, (list, tuple)) or not self.weight_decays:
            raise ConfigError(f"weight_decays: expected a non-empty list of numbers ≥ 0, got {self.weight_decays!r}")
        for value in self.weight_decays:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"weight_decays: expected numbers ≥ 0, got {value!r}")
        if len(set(self.weight_decays)) != len(self.weight_decays):
            raise ConfigError(f"weight_decays: values must be distinct, got {self.weight_decays!r}")
        if len(self.sizes) < 3:
            raise ConfigError(
                f"sizes: fnn-entanglement needs at least one hidden layer (I(A:D), I3), got {list(self.sizes)}"
            )
        if not isinstance(self.n_probe, int) or self.n_probe < 1:
            raise ConfigError(f"n_probe: expected an integer ≥ 1, got {self.n_probe!r}")


def probe_information(net, x: torch.Tensor, *, mu: float | None = None) -> dict[str, float]:
    """Mean and standard deviation over the images ``x`` of ``I(A:C)``, ``I(A:D)``, ``I(A:CD)``, ``I3``.

    Keys ``I_AC`` … ``I3`` (means, nats) and ``I_AC_std`` …; see
    :func:`qnets.fnn.analysis.layer_tripartite_information`. Levels exactly at ``μ`` (zero
    modes of blank pixels that the network cannot see) are left empty; they lie inside the
    input layer and do not change information between whole layers.
    """
    from qnets.fnn.analysis import layer_tripartite_information

    rows = layer_tripartite_information(net, x, mu=mu, at_fermi_level="empty")
    out = {}
    for key in _KEYS:
        values = np.array([r[key] for r in rows])
        out[key] = float(values.mean())
        out[f"{key}_std"] = float(values.std())
    return out


def _read_log(path: Path) -> dict[int, dict]:
    if not path.is_file():
        return {}
    records = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            records[int(record["epoch"])] = record
    return records


def _write_log(path: Path, records: dict[int, dict]) -> None:
    from qnets.training.checkpoint import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(records[e]) + "\n" for e in sorted(records)))


def _train_one(config: FnnEntanglementConfig, sub_dir: Path, x_probe: torch.Tensor, *, resume: bool,
               progress: bool) -> tuple[torch.nn.Module, list[dict], list[dict]]:
    """Train one network in ``sub_dir``, logging the probe information at epoch 0 and after each epoch."""
    from qnets.experiments.fnn_mnist import build_network

    sub_dir.mkdir(parents=True, exist_ok=True)
    log_path = sub_dir / LOG_NAME
    records = _read_log(log_path) if resume else {}
    if 0 not in records:  # the untrained network (same seed → same initialisation)
        records[0] = {"epoch": 0, **probe_information(build_network(config), x_probe, mu=config.mu)}
        _write_log(log_path, records)

    def measure(epoch: int, model, test_accuracy) -> None:
        records[epoch] = {"epoch": epoch, "test_accuracy": test_accuracy,
                          **probe_information(model, x_probe, mu=config.mu)}
        _write_log(log_path, records)

    def log_epoch(trainer, record):
        measure(trainer.epoch, trainer.model, record.get("test_accuracy"))

    net, history, _ = train_fnn_mnist(config, sub_dir, resume=resume, progress=progress, callbacks=(log_epoch,))
    last = len(history)
    if last not in records:  # killed between the checkpoint and the log write: measure the restored state
        measure(last, net, history[-1].get("test_accuracy"))
    return net, history, [records[e] for e in sorted(records) if e <= last]


@register(
    "fnn-entanglement", FnnEntanglementConfig,
    "I(output : input) of an MNIST FNN (Hamiltonian input) during training, per weight decay; decision flow",
)
def run_fnn_entanglement(config: FnnEntanglementConfig, run_dir: Path, *, resume: bool = False,
                         progress: bool = True) -> dict:
    """Train one network per weight decay, tracking the entanglement of output and input."""
    from qnets.experiments.fnn_mnist import prepare_images
    from qnets.fnn.analysis import decision_flow, flow_summary

    run_dir = start_run(run_dir, config, resume)
    x_test, y_test = prepare_images(config, "test")
    n_probe = min(config.n_probe, len(x_test))
    x_probe, y_probe = x_test[:n_probe], y_test[:n_probe]
    n_out = config.sizes[-1]
    bound = 2 * min(n_out, config.sizes[0]) * math.log(2)

    start = time.perf_counter()
    runs = []
    flow = None
    for wd in config.weight_decays:
        sub_config = dataclasses.replace(config, weight_decay=float(wd))
        net, history, information = _train_one(sub_config, run_dir / f"wd-{wd:g}", x_probe, resume=resume,
                                                progress=progress)
        values = [r["I_AC"] for r in information]
        runs.append({
            "weight_decay": float(wd),
            **summarize_history(history),
            "information": information,
            "I_AC_initial": values[0],
            "I_AC_final": values[-1],
            "I_AC_max": max(values),
            "below_bound": bool(max(values) <= bound + 1e-9),
        })
        if flow is None:
            net.eval()
            flow = decision_flow(net, x_probe[:1], output=[int(y_probe[0])], mu=config.mu, at_fermi_level="empty")
    headline = {}
    for r in runs:
        tag = f"wd{r['weight_decay']:g}"
        headline[f"I_AC_initial_{tag}"] = r["I_AC_initial"]
        headline[f"I_AC_final_{tag}"] = r["I_AC_final"]
        headline[f"best_test_accuracy_{tag}"] = r["best_test_accuracy"]
    paper_size = list(config.sizes) == [784, 100, 64, 10] and config.pool == 1
    result = {
        "experiment": "fnn-entanglement",
        "dataset": config.dataset,
        "sizes": list(config.sizes),
        "n_probe": n_probe,
        "bound": bound,
        **headline,
        "runs": runs,
        "decision_flow": flow_summary(flow),
        "seconds_this_call": time.perf_counter() - start,
        "paper": _paper_reference(config) if paper_size else {},
    }
    result["figures"] = _figures(run_dir, runs, flow, bound, config)
    write_json(run_dir / "final.json", result)
    return result


def _paper_reference(config) -> dict:
    """Fig. 2 of the FNN paper (784-100-64-10, Hamiltonian input, 121 epochs, 10 seeds)."""
    note = "FNN paper Fig. 2, 784-100-64-10, mean of 10 seeds after 121 epochs"
    values = {0.0: (13.17, 0.9797), 1e-3: (10.81, 0.9800)}
    out = {}
    for wd in config.weight_decays:
        if float(wd) in values:
            final, accuracy = values[float(wd)]
            tag = f"wd{float(wd):g}"
            out[f"I_AC_final_{tag}"] = {"value": final, "note": note}
            out[f"best_test_accuracy_{tag}"] = {"value": accuracy, "note": "10-seed mean of the best epoch"}
    return out


def _figures(run_dir: Path, runs: list[dict], flow: list[dict], bound: float, config) -> list[str]:
    try:
        from qnets.plotting import decision_flow_plot, information_curves, save_figure
    except ImportError as error:  # matplotlib is an optional extra
        import warnings

        warnings.warn(f"figures not written: {error}", stacklevel=3)
        return []
    curves = {
        f"weight decay {r['weight_decay']:g}": ([i["epoch"] for i in r["information"]],
                                                [i["I_AC"] for i in r["information"]])
        for r in runs
    }
    ax = information_curves(curves, bound=bound, title=f"FNN {list(config.sizes)}: output–input entanglement")
    save_figure(ax, run_dir / "entanglement.png")
    ax = decision_flow_plot(flow, title="decision flow, one test image")
    save_figure(ax, run_dir / "decision_flow.png")
    return ["entanglement.png", "decision_flow.png"]
