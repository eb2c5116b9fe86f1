"""Typer application behind the ``qnets`` command."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from qnets.errors import QnetsError

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="qnets: quantum many-body systems as neural networks.",
)


def _fail(error: Exception) -> None:
    typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=2)


@app.command("run")
def run_command(
    name: str = typer.Argument(..., help="Experiment name (see `qnets list`)."),
    set_: List[str] = typer.Option([], "--set", "-s", help="Override a config key: key=value (YAML value)."),
    config: Optional[str] = typer.Option(None, "--config", "-c", help="YAML config file or packaged config name."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default runs/NAME-TIMESTAMP)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    show_config: bool = typer.Option(False, "--show-config", help="Print the resolved config and exit."),
):
    """Run an experiment; writes config, metrics.jsonl, checkpoints, final.json and figures."""
    from qnets.experiments import resolve_config, run_experiment
    from qnets.experiments.config import config_to_dict

    if resume and out is None:
        _fail(QnetsError("--resume: needs --out DIR, the run directory to continue"))
    try:
        resolved = resolve_config(name, config_file=config, overrides=set_)
        if show_config:
            import yaml

            typer.echo(yaml.safe_dump(config_to_dict(resolved), sort_keys=False))
            return
        result = run_experiment(name, resolved, out=out, resume=resume, progress=progress)
    except (QnetsError, ImportError) as error:  # ImportError: an optional extra is missing
        _fail(error)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the run
        typer.echo(json.dumps(result, indent=2))


@app.command("list")
def list_command():
    """List the registered experiments and the packaged configs."""
    from qnets.experiments import list_experiments
    from qnets.experiments.config import packaged_configs

    for experiment in list_experiments():
        typer.echo(f"{experiment.name:22s} {experiment.description}")
        names = packaged_configs(experiment.name)
        if names:
            typer.echo(f"{'':22s}   --config {' | '.join(names)}")


@app.command("info")
def info_command():
    """Print versions of qnets and its dependencies, threads and the data folder."""
    from qnets.data import data_root
    from qnets.experiments.rundir import environment_info

    info = environment_info()
    info["data_root"] = str(data_root())
    for key, value in info.items():
        typer.echo(f"{key:16s} {value}")


@app.command("demo")
def demo_command(
    epochs: int = typer.Option(15, help="Training epochs."),
    seed: int = typer.Option(0, help="Seed of initialisation and shuffling."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run directory (default: a temporary one)."),
    progress: bool = typer.Option(False, "--progress/--no-progress", help="Show progress bars."),
    tn: bool = typer.Option(True, "--tn/--no-tn", help="Also run the tensor-network part (MPS on digits)."),
    qep: bool = typer.Option(True, "--qep/--no-qep", help="Also run the QEP part (phase exploration, seconds)."),
):
    """Train a small fermion network, then an MPS classifier, on scikit-learn's 8×8 digits;
    then explore a cluster-Ising chain's phases with quantum equilibrium propagation."""
    import tempfile
    import time

    from qnets.experiments import resolve_config, run_experiment

    config = resolve_config(
        "fnn-mnist",
        config_file="demo-digits",
        overrides=[f"epochs={epochs}", f"seed={seed}"],
    )
    typer.echo(
        f"FNN demo: {config.sizes} on scikit-learn digits, {config.encoder} input, "
        f"z = {config.energy}+{config.eta}i, {config.epochs} epochs"
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = run_experiment("fnn-mnist", config, out=out or Path(tmp) / "demo", progress=progress)
    typer.echo(
        f"test accuracy {100 * result['final_test_accuracy']:.2f} % (best {100 * result['best_test_accuracy']:.2f} % "
        f"at epoch {result['best_epoch']}), {result['num_real_parameters']} real parameters, "
        f"{time.perf_counter() - start:.1f} s"
    )
    if tn:
        from qnets.cli.tn_demo import run_tn_demo

        run_tn_demo(epochs=epochs, seed=seed, out=out / "tn" if out else None, progress=progress, echo=typer.echo)
    if qep:
        from qnets.cli.qep_demo import run_qep_demo

        run_qep_demo(echo=typer.echo)


@app.command("sweep")
def sweep_command(
    name: Optional[str] = typer.Argument(None, help="Sweep name (see `qnets sweep --list`)."),
    grid: List[str] = typer.Option([], "--grid", "-g", help="Axis: key=start:stop:num, key=v1,v2,... or key=value."),
    set_: List[str] = typer.Option([], "--set", "-s", help="Fixed parameter: key=value (YAML value)."),
    backend: str = typer.Option("process", help="process (local pool), serial or dask."),
    scheduler: Optional[str] = typer.Option(None, help="Dask scheduler address (default: a local cluster)."),
    workers: Optional[int] = typer.Option(None, help="Processes (default: the usable cores)."),
    retries: int = typer.Option(1, help="Extra attempts of a failing grid point."),
    timeout: float = typer.Option(10.0, help="Seconds to wait for the Dask scheduler."),
    out: Path = typer.Option(Path("sweep"), "--out", "-o", help="Output folder (table, figure, checkpoint)."),
    table_format: str = typer.Option("csv", "--format", help="csv or parquet (needs pyarrow)."),
    resume: bool = typer.Option(True, "--resume/--fresh", help="Reuse partial results in OUT/checkpoint."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    list_: bool = typer.Option(False, "--list", help="List the registered sweeps and exit."),
):
    """Map a registered function over a parameter grid; writes results.csv and sweep.png."""
    import yaml

    from qnets.experiments.sweeps import list_sweeps, run_sweep
    from qnets.parallel import parse_grid

    if list_ or name is None:
        for sweep in list_sweeps():
            params = ", ".join(f"{k}={v}" for k, v in sweep.defaults.items())
            typer.echo(f"{sweep.name:22s} {sweep.description}\n{'':22s} parameters: {params}")
        return
    try:
        fixed = {}
        for assignment in set_:
            if "=" not in assignment:
                raise QnetsError(f"--set: expected key=value, got {assignment!r}")
            key, raw = assignment.split("=", 1)
            fixed[key.strip()] = yaml.safe_load(raw)
        result = run_sweep(
            name, parse_grid(grid), fixed=fixed, out=out, table_format=table_format, resume=resume,
            backend=backend, scheduler=scheduler, workers=workers, retries=retries,
            timeout=timeout, progress=progress,
        )
    except (QnetsError, ImportError) as error:  # ImportError: an optional extra is missing
        _fail(error)
    typer.echo(json.dumps(result, indent=2))


def main() -> None:
    """Entry point of the ``qnets`` console script."""
    try:
        app()
    except QnetsError as error:  # pragma: no cover - errors raised outside commands
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
        sys.exit(2)
