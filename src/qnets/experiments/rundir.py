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

__all__ = ["check_resume", "environment_info", "make_run_dir", "start_run", "write_json", "write_yaml"]


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


_EXECUTION_KEYS = ("threads", "device", "workers")


def check_resume(run_dir: Path, config, resume: bool) -> None:
    """Refuse ``--resume`` when ``config`` differs from the run's stored ``config.yaml``.

    The execution settings ``threads``, ``device`` and ``workers`` may change between
    sessions (they never change a result: data, sweep points and seeds are seeded per item,
    and the tests check pooled = serial); any other difference raises a
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


def start_run(run_dir, config, resume: bool) -> Path:
    """Common start of an experiment run; returns ``Path(run_dir)``.

    Sets torch's CPU threads from ``config.threads`` (when set), refuses ``--resume`` with a
    changed config (:func:`check_resume`), and writes ``config.yaml`` and
    ``environment.json``.
    """
    from qnets.experiments.config import config_to_dict

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
