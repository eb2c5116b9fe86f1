"""``python -m qnets.cli`` runs the ``qnets`` command."""

from qnets.cli.app import main

main()
