"""The ``qnets`` command: ``run``, ``list``, ``info``, ``demo``."""

from qnets.cli.app import app, main

__all__ = ["app", "main"]
