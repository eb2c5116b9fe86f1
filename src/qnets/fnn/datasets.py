r"""Generated quantum-matter datasets for fermion networks: Chern-insulator phases.

Each sample is a single-particle Hamiltonian of :func:`qnets.hamiltonians.chern_insulator`
on an ``L × L`` torus with a phase label (0 trivial, 1 topological), as in the FNN paper
(spec ``fnn.md`` §4.2):

``clean``
    ``κ ~ U[0.1, 0.5]`` → label 0 and ``κ ~ U[0.5, 1]`` → label 1, half each.
``disordered``
    sample ``s`` of ``n`` gets disorder strengths rising linearly with ``s / (n − 1)``:
    onsite ``W`` 1 → 3, NN bonds 0 → 1, NNN bonds 0 → 0.5 (uniform in ``±strength``).
    One third of the samples has ``κ ~ U[0.1, 0.5]`` and label 0; the rest ``κ ~ U[0.5, 1]``
    labelled by the real-space Chern number (:func:`qnets.solvers.real_space_chern_number`):
    ``|C| < 0.5 − gap`` → 0, ``|C| > 0.5 + gap`` → 1, otherwise redrawn. Samples with an
    eigenvalue ``|E| < min_gap`` are redrawn.

    Which third is trivial is the ``layout``: ``"interleaved"`` (default) makes every third
    sample trivial, so each disorder strength holds both classes in the same proportion, as in
    a generation that draws one third trivial samples in every batch of the disorder ramp.
    ``"blocked"`` makes the first third trivial (the data of the qnets runs before
    2026-11-22): there the disorder strength alone predicts the label for ``W < 5/3`` (all
    trivial), a shortcut a network can learn, and the strongest-disorder samples are all
    ``κ > 0.5``, many with ``C = 0``.

Every sample has its own random stream (``numpy.random.SeedSequence(seed).spawn``), so a
dataset does not depend on how it is split over worker processes; datasets are cached as
``.npz`` files keyed by their parameters.

Storage: every Hamiltonian of the model has the same sparsity pattern (onsite, NN and NNN
bonds: ``9 L²`` entries), so a dataset keeps only the values on that pattern,
``values (n, 9L²)``, and densifies on demand (:meth:`ChernDataset.dense`,
:class:`SparseSystemInput` inside a model). The paper's 50,000-sample ``L = 12`` set is
1 GB this way instead of 17 GB dense.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from qnets.errors import ConfigError, ShapeError, SizeLimitError
from qnets.hamiltonians import chern_insulator
from qnets.parallel import map_grid
from qnets.solvers import real_space_chern_number, spectral_gap

__all__ = ["DISORDER_LAYOUTS", "ChernDataset", "SparseSystemInput", "chern_dataset", "chern_pattern"]

_MAX_REDRAWS = 1000
DISORDER_LAYOUTS = ("interleaved", "blocked")  # see the module docstring


def chern_pattern(L: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of every entry a Chern-model Hamiltonian on an ``L × L`` torus can fill.

    The diagonal (onsite disorder) and both directions of the NN and NNN bonds, in row-major
    order; ``9 L²`` entries for ``L ≥ 4``.
    """
    h = chern_insulator(L, 0.7, disorder={"onsite": 1.0, "nn": 0.5, "nnn": 0.5}, seed=0)
    mask = (np.abs(h) > 0) | np.eye(L * L, dtype=bool)
    rows, cols = np.nonzero(mask)
    return rows.astype(np.int64), cols.astype(np.int64)


