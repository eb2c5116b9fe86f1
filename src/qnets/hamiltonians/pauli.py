r"""Pauli strings and sums of Pauli strings on ``n`` qubits (sparse, matrix-free).

Conventions (pinned in ``tests/hamiltonians/test_spin.py``):

* Pauli operators, eigenvalues ±1 (not spin-½):
  ``X = [[0, 1], [1, 0]]``, ``Y = [[0, −i], [i, 0]]``, ``Z = [[1, 0], [0, −1]]``.
* Qubit ``0`` is the leftmost Kronecker factor, i.e. the most significant bit of the basis
  index: ``|b⟩ = |b_0 b_1 … b_{n−1}⟩`` with ``b = Σ_q b_q 2^{n−1−q}``.
* ``|0⟩`` is the ``Z = +1`` state.

A Pauli string ``P = ⊗_q σ_q`` is stored in symplectic form as two bit masks ``(x, z)``
(qubit ``q`` ↔ bit ``n−1−q``): ``X`` sets the x bit, ``Z`` the z bit, ``Y`` both. Its action
on a basis state is

.. math::

    P\,|b\rangle = i^{n_Y}\,(-1)^{\mathrm{popcount}(b \,\&\, z)}\,|b \oplus x\rangle ,

so a sum ``Σ_s c_s P_s`` is, for every distinct flip mask ``x``, a diagonal vector
``d_x[b] = Σ_{s: x_s = x} c_s i^{n_Y(s)} (−1)^{popcount(b & z_s)}`` times a permutation.
Matrices (CSR), products with vectors and expectation values are built from that form
without Kronecker products; the matrix is real (float64) whenever every ``c_s i^{n_Y(s)}``
is real, e.g. for real coefficients and an even number of ``Y`` in every string.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from qnets.errors import ConfigError, ShapeError, SizeLimitError

__all__ = ["MAX_QUBITS", "PauliSum", "identity", "pauli"]

#: Largest register for which a full state vector / sparse matrix is built.
MAX_QUBITS = 26

_LETTERS = "IXYZ"
_TOKEN = re.compile(r"^([A-Za-z])(\d+)$")
# Product table of single-qubit Paulis: (a, b) -> (phase, c) with a·b = phase·c.
_PRODUCT = {
    ("I", "I"): (1, "I"), ("I", "X"): (1, "X"), ("I", "Y"): (1, "Y"), ("I", "Z"): (1, "Z"),
    ("X", "I"): (1, "X"), ("X", "X"): (1, "I"), ("X", "Y"): (1j, "Z"), ("X", "Z"): (-1j, "Y"),
    ("Y", "I"): (1, "Y"), ("Y", "X"): (-1j, "Z"), ("Y", "Y"): (1, "I"), ("Y", "Z"): (1j, "X"),
    ("Z", "I"): (1, "Z"), ("Z", "X"): (1j, "Y"), ("Z", "Y"): (-1j, "X"), ("Z", "Z"): (1, "I"),
}


def _check_n(n_qubits) -> int:
    if isinstance(n_qubits, bool) or not isinstance(n_qubits, numbers.Integral) or n_qubits < 1:
        raise ConfigError(f"n_qubits must be a positive integer; got {n_qubits!r}")
    return int(n_qubits)


def _parse(n: int, spec, sites) -> dict[int, str]:
    """``{qubit: letter}`` (identity letters dropped) from the accepted string forms."""
    if not isinstance(spec, str):
        raise ConfigError(f"Pauli string must be a str such as 'Z0 X1' or 'ZX'; got {spec!r}")
    text = spec.strip()
    if sites is not None:
        sites = [int(s) for s in np.atleast_1d(np.asarray(sites))]
        letters = list(text)
        if len(letters) != len(sites):
            raise ConfigError(
                f"Pauli string {spec!r} has {len(letters)} letters but sites={sites} has "
                f"{len(sites)} entries"
            )
        pairs = list(zip(sites, letters))
    elif not text:
        pairs = []
    elif all(t[0].isalpha() and t[1:].isdigit() for t in text.replace(",", " ").split()) \
            and any(ch.isdigit() for ch in text):
        pairs = []
        for token in text.replace(",", " ").split():
            match = _TOKEN.match(token)
            pairs.append((int(match.group(2)), match.group(1)))
    else:
        if len(text) != n:
            raise ConfigError(
                f"Pauli string {spec!r}: without sites it must have one letter per qubit "
                f"(n_qubits = {n}) or use the 'Z0 X1' form"
            )
        pairs = list(enumerate(text))
    out: dict[int, str] = {}
    for site, letter in pairs:
        up = letter.upper()
        if up not in _LETTERS or len(letter) != 1:
            raise ConfigError(
                f"unknown Pauli letter {letter!r} in {spec!r}; expected one of I, X, Y, Z"
            )
        if not 0 <= site < n:
            raise ConfigError(
                f"site {site} in Pauli string {spec!r} is out of range for n_qubits = {n} "
                f"(valid sites 0 … {n - 1})"
            )
        if site in out:
            raise ConfigError(f"site {site} appears twice in Pauli string {spec!r}")
        if up != "I":
            out[site] = up
    return out


def _masks(n: int, letters: dict[int, str]) -> tuple[int, int]:
    x = z = 0
    for site, letter in letters.items():
        bit = 1 << (n - 1 - site)
        if letter in "XY":
            x |= bit
        if letter in "YZ":
            z |= bit
    return x, z


def _letters(n: int, key: tuple[int, int]) -> dict[int, str]:
    x, z = key
    out = {}
    for q in range(n):
        bit = 1 << (n - 1 - q)
        xb, zb = bool(x & bit), bool(z & bit)
        if xb or zb:
            out[q] = "Y" if (xb and zb) else ("X" if xb else "Z")
    return out


def _parity(values: np.ndarray) -> np.ndarray:
    """``popcount(v) mod 2`` of a non-negative int64 array."""
    if hasattr(np, "bitwise_count"):
        return (np.bitwise_count(values) & 1).astype(np.int64)
    out = np.zeros_like(values)
    v = values.copy()
    while np.any(v):
        out ^= v & 1
        v >>= 1
    return out


def _as_coeff(value, what: str) -> complex:
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise ConfigError(f"{what} must be a number; got {value!r}")
    value = complex(value)
    if not (math.isfinite(value.real) and math.isfinite(value.imag)):
        raise ConfigError(f"{what} must be finite; got {value!r}")
    return value


class PauliSum:
    r"""A linear combination ``Σ_s c_s P_s`` of Pauli strings on ``n_qubits`` qubits.

    Parameters
    ----------
    n_qubits : int
        Number of qubits ``n``; the operator acts on ``C^(2^n)``.
    terms : iterable, optional
        Items ``(coeff, spec)`` or ``(coeff, spec, sites)`` where ``spec`` is ``'Z0 X1 Z2'``,
        a full-length string such as ``'ZXZI'``, or letters ``'ZXZ'`` with ``sites=(0, 1, 2)``.
        ``'I'`` letters and the empty string (identity) are allowed. Equal strings are merged.

    Notes
    -----
    Coefficients may be complex (products of Hermitian strings produce ``±i``);
    :attr:`is_hermitian` says whether all of them are real. Sums, scalar multiples and
    products (``a @ b`` or ``a * b``) return new :class:`PauliSum` objects.
    """

    __slots__ = ("_cache", "_terms", "n_qubits")

    def __init__(self, n_qubits: int, terms: Iterable = ()):
        self.n_qubits = _check_n(n_qubits)
        self._terms: dict[tuple[int, int], complex] = {}
        self._cache: dict = {}
        for item in terms:
            if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
                raise ConfigError(
                    f"each term must be (coeff, 'Z0 X1') or (coeff, 'ZX', sites); got {item!r}"
                )
            coeff = _as_coeff(item[0], f"coefficient of term {item!r}")
            letters = _parse(self.n_qubits, item[1], item[2] if len(item) == 3 else None)
            self._add(_masks(self.n_qubits, letters), coeff)

    # -- construction ------------------------------------------------------------------
    def _add(self, key, coeff):
        new = self._terms.get(key, 0.0) + coeff
        if new == 0:
            self._terms.pop(key, None)
        else:
            self._terms[key] = new

    @classmethod
    def _from_dict(cls, n: int, terms: dict) -> PauliSum:
        out = cls(n)
        for key, coeff in terms.items():
            out._add(key, coeff)
        return out

    def __iter__(self):
        """Yield ``(coeff, label)`` with labels such as ``'Z0 X1'`` (``''`` = identity)."""
        for key, coeff in self._terms.items():
            yield coeff, self._label(key)

    def _label(self, key) -> str:
        return " ".join(f"{letter}{q}" for q, letter in sorted(_letters(self.n_qubits, key).items()))

    @property
    def strings(self) -> list[dict[int, str]]:
        """The strings as ``{qubit: letter}`` dictionaries (identity factors omitted)."""
        return [_letters(self.n_qubits, key) for key in self._terms]

    @property
    def coefficients(self) -> np.ndarray:
        """Coefficients ``c_s`` (complex128, the order of :attr:`strings`)."""
        return np.array(list(self._terms.values()), dtype=np.complex128)

    def __len__(self) -> int:
        return len(self._terms)

    @property
    def support(self) -> tuple[int, ...]:
        """Sorted qubits on which some string acts non-trivially."""
        mask = 0
        for x, z in self._terms:
            mask |= x | z
        return tuple(q for q in range(self.n_qubits) if mask & (1 << (self.n_qubits - 1 - q)))

    @property
    def is_hermitian(self) -> bool:
        """True when every coefficient is real (Pauli strings are Hermitian)."""
        return all(abs(c.imag) <= 1e-14 * max(1.0, abs(c)) for c in self._terms.values())

    @property
    def is_real(self) -> bool:
        r"""True when the matrix is real: every ``c_s i^{n_Y(s)}`` is real."""
        for (x, z), c in self._terms.items():
            phase = c * (1j ** ((x & z).bit_count() % 4))
            if abs(phase.imag) > 1e-14 * max(1.0, abs(c)):
                return False
        return True

    # -- algebra -----------------------------------------------------------------------
    def _check_other(self, other) -> PauliSum:
        if not isinstance(other, PauliSum):
            raise ConfigError(f"expected a PauliSum; got {type(other).__name__}")
        if other.n_qubits != self.n_qubits:
            raise ShapeError(
                f"PauliSums act on different registers: {self.n_qubits} vs {other.n_qubits} qubits"
            )
        return other

    def __add__(self, other):
        if isinstance(other, numbers.Number):
            other = identity(self.n_qubits, other)
        other = self._check_other(other)
        out = PauliSum._from_dict(self.n_qubits, self._terms)
        for key, coeff in other._terms.items():
            out._add(key, coeff)
        return out

    __radd__ = __add__

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        if isinstance(other, PauliSum):
            return self @ other
        coeff = _as_coeff(other, "scalar factor")
        return PauliSum._from_dict(self.n_qubits, {k: c * coeff for k, c in self._terms.items()})

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * (1.0 / _as_coeff(other, "divisor"))

    def __matmul__(self, other):
        other = self._check_other(other)
        n = self.n_qubits
        out = PauliSum(n)
        for ka, ca in self._terms.items():
            la = _letters(n, ka)
            for kb, cb in other._terms.items():
                lb = _letters(n, kb)
                phase = 1.0 + 0j
                prod = {}
                for q in set(la) | set(lb):
                    ph, c = _PRODUCT[(la.get(q, "I"), lb.get(q, "I"))]
                    phase *= ph
                    if c != "I":
                        prod[q] = c
                out._add(_masks(n, prod), ca * cb * phase)
        return out

    def __eq__(self, other):
        if not isinstance(other, PauliSum) or other.n_qubits != self.n_qubits:
            return NotImplemented
        keys = set(self._terms) | set(other._terms)
        return all(abs(self._terms.get(k, 0) - other._terms.get(k, 0)) < 1e-12 for k in keys)

    __hash__ = None

    def __repr__(self) -> str:
        body = " + ".join(f"{_fmt(c)}·[{self._label(k) or 'I'}]" for k, c in self._terms.items())
        return f"PauliSum(n_qubits={self.n_qubits}, {body or '0'})"

    def commutes_qubitwise(self, other: PauliSum) -> bool:
        """True when on every qubit the letters of all strings of both sums agree or one is I."""
        other = self._check_other(other)
        for ka in self._terms:
            for kb in other._terms:
                if not _qwc(ka, kb):
                    return False
        return True

    # -- numerics ----------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return 1 << self.n_qubits

    def _check_size(self):
        if self.n_qubits > MAX_QUBITS:
            raise SizeLimitError(
                f"a {self.n_qubits}-qubit operator needs vectors of length 2^{self.n_qubits}; "
                f"the limit for state vectors is {MAX_QUBITS} qubits — use the DMRG route "
                "(qnets.solvers.ground_state(H, method='dmrg')) for 1-D chains"
            )

    def _groups(self) -> dict[int, list[tuple[int, complex]]]:
        """``{x mask: [(z mask, c·i^{n_Y}), …]}`` (cached)."""
        if "groups" not in self._cache:
            groups: dict[int, list] = {}
            for (x, z), c in self._terms.items():
                groups.setdefault(x, []).append((z, c * (1j ** ((x & z).bit_count() % 4))))
            self._cache["groups"] = groups
        return self._cache["groups"]

    def _diagonals(self, real: bool):
        """``[(x, d_x)]`` with ``d_x`` of length ``2^n`` (recomputed, not cached)."""
        self._check_size()
        b = np.arange(self.dim, dtype=np.int64)
        dtype = np.float64 if real else np.complex128
        out = []
        for x, items in self._groups().items():
            d = np.zeros(self.dim, dtype=dtype)
            for z, c in items:
                value = c.real if real else c
                if z == 0:
                    d += value
                else:
                    d += value * (1 - 2 * _parity(b & z))
            out.append((x, d))
        return out

    def to_sparse(self, dtype=None) -> sp.csr_matrix:
        """The ``2^n × 2^n`` CSR matrix (cached; do not modify it in place).

        ``dtype`` defaults to float64 when :attr:`is_real`, else complex128.
        """
        real = self.is_real if dtype is None else not np.issubdtype(np.dtype(dtype), np.complexfloating)
        if real and not self.is_real:
            raise ConfigError(
                f"dtype={np.dtype(dtype)} requested for an operator with complex matrix "
                "elements (odd number of Y or complex coefficients); use complex128"
            )
        key = ("csr", real)
        if key not in self._cache:
            dim = self.dim
            diags = self._diagonals(real)
            if not diags:
                mat = sp.csr_matrix((dim, dim), dtype=np.float64 if real else np.complex128)
            else:
                masks = np.array([x for x, _ in diags], dtype=np.int64)
                rows = np.arange(dim, dtype=np.int64)
                cols = rows[:, None] ^ masks[None, :]
                data = np.stack([d for _, d in diags], axis=1)[cols, np.arange(len(diags))]
                order = np.argsort(cols, axis=1)
                cols = np.take_along_axis(cols, order, axis=1)
                data = np.take_along_axis(data, order, axis=1)
                indptr = np.arange(0, dim * len(diags) + 1, len(diags), dtype=np.int64)
                mat = sp.csr_matrix((data.ravel(), cols.ravel(), indptr), shape=(dim, dim))
                mat.eliminate_zeros()
            self._cache[key] = mat
        mat = self._cache[key]
        if dtype is not None and mat.dtype != np.dtype(dtype):
            return mat.astype(dtype)
        return mat

    def to_dense(self, dtype=None, *, max_qubits: int = 14) -> np.ndarray:
        """Dense ``2^n × 2^n`` matrix; refuses more than ``max_qubits`` qubits."""
        if self.n_qubits > max_qubits:
            raise SizeLimitError(
                f"a dense {self.n_qubits}-qubit matrix has 4^{self.n_qubits} entries (limit "
                f"max_qubits={max_qubits}); use to_sparse() or the matrix-free apply()"
            )
        return self.to_sparse(dtype).toarray()

    def apply(self, psi: np.ndarray) -> np.ndarray:
        """``P ψ`` for a state ``(2^n,)`` or a block of states ``(2^n, k)``, matrix-free."""
        psi = _check_state(psi, self.n_qubits, "psi", allow_matrix=True)
        real = self.is_real and not np.iscomplexobj(psi)
        out = np.zeros(psi.shape, dtype=np.float64 if real else np.complex128)
        idx = np.arange(self.dim, dtype=np.int64)
        for x, d in self._diagonals(real):
            contrib = d[:, None] * psi if psi.ndim == 2 else d * psi
            out[idx ^ x] += contrib
        return out

    def expectation(self, state: np.ndarray) -> float:
        r"""``⟨ψ|P|ψ⟩`` for a normalised vector ``(2^n,)`` or ``Tr(ρ P)`` for ``ρ (2^n, 2^n)``.

        Real part returned (exact for Hermitian sums); the state is not re-normalised.
        """
        state = np.asarray(state)
        idx = np.arange(self.dim, dtype=np.int64)
        if state.ndim == 2 and state.shape == (self.dim, self.dim):
            total = 0.0 + 0j
            for x, d in self._diagonals(False):
                total += np.sum(d * state[idx, idx ^ x])
            return float(total.real)
        psi = _check_state(state, self.n_qubits, "state")
        total = 0.0 + 0j
        real = self.is_real and not np.iscomplexobj(psi)
        for x, d in self._diagonals(real):
            total += np.vdot(psi[idx ^ x], d * psi)
        return float(np.real(total))


def _qwc(ka, kb) -> bool:
    """Qubit-wise commutation of two strings in symplectic form."""
    xa, za = ka
    xb, zb = kb
    support = (xa | za) & (xb | zb)
    return (xa & support) == (xb & support) and (za & support) == (zb & support)


def _fmt(c: complex) -> str:
    return f"{c.real:g}" if c.imag == 0 else f"({c.real:g}{c.imag:+g}j)"


def _check_state(psi, n: int, name: str, allow_matrix: bool = False) -> np.ndarray:
    psi = np.asarray(psi)
    dim = 1 << n
    ok = psi.ndim == 1 or (allow_matrix and psi.ndim == 2)
    if not ok or psi.shape[0] != dim:
        raise ShapeError(f"{name} must have shape ({dim},) for {n} qubits; got {psi.shape}")
    return psi


def pauli(n_qubits: int, spec: str, sites=None, coeff: complex = 1.0) -> PauliSum:
    """A single Pauli string, e.g. ``pauli(4, 'Z0 X1')`` or ``pauli(4, 'ZX', sites=(0, 1))``."""
    return PauliSum(n_qubits, [(coeff, spec, sites)])


def identity(n_qubits: int, coeff: complex = 1.0) -> PauliSum:
    """``coeff · 1`` on ``n_qubits`` qubits."""
    out = PauliSum(n_qubits)
    out._add((0, 0), _as_coeff(coeff, "coeff"))
    return out
