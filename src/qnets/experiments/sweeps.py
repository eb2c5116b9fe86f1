r"""Registered sweeps for ``qnets sweep NAME --grid key=start:stop:num …``.

A sweep is a module-level function of keyword arguments (the grid axes plus fixed
settings) returning a dict of numbers; :func:`run_sweep` maps it over a grid with
:func:`qnets.parallel.map_grid` and writes one table (``results.csv``, or
``results.parquet`` when pyarrow is installed and asked for) and a figure.

Built-in sweeps
---------------
``chern-phase-diagram``
    :func:`chern_point`: real-space Chern number and spectral gap of the (disordered)
    Chern insulator of :func:`qnets.hamiltonians.chern_insulator` versus ``kappa`` and
    ``disorder``.
``tfim-ground-state``
    :func:`tfim_point`: ground-state energy per site and gap of the open transverse-field
    Ising chain — exact diagonalisation (:func:`qnets.solvers.ground_state` of
    :func:`qnets.hamiltonians.tfim`) up to 14 spins, free fermions beyond.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qnets.errors import CheckpointError, ConfigError

__all__ = [
    "Sweep",
    "chern_point",
    "get_sweep",
    "list_sweeps",
    "register_sweep",
    "run_sweep",
    "tfim_free_fermion",
    "tfim_point",
]


@dataclass(frozen=True)
class Sweep:
    """A sweepable function: ``fn(**point, **fixed) -> dict[str, float]``.

    ``defaults`` are the fixed settings (overridable with ``--set``), ``axes`` the names
    that may be swept, ``plot`` the outputs drawn in the figure.
    """

    name: str
    fn: Callable[..., Mapping[str, float]]
    description: str
    defaults: dict[str, Any] = field(default_factory=dict)
    plot: tuple[str, ...] = ()


_SWEEPS: dict[str, Sweep] = {}


def register_sweep(name: str, description: str, defaults: Mapping[str, Any], plot: Sequence[str]):
    """Decorator registering ``fn`` as sweep ``name`` (parameters: every key of ``defaults``)."""

    def decorate(fn):
        _SWEEPS[name] = Sweep(name, fn, description, dict(defaults), tuple(plot))
        return fn

    return decorate


def get_sweep(name: str) -> Sweep:
    """The sweep called ``name``; a :class:`~qnets.errors.ConfigError` listing the known ones otherwise."""
    if name not in _SWEEPS:
        raise ConfigError(f"sweep: unknown name {name!r}; known: {', '.join(sorted(_SWEEPS))}")
    return _SWEEPS[name]


def list_sweeps() -> list[Sweep]:
    """All registered sweeps, sorted by name."""
    return [_SWEEPS[k] for k in sorted(_SWEEPS)]


# --------------------------------------------------------------------------- Chern insulator


@register_sweep(
    "chern-phase-diagram",
    "Real-space Chern number and gap of the (disordered) Chern insulator vs kappa, disorder",
    {"kappa": 0.75, "disorder": 0.0, "L": 12, "seed": 0, "d_max": 3},
    ("chern", "gap"),
)
def chern_point(kappa: float = 0.75, disorder: float = 0.0, L: int = 12, seed: int = 0,
                d_max: int = 3) -> dict[str, float]:
    r"""Chern number and gap of one Chern-insulator sample.

    The Hamiltonian is :func:`qnets.hamiltonians.chern_insulator` ``(L, kappa)`` with onsite
    disorder ``U(−W, W)``, ``W = disorder`` (seeded by ``seed``); the outputs are the
    real-space Chern number ``C`` (:func:`qnets.solvers.real_space_chern_number`, triangles
    up to ``d_max``) at half filling and the gap ``min_k |E_k|``.

    Returns
    -------
    dict
        ``{"chern": C, "abs_chern": |C|, "gap": min |E_k|}`` (floats).
    """
    from qnets.hamiltonians import chern_insulator
    from qnets.solvers import real_space_chern_number, spectral_gap

    disorder_map = {"onsite": float(disorder)} if disorder else None
    h = chern_insulator(int(L), float(kappa), disorder=disorder_map, seed=int(seed))
    chern = real_space_chern_number(h, int(L), d_max=int(d_max))
    return {"chern": chern, "abs_chern": abs(chern), "gap": spectral_gap(h)}


# --------------------------------------------------------------------------- TFIM


def tfim_free_fermion(n: int, J: float, h: float) -> tuple[float, np.ndarray]:
    r"""Exact spectrum of the open transverse-field Ising chain by free fermions.

    :math:`H = -J \sum_{i=0}^{n-2} Z_i Z_{i+1} - h \sum_{i=0}^{n-1} X_i` (Pauli operators).
    A Jordan–Wigner transformation maps it to Majorana pairs; with the ``n × n`` bidiagonal
    matrix ``M`` (``M_ii = h``, ``M_{i,i+1} = −J``) and its singular values
    :math:`\sigma_k`, the single-fermion energies are :math:`\varepsilon_k = 2\sigma_k` and
    :math:`E_0 = -\sum_k \sigma_k`.

    Parameters
    ----------
    n : int
        Number of spins (≥ 1).
    J, h : float
        Ising coupling and transverse field.

    Returns
    -------
    (float, numpy.ndarray)
        ``E_0`` and the ``n`` energies ``ε_k`` (ascending, float64).
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"n: expected an integer ≥ 1, got {n!r}")
    if not (math.isfinite(J) and math.isfinite(h)):
        raise ConfigError(f"J, h: expected finite numbers, got J={J!r}, h={h!r}")
    m = np.diag(np.full(n, float(h))) + np.diag(np.full(n - 1, -float(J)), 1)
    sigma = np.linalg.svd(m, compute_uv=False)
    return -float(sigma.sum()), np.sort(2 * sigma)