@dataclass(frozen=True)
class ChernDataset:
    """A Chern phase dataset stored on the model's sparsity pattern.

    Attributes
    ----------
    values : ndarray, (n, nnz) complex128
        Hamiltonian entries at ``(rows, cols)``.
    labels : ndarray, (n,) int64
        0 trivial, 1 topological.
    kappas : ndarray, (n,) float64
    strengths : ndarray, (n, 3) float64
        Onsite, NN and NNN disorder strengths.
    rows, cols : ndarray, (nnz,) int64
        The pattern (:func:`chern_pattern`).
    L : int
    """

    values: np.ndarray
    labels: np.ndarray
    kappas: np.ndarray
    strengths: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    L: int

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def dense(self, indices=None, *, max_bytes: float = 2e9) -> np.ndarray:
        """Dense Hamiltonians ``(m, L², L²)`` of ``indices`` (default: all).

        Refuses (:class:`~qnets.errors.SizeLimitError`) more than ``max_bytes`` of output; take
        the samples in slices, or train on ``values`` through :class:`SparseSystemInput`.
        """
        values = self.values if indices is None else self.values[indices]
        size = values.shape[0] * self.L**4 * values.dtype.itemsize
        if size > max_bytes:
            raise SizeLimitError(
                f"dense: {values.shape[0]} dense {self.L**2}×{self.L**2} Hamiltonians need "
                f"{size / 1e9:.1f} GB (max_bytes={max_bytes:.3g}); pass indices= for a slice, raise "
                f"max_bytes, or feed the values to SparseSystemInput"
            )
        out = np.zeros((values.shape[0], self.L**2, self.L**2), dtype=values.dtype)
        out[:, self.rows, self.cols] = values
        return out

    @property
    def hamiltonians(self) -> np.ndarray:
        """All Hamiltonians, dense ``(n, L², L²)`` (memory ``16 n L⁴`` bytes; small sets only)."""
        return self.dense()


class SparseSystemInput(nn.Module):
    r"""Scatter pattern values ``(B, nnz)`` into dense system Hamiltonians ``(B, N, N)``.

    Put in front of a ``system``-encoder :class:`~qnets.fnn.FermionNetwork`
    (``nn.Sequential(SparseSystemInput(rows, cols, N), net)``) to train on a
    :class:`ChernDataset`'s compact ``values`` without holding every dense matrix.
    """

    def __init__(self, rows, cols, n_sites: int):
        super().__init__()
        rows = torch.as_tensor(np.asarray(rows), dtype=torch.long)
        cols = torch.as_tensor(np.asarray(cols), dtype=torch.long)
        if rows.shape != cols.shape or rows.ndim != 1:
            raise ShapeError(f"rows/cols: expected two 1-D index arrays of equal length, got "
                             f"{tuple(rows.shape)} and {tuple(cols.shape)}")
        if rows.numel() and int(max(rows.max(), cols.max())) >= n_sites:
            raise ShapeError(f"rows/cols: indices must be < n_sites={n_sites}")
        self.n_sites = int(n_sites)
        self.register_buffer("flat_index", rows * self.n_sites + cols, persistent=False)

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        if values.ndim != 2 or values.shape[1] != self.flat_index.numel():
            raise ShapeError(f"values: expected (B, {self.flat_index.numel()}), got {tuple(values.shape)}")
        out = values.new_zeros(values.shape[0], self.n_sites * self.n_sites)
        out[:, self.flat_index] = values
        return out.reshape(values.shape[0], self.n_sites, self.n_sites)


def _strengths(index: int, n_samples: int, disordered: bool) -> np.ndarray:
    if not disordered:
        return np.zeros(3)
    t = index / max(n_samples - 1, 1)
    return np.array([1.0 + 2.0 * t, 1.0 * t, 0.5 * t])


_WORKER_LIMITED = False


def _single_threaded_blas_in_workers() -> None:
    """Limit BLAS to one thread once per worker process.

    The samples are small (``L² ≤ 400``) dense eigenproblems: one thread each is fastest, and
    a multi-threaded BLAS in every pool worker oversubscribes the cores (measured 16× slower
    per sample on a loaded 2-core machine).
    """
    global _WORKER_LIMITED
    import multiprocessing

    if not _WORKER_LIMITED and multiprocessing.parent_process() is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
        _WORKER_LIMITED = True


def _one_sample(args) -> tuple[np.ndarray, int, float]:
    index, n_samples, L, disordered, gap, min_gap, seed_seq, layout = args
    _single_threaded_blas_in_workers()
    h, label, kappa = _draw_sample(index, n_samples, L, disordered, gap, min_gap, seed_seq, layout)
    rows, cols = _pattern_cached(L)
    values = h[rows, cols]
    if not np.isclose(np.abs(h).sum(), np.abs(values).sum(), rtol=1e-12, atol=0.0):
        raise RuntimeError("sample: Hamiltonian entries outside the Chern pattern")  # pragma: no cover
    return values, label, kappa


_PATTERNS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _pattern_cached(L: int) -> tuple[np.ndarray, np.ndarray]:
    if L not in _PATTERNS:
        _PATTERNS[L] = chern_pattern(L)
    return _PATTERNS[L]


