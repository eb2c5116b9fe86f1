"""``map_grid``: evaluate a function on every point of a grid — serially, on a local process
pool, or on a Dask cluster — with retries, results in grid order, and resumable on-disk
partial results.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from qnets.errors import ClusterError, ConfigError, SweepError
from qnets.parallel.grid import Grid
from qnets.parallel.store import SweepStore, sweep_key

__all__ = ["BACKENDS", "default_workers", "map_grid"]

#: Accepted values of ``map_grid(backend=...)``.
BACKENDS = ("process", "serial", "dask")

_LIMITED_THREADS: int | None = None


def default_workers() -> int:
    """Number of CPU cores this process may use (``os.sched_getaffinity`` where available)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def _limit_threads(threads: int | None) -> None:
    """Limit BLAS/OpenMP (and torch, if loaded) threads of a worker process, once."""
    global _LIMITED_THREADS
    if threads is None or _LIMITED_THREADS == threads:
        return
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    _LIMITED_THREADS = threads


def _call(fn: Callable, point: Any) -> Any:
    return fn(**point) if isinstance(point, Mapping) else fn(point)


def _run_chunk(fn: Callable, chunk: list[tuple[int, Any]], retries: int, threads: int | None):
    """Evaluate ``fn`` on ``(index, point)`` pairs; stop at the first point failing every attempt.

    Returns ``(results, failure)``: ``results`` a list of ``(index, value)`` and ``failure``
    ``None`` or ``(index, attempts, "Type: message", formatted traceback)``. Exceptions are
    returned as text, so unpicklable exceptions still travel back from a worker.
    """
    _limit_threads(threads)
    results = []
    for index, point in chunk:
        for attempt in range(1, retries + 2):
            try:
                value = _call(fn, point)
            except Exception as exc:  # noqa: BLE001 - reported with its grid point after the last attempt
                if attempt == retries + 1:
                    summary = f"{type(exc).__name__}: {exc}"
                    return results, (index, attempt, summary, traceback.format_exc())
            else:
                results.append((index, value))
                break
    return results, None


def _points(grid) -> list[Any]:
    if isinstance(grid, Grid):
        return list(grid)
    if isinstance(grid, Mapping):
        return list(Grid(grid))
    if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence):
        raise ConfigError(
            f"grid: expected a Grid, a mapping of axis name → values, or a sequence of points, "
            f"got {type(grid).__name__}"
        )
    return list(grid)


