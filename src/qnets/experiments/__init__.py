"""Named, reproducible experiments: ``run_experiment(name)`` is ``qnets run NAME``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qnets.experiments.config import apply_overrides, load_config_file
from qnets.experiments.registry import Experiment, get_experiment, list_experiments
from qnets.experiments.rundir import make_run_dir

__all__ = ["Experiment", "get_experiment", "list_experiments", "resolve_config", "run_experiment"]


def resolve_config(name: str, *, config_file: str | Path | None = None, overrides: Sequence[str] = ()):
    """Default config of experiment ``name``, then a YAML file, then ``key=value`` overrides."""
    experiment = get_experiment(name)
    config = (
        load_config_file(experiment.config_cls, config_file, name)
        if config_file is not None
        else experiment.config_cls()
    )
    return apply_overrides(config, overrides)


def run_experiment(
    name: str,
    config=None,
    *,
    config_file: str | Path | None = None,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Run experiment ``name`` into a run directory and return its headline results.

    Parameters
    ----------
    name : str
        A registered experiment (``qnets list``).
    config : dataclass, optional
        A ready config; otherwise built by :func:`resolve_config` from ``config_file`` and
        ``overrides``.
    out : path, optional
        Run directory (default ``runs/<name>-<timestamp>``).
    resume : bool
        Continue the run in ``out`` from its last checkpoint.

    Every run ends with ``report.html`` in the run directory
    (:func:`qnets.experiments.report.write_report`). Under ``torchrun`` the process group
    is initialised here (:func:`qnets.training.distributed.distributed_session`); rank 0
    owns the run directory, the other ranks run into a scratch folder and write nothing.
    """
    import tempfile
    import warnings

    from qnets.errors import QnetsWarning
    from qnets.experiments.report import write_report
    from qnets.experiments.rundir import check_device
    from qnets.training.distributed import distributed_session

    experiment = get_experiment(name)
    if config is None:
        config = resolve_config(name, config_file=config_file, overrides=overrides)
    if getattr(config, "device", None) is not None:
        check_device(config.device)  # before the run directory exists
    with distributed_session() as ctx:
        if ctx is not None and not ctx.is_writer:
            run_dir = Path(ctx.broadcast_object(None))
            with tempfile.TemporaryDirectory(prefix=f"qnets-rank{ctx.rank}-") as scratch:
                result = experiment.run(config, Path(scratch), resume=resume, progress=False)
            result["run_dir"] = str(run_dir)
            return result
        run_dir = make_run_dir(out, name)
        if ctx is not None:
            ctx.broadcast_object(str(run_dir))
        result = experiment.run(config, run_dir, resume=resume, progress=progress)
    result["run_dir"] = str(run_dir)
    try:
        write_report(run_dir, name, result, experiment.description)
    except Exception as error:  # noqa: BLE001 - a report must never lose a finished run
        warnings.warn(f"report.html not written: {type(error).__name__}: {error}", QnetsWarning,
                      stacklevel=2)
    return result
