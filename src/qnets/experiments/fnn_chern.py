r"""Experiments ``fnn-chern-ldos`` and ``fnn-chern-conductance``: FNNs read a Chern insulator.

The network's input layer is the quantum system itself (``system`` encoder,
``g_0 = (z − H_sys)^{-1}``, ``z = E + iη``); the task is trivial (κ < 0.5) vs Chern
insulator (κ > 0.5) on an ``L × L`` torus, trained on the clean + disordered sets of the
spec (``fnn.md`` §4.2; :func:`qnets.fnn.datasets.chern_dataset`).

``fnn-chern-ldos``
    the paper's ``Simple`` net ``144 → 100 → 64 → 64 → 64 → 2``, LDOS readout as logits of a
    softmax cross-entropy, Adam 5e-3, weight decay 1e-3, init 0.1, LARC, cosine (paper
    99.83 % best test accuracy after 121 epochs).
``fnn-chern-conductance``
    ``CMedian``: ``144 → 100 → 64 ×5 → 1``, conditional conductance
    ``CC = |Σ_i G_{i,o}|²`` read as ``p = tanh(relu(CC/2))`` with binary cross-entropy,
    Adam 1e-4, no weight decay (paper 99.58 %).

After training, ``P(topological | κ)`` on ``n_phase`` clean Hamiltonians with κ evenly
spaced in [0.1, 1] gives the phase diagram and its 0.5 crossing (paper ≈ 0.5045, target
within 0.01 of κ_c = 0.5). Outputs in the run directory: ``metrics.jsonl``, checkpoints,
``final.json``, ``phase_diagram.png`` / ``phase_diagram.csv``, ``spectrum.png`` (levels of
system + network for a trivial and a topological input), ``learning_curves.png``,
``decision_flow.png`` (single-site information about the output before / after the LUT).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qnets.errors import ConfigError
from qnets.experiments.config import train_config
from qnets.experiments.registry import register
from qnets.experiments.rundir import start_run, write_json

__all__ = [
    "FnnChernConductanceConfig",
    "FnnChernConfig",
    "build_chern_network",
    "chern_data",
    "chern_parts",
    "phase_crossing",
    "phase_probabilities",
    "run_fnn_chern",
]

_DTYPES = {"complex64": torch.complex64, "complex128": torch.complex128}
_READOUTS = ("ldos", "conductance")


@dataclass
class FnnChernConfig:
    """Configuration of ``fnn-chern-ldos`` (``--set key=value`` for every field).

    Data: ``L`` (torus size, multiple of 4), ``n_train_clean`` / ``n_test_clean`` /
    ``n_train_disordered`` / ``n_test_disordered`` (the paper: 20k/4k clean, 30k/6k
    disordered), ``label_gap`` (0.2), ``min_gap`` (0.01), ``data_seed``, ``workers``
    (generation processes; ``null`` = all cores), ``cache_dir`` (``null`` =
    ``~/.cache/qnets/chern``), ``disorder_layout`` (``interleaved`` or ``blocked``: which
    disordered samples are the trivial third, :mod:`qnets.fnn.datasets`). Network:
    :class:`qnets.fnn.FermionNetwork` arguments. Training: :class:`qnets.training.TrainConfig`
    fields. ``n_phase``: clean samples of the phase diagram. ``train_subset``: train on a
    seeded random subset of this many of the generated training samples (the full test set
    is kept; for CPU-limited runs). ``cache_greens``: invert every sample's
    ``z − H_sys`` once and train on the stored ``g_0`` instead of inverting each minibatch
    every epoch (an execution setting: the same numbers bit for bit on the CPU, ≈ 1.5×
    faster CPU epochs at the paper's size, for ``8 N L⁴`` bytes of memory in complex64:
    9.3 GiB for the 60,000 paper-size samples; refused when it would not fit in the
    available memory).
    Designed perturbation (spec B11): ``perturbation_kappa`` (the clean topological
    sample), ``perturbation_deltas`` (strengths δ evenly in [0, 1]; 0 skips the analysis),
    ``perturbation_random`` (random disorder draws of the same strength).
    """

    readout: str = "ldos"
    L: int = 12
    n_train_clean: int = 20000
    n_test_clean: int = 4000
    n_train_disordered: int = 30000
    n_test_disordered: int = 6000
    label_gap: float = 0.2
    min_gap: float = 0.01
    data_seed: int = 0
    workers: int | None = None
    cache_dir: str | None = None
    disorder_layout: str = "interleaved"
    sizes: list[int] = field(default_factory=lambda: [144, 100, 64, 64, 64, 2])
    intra: Any = "dense"
    energy: float = 0.0
    eta: float = 0.01
    init_bound: float = 0.1
    dtype: str = "complex64"
    epochs: int = 121
    batch_size: int = 256
    optimizer: str = "adam"
    lr: float = 5e-3
    weight_decay: float = 1e-3
    larc: bool = True
    trust_coefficient: float = 1e-3
    schedule: str = "cosine"
    clip_grad_norm: float | None = 10.0
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    n_phase: int = 100
    train_subset: int | None = None
    cache_greens: bool = False
    perturbation_kappa: float = 0.52
    perturbation_deltas: int = 41
    perturbation_random: int = 4

    def __post_init__(self):
        if self.readout not in _READOUTS:
            raise ConfigError(f"readout: expected one of {_READOUTS}, got {self.readout!r}")
        from qnets.fnn.datasets import DISORDER_LAYOUTS

        if self.disorder_layout not in DISORDER_LAYOUTS:
            raise ConfigError(f"disorder_layout: expected one of {DISORDER_LAYOUTS}, got {self.disorder_layout!r}")
        if self.dtype not in _DTYPES:
            raise ConfigError(f"dtype: expected one of {tuple(_DTYPES)}, got {self.dtype!r}")
        if not isinstance(self.L, int) or self.L < 4 or self.L % 4:
            raise ConfigError(
                f"L: expected a multiple of 4 (the gap closes at κ = 0.5 only when 4 | L), got {self.L!r}"
            )
        if self.sizes[0] != self.L**2:
            raise ConfigError(f"sizes: the input layer must have L² = {self.L**2} sites, got {self.sizes[0]}")
        n_out = 2 if self.readout == "ldos" else 1
        if list(self.sizes)[-1] != n_out:
            raise ConfigError(
                f"sizes: the {self.readout} readout needs {n_out} output site(s), got {self.sizes[-1]}"
            )
        for name in ("n_train_clean", "n_test_clean", "n_train_disordered", "n_test_disordered"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name}: expected an integer ≥ 0, got {value!r}")
        if self.n_train_clean + self.n_train_disordered < 1 or self.n_test_clean + self.n_test_disordered < 1:
            raise ConfigError("n_train_*/n_test_*: need at least one training and one test sample")
        if self.train_subset is not None and (not isinstance(self.train_subset, int) or self.train_subset < 1):
            raise ConfigError(f"train_subset: expected null or a positive integer, got {self.train_subset!r}")
        if not isinstance(self.cache_greens, bool):
            raise ConfigError(f"cache_greens: expected true or false, got {self.cache_greens!r}")
        if not isinstance(self.n_phase, int) or self.n_phase < 2:
            raise ConfigError(f"n_phase: expected an integer ≥ 2, got {self.n_phase!r}")
        if not isinstance(self.perturbation_deltas, int) or self.perturbation_deltas == 1 or self.perturbation_deltas < 0:
            raise ConfigError(f"perturbation_deltas: expected 0 (skip) or an integer ≥ 2, got {self.perturbation_deltas!r}")
        if not isinstance(self.perturbation_random, int) or self.perturbation_random < 1:
            raise ConfigError(f"perturbation_random: expected an integer ≥ 1, got {self.perturbation_random!r}")
        if not 0.0 < float(self.perturbation_kappa) <= 1.0:
            raise ConfigError(f"perturbation_kappa: expected a value in (0, 1], got {self.perturbation_kappa!r}")


@dataclass
class FnnChernConductanceConfig(FnnChernConfig):
    """Configuration of ``fnn-chern-conductance`` (the paper's ``CMedian``; see :class:`FnnChernConfig`)."""

    readout: str = "conductance"
    sizes: list[int] = field(default_factory=lambda: [144, 100, 64, 64, 64, 64, 64, 1])
    lr: float = 1e-4
    weight_decay: float = 0.0


def chern_parts(config: FnnChernConfig, split: str) -> list:
    """The :class:`~qnets.fnn.datasets.ChernDataset` parts (clean, then disordered) of ``split``.

    ``split`` is ``"train"`` or ``"test"``; a part with zero samples is left out. Each part
    keeps its ``kappas`` and disorder ``strengths`` (per sample), which :func:`chern_data`
    drops when it concatenates them.
    """
    from qnets.fnn.datasets import chern_dataset

    if split not in ("train", "test"):
        raise ConfigError(f"split: expected 'train' or 'test', got {split!r}")
    workers = config.workers or os.cpu_count() or 1
    cache = Path(config.cache_dir) if config.cache_dir else Path.home() / ".cache" / "qnets" / "chern"
    offset = 0 if split == "train" else 1
    parts = []
    for disordered, n in ((False, config.n_train_clean if split == "train" else config.n_test_clean),
                          (True, config.n_train_disordered if split == "train" else config.n_test_disordered)):
        if n:
            parts.append(chern_dataset(
                n, config.L, disordered=disordered, gap=config.label_gap, min_gap=config.min_gap,
                seed=4 * config.data_seed + 2 * int(disordered) + offset, workers=workers, cache_dir=cache,
                layout=config.disorder_layout,
            ))
    return parts


def chern_data(config: FnnChernConfig, split: str):
    """``(values (n, 9L²) complex, labels (n,), clean (n,) bool, rows, cols)`` of the clean +
    disordered ``split``."""
    parts = chern_parts(config, split)
    values = np.concatenate([p.values for p in parts])
    labels = np.concatenate([p.labels for p in parts])
    clean = np.concatenate([np.full(len(p), not p.strengths.any()) for p in parts])
    return values, labels, clean, parts[0].rows, parts[0].cols


def build_chern_network(config: FnnChernConfig):
    """The :class:`~qnets.fnn.FermionNetwork` of ``config`` (``system`` encoder, seeded)."""
    from qnets.fnn import FermionNetwork

    return FermionNetwork(
        config.sizes, intra=config.intra, encoder="system", readout=config.readout,
        energy=config.energy, eta=config.eta, init_bound=config.init_bound,
        dtype=_DTYPES[config.dtype], device=config.device, seed=config.seed,
    )


def _loss_and_metrics(readout: str):
    """Loss ``(outputs, y) → scalar`` and ``metrics_fn`` for the readout."""
    from qnets.fnn.readouts import conductance_probability

    if readout == "ldos":
        return torch.nn.functional.cross_entropy, None

    def bce(outputs, y):
        return torch.nn.functional.binary_cross_entropy(conductance_probability(outputs[:, 0]), y.to(outputs.dtype))

    def accuracy(outputs, y):
        predicted = conductance_probability(outputs[:, 0]) > 0.5
        return {"accuracy": (predicted == (y > 0.5)).double().mean().item()}

    return bce, accuracy


class _TrainOnGreens(torch.nn.Sequential):
    """``Sequential(SparseSystemInput, net)`` fed stored input Green's functions.

    ``forward(g0)`` is ``net.forward_greens(g0)``. The state-dict keys are those of the
    model without the cache, so a run may switch ``cache_greens`` when it resumes.
    """

    def forward(self, g0: torch.Tensor) -> torch.Tensor:
        return self[1].forward_greens(g0)


def _available_memory() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (None where the file is missing)."""
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def _check_greens_memory(n_samples: int, n_sites: int, dtype: torch.dtype) -> None:
    """Refuse ``cache_greens`` when ``n_samples`` ``n_sites × n_sites`` blocks exceed 80 % of
    the available memory."""
    from qnets.errors import SizeLimitError

    needed = n_samples * n_sites * n_sites * torch.empty((), dtype=dtype).element_size()
    available = _available_memory()
    if available is not None and needed > 0.8 * available:
        raise SizeLimitError(
            f"cache_greens: the stored g_0 of {n_samples} samples need {needed / 2**30:.1f} GiB, "
            f"more than 80 % of the {available / 2**30:.1f} GiB available; run without "
            f"cache_greens (each minibatch is then inverted when it is used) or use train_subset"
        )


def _input_greens(model, values: torch.Tensor, *, batch_size: int, progress: bool, what: str) -> torch.Tensor:
    r"""``g_0 = (z − H_sys)^{-1}`` ``(n, N, N)`` of every sample of ``values`` ``(n, nnz)``.

    ``model`` is ``Sequential(SparseSystemInput, net)``; the inverses are those the uncached
    forward pass computes (:func:`qnets.fnn.encoders.encode_system`, one minibatch of
    ``batch_size`` at a time, without autograd), stored on the CPU in the same memory
    layout, so that training on them gives the uncached run's numbers bit for bit.
    """
    from tqdm.auto import tqdm

    scatter, net = model[0], model[1]
    device = next(net.parameters()).device
    n_sites = scatter.n_sites
    # the layout LAPACK's inverse returns (column-major blocks), kept by minibatch indexing:
    # the products downstream then round exactly as in the uncached forward pass
    out = torch.empty(values.shape[0], n_sites, n_sites, dtype=net.dtype).mT
    starts = range(0, values.shape[0], batch_size)
    with torch.no_grad():
        for start in tqdm(starts, desc=f"g_0 of the {what} set", unit="batch", disable=not progress, leave=False):
            stop = start + batch_size
            out[start:stop] = net.encode(scatter(values[start:stop].to(device))).cpu()
    return out


def phase_probabilities(net, hamiltonians: torch.Tensor, readout: str, batch_size: int = 256) -> np.ndarray:
    """``P(topological)`` ``(n,)`` of dense system Hamiltonians ``(n, N, N)``.

    ``net`` may be any module whose output is the network's (e.g. ``Sequential(
    SparseSystemInput, net)`` fed pattern values ``(n, nnz)``).
    """
    from qnets.fnn.readouts import conductance_probability

    out = []
    with torch.no_grad():
        for start in range(0, hamiltonians.shape[0], batch_size):
            y = net(hamiltonians[start : start + batch_size])
            p = torch.softmax(y, -1)[:, 1] if readout == "ldos" else conductance_probability(y[:, 0])
            out.append(p.double().cpu().numpy())
    return np.concatenate(out)


def phase_crossing(parameter: np.ndarray, probability: np.ndarray) -> tuple[float, int]:
    """Linear interpolation of the first ``P = 0.5`` crossing and the number of crossings.

    Returns ``(nan, 0)`` when ``P`` never crosses 0.5.
    """
    above = probability > 0.5
    changes = np.nonzero(above[1:] != above[:-1])[0]
    if changes.size == 0:
        return float("nan"), 0
    i = int(changes[0])
    p0, p1 = probability[i], probability[i + 1]
    x = parameter[i] + (0.5 - p0) * (parameter[i + 1] - parameter[i]) / (p1 - p0)
    return float(x), int(changes.size)


def _figures(run_dir: Path, net, config, kappas, probability, crossing, history, flow, perturbation) -> list[str]:
    try:
        from qnets.hamiltonians import chern_insulator
        from qnets.plotting import (
            decision_flow_plot,
            learning_curves,
            level_spectra,
            perturbation_curves,
            phase_diagram,
            save_figure,
        )
    except ImportError as error:  # matplotlib is an optional extra
        import warnings

        warnings.warn(f"figures not written: {error}", stacklevel=3)
        return []
    name = f"fnn-chern-{config.readout}"
    ax = phase_diagram(kappas, {f"FNN ({config.readout})": probability}, critical=0.5, crossing=crossing,
                       xlabel="κ", ylabel="P(topological)", title=f"{name}, L = {config.L}, clean samples")
    save_figure(ax, run_dir / "phase_diagram.png")
    spectra = {}
    with torch.no_grad():
        for kappa in (0.3, 0.8):
            h_sys = torch.from_numpy(chern_insulator(config.L, kappa)).unsqueeze(0)
            h = net.hamiltonian(h_sys.to(net.dtype))[0].to(torch.complex128).cpu().numpy()
            spectra[f"system + network, κ = {kappa}"] = np.linalg.eigvalsh(h)
            spectra[f"system alone, κ = {kappa}"] = np.linalg.eigvalsh(h_sys[0].numpy())
    save_figure(level_spectra(spectra, title=f"{name}: spectra"), run_dir / "spectrum.png")
    save_figure(learning_curves(history, title=name), run_dir / "learning_curves.png")
    save_figure(decision_flow_plot(flow, title=f"{name}: decision flow, κ = 0.8"), run_dir / "decision_flow.png")
    names = ["phase_diagram.png", "spectrum.png", "learning_curves.png", "decision_flow.png"]
    if perturbation is not None:
        ax = perturbation_curves(perturbation["delta"], perturbation["curves"],
                                 title=f"{name}: designed vs random perturbation, κ = {config.perturbation_kappa}")
        save_figure(ax, run_dir / "perturbation.png")
        names.append("perturbation.png")
    return names


def run_fnn_chern(config: FnnChernConfig, run_dir: Path, *, resume: bool = False, progress: bool = True) -> dict:
    """Generate (or load) the data, train, evaluate clean/disordered, draw the phase diagram."""
    from qnets.fnn.analysis import flow_summary
    from qnets.fnn.datasets import SparseSystemInput
    from qnets.hamiltonians import chern_insulator
    from qnets.training import Trainer

    run_dir = start_run(run_dir, config, resume)
    name = f"fnn-chern-{config.readout}"

    t0 = time.perf_counter()
    train_values, train_labels, _, rows, cols = chern_data(config, "train")
    if config.train_subset is not None and config.train_subset < len(train_labels):
        keep = np.sort(np.random.default_rng(config.seed).choice(len(train_labels), config.train_subset, replace=False))
        train_values, train_labels = train_values[keep], train_labels[keep]
    test_values, test_labels, test_clean, _, _ = chern_data(config, "test")
    data_seconds = time.perf_counter() - t0
    dtype = _DTYPES[config.dtype]
    device = torch.device(config.device)

    net = build_chern_network(config)
    model = torch.nn.Sequential(SparseSystemInput(rows, cols, config.L**2), net).to(device)
    loss_fn, metrics_fn = _loss_and_metrics(config.readout)
    train_cfg = train_config(config)
    x_train = torch.from_numpy(train_values).to(dtype)
    x_test = torch.from_numpy(test_values).to(dtype)
    greens_seconds = None
    if config.cache_greens:
        t_greens = time.perf_counter()
        _check_greens_memory(len(x_train) + len(x_test), config.L**2, dtype)
        x_train = _input_greens(model, x_train, batch_size=config.batch_size, progress=progress, what="training")
        x_test = _input_greens(model, x_test, batch_size=config.batch_size, progress=progress, what="test")
        model = _TrainOnGreens(*model)
        greens_seconds = time.perf_counter() - t_greens
    y_train, y_test = torch.from_numpy(train_labels), torch.from_numpy(test_labels)
    trainer = Trainer(model, loss_fn, (x_train, y_train), (x_test, y_test), train_cfg,
                      out_dir=run_dir, metrics_fn=metrics_fn, progress=progress)
    start = time.perf_counter()
    history = trainer.fit(resume=resume)
    best = max(history, key=lambda r: r["test_accuracy"])

    split_accuracy = {}
    for label, mask in (("clean", test_clean), ("disordered", ~test_clean)):
        if mask.any():
            split_accuracy[label] = trainer.evaluate((x_test[torch.from_numpy(mask)], y_test[torch.from_numpy(mask)]))["accuracy"]
    kappas = np.linspace(0.1, 1.0, config.n_phase)
    phase_h = torch.from_numpy(np.stack([chern_insulator(config.L, k) for k in kappas])).to(dtype).to(device)
    net.eval()
    probability = phase_probabilities(net, phase_h, config.readout)
    crossing, n_crossings = phase_crossing(kappas, probability)
    _write_phase_csv(run_dir / "phase_diagram.csv", kappas, probability)

    result = {
        "experiment": name,
        "L": config.L,
        "sizes": list(config.sizes),
        "n_train": len(y_train),
        "n_test": len(y_test),
        "num_real_parameters": net.num_real_parameters(),
        "epochs": len(history),
        "best_test_accuracy": best["test_accuracy"],
        "best_epoch": best["epoch"],
        "final_test_accuracy": history[-1]["test_accuracy"],
        "final_test_accuracy_clean": split_accuracy.get("clean"),
        "final_test_accuracy_disordered": split_accuracy.get("disordered"),
        "phase_crossing": crossing,
        "phase_crossing_error": abs(crossing - 0.5) if np.isfinite(crossing) else None,
        "phase_crossings_count": n_crossings,
        "p_topological_at_0.1": float(probability[0]),
        "p_topological_at_1.0": float(probability[-1]),
        "data_seconds": data_seconds,
        "cache_greens_seconds": greens_seconds,
        "train_seconds_total": sum(r.get("epoch_seconds", 0.0) for r in history),
        "seconds_per_epoch": float(np.mean([r.get("epoch_seconds", 0.0) for r in history])),
        "seconds_this_call": time.perf_counter() - start,
        "paper": {"best_test_accuracy": 0.9983 if config.readout == "ldos" else 0.9958, "phase_crossing": 0.5045},
    }
    flow = _decision_flow(net, config)
    result["decision_flow"] = flow_summary(flow)
    perturbation = perturbation_response(net, config) if config.perturbation_deltas else None
    if perturbation is not None:
        _write_perturbation_csv(run_dir / "perturbation.csv", perturbation)
        result["perturbation"] = _perturbation_summary(perturbation)
    result["figures"] = _figures(run_dir, net, config, kappas, probability, crossing, history, flow, perturbation)
    write_json(run_dir / "final.json", result)
    return result


def _decision_flow(net, config) -> list[dict]:
    """LUT analysis (spec B8) of one clean topological input (κ = 0.8): per layer, the
    single-site ``I(site : output)`` before and after the LUT (:func:`qnets.fnn.analysis.decision_flow`)."""
    from qnets.fnn.analysis import decision_flow
    from qnets.hamiltonians import chern_insulator

    h = torch.from_numpy(chern_insulator(config.L, 0.8)).unsqueeze(0).to(net.dtype)
    return decision_flow(net, h.to(next(net.parameters()).device))


def perturbation_response(net, config: FnnChernConfig) -> dict:
    r"""Designed vs random perturbations of a clean topological sample (spec ``fnn.md`` B11).

    ``H(δ) = H_0 + δ V`` with ``H_0`` the clean model at ``perturbation_kappa`` and ``V``
    either the network's steepest-descent direction of ``P(topological)``
    (:func:`qnets.fnn.analysis.designed_perturbation`) or random NNN-range disorder of the
    same norm (:func:`qnets.fnn.analysis.random_perturbation`), ``δ ∈ [0, 1]``. For every
    ``δ``: the network's ``P(topological)``, the spectral gap ``min |E|`` at the Fermi level
    and the real-space Chern number ``|C|`` (the ground truth).

    Returns
    -------
    dict
        ``{"delta": (n,), "curves": {name: {"p_topological", "gap", "chern"}}}``; names
        ``designed`` and ``random 0`` … (``random_mean`` averages the random draws).
    """
    from qnets.fnn.analysis import designed_perturbation, random_perturbation
    from qnets.fnn.readouts import conductance_probability
    from qnets.hamiltonians import chern_insulator
    from qnets.solvers.free_fermion import real_space_chern_number, spectral_gap

    def p_topological(outputs):
        if config.readout == "ldos":
            return torch.softmax(outputs, -1)[0, 1]
        return conductance_probability(outputs[0, 0])

    h0 = chern_insulator(config.L, config.perturbation_kappa)
    deltas = np.linspace(0.0, 1.0, config.perturbation_deltas)
    directions = {"designed": designed_perturbation(net, h0, p_topological)}
    for i in range(config.perturbation_random):
        directions[f"random {i}"] = random_perturbation(h0, seed=config.seed * 1000 + i)
    device = next(net.parameters()).device
    curves = {}
    for name, v in directions.items():
        hs = np.stack([h0 + d * v for d in deltas])
        probability = phase_probabilities(net, torch.from_numpy(hs).to(net.dtype).to(device), config.readout)
        curves[name] = {
            "p_topological": probability,
            "gap": np.array([spectral_gap(h) for h in hs]),
            "chern": np.array([abs(real_space_chern_number(h, config.L)) for h in hs]),
        }
    randoms = [c for n, c in curves.items() if n.startswith("random")]
    curves["random_mean"] = {k: np.mean([c[k] for c in randoms], axis=0) for k in ("p_topological", "gap", "chern")}
    return {"delta": deltas, "curves": curves}


def _first_below(deltas: np.ndarray, values: np.ndarray, level: float) -> float | None:
    below = np.nonzero(values < level)[0]
    return float(deltas[below[0]]) if below.size else None


def _perturbation_summary(response: dict) -> dict:
    """δ at which ``P(topological)`` first drops below 0.5 and ``|C|`` below 0.5, per curve;
    the smallest gap along each path."""
    deltas = response["delta"]
    return {
        name: {
            "delta_p_below_half": _first_below(deltas, c["p_topological"], 0.5),
            "delta_chern_below_half": _first_below(deltas, c["chern"], 0.5),
            "min_gap": float(c["gap"].min()),
            "delta_at_min_gap": float(deltas[int(np.argmin(c["gap"]))]),
            "p_topological_at_max_delta": float(c["p_topological"][-1]),
        }
        for name, c in response["curves"].items()
        if name in ("designed", "random 0", "random_mean")
    }


def _write_perturbation_csv(path: Path, response: dict) -> None:
    from qnets.training.checkpoint import atomic_write_text

    curves = response["curves"]
    header = ["delta"] + [f"{name.replace(' ', '_')}_{key}" for name in curves for key in ("p_topological", "gap", "chern")]
    rows = [",".join(header)]
    for i, d in enumerate(response["delta"]):
        rows.append(",".join([f"{d:.6f}"] + [f"{curves[n][k][i]:.6g}" for n in curves for k in ("p_topological", "gap", "chern")]))
    atomic_write_text(path, "\n".join(rows) + "\n")


def _write_phase_csv(path: Path, kappas: np.ndarray, probability: np.ndarray) -> None:
    from qnets.training.checkpoint import atomic_write_text

    lines = ["kappa,p_topological"] + [f"{k:.6f},{p:.6f}" for k, p in zip(kappas, probability, strict=True)]
    atomic_write_text(path, "\n".join(lines) + "\n")


register(
    "fnn-chern-ldos", FnnChernConfig,
    "FNN (system encoder, LDOS readout, 5 layers) classifies trivial vs Chern insulators; phase diagram",
)(run_fnn_chern)
register(
    "fnn-chern-conductance", FnnChernConductanceConfig,
    "FNN (system encoder, conditional-conductance readout, 7 layers) on the Chern task; phase diagram",
)(run_fnn_chern)
