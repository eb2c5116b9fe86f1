r"""Experiments ``fnn-fk-stripe`` and ``fnn-fk-metal``: fermion networks find charge order.

The input layer of the fermion network is a Falicov–Kimball lattice
(:func:`qnets.hamiltonians.falicov_kimball`) dressed with its real-space DMFT self-energy
(:func:`qnets.solvers.solve_dmft`); the network is read out on Matsubara frequencies
(spec ``fnn.md`` §1.5, §4.3):

.. math::

    g_0(iω_n) = (iω_n − H_0 − \mathrm{diag}\,Σ_{DMFT}(iω_n))^{-1}, \qquad
    y_o = -\frac1π \sum_{n=-M}^{M-1} (-1)^n \operatorname{Im} g_{L,oo}(iω_n)
        = -\frac2π \sum_{n=0}^{M-1} (-1)^n \operatorname{Im} g_{L,oo}(iω_n)

(``∝ Re G_oo(τ = β/2)``, the spectral weight at the Fermi level), and ``y`` enters a
softmax cross-entropy as logits. ``g_L`` comes from the layer recursion
(:func:`qnets.greens.layered_greens`) at ``z = iω_n``; only the ``M`` positive frequencies
are computed, the negative ones being complex conjugates.

**The network coupled in situ** (``in_situ=True``, the paper's protocol): before every
forward pass the DMFT of each sample is re-solved with the network attached — its
embedding self-energy ``Σ_FNN(iω_n) = T_0 (iω_n − h_1 − Σ_2)^{-1} T_0^†``
(:func:`qnets.solvers.embedding_self_energy`) is added to the lattice when computing
``G_loc`` — warm-started from the sample's previous self-energy (kept in memory by sample
index, not checkpointed) and treated as a constant (no gradient through DMFT). With
``in_situ=False`` the self-energy of the bare lattice is computed once with the data set
(the spec's CI-sized protocol). Choices where the spec is silent: the embedding uses the
network's current parameters without gradient; samples whose DMFT has not converged after
``dmft_max_iter`` iterations are kept (their number is reported); the phase-diagram sweep
uses ``μ`` at the d half-filling value (offset 0) for ``fnn-fk-stripe``; the DMFT order
parameters in the figure are those of the bare lattice (no network attached), also when the
network's own inputs were solved in situ.

Data (spec §4.3, every sample seeded by its own ``SeedSequence`` child, cached as ``.npz``):

``stripe``  (checkerboard vs stripe)
    ``U = 1``, ``T = temperature`` (paper 0.005); half the samples ``t' ~ U[0, 0.35]``
    (label 0, checkerboard), half ``t' ~ U[0.8, 1.2]`` (label 1, stripe);
    ``μ = μ_½(t') + δ``, ``δ ~ U[−0.1, 0.5]`` (:func:`qnets.hamiltonians.half_filling_mu`).
    Sweep ``t' ∈ [0, 1.3]``; references 1/√2 ("QMC"/strong coupling) and DMFT 0.575.
``metal``  (homogeneous metal vs checkerboard)
    ``U ~ U[1, 3.6]``, ``T ~ U[0.1, 0.2]``; label 1 if ``U > 20T − 0.7``, and those samples
    shifted by ``+0.4`` in ``U`` (a margin); ``μ = U/2``, ``t' = 0``. Sweep
    ``U ∈ [1, 4]`` at ``T = 0.11``; references DMFT 1.63, QMC 2.01.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from qnets.errors import ConfigError, ShapeError
from qnets.experiments.config import config_to_dict
from qnets.experiments.registry import register
from qnets.experiments.rundir import environment_info, write_json, write_yaml

__all__ = [
    "TASKS",
    "FKDataset",
    "FKNetwork",
    "FnnFkMetalConfig",
    "FnnFkStripeConfig",
    "crossing_point",
    "fk_dataset",
    "fk_sweep",
    "order_onset",
    "pack_features",
    "run_fnn_fk",
]

TASKS = ("stripe", "metal")
_HEADER = 5  # index, U, T, t', μ
_REFERENCES = {
    "stripe": {"QMC / strong coupling 1/√2": 1 / math.sqrt(2), "DMFT (paper)": 0.575},
    "metal": {"DMFT (paper)": 1.63, "QMC": 2.01},
}
_PAPER = {
    "stripe": {"best_test_accuracy": 1.0, "fnn_boundary": 0.715},
    "metal": {"best_test_accuracy": 0.997, "fnn_boundary": 1.94},
}


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class FKDataset:
    r"""DMFT-dressed Falicov–Kimball samples.

    Attributes
    ----------
    params : numpy.ndarray
        ``(n, 4)`` float64 columns ``U, T, t', μ``.
    labels : numpy.ndarray
        ``(n,)`` int64 (0 checkerboard / metal, 1 stripe / checkerboard; see module).
    sigma : numpy.ndarray
        ``(n, M, L²)`` complex128 DMFT self-energies at the positive Matsubara frequencies.
    n_f : numpy.ndarray
        ``(n, L²)`` f occupations.
    residual : numpy.ndarray
        ``(n,)`` last DMFT residual; ``converged = residual < tol``.
    converged : numpy.ndarray
        ``(n,)`` bool.
    """

    params: np.ndarray
    labels: np.ndarray
    sigma: np.ndarray
    n_f: np.ndarray
    residual: np.ndarray
    converged: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def _draw(task: str, index: int, rng: np.random.Generator, L: int, temperature: float):
    """``(U, T, t', μ, label)`` of sample ``index`` (module docstring)."""
    from qnets.hamiltonians import half_filling_mu

    if task == "stripe":
        label = index % 2
        t_prime = rng.uniform(0.8, 1.2) if label else rng.uniform(0.0, 0.35)
        offset = rng.uniform(-0.1, 0.5)
        return 1.0, temperature, t_prime, half_filling_mu(L, t_prime=t_prime, U=1.0) + offset, label
    U = rng.uniform(1.0, 3.6)
    T = rng.uniform(0.1, 0.2)
    label = int(U > 20 * T - 0.7)
    if label:
        U += 0.4
    return U, T, 0.0, U / 2, label


def _solve_chunk(args):
    """DMFT for one chunk of samples: ``(params, sigma, n_f, residual, converged)``."""
    L, params, n_matsubara, seeds, options, device = args
    from qnets.hamiltonians import falicov_kimball
    from qnets.solvers import solve_dmft

    h0 = np.stack([falicov_kimball(L, U=U, t_prime=tp, mu=mu).h0 for U, _, tp, mu in params])
    result = solve_dmft(
        h0, params[:, 0], params[:, 1], n_matsubara=n_matsubara, seed=list(seeds),
        on_failure="ignore", device=device, **options,
    )
    return result.sigma, result.n_f, result.residual, result.converged


def _solve_all(L, params, n_matsubara, seeds, options, workers, chunk, device=None, *,
               partial_dir=None, progress=False, desc="DMFT"):
    """Solve every sample's DMFT, chunk by chunk; finished chunks are kept in ``partial_dir``
    (a :func:`qnets.parallel.map_grid` checkpoint) so that an interrupted run solves only the
    missing ones."""
    chunks = [
        (L, params[i : i + chunk], n_matsubara, seeds[i : i + chunk], dict(options), device)
        for i in range(0, len(params), chunk)
    ]
    from qnets.parallel import map_grid

    # an accelerator solves each chunk as one batch in this process (no forked workers)
    on_cpu = device is None or torch.device(device).type == "cpu"
    backend = "serial" if workers == 1 or len(chunks) == 1 or not on_cpu else "process"
    if partial_dir is not None:  # one sub-folder per chunking, which changes the sweep's points
        partial_dir = Path(partial_dir) / f"chunk{chunk}-{torch.device(device or 'cpu').type}"
    parts = map_grid(_solve_chunk, chunks, backend=backend, workers=workers, retries=0,
                     checkpoint_dir=partial_dir, checkpoint_every=5.0, chunksize=1,
                     progress=progress, desc=f"{desc}, chunks of {chunk}")
    return [np.concatenate([p[k] for p in parts]) for k in range(4)]


def _cached(prefix: str, key: dict, cache_dir, build) -> FKDataset:
    """``build(partial_dir)`` once, cached as ``<cache_dir>/<prefix>-<hash>.npz``; while it
    runs, its finished chunks live in ``<prefix>-<hash>.partial/`` (removed once the ``.npz``
    is written)."""
    path = partial = None
    if cache_dir is not None:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        path = Path(cache_dir) / f"{prefix}-{digest}.npz"
        partial = path.with_suffix(".partial")
        if path.is_file():
            with np.load(path) as data:
                return FKDataset(*(data[f] for f in FKDataset.__dataclass_fields__))
    dataset = build(partial)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **asdict(dataset))
        os.replace(tmp, path)
        shutil.rmtree(partial, ignore_errors=True)
    return dataset


