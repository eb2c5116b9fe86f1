"""qnets: quantum many-body systems as neural networks.

Engines: fermion neural networks (:mod:`qnets.fnn`, on :mod:`qnets.greens`), training
(:mod:`qnets.training`), data (:mod:`qnets.data`), experiments and the ``qnets`` command.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