def _check_int(name: str, value: Any, minimum: int, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: expected an integer ≥ {minimum}, got {value!r}")


class _Progress:
    """Results in hand, periodic checkpoint flushes and a progress bar."""

    def __init__(self, points, done, store, every, progress, desc):
        from tqdm.auto import tqdm

        self.points = points
        self.results: dict[int, Any] = dict(done)
        self.pending: dict[int, Any] = {}
        self.store = store
        self.every = every
        self.last = time.monotonic()
        self.bar = tqdm(total=len(points), initial=len(done), desc=desc, unit="point",
                        disable=not progress, dynamic_ncols=True, leave=False)

    def add(self, pairs) -> None:
        for index, value in pairs:
            self.results[index] = value
            self.pending[index] = value
        self.bar.update(len(pairs))
        if self.store is not None and time.monotonic() - self.last >= self.every:
            self.flush()

    def flush(self) -> None:
        if self.store is not None and self.pending:
            self.store.save(self.pending)
            self.pending = {}
        self.last = time.monotonic()

    def fail(self, failure, backend: str) -> SweepError:
        index, attempts, summary, trace = failure
        saved = (
            f"; the {len(self.results)} completed points are kept in {self.store.folder} "
            "and a rerun with the same checkpoint_dir resumes from them"
            if self.store is not None
            else ""
        )
        return SweepError(
            f"sweep function failed at grid point #{index} {self.points[index]!r} after "
            f"{attempts} attempt{'s' if attempts > 1 else ''} ({backend} backend): {summary}{saved}\n"
            f"--- traceback of the last attempt ---\n{trace}",
            index=index,
            point=self.points[index],
        )

    def close(self) -> None:
        self.flush()
        self.bar.close()


def _chunk_error(chunk: list[tuple[int, Any]], exc: BaseException, what: str) -> SweepError:
    index, point = chunk[0]
    return SweepError(f"grid point #{index} {point!r}: {what} ({type(exc).__name__}: {exc})",
                      index=index, point=point)


def _chunks(todo: list[int], points, size: int) -> list[list[tuple[int, Any]]]:
    pairs = [(i, points[i]) for i in todo]
    return [pairs[k : k + size] for k in range(0, len(pairs), size)]


def _run_serial(fn, chunks, state: _Progress, retries, _workers, _scheduler, _timeout, _threads):
    for chunk in chunks:
        results, failure = _run_chunk(fn, chunk, retries, None)
        state.add(results)
        if failure is not None:
            raise state.fail(failure, "serial")


def _run_process(fn, chunks, state: _Progress, retries, workers, _scheduler, _timeout, threads,
                 mp_context=None):
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    if mp_context is None:
        mp_context = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(mp_context)
    pool = ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=context)
    try:
        running = {pool.submit(_run_chunk, fn, chunk, retries, threads): chunk for chunk in chunks}
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                chunk = running.pop(future)
                try:
                    results, failure = future.result()
                except BrokenProcessPool as exc:
                    indices = [i for i, _ in chunk]
                    raise SweepError(
                        f"a worker process died (killed, out of memory or crashed) while "
                        f"computing grid points {indices[:10]}{' …' if len(indices) > 10 else ''}: {exc}"
                        + (f"; completed points are kept in {state.store.folder}" if state.store else ""),
                        index=indices[0],
                        point=chunk[0][1],
                    ) from exc
                except Exception as exc:  # e.g. fn or its result cannot be pickled
                    raise _chunk_error(chunk, exc, "could not be sent to or returned from a worker "
                                       "process; functions must be importable (defined at module "
                                       "level) and results picklable") from exc
                state.add(results)
                if failure is not None:
                    raise state.fail(failure, "process")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _probe_scheduler(address: str, timeout: float) -> None:
    """Ask the scheduler at ``address`` for its identity, giving up after ``timeout`` seconds.

    ``distributed.Client(address, timeout=...)`` can wait forever on an endpoint that accepts
    connections but never answers; this probe runs in its own thread and event loop (so it
    also works under Jupyter's running loop) and raises :class:`TimeoutError` or
    :class:`OSError` instead.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout

    from distributed.comm import connect

    async def probe():
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            reply = await comm.read()
        finally:
            comm.abort()
        if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
            raise OSError(f"the endpoint answered but is not a Dask scheduler ({str(reply)[:80]!r})")

    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(asyncio.run, asyncio.wait_for(probe(), timeout))
    try:
        future.result(timeout=timeout + 2.0)
    except (FutureTimeout, TimeoutError):  # the thread's deadline, or asyncio.wait_for's
        raise TimeoutError(f"no answer within {timeout:g} s") from None
    finally:
        pool.shutdown(wait=False)


def _dask_client(scheduler, workers: int, timeout: float):
    """``(client, owned)``: a client for ``scheduler`` and what map_grid must close after use."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError(
            "backend='dask' needs dask.distributed: pip install 'qnets[dist]'"
        ) from exc
    if scheduler is None:
        import warnings

        with warnings.catch_warnings():  # "Port 8787 is already in use": another port is taken
            warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
        client = Client(cluster)
        return client, [client, cluster]
    if isinstance(scheduler, Client):
        return scheduler, []
    if isinstance(scheduler, str):
        try:
            _probe_scheduler(scheduler, timeout)
            client = Client(scheduler, timeout=timeout)
            return client, [client]
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"scheduler: cannot reach the Dask scheduler at {scheduler!r} within {timeout:g} s "
                f"({type(exc).__name__}: {exc}); start one with `dask scheduler` (and workers "
                "with `dask worker ADDRESS`), check the address, or omit it for a local cluster"
            ) from exc
    if hasattr(scheduler, "scheduler_address"):  # a dask Cluster object (e.g. dask-jobqueue)
        client = Client(scheduler, timeout=timeout)
        return client, [client]
    raise ConfigError(
        "scheduler: expected None, an address like 'tcp://host:8786', a distributed.Client or "
        f"a dask cluster object, got {type(scheduler).__name__}"
    )


def _run_dask(fn, chunks, state: _Progress, retries, workers, scheduler, timeout, threads):
    client, owned = _dask_client(scheduler, workers, timeout)  # ImportError with the install hint
    from dask.distributed import as_completed

    futures = []
    try:
        futures = [
            client.submit(_run_chunk, fn, chunk, retries, threads, pure=False, retries=retries)
            for chunk in chunks
        ]
        owner = {future.key: chunk for future, chunk in zip(futures, chunks)}
        for future in as_completed(futures):
            chunk = owner[future.key]
            try:
                results, failure = future.result()
            except Exception as exc:  # worker lost more than `retries` times, pickling, ...
                raise _chunk_error(chunk, exc, "the Dask task failed outside the sweep function") from exc
            state.add(results)
            if failure is not None:
                raise state.fail(failure, "dask")
    finally:
        for future in futures:
            future.cancel()
        for thing in owned:
            thing.close()


_RUNNERS = {"serial": _run_serial, "process": _run_process, "dask": _run_dask}