def _is_trivial(index: int, n_samples: int, disordered: bool, layout: str) -> bool:
    if not disordered:
        return index % 2 == 0
    if layout == "blocked":
        return index < n_samples / 3
    return index % 3 == 0


def _draw_sample(index, n_samples, L, disordered, gap, min_gap, seed_seq, layout):
    rng = np.random.default_rng(seed_seq)
    onsite, nn, nnn = _strengths(index, n_samples, disordered)
    disorder = {"onsite": onsite, "nn": nn, "nnn": nnn} if disordered else None
    trivial = _is_trivial(index, n_samples, disordered, layout)
    for _ in range(_MAX_REDRAWS):
        kappa = rng.uniform(0.1, 0.5) if trivial else rng.uniform(0.5, 1.0)
        h = chern_insulator(L, kappa, disorder=disorder, seed=rng)
        if disordered and spectral_gap(h) < min_gap:
            continue
        if trivial or not disordered:
            return h, int(not trivial), kappa
        chern = abs(real_space_chern_number(h, L))
        if chern < 0.5 - gap:
            return h, 0, kappa
        if chern > 0.5 + gap:
            return h, 1, kappa
    raise RuntimeError(f"sample {index}: no acceptable Hamiltonian after {_MAX_REDRAWS} draws")


def chern_dataset(
    n_samples: int,
    L: int = 12,
    *,
    disordered: bool = False,
    gap: float = 0.2,
    min_gap: float = 0.01,
    seed: int = 0,
    workers: int = 1,
    cache_dir: str | os.PathLike | None = None,
    layout: str = "interleaved",
) -> ChernDataset:
    """Generate (or load from ``cache_dir``) a Chern-insulator phase dataset.

    Parameters
    ----------
    n_samples : int
        Number of samples.
    L : int
        Linear size of the torus (a multiple of 4; see :func:`chern_insulator`).
    disordered : bool
        Clean or disordered set (module docstring).
    gap : float
        Label margin around ``|C| = 0.5`` for disordered samples (the paper's 0.2).
    min_gap : float
        Redraw disordered samples with an eigenvalue closer than this to ``E = 0``.
    seed : int
        Seed of the whole dataset.
    workers : int
        Processes for the generation (1 = serial); the result does not depend on it.
    cache_dir : path, optional
        Folder for ``chern-<hash>.npz``; reused when it exists.
    layout : {"interleaved", "blocked"}
        Which disordered samples are the trivial third (module docstring); ignored for the
        clean set.
    """
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ConfigError(f"n_samples: expected a positive integer, got {n_samples!r}")
    if not 0 <= gap < 0.5:
        raise ConfigError(f"gap: expected 0 ≤ gap < 0.5, got {gap!r}")
    if not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ConfigError(f"workers: expected a positive integer, got {workers!r}")
    if layout not in DISORDER_LAYOUTS:
        raise ConfigError(f"layout: expected one of {DISORDER_LAYOUTS}, got {layout!r}")
    key = {"n_samples": int(n_samples), "L": int(L), "disordered": bool(disordered),
           "gap": float(gap), "min_gap": float(min_gap), "seed": int(seed), "version": 2}
    if disordered and layout != "blocked":  # blocked data keeps its original cache key
        key["layout"] = layout
    path = None
    if cache_dir is not None:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        path = Path(cache_dir) / f"chern-{digest}.npz"
        if path.is_file():
            with np.load(path) as data:
                return ChernDataset(
                    *(data[f] for f in ("values", "labels", "kappas", "strengths", "rows", "cols")),
                    L=int(L),
                )
    seeds = np.random.SeedSequence(seed).spawn(n_samples)
    jobs = [(i, n_samples, L, disordered, gap, min_gap, seeds[i], layout) for i in range(n_samples)]
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        results = map_grid(_one_sample, jobs, backend="serial" if workers == 1 else "process",
                           workers=int(workers), retries=0, progress=False)
    rows, cols = _pattern_cached(L)
    dataset = ChernDataset(
        np.stack([r[0] for r in results]),
        np.array([r[1] for r in results], dtype=np.int64),
        np.array([r[2] for r in results]),
        np.stack([_strengths(i, n_samples, disordered) for i in range(n_samples)]),
        rows,
        cols,
        int(L),
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        arrays = {k: v for k, v in asdict(dataset).items() if k != "L"}
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    return dataset
