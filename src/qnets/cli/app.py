"""Typer application behind the ``qnets`` command."""

from __future__ import annotations

import json
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
    except QnetsError as error:
        _fail(error)
    typer.echo(json.dumps(result, indent=2))


@app.command("list")
def list_command():
    """List the registered experiments and the packaged configs."""
    from qnets.experiments import list_experiments
    from qnets.experiments.config import CONFIG_DIR

    for experiment in list_experiments():
        typer.echo(f"{experiment.name:20s} {experiment.description}")
    names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    typer.echo(f"\npackaged configs (--config NAME): {', '.join(names)}")


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
):
    """Train a small fermion network on scikit-learn's 8×8 digits (< 1 min on 2 cores)."""
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


def main() -> None:
    """Entry point of the ``qnets`` console script."""
    try:
        app()
    except QnetsError as error:  # pragma: no cover - errors raised outside commands
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
        sys.exit(2)
