"""``python -m qnets`` runs the ``qnets`` command (the same as ``python -m qnets.cli``)."""

from qnets.cli.app import main

main()
