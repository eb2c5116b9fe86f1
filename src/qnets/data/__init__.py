"""Data sets for qnets: MNIST, Fashion-MNIST, scikit-learn's 8x8 digits, and small transforms.

MNIST and Fashion-MNIST are read from local idx files (``root=``, the ``QNETS_DATA``
environment variable, or ``~/.cache/qnets``) and verified by md5; see :func:`load_mnist`.
"""

from __future__ import annotations

from qnets.data.bas import bars_and_stripes
from qnets.data.digits import load_digits
from qnets.data.mnist import data_root, load_fashion_mnist, load_mnist
from qnets.data.transforms import flatten, pool2d

__all__ = [
    "bars_and_stripes",
    "data_root",
    "flatten",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "pool2d",
]