def _dmft_options(mixing, tol, max_iter, anderson=0):
    """:func:`qnets.solvers.solve_dmft` keywords; ``anderson`` only when on (0 leaves the
    options, hence the data sets' cache keys, as they were before it existed)."""
    if isinstance(anderson, bool) or not isinstance(anderson, (int, np.integer)) or anderson < 0:
        raise ConfigError(f"dmft_anderson: expected a history depth ≥ 0 (0 = linear mixing), got {anderson!r}")
    options = {"mixing": float(mixing), "tol": float(tol), "max_iter": int(max_iter)}
    if anderson:
        options["anderson"] = int(anderson)
    return options


def _check_common(L, n_matsubara, workers, chunk=1):
    from qnets.solvers import matsubara_frequencies

    if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 2 or L % 2:
        raise ConfigError(f"L: expected an even integer ≥ 2, got {L!r}")
    matsubara_frequencies(1.0, n_matsubara)  # validates n_matsubara
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ConfigError(f"workers: expected a positive integer, got {workers!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ConfigError(f"chunk: expected a positive integer, got {chunk!r}")


def _generate(prefix, task, n, seed, rows, key_extra, *, L=12, n_matsubara=40, temperature=0.005,
              workers=1, chunk=32, cache_dir=None, dmft_mixing=0.5, dmft_tol=1e-6, dmft_max_iter=200,
              dmft_anderson=0, device=None, progress=False):
    """Draw ``rows(seeds, L, T) -> (params, labels)``, solve DMFT per sample, cache."""
    if task not in TASKS:
        raise ConfigError(f"task: expected one of {TASKS}, got {task!r}")
    _check_common(L, n_matsubara, workers, chunk)
    if not (isinstance(temperature, (int, float)) and temperature > 0):
        raise ConfigError(f"temperature: expected T > 0, got {temperature!r}")
    options = _dmft_options(dmft_mixing, dmft_tol, dmft_max_iter, dmft_anderson)
    key = {"task": task, "n": int(n), "L": int(L), "n_matsubara": int(n_matsubara),
           "T": float(temperature), "seed": int(seed), **options, **key_extra, "version": 1}

    def build(partial_dir):
        param_seeds, dmft_seeds = zip(*(s.spawn(2) for s in np.random.SeedSequence(seed).spawn(n)))
        params, labels = rows(param_seeds, L, float(temperature))
        solved = _solve_all(L, params, n_matsubara, list(dmft_seeds), options, workers, chunk, device,
                            partial_dir=partial_dir, progress=progress, desc=f"DMFT of {prefix} ({n})")
        return FKDataset(params, labels, *solved)

    return _cached(prefix, key, cache_dir, build)


def fk_dataset(
    task: str,
    n_samples: int,
    *,
    L: int = 12,
    n_matsubara: int = 40,
    temperature: float = 0.005,
    seed: int = 0,
    workers: int = 1,
    chunk: int = 32,
    cache_dir: str | os.PathLike | None = None,
    dmft_mixing: float = 0.5,
    dmft_tol: float = 1e-6,
    dmft_max_iter: int = 200,
    dmft_anderson: int = 0,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> FKDataset:
    """Generate (or load from ``cache_dir``) a Falicov–Kimball phase data set.

    Parameters
    ----------
    task : {"stripe", "metal"}
        Which phases (module docstring).
    n_samples : int
        Number of samples.
    L : int
        Even linear lattice size.
    n_matsubara : int
        Matsubara frequencies ``n = −M … M − 1``.
    temperature : float
        ``T`` of the ``stripe`` task (``metal`` draws ``T``; the value only enters the
        cache key there).
    seed : int
        Seed of the data set; sample ``i`` uses child ``i`` of ``SeedSequence(seed)`` for
        its parameters and its DMFT start, so the result does not depend on ``workers`` or
        ``chunk``.
    workers : int
        Processes (1 = serial).
    chunk : int
        Samples solved together in one batched DMFT.
    cache_dir : path, optional
        Folder for ``fk-<task>-<hash>.npz``, reused when present. While the data are
        solved, finished chunks are kept in ``fk-<task>-<hash>.partial/``: a run stopped
        midway solves only the missing chunks when called again.
    dmft_mixing, dmft_tol, dmft_max_iter, dmft_anderson
        :func:`qnets.solvers.solve_dmft` settings (``mixing``, ``tol``, ``max_iter``,
        ``anderson``; the paper: linear mixing 0.5, 1e-6, 200, no Anderson).
    device : str or torch.device, optional
        Where the DMFT runs (default CPU). On an accelerator every chunk is one batch solved
        in this process (``workers`` is then ignored; raise ``chunk`` instead). The device
        is not part of the cache key.
    progress : bool
        Show a progress bar (chunks of ``chunk`` samples solved).
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ConfigError(f"n_samples: expected a positive integer, got {n_samples!r}")

    def rows(seeds, L, T):
        drawn = [_draw(task, i, np.random.default_rng(s), L, T) for i, s in enumerate(seeds)]
        return (np.array([r[:4] for r in drawn], dtype=np.float64),
                np.array([r[4] for r in drawn], dtype=np.int64))

    return _generate(f"fk-{task}", task, int(n_samples), seed, rows, {}, L=L, n_matsubara=n_matsubara,
                     temperature=temperature, workers=workers, chunk=chunk, cache_dir=cache_dir,
                     dmft_mixing=dmft_mixing, dmft_tol=dmft_tol, dmft_max_iter=dmft_max_iter,
                     dmft_anderson=dmft_anderson, device=device, progress=progress)


def fk_sweep(task: str, axis, *, seed: int = 0, **settings) -> FKDataset:
    """DMFT solutions along the phase-diagram axis (``t'`` for ``stripe``, ``U`` for ``metal``).

    ``stripe``: ``U = 1``, ``T = temperature``, ``μ = μ_½(t')``; ``metal``: ``T =
    temperature`` (0.11 in the paper), ``μ = U/2``. Labels are −1 (none). ``settings``:
    the keyword arguments of :func:`fk_dataset` (``L``, ``n_matsubara``, ``temperature``,
    ``workers``, ``chunk``, ``cache_dir``, ``dmft_*``, ``device``, ``progress``).
    """
    from qnets.hamiltonians import half_filling_mu

    axis = np.asarray(axis, dtype=np.float64)

    def rows(seeds, L, T):
        if task == "stripe":
            params = [[1.0, T, tp, half_filling_mu(L, t_prime=tp, U=1.0)] for tp in axis]
        else:
            params = [[U, T, 0.0, U / 2] for U in axis]
        return np.array(params, dtype=np.float64), np.full(len(axis), -1, dtype=np.int64)

    return _generate(f"fk-sweep-{task}", task, len(axis), seed, rows, {"axis": axis.tolist()}, **settings)


def pack_features(dataset: FKDataset, *, index_offset: int = 0) -> torch.Tensor:
    r"""Network input ``(n, 5 + 2 M N)`` float64: ``[index, U, T, t', μ, Re Σ, Im Σ]``.

    ``index`` identifies the sample for the in-situ warm start (give train, test and sweep
    sets disjoint ``index_offset``).
    """
    n = len(dataset)
    index = np.arange(n, dtype=np.float64)[:, None] + index_offset
    sigma = dataset.sigma.reshape(n, -1)
    return torch.from_numpy(np.concatenate([index, dataset.params, sigma.real, sigma.imag], axis=1))


# --------------------------------------------------------------------------- model


class FKNetwork(nn.Module):
    r"""A fermion network whose input layer is a DMFT-dressed Falicov–Kimball lattice.

    Parameters
    ----------
    L : int
        Lattice size (input layer ``L²`` sites).
    n_matsubara : int
        Matsubara frequencies ``n = −M … M − 1`` of the readout (and of the features).
    hidden : sequence of int
        Hidden layer widths (paper ``[100, 64]``); the output layer has 2 sites.
    init_bound : float
        Initialisation bound (paper 0.05).
    in_situ : bool
        Re-solve DMFT with the network attached before every forward pass (module docstring).
    dmft_mixing, dmft_tol, dmft_max_iter, dmft_anderson : float, float, int, int
        DMFT settings of the in-situ solves (:func:`fk_dataset`).
    seed : int
        Initialisation seed.

    Notes
    -----
    ``forward(x)`` takes :func:`pack_features` rows and returns ``(B, 2)`` real logits
    ``y_o`` (module docstring). Computation is complex128. The lattice has ``t = 1``
    (``H_0 = −Σ_NN − t' Σ_NNN − μ``, :func:`qnets.hamiltonians.falicov_kimball`).
    """

    def __init__(self, L: int, n_matsubara: int, *, hidden=(100, 64), init_bound: float = 0.05,
                 in_situ: bool = False, dmft_mixing: float = 0.5, dmft_tol: float = 1e-6,
                 dmft_max_iter: int = 200, dmft_anderson: int = 0, seed: int = 0):
        super().__init__()
        from qnets.fnn import FermionNetwork
        from qnets.hamiltonians import falicov_kimball

        self.L, self.n_sites, self.m = int(L), int(L) ** 2, int(n_matsubara) // 2
        self.network = FermionNetwork(
            [self.n_sites, *[int(h) for h in hidden], 2], encoder="system", readout="ldos",
            init_bound=init_bound, dtype=torch.complex128, eta=1.0, seed=seed,
        )
        self.in_situ = bool(in_situ)
        self.dmft_options = _dmft_options(dmft_mixing, dmft_tol, dmft_max_iter, dmft_anderson)
        nn_hop = falicov_kimball(L, U=0.0, t=1.0, t_prime=0.0, mu=0.0).hopping
        nnn_hop = falicov_kimball(L, U=0.0, t=0.0, t_prime=1.0, mu=0.0).hopping
        self.register_buffer("nn_hopping", torch.from_numpy(nn_hop), persistent=False)
        self.register_buffer("nnn_hopping", torch.from_numpy(nnn_hop), persistent=False)
        self._warm: dict[int, torch.Tensor] = {}
        self.unconverged = 0  # in-situ DMFT solves that hit dmft_max_iter

    def _unpack(self, x: torch.Tensor):
        width = _HEADER + 2 * self.m * self.n_sites
        if x.dim() != 2 or x.shape[1] != width:
            raise ShapeError(
                f"x: expected packed features (B, {width}) for L={self.L}, M={self.m} "
                f"(see pack_features), got {tuple(x.shape)}"
            )
        index, U, T, t_prime, mu = x[:, :_HEADER].T
        half = self.m * self.n_sites
        sigma = torch.complex(x[:, _HEADER : _HEADER + half], x[:, _HEADER + half :])
        h0 = (
            self.nn_hopping
            + t_prime[:, None, None] * self.nnn_hopping
            - mu[:, None, None] * torch.eye(self.n_sites, dtype=x.dtype, device=x.device)
        )
        omega = (2 * torch.arange(self.m, dtype=x.dtype, device=x.device) + 1) * math.pi * T[:, None]
        return index.long(), U, T, h0, omega, sigma.view(-1, self.m, self.n_sites)

    def embedding(self, omega: torch.Tensor) -> torch.Tensor:
        """``Σ_FNN(iω)`` of the current network, ``(B, M, N, N)`` (no gradient)."""
        from qnets.solvers import embedding_self_energy

        with torch.no_grad():
            onsite, hoppings = self.network.layer_matrices()
            # samples with the same lowest frequency πT share every frequency (2n+1)πT
            values, inverse = torch.unique(omega[:, 0], return_inverse=True)
            odd = 2 * torch.arange(self.m, dtype=omega.dtype, device=omega.device) + 1
            per_t = embedding_self_energy(onsite, hoppings, 1j * values[:, None] * odd)
            return per_t[inverse]

    def _solve_in_situ(self, index, U, T, h0, omega, sigma):
        from qnets.solvers.dmft import max_batch, solve_dmft

        start = torch.stack([
            self._warm.get(int(i), s) for i, s in zip(index.tolist(), sigma)
        ])
        embedding = self.embedding(omega)
        parts = []
        # solve_dmft refuses batches whose dense (M, N, N) matrices exceed its memory guard
        # (a paper-size batch of 128 on 12×12 with 20 frequencies does): solve in pieces
        pieces = torch.split(torch.arange(len(index), device=h0.device),
                             max_batch(self.n_sites, 2 * self.m, embedding=True))
        for piece in pieces:
            result = solve_dmft(
                h0[piece].detach(), U[piece].detach(), T[piece].detach(), n_matsubara=2 * self.m,
                sigma0=start[piece], embedding=embedding[piece], on_failure="ignore", device=h0.device,
                **self.dmft_options,
            )
            self.unconverged += int((~result.converged).sum())
            parts.append(torch.from_numpy(result.sigma))
        new = torch.cat(parts).to(sigma.device)
        for i, s in zip(index.tolist(), new):
            self._warm[int(i)] = s
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from qnets.greens import layered_greens

        index, U, T, h0, omega, sigma = self._unpack(x)
        if self.in_situ:
            sigma = self._solve_in_situ(index, U, T, h0, omega, sigma)
        batch, m, n = sigma.shape
        z = (1j * omega).reshape(-1)
        eye = torch.eye(n, dtype=torch.complex128, device=x.device)
        system = z[:, None, None] * eye - h0.repeat_interleave(m, 0) - torch.diag_embed(sigma.reshape(-1, n))
        g0 = torch.linalg.inv(system)
        onsite, hoppings = self.network.layer_matrices()
        g_out = layered_greens(g0, onsite, hoppings, z).g_out
        im = torch.diagonal(g_out, dim1=-2, dim2=-1).imag.view(batch, m, -1)
        sign = torch.tensor([(-1.0) ** k for k in range(m)], dtype=im.dtype, device=im.device)
        return (-2 / math.pi) * (sign[None, :, None] * im).sum(1)


# --------------------------------------------------------------------------- analysis


def crossing_point(axis: np.ndarray, probability: np.ndarray) -> float:
    """First ``P = 0.5`` crossing (linear interpolation); NaN when ``P`` never crosses
    (:func:`qnets.experiments.fnn_chern.phase_crossing` without the count)."""
    from qnets.experiments.fnn_chern import phase_crossing

    return phase_crossing(np.asarray(axis), np.asarray(probability))[0]


def order_onset(axis: np.ndarray, order: np.ndarray, threshold: float = 0.1, *, rising: bool = True) -> float:
    """First axis value where ``order`` rises above (``rising``) or falls below ``threshold``."""
    hits = np.flatnonzero(order > threshold) if rising else np.flatnonzero(order < threshold)
    return float(axis[hits[0]]) if len(hits) else float("nan")


# --------------------------------------------------------------------------- experiments


@dataclass
class FnnFkStripeConfig:
    """``fnn-fk-stripe``: checkerboard vs stripe order (defaults: the paper's run, spec §4.3(b)).

    Data: ``L``, ``n_matsubara``, ``temperature``, ``n_train`` / ``n_test``, ``workers``
    (processes for the DMFT data), ``chunk`` (samples per batched DMFT solve), ``cache_dir``
    (default ``<run dir>/data``), DMFT ``dmft_*`` (``dmft_anderson = k > 0``: Anderson
    acceleration of depth ``k``, not the paper's protocol but 2–4× fewer iterations, see
    :func:`qnets.solvers.solve_dmft`). ``device``: where the data's DMFT, the
    in-situ DMFT and the network run (``"cpu"``, ``"cuda"``, …). Network: ``hidden``,
    ``init_bound``, ``in_situ``. Training: Adam ``lr``, ``batch_size``, ``epochs``, ``weight_decay``, ``clip_grad_norm``, ``schedule``.
    Sweep: ``sweep_points`` values of ``t'`` in ``sweep_range``.
    """

    L: int = 12
    n_matsubara: int = 40
    temperature: float = 0.005
    n_train: int = 10000
    n_test: int = 1000
    hidden: list[int] = field(default_factory=lambda: [100, 64])
    init_bound: float = 0.05
    in_situ: bool = True
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    clip_grad_norm: float | None = 10.0
    schedule: str = "constant"
    sweep_points: int = 131
    sweep_range: list[float] = field(default_factory=lambda: [0.0, 1.3])
    dmft_mixing: float = 0.5
    dmft_tol: float = 1e-6
    dmft_max_iter: int = 200
    dmft_anderson: int = 0
    workers: int = 1
    chunk: int = 32
    cache_dir: str | None = None
    seed: int = 0
    threads: int | None = None
    device: str = "cpu"

    task = "stripe"

    def __post_init__(self):
        _check_common(self.L, self.n_matsubara, self.workers, self.chunk)
        _dmft_options(self.dmft_mixing, self.dmft_tol, self.dmft_max_iter, self.dmft_anderson)
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError) as error:
            raise ConfigError(f"device: expected a torch device name such as 'cpu' or 'cuda', got {self.device!r}") from error
        for name in ("n_train", "n_test", "sweep_points", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
        if not (isinstance(self.temperature, (int, float)) and self.temperature > 0):
            raise ConfigError(
                f"temperature: expected T > 0 (Matsubara frequencies need a finite T), got {self.temperature!r}"
            )
        if len(self.sweep_range) != 2 or not self.sweep_range[0] < self.sweep_range[1]:
            raise ConfigError(f"sweep_range: expected [start, stop] with start < stop, got {self.sweep_range!r}")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ConfigError(f"hidden: expected ≥ 1 positive layer widths, got {self.hidden!r}")


@dataclass
class FnnFkMetalConfig(FnnFkStripeConfig):
    """``fnn-fk-metal``: homogeneous metal vs checkerboard (spec §4.3(a)); ``temperature`` is
    the sweep's (0.11); training data draw ``T ~ U[0.1, 0.2]``. Sweep over ``U``."""

    temperature: float = 0.11
    sweep_points: int = 150
    sweep_range: list[float] = field(default_factory=lambda: [1.0, 4.0])

    task = "metal"


def _plot(path: Path, task: str, axis, probability, orders: dict, crossing: float, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # matplotlib is an optional extra
        import warnings

        warnings.warn(f"{path.name} not written ({error}); pip install qnets[plot]", stacklevel=3)
        return
    from qnets.plotting import save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(axis, probability, "o-", ms=3, color="C3", label="FNN P(" + ("stripe" if task == "stripe" else "checkerboard") + ")")
    for k, (name, values) in enumerate(orders.items()):
        ax.plot(axis, values, "s--", ms=2, color=f"C{k}", label=f"DMFT {name} order")
    ax.axhline(0.5, color="0.6", lw=0.8)
    if np.isfinite(crossing):
        ax.axvline(crossing, color="C3", ls=":", lw=1.5, label=f"FNN boundary {crossing:.3f}")
    for k, (name, value) in enumerate(_REFERENCES[task].items()):
        ax.axvline(value, color="k", ls=["--", "-."][k % 2], lw=1, label=f"{name} {value:.3f}")
    ax.set_xlabel("t′" if task == "stripe" else "U")
    ax.set_ylabel("probability / order parameter")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    save_figure(ax, path)
    plt.close(fig)


def run_fnn_fk(config: FnnFkStripeConfig, run_dir: Path, *, resume: bool = False, progress: bool = True) -> dict:
    """Generate data, train, sweep the phase diagram; write ``final.json`` and the figure."""
    from qnets.hamiltonians import checkerboard_order, stripe_order
    from qnets.training import TrainConfig, Trainer

    task = config.task
    if config.threads:
        torch.set_num_threads(int(config.threads))
    run_dir = Path(run_dir)
    write_yaml(run_dir / "config.yaml", config_to_dict(config))
    write_json(run_dir / "environment.json", environment_info())
    cache = config.cache_dir if config.cache_dir is not None else run_dir / "data"
    device = torch.device(config.device)
    common = {"L": config.L, "n_matsubara": config.n_matsubara, "workers": config.workers,
              "chunk": config.chunk, "device": device,
              "cache_dir": cache, "dmft_mixing": config.dmft_mixing, "dmft_tol": config.dmft_tol,
              "dmft_max_iter": config.dmft_max_iter, "dmft_anderson": config.dmft_anderson,
              "temperature": config.temperature, "progress": progress}
    start = time.perf_counter()
    train = fk_dataset(task, config.n_train, seed=config.seed, **common)
    test = fk_dataset(task, config.n_test, seed=config.seed + 1, **common)
    axis = np.linspace(*config.sweep_range, config.sweep_points)
    sweep = fk_sweep(task, axis, seed=config.seed + 2, **common)
    data_seconds = time.perf_counter() - start

    model = FKNetwork(config.L, config.n_matsubara, hidden=config.hidden, init_bound=config.init_bound,
                      in_situ=config.in_situ, dmft_mixing=config.dmft_mixing, dmft_tol=config.dmft_tol,
                      dmft_max_iter=config.dmft_max_iter, dmft_anderson=config.dmft_anderson,
                      seed=config.seed).to(device)
    train_cfg = TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                            weight_decay=config.weight_decay, clip_grad_norm=config.clip_grad_norm,
                            schedule=config.schedule, seed=config.seed, larc=False)
    x_train = pack_features(train)
    x_test = pack_features(test, index_offset=len(train))
    trainer = Trainer(model, torch.nn.functional.cross_entropy,
                      (x_train, torch.from_numpy(train.labels)), (x_test, torch.from_numpy(test.labels)),
                      train_cfg, out_dir=run_dir, progress=progress)
    start = time.perf_counter()
    history = trainer.fit(resume=resume)
    train_seconds = time.perf_counter() - start
    with torch.no_grad():
        x_sweep = pack_features(sweep, index_offset=len(train) + len(test))
        probability = torch.softmax(model(x_sweep.to(device)), -1)[:, 1].cpu().numpy()
    orders = {"checkerboard": checkerboard_order(sweep.n_f)}
    if task == "stripe":
        orders["stripe"] = stripe_order(sweep.n_f)
    crossing = crossing_point(axis, probability)
    best = max(history, key=lambda r: r["test_accuracy"])
    result = {
        "experiment": f"fnn-fk-{task}",
        "L": config.L,
        "n_matsubara": config.n_matsubara,
        "in_situ": config.in_situ,
        "n_train": len(train),
        "n_test": len(test),
        "best_test_accuracy": best["test_accuracy"],
        "best_epoch": best["epoch"],
        "final_test_accuracy": history[-1]["test_accuracy"],
        "fnn_boundary": crossing,
        "references": _REFERENCES[task],
        "paper": _PAPER[task],
        "dmft_unconverged": {"train": int((~train.converged).sum()), "test": int((~test.converged).sum()),
                             "sweep": int((~sweep.converged).sum()), "in_situ": model.unconverged},
        "dmft_checkerboard_above_0.1_from" if task == "metal" else "dmft_checkerboard_below_0.1_from":
            order_onset(axis, orders["checkerboard"], rising=task == "metal"),
        "data_seconds": data_seconds,
        "train_seconds": train_seconds,
    }
    if task == "stripe":
        result["dmft_stripe_above_0.1_from"] = order_onset(axis, orders["stripe"])
    write_json(run_dir / "final.json", result)
    np.savez(run_dir / "phase_diagram.npz", axis=axis, probability=probability, **orders)
    title = (f"fnn-fk-{task}: {config.L}×{config.L}, T={config.temperature:g}, "
             f"{config.n_matsubara} Matsubara, acc {best['test_accuracy']:.3f}")
    _plot(run_dir / "phase_diagram.png", task, axis, probability, orders, crossing, title)
    return result


register("fnn-fk-stripe", FnnFkStripeConfig,
         "FNN on a DMFT-dressed Falicov–Kimball lattice: checkerboard vs stripe order (t′ sweep)")(run_fnn_fk)
register("fnn-fk-metal", FnnFkMetalConfig,
         "FNN on a DMFT-dressed Falicov–Kimball lattice: metal vs checkerboard at T = 0.11 (U sweep)")(run_fnn_fk)
