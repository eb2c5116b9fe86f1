"""Registry of named experiments: name → (config dataclass, run function)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qnets.errors import ConfigError

__all__ = ["Experiment", "get_experiment", "list_experiments", "register"]


@dataclass(frozen=True)
class Experiment:
    """A reproducible experiment.

    ``run(config, run_dir, *, resume, progress) -> dict`` returns the headline results
    (also written to ``final.json``).
    """

    name: str
    config_cls: type
    run: Callable[..., dict[str, Any]]
    description: str


_REGISTRY: dict[str, Experiment] = {}


def register(name: str, config_cls: type, description: str):
    """Decorator registering a run function under ``name``."""

    def decorate(run):
        _REGISTRY[name] = Experiment(name, config_cls, run, description)
        return run

    return decorate


_NOT_EXPERIMENTS = frozenset({"config", "registry", "rundir", "report"})


def _load_builtin() -> None:
    """Import every experiment module of this package (each registers itself on import).

    An experiment is a module ``qnets.experiments.<name>`` that calls :func:`register`;
    adding one needs no edit here.
    """
    import importlib
    import pkgutil

    import qnets.experiments as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("_") or module.name in _NOT_EXPERIMENTS:
            continue
        importlib.import_module(f"qnets.experiments.{module.name}")


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; a clear error listing the known ones otherwise."""
    _load_builtin()
    if name not in _REGISTRY:
        raise ConfigError(f"experiment: unknown name {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def list_experiments() -> list[Experiment]:
    """All registered experiments, sorted by name."""
    _load_builtin()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]