_EXACT_MAX_SPINS = 14


@register_sweep(
    "tfim-ground-state",
    "Ground-state energy per site and gap of the open transverse-field Ising chain vs h, J",
    {"h": 1.0, "J": 1.0, "n": 12, "method": "auto"},
    ("energy_per_site", "gap"),
)
def tfim_point(h: float = 1.0, J: float = 1.0, n: int = 12, method: str = "auto") -> dict[str, float]:
    r"""Ground state of ``H = −J Σ Z_i Z_{i+1} − h Σ X_i`` on an open chain of ``n`` spins.

    ``method="exact"``: :func:`qnets.solvers.ground_state` of
    :func:`qnets.hamiltonians.tfim` (``periodic=False``; dense or Lanczos);
    ``"free-fermion"``: :func:`tfim_free_fermion` (any ``n``); ``"auto"``: exact up to
    14 spins, free fermions beyond.

    Returns
    -------
    dict
        ``energy_per_site`` ``E_0/n``, ``gap`` ``E_1 − E_0`` (it vanishes exponentially in
        ``n`` in the ferromagnet ``|h| < |J|``), ``gap_2`` (free fermions only, else NaN: the
        next single-fermion energy, the bulk gap ``≈ 2 | |h| − |J| |`` for large ``n``) and
        ``exact`` (1 for exact diagonalisation, 0 for free fermions).
    """
    if method not in ("auto", "exact", "free-fermion"):
        raise ConfigError(f"method: expected 'auto', 'exact' or 'free-fermion', got {method!r}")
    n = int(n)
    if method == "exact" or (method == "auto" and n <= _EXACT_MAX_SPINS):
        from qnets.hamiltonians import tfim
        from qnets.solvers import ground_state

        result = ground_state(tfim(n, J=float(J), h=float(h), periodic=False), warn_degenerate=False)
        return {"energy_per_site": result.energy / n, "gap": float(result.gap), "gap_2": math.nan,
                "exact": 1}
    e0, eps = tfim_free_fermion(n, float(J), float(h))
    return {"energy_per_site": e0 / n, "gap": float(eps[0]),
            "gap_2": float(eps[1]) if len(eps) > 1 else math.nan, "exact": 0}


# --------------------------------------------------------------------------- running


def _table(points: Sequence[Mapping[str, Any]], results: Sequence[Any]) -> list[dict[str, Any]]:
    rows = []
    for point, result in zip(points, results):
        row = dict(point)
        row.update(result if isinstance(result, Mapping) else {"value": result})
        rows.append(row)
    return rows


