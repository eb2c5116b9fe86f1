"""Experiment configurations: dataclasses, YAML files and ``--set key=value`` overrides."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from qnets.errors import ConfigError

__all__ = [
    "CONFIG_DIR",
    "apply_overrides",
    "config_from_mapping",
    "config_to_dict",
    "load_config_file",
    "packaged_configs",
    "train_config",
]

CONFIG_DIR = Path(__file__).parent / "configs"


def config_to_dict(config) -> dict[str, Any]:
    """Plain ``dict`` of a config dataclass (tuples become lists, for YAML)."""
    return yaml.safe_load(yaml.safe_dump(dataclasses.asdict(config), sort_keys=False))


def _unknown_key(key: str, valid: Sequence[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{where}: unknown key {key!r}{hint}; valid keys: {', '.join(valid)}")


def config_from_mapping(cls, values: Mapping[str, Any], *, where: str = "config"):
    """Instantiate ``cls`` from a mapping, refusing unknown keys with the list of valid ones."""
    valid = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in valid:
            raise _unknown_key(key, valid, where)
    return cls(**dict(values))


def packaged_configs(experiment: str) -> list[str]:
    """Names of the packaged configs of ``experiment`` (``--config NAME``).

    Those in ``configs/<experiment>/`` and the top-level ``configs/*.yaml`` whose
    ``experiment:`` key names it (a top-level file without the key belongs to ``fnn-mnist``).
    """
    names = {p.stem for p in (CONFIG_DIR / experiment).glob("*.yaml")}
    for path in CONFIG_DIR.glob("*.yaml"):
        owner = (yaml.safe_load(path.read_text()) or {}).get("experiment", "fnn-mnist")
        if owner == experiment:
            names.add(path.stem)
    return sorted(names)


def load_config_file(cls, path_or_name: str | Path, experiment: str):
    """Read a YAML config: a path, or the name of a packaged config (``fc-ldos``).

    Packaged configs live in ``configs/<experiment>/<name>.yaml`` (or, for the first
    experiment, ``configs/<name>.yaml``), so two experiments may each have a ``ci-small``.

    A packaged config file may name its experiment under ``experiment:``; it must match.
    """
    path = Path(path_or_name)
    if not path.is_file():
        candidates = [CONFIG_DIR / experiment / f"{path_or_name}.yaml", CONFIG_DIR / f"{path_or_name}.yaml"]
        packaged = next((c for c in candidates if c.is_file()), None)
        if packaged is None:
            names = packaged_configs(experiment)
            raise ConfigError(
                f"--config: {str(path_or_name)!r} is neither a file nor a packaged config of "
                f"{experiment!r}; its packaged configs: {', '.join(names) or '(none)'}"
            )
        path = packaged
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config: {path} must hold a mapping of keys to values")
    data = {key: _parse_number(value) for key, value in data.items()}
    named = data.pop("experiment", experiment)
    if named != experiment:
        raise ConfigError(f"--config: {path} is for experiment {named!r}, not {experiment!r}")
    return config_from_mapping(cls, data, where=f"--config {path}")


def _parse_number(value):
    """YAML 1.1 reads ``1e-3`` as a string; read such strings as numbers."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def apply_overrides(config, assignments: Sequence[str]):
    """Return a copy of ``config`` with ``key=value`` assignments applied.

    Values are parsed as YAML (``lr=1e-3``, ``sizes=[196,64,10]``, ``larc=false``,
    ``n_train=null``). Unknown keys raise :class:`~qnets.errors.ConfigError` listing the
    valid keys.
    """
    values = config_to_dict(config)
    valid = list(values)
    for assignment in assignments:
        if "=" not in assignment:
            raise ConfigError(f"--set: expected key=value, got {assignment!r}")
        key, raw = assignment.split("=", 1)
        key = key.strip().replace("-", "_")
        if key not in values:
            raise _unknown_key(key, valid, "--set")
        try:
            values[key] = _parse_number(yaml.safe_load(raw))
        except yaml.YAMLError as error:
            raise ConfigError(f"--set {key}: cannot parse value {raw!r}: {error}") from None
    return config_from_mapping(type(config), values, where="--set")


def train_config(config):
    """The :class:`~qnets.training.TrainConfig` part of an experiment config dataclass.

    Every field of ``config`` whose name is a ``TrainConfig`` field (``epochs``, ``lr``,
    ``batch_size`` …) is passed on; the others (data, model) are ignored.
    """
    import dataclasses

    from qnets.training import TrainConfig

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in dataclasses.asdict(config).items() if k in names})
