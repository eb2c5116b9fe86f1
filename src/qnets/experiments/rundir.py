"""Run directories: config, environment, final results — every file written atomically."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from qnets.training.checkpoint import atomic_write_text

__all__ = ["check_device", "check_resume", "environment_info", "make_run_dir", "start_run", "write_json", "write_yaml"]


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    atomic_write_text(Path(path), json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def write_yaml(path: Path, data: Any) -> None:
    """Write ``data`` as YAML, atomically."""
    atomic_write_text(Path(path), yaml.safe_dump(data, sort_keys=False))


def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
            text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def environment_info() -> dict[str, Any]:
    """Versions of Python, qnets, numpy, torch; threads; host; git revision."""
    import numpy
    import torch

    from qnets import __version__

    return {
        "qnets": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "git_revision": _git_revision(),
    }


def make_run_dir(out: str | Path | None, experiment: str) -> Path:
    """``out`` if given, else ``runs/<experiment>-<timestamp>``; created if missing."""
    path = Path(out) if out is not None else Path("runs") / f"{experiment}-{time.strftime('%Y%m%d-%H%M%S')}"
    path.mkdir(parents=True, exist_ok=True)
    return path


_MISSING = object()


def _field_defaults(config) -> dict:
    """Default values of the config dataclass's fields, normalised like ``config_to_dict``."""
    import dataclasses

    values = {}
    for f in dataclasses.fields(config):
        if f.default is not dataclasses.MISSING:
            values[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            values[f.name] = f.default_factory()
    return yaml.safe_load(yaml.safe_dump(values, sort_keys=False))


_EXECUTION_KEYS = ("threads", "device", "workers", "cache_greens")


def check_resume(run_dir: Path, config, resume: bool) -> None:
    """Refuse ``--resume`` when ``config`` differs from the run's stored ``config.yaml``.

    The execution settings ``threads``, ``device``, ``workers`` and ``cache_greens`` may
    change between sessions (they never change a result: data, sweep points and seeds are
    seeded per item, and the tests check pooled = serial and cached = uncached); any other difference raises a
    :class:`~qnets.errors.ConfigError` listing the differing keys. A key missing from the
    stored file (a field added to the experiment after the run started) counts as its
    default value.
    """
    from qnets.errors import ConfigError
    from qnets.experiments.config import config_to_dict

    stored_path = run_dir / "config.yaml"
    if not resume or not stored_path.is_file():
        return
    stored = yaml.safe_load(stored_path.read_text())
    current = config_to_dict(config)
    defaults = _field_defaults(config)
    differing = [
        k for k in current
        if k not in _EXECUTION_KEYS
        and stored.get(k, defaults.get(k, _MISSING)) != current[k]
    ]
    if differing:
        details = ", ".join(f"{k}: {stored.get(k, defaults.get(k))!r} → {current[k]!r}" for k in differing)
        raise ConfigError(
            f"--resume: the config differs from the one in {stored_path} ({details}); "
            f"resume with the same settings or use a new --out"
        )


def check_device(device):
    """Parse ``device`` into a :class:`torch.device` and make sure this machine has it.

    Parameters
    ----------
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``, or any other device string torch
        parses (those are passed through unchecked).

    Returns
    -------
    torch.device

    Raises
    ------
    ConfigError
        If torch cannot parse ``device``, if a CUDA device is asked for on a torch build or
        machine without one (or with fewer than ``N + 1`` GPUs), or if ``"mps"`` is asked
        for where Apple's Metal backend is unavailable. Without this check the run would
        stop deep inside the model's construction with torch's own assertion.
    """
    import torch

    from qnets.errors import ConfigError

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"device: expected a torch device such as 'cpu', 'cuda' or 'cuda:1', got {device!r} ({exc})"
        ) from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(
                f"device: {device!r} needs a CUDA GPU, but this torch ({torch.__version__}) sees none; "
                f"use device=cpu here, or run on a machine with a GPU and a CUDA build of torch"
            )
        if parsed.index is not None and parsed.index >= count:
            raise ConfigError(
                f"device: {device!r}, but this machine has {count} CUDA device(s): cuda:0 … cuda:{count - 1}"
            )
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device: {device!r} needs Apple's Metal backend, which this torch does not have")
    return parsed


def start_run(run_dir, config, resume: bool) -> Path:
    """Common start of an experiment run; returns ``Path(run_dir)``.

    Checks ``config.device`` (when the config has one, :func:`check_device`) before anything
    is written, sets torch's CPU threads from ``config.threads`` (when set), refuses
    ``--resume`` with a changed config (:func:`check_resume`), and writes ``config.yaml`` and
    ``environment.json``.
    """
    from qnets.experiments.config import config_to_dict

    if getattr(config, "device", None) is not None:
        check_device(config.device)

    threads = getattr(config, "threads", None)
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    check_resume(run_dir, config, resume)
    write_yaml(run_dir / "config.yaml", config_to_dict(config))
    write_json(run_dir / "environment.json", environment_info())
    return run_dir