def _write_table(rows: list[dict[str, Any]], path: Path) -> Path:
    from qnets.training.checkpoint import atomic_write_text

    if path.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ImportError("Parquet tables need pyarrow: pip install pyarrow (or use CSV)") from exc
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(pa.Table.from_pylist(rows), tmp)
        tmp.replace(path)
        return path
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return atomic_write_text(path, buffer.getvalue())


def run_sweep(
    name: str,
    grid,
    *,
    fixed: Mapping[str, Any] | None = None,
    out: str | Path = ".",
    table_format: str = "csv",
    resume: bool = True,
    **map_kwargs: Any,
) -> dict[str, Any]:
    """Run sweep ``name`` over ``grid`` into folder ``out``.

    Writes ``results.csv`` (or ``.parquet``), ``sweep.png`` (when matplotlib is
    installed) and keeps partial results in ``out/checkpoint`` (resumed when ``resume``).

    Parameters
    ----------
    name : str
        A registered sweep (:func:`list_sweeps`).
    grid : Grid or mapping
        Axes to sweep; each must be a parameter of the sweep.
    fixed : mapping, optional
        Other parameters (default: the sweep's defaults).
    out : path
        Output folder.
    table_format : {"csv", "parquet"}
    resume : bool
        Reuse the partial results in ``out/checkpoint`` (otherwise they are deleted first).
    **map_kwargs
        Passed to :func:`qnets.parallel.map_grid` (``backend``, ``workers``, ``scheduler``…).

    Returns
    -------
    dict
        ``{"table": path, "figure": path or None, "points": n, "seconds": wall time, ...}``.
    """
    import functools
    import shutil

    from qnets.parallel import Grid, map_grid

    sweep = get_sweep(name)
    grid = grid if isinstance(grid, Grid) else Grid(grid)
    fixed = dict(fixed or {})
    for key in list(grid.names) + list(fixed):
        if key not in sweep.defaults:
            raise ConfigError(
                f"sweep {name!r}: unknown parameter {key!r}; parameters: {', '.join(sweep.defaults)}"
            )
    both = set(grid.names) & set(fixed)
    if both:
        raise ConfigError(f"sweep {name!r}: {sorted(both)} given both as grid axes and fixed values")
    if table_format not in ("csv", "parquet"):
        raise ConfigError(f"table_format: expected 'csv' or 'parquet', got {table_format!r}")
    if table_format == "parquet":
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise ConfigError("table_format: 'parquet' needs pyarrow (pip install pyarrow); use 'csv'")
    settings = {k: v for k, v in sweep.defaults.items() if k not in grid.names}
    settings.update(fixed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / "checkpoint"
    if not resume and checkpoint.exists():
        shutil.rmtree(checkpoint)
    fn = functools.partial(sweep.fn, **settings) if settings else sweep.fn
    start = time.perf_counter()
    try:
        results = map_grid(fn, grid, checkpoint_dir=checkpoint, **map_kwargs)
    except CheckpointError as error:
        raise CheckpointError(f"{error} (from the command line: --fresh starts over)") from error
    seconds = time.perf_counter() - start
    rows = _table(list(grid), results)
    for row in rows:
        for key, value in settings.items():
            row.setdefault(key, value)
    table = _write_table(rows, out / f"results.{table_format}")
    figure = None
    try:
        from qnets.plotting.curves import save_figure
        from qnets.plotting.sweeps import sweep_plot

        title = f"{name} ({len(rows)} points)"
        ax = sweep_plot(rows, list(grid.names), list(sweep.plot), title=title)
        figure = save_figure(ax, out / "sweep.png")
        swept = [a for a in grid.names if a != "seed" and len(grid.axes[a]) > 1]
        if len(swept) >= 2:  # a colour map shows one output: one more figure per other output
            for output in sweep.plot[1:]:
                ax = sweep_plot(rows, list(grid.names), [output], title=title)
                save_figure(ax, out / f"sweep_{output}.png")
    except ImportError as error:  # matplotlib is an optional extra
        import warnings

        warnings.warn(f"sweep.png not written: {error}", stacklevel=2)
    return {"sweep": name, "table": str(table), "figure": str(figure) if figure else None,
            "points": len(rows), "axes": list(grid.names), "fixed": settings,
            "backend": map_kwargs.get("backend", "process"), "seconds": seconds}