def map_grid(
    fn: Callable[..., Any],
    grid: Grid | Mapping[str, Sequence[Any]] | Sequence[Any],
    *,
    backend: str = "process",
    workers: int | None = None,
    scheduler: Any = None,
    retries: int = 1,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: float = 1.0,
    chunksize: int | None = None,
    threads_per_worker: int | None = 1,
    timeout: float = 10.0,
    mp_context: str | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> list[Any]:
    """Evaluate ``fn`` at every grid point; return the results in grid order.

    A point that is a mapping is passed as keyword arguments (``fn(**point)``), anything
    else as the single argument (``fn(point)``). Each point is tried ``1 + retries`` times;
    if every attempt raises, the sweep stops with a :class:`~qnets.errors.SweepError`
    naming the point (index and values), the exception and its traceback.

    Parameters
    ----------
    fn : callable
        The function of one grid point. For ``"process"`` it must be importable (defined at
        module level; the pool uses ``fork`` where available); Dask pickles it with
        cloudpickle. It should be deterministic given its point (pass seeds as an axis, see
        :func:`~qnets.parallel.with_seeds`), so that a resumed sweep equals an uninterrupted one.
    grid : Grid, mapping or sequence
        A :class:`~qnets.parallel.Grid`, a mapping ``axis → values`` (its cartesian
        product), or an explicit sequence of points.
    backend : {"process", "serial", "dask"}
        ``"process"``: a local process pool (default); ``"serial"``: this process;
        ``"dask"``: a ``distributed.Client`` on ``scheduler``.
    workers : int, optional
        Processes of the pool / local Dask cluster (default: the usable CPU cores).
    scheduler : str, distributed.Client or dask cluster, optional
        Dask only. ``None`` starts a ``LocalCluster`` of ``workers`` single-threaded
        processes (closed afterwards); an address ``"tcp://host:8786"`` connects to a
        running scheduler (e.g. one started by dask-jobqueue on Slurm/PBS); a client or
        cluster object is used as is.
    retries : int
        Extra attempts per point after a failure (Dask also resubmits tasks whose worker
        died, up to ``retries`` times).
    checkpoint_dir : path-like, optional
        Folder for partial results (:class:`~qnets.parallel.store.SweepStore`): completed
        points are written atomically at most ``checkpoint_every`` seconds apart and when
        the sweep stops for any reason; a rerun with the same function, grid and folder
        computes only the missing points.
    checkpoint_every : float
        Seconds between checkpoint writes (0: after every completed chunk).
    chunksize : int, optional
        Points per task (default: ``max(1, min(16, n // (8 · workers)))``; ``1`` for Dask).
    threads_per_worker : int or None
        BLAS/OpenMP/torch threads in each worker process (``None``: leave as is). The
        serial backend never changes threads.
    timeout : float
        Seconds to wait for a Dask scheduler given by address before raising
        :class:`~qnets.errors.ClusterError`.
    mp_context : str, optional
        Start method of the process pool (default ``"fork"`` on POSIX, else ``"spawn"``).
    progress : bool
        Show a progress bar.
    desc : str, optional
        Its label (default ``"sweep (<backend>)"``).

    Returns
    -------
    list
        ``[fn(point) for point in grid]``, in grid order.

    Raises
    ------
    ConfigError
        Unknown backend, bad ``workers`` / ``retries`` / ``grid`` / ``scheduler``.
    SweepError
        A point failed every attempt, or a worker died.
    ClusterError
        The Dask scheduler at ``scheduler`` cannot be reached within ``timeout``.
    CheckpointError
        ``checkpoint_dir`` holds another sweep.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"backend: expected one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if not callable(fn):
        raise ConfigError(f"fn: expected a callable, got {type(fn).__name__}")
    _check_int("workers", workers, 1, allow_none=True)
    _check_int("retries", retries, 0)
    _check_int("chunksize", chunksize, 1, allow_none=True)
    _check_int("threads_per_worker", threads_per_worker, 1, allow_none=True)
    if scheduler is not None and backend != "dask":
        raise ConfigError(f"scheduler: only used by backend='dask', got backend={backend!r}")
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ConfigError(f"timeout: expected a positive number of seconds, got {timeout!r}")
    if not (isinstance(checkpoint_every, (int, float)) and checkpoint_every >= 0):
        raise ConfigError(f"checkpoint_every: expected seconds ≥ 0, got {checkpoint_every!r}")
    if mp_context is not None and backend != "process":
        raise ConfigError(f"mp_context: only used by backend='process', got backend={backend!r}")
    points = _points(grid)
    workers = workers or default_workers()
    store = None
    done: dict[int, Any] = {}
    if checkpoint_dir is not None:
        store = SweepStore(checkpoint_dir, sweep_key(fn, points), len(points))
        done = store.load()
    todo = [i for i in range(len(points)) if i not in done]
    if chunksize is None:
        chunksize = 1 if backend == "dask" else max(1, min(16, len(todo) // (8 * workers)))
    state = _Progress(points, done, store, checkpoint_every, progress, desc or f"sweep ({backend})")
    try:
        if todo:
            runner = _RUNNERS[backend]
            args = (fn, _chunks(todo, points, chunksize), state, retries, workers, scheduler,
                    float(timeout), threads_per_worker)
            if backend == "process":
                runner(*args, mp_context=mp_context)
            else:
                runner(*args)
    finally:
        state.close()
    if store is not None:
        store.consolidate(state.results)
    return [state.results[i] for i in range(len(points))]
