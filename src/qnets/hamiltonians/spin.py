r"""Spin Hamiltonians with explicit parameter roles (the QEP split of spec ``qep.md`` §1.1).

.. math::

    H(x, \theta, \nu) = \sum_f c_f F_f + \sum_i x_i X_i + \sum_j \theta_j A_j
                         + \sum_k \nu_k O_k ,

a sum of named *terms*; each term is a Hermitian :class:`~qnets.hamiltonians.pauli.PauliSum`
(the operator) times a real number (its value), tagged with a role:

============  ==============================================================
role          meaning
============  ==============================================================
``fixed``     ``H0``; value = fixed coefficient (default 1)
``input``     ``x_i X_i``; the data (e.g. a point of a phase diagram)
``trainable`` ``θ_j A_j``; the couplings QEP trains, ``A_j`` is measured
``output``    ``ν_k O_k``; nudge couplings (0 during inference), ``O_k`` gives the outputs
============  ==============================================================

Parameters travel by name (``params={'g_x': 0.3}``) or as arrays in the order the terms
of that role were added (``x=``, ``theta=``, ``nu=``). Every term's matrix elements are
cached on the union sparsity pattern, grouped by flip mask, so re-evaluating ``H`` at new
parameters and reading every term's expectation value are one small GEMV per flip mask.
The matrix is real (float64) when no term has complex matrix elements (every Pauli string
with an even number of ``Y``), else complex128.
Conventions: Pauli operators (±1), qubit 0 = most significant bit, ``|0⟩`` = ``Z = +1``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from qnets.errors import ConfigError, ShapeError
from qnets.hamiltonians.pauli import PauliSum, _parity

__all__ = ["ROLES", "SpinHamiltonian", "Term", "as_pauli_sum"]

ROLES = ("fixed", "input", "trainable", "output")
_DEFAULT_VALUE = {"fixed": 1.0, "input": 0.0, "trainable": 0.0, "output": 0.0}


@dataclass(frozen=True)
class Term:
    """One named term ``value · operator`` of a :class:`SpinHamiltonian`."""

    name: str
    operator: PauliSum
    role: str
    value: float


def as_pauli_sum(n_qubits: int, operator, what: str = "operator") -> PauliSum:
    """Coerce ``operator`` (PauliSum, ``'Z0 X1'`` string, or list of term tuples)."""
    if isinstance(operator, PauliSum):
        if operator.n_qubits != n_qubits:
            raise ShapeError(
                f"{what} acts on {operator.n_qubits} qubits; the Hamiltonian has {n_qubits}"
            )
        return operator
    if isinstance(operator, str):
        return PauliSum(n_qubits, [(1.0, operator)])
    if isinstance(operator, (list, tuple)):
        return PauliSum(n_qubits, operator)
    raise ConfigError(
        f"{what} must be a PauliSum, a Pauli string such as 'Z0 X1', or a list of "
        f"(coeff, string[, sites]) tuples; got {type(operator).__name__}"
    )


def _real_value(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise ConfigError(f"{what} must be a real number; got {value!r}")
    if isinstance(value, complex) or np.iscomplexobj(value):
        if complex(value).imag != 0:
            raise ConfigError(
                f"{what} must be real (H is Hermitian only for real parameters); got {value!r}"
            )
        value = complex(value).real
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{what} must be finite; got {value!r}")
    return value


class SpinHamiltonian:
    r"""Sum of named, role-tagged Pauli-sum terms on ``n_qubits`` qubits.

    Parameters
    ----------
    n_qubits : int
        Register size ``n``; matrices are ``2^n × 2^n``.
    real : bool or None
        ``True`` declares the Hamiltonian real: adding a term with complex matrix elements
        (an odd number of ``Y``) raises :class:`~qnets.errors.ConfigError`. ``None``
        (default) accepts both and picks float64 / complex128 automatically.

    Examples
    --------
    >>> H = SpinHamiltonian(3)
    >>> H.add("zz", [(-1.0, "Z0 Z1"), (-1.0, "Z1 Z2")])           # fixed, value 1
    >>> H.add("g", [(-1.0, f"X{q}") for q in range(3)], role="trainable", value=0.5)
    >>> H.add("out", "X0", role="output")
    >>> H.matrix(theta=[0.7]).shape
    (8, 8)
    """

    def __init__(self, n_qubits: int, *, real: bool | None = None):
        self._n = PauliSum(n_qubits).n_qubits
        if real not in (None, True, False):
            raise ConfigError(f"real must be None, True or False; got {real!r}")
        self.declared_real = real
        self._terms: list[Term] = []
        self._cache: dict = {}

    # -- building ----------------------------------------------------------------------
    @property
    def n_qubits(self) -> int:
        return self._n

    @property
    def dim(self) -> int:
        return 1 << self._n

    def add(self, name: str, operator, *, role: str = "fixed", value: float | None = None):
        """Add the term ``value · operator`` with a unique ``name`` and a ``role``.

        ``operator`` must be Hermitian (real coefficients on the Pauli strings); the
        value defaults to 1 for ``fixed`` terms and 0 otherwise. Returns ``self``.
        """
        if not isinstance(name, str) or not name:
            raise ConfigError(f"name must be a non-empty str; got {name!r}")
        if any(t.name == name for t in self._terms):
            raise ConfigError(f"a term named {name!r} already exists; names must be unique")
        if role not in ROLES:
            raise ConfigError(f"role of term {name!r} must be one of {ROLES}; got {role!r}")
        op = as_pauli_sum(self._n, operator, f"operator of term {name!r}")
        if len(op) == 0:
            raise ConfigError(f"operator of term {name!r} is zero")
        if not op.is_hermitian:
            bad = [c for c in op.coefficients if abs(c.imag) > 1e-14 * max(1.0, abs(c))]
            raise ConfigError(
                f"operator of term {name!r} has complex coefficient {bad[0]!r} on a Pauli "
                "string; Hamiltonian terms must be Hermitian (real coefficients). Write "
                "i·(P Q − Q P)-type terms through their real Pauli expansion"
            )
        if self.declared_real and not op.is_real:
            raise ConfigError(
                f"operator of term {name!r} has imaginary matrix elements (a Pauli string with "
                "an odd number of Y), but the Hamiltonian was declared real=True"
            )
        value = _DEFAULT_VALUE[role] if value is None else value
        value = _real_value(value, f"value of term {name!r}")
        self._terms.append(Term(name, op, role, value))
        self._cache.clear()
        return self

    def copy(self) -> SpinHamiltonian:
        """A new Hamiltonian with the same terms (operators are shared, immutable)."""
        out = SpinHamiltonian(self._n, real=self.declared_real)
        out._terms = list(self._terms)
        return out

    def with_values(self, params=None, **by_role) -> SpinHamiltonian:
        """A copy whose stored term values are replaced (see :meth:`values`)."""
        values = self.values(params, **by_role)
        out = SpinHamiltonian(self._n, real=self.declared_real)
        out._terms = [
            Term(t.name, t.operator, t.role, float(v)) for t, v in zip(self._terms, values)
        ]
        return out

    # -- introspection -----------------------------------------------------------------
    @property
    def terms(self) -> tuple[Term, ...]:
        return tuple(self._terms)

    def names(self, role: str | None = None) -> list[str]:
        """Term names, all or those of one ``role``, in insertion order."""
        if role is not None and role not in ROLES:
            raise ConfigError(f"role must be one of {ROLES}; got {role!r}")
        return [t.name for t in self._terms if role is None or t.role == role]

    def operators(self, role: str | None = None) -> list[PauliSum]:
        """The operators of all terms or of one ``role`` (insertion order)."""
        return [self.term(n).operator for n in self.names(role)]

    def term(self, name: str) -> Term:
        for t in self._terms:
            if t.name == name:
                return t
        raise ConfigError(f"no term named {name!r}; terms are {self.names()}")

    @property
    def is_real(self) -> bool:
        """True when the matrix is real for every real parameter value."""
        return all(t.operator.is_real for t in self._terms)

    def __repr__(self) -> str:
        counts = {r: len(self.names(r)) for r in ROLES}
        return f"SpinHamiltonian(n_qubits={self._n}, terms={counts})"

    # -- parameters --------------------------------------------------------------------
    def values(self, params=None, *, x=None, theta=None, nu=None) -> np.ndarray:
        """Values of all terms (insertion order) after overrides.

        ``x``, ``theta``, ``nu`` replace the values of the input, trainable and output
        terms (arrays in role order); ``params`` maps term names to values and is applied
        last. Shape ``(len(terms),)``, float64.
        """
        out = np.array([t.value for t in self._terms], dtype=np.float64)
        for role, given, label in (("input", x, "x"), ("trainable", theta, "theta"),
                                   ("output", nu, "nu")):
            if given is None:
                continue
            idx = [i for i, t in enumerate(self._terms) if t.role == role]
            arr = np.asarray(given)
            if np.iscomplexobj(arr):
                raise ConfigError(f"{label} must be real; got complex values")
            arr = np.atleast_1d(arr.astype(np.float64))
            if arr.shape != (len(idx),):
                raise ShapeError(
                    f"{label} must have shape ({len(idx)},) (one value per {role} term: "
                    f"{[self._terms[i].name for i in idx]}); got shape {arr.shape}"
                )
            if not np.all(np.isfinite(arr)):
                raise ConfigError(f"{label} must be finite; got {arr}")
            out[idx] = arr
        if params:
            if not hasattr(params, "items"):
                raise ConfigError(f"params must be a mapping name -> value; got {params!r}")
            lookup = {t.name: i for i, t in enumerate(self._terms)}
            for name, value in params.items():
                if name not in lookup:
                    raise ConfigError(f"params: no term named {name!r}; terms are {self.names()}")
                out[lookup[name]] = _real_value(value, f"params[{name!r}]")
        return out

    def operator(self, params=None, **by_role) -> PauliSum:
        """The whole Hamiltonian as one :class:`PauliSum` at the given values."""
        values = self.values(params, **by_role)
        total = PauliSum(self._n)
        for t, v in zip(self._terms, values):
            if v != 0:
                total = total + v * t.operator
        return total

    # -- sparse assembly ---------------------------------------------------------------
    def _table(self) -> _TermTable:
        """Union sparsity pattern and the per-term matrix elements, cached (:class:`_TermTable`)."""
        if "table" in self._cache:
            return self._cache["table"]
        if not self._terms:
            raise ConfigError("the Hamiltonian has no terms; add some with .add(...)")
        ops = [t.operator for t in self._terms]
        ops[0]._check_size()
        real = self.is_real
        dim = self.dim
        masks = sorted({x for op in ops for x in op._groups()})
        rows = np.arange(dim, dtype=np.int64)
        dtype = np.float64 if real else np.complex128
        # one (term, flip mask) pair per row of ``data``, grouped by mask
        pairs = sorted(
            ((x, t) for t, op in enumerate(ops) for x in op._groups()), key=lambda p: p[0]
        )
        data = np.zeros((len(pairs), dim), dtype=dtype)
        for p, (x, t) in enumerate(pairs):
            src = rows ^ x  # the column c = r ^ x of row r; op|c> = (-1)^{c.z} c_z |r>
            for z, c in ops[t]._groups()[x]:
                value = c.real if real else c
                data[p] += value if z == 0 else value * (1 - 2 * _parity(src & z))
        pair_mask = np.array([x for x, _ in pairs], dtype=np.int64)
        bounds = np.searchsorted(pair_mask, masks + [np.iinfo(np.int64).max])
        marr = np.array(masks, dtype=np.int64)
        table = _TermTable(
            masks=marr,
            spans=[(int(bounds[j]), int(bounds[j + 1])) for j in range(len(masks))],
            data=data,
            term=np.array([t for _, t in pairs], dtype=np.int64),
            indices=(rows[:, None] ^ marr[None, :]).ravel(),
            indptr=np.arange(0, dim * len(masks) + 1, len(masks), dtype=np.int64),
            n_terms=len(ops),
        )
        self._cache["table"] = table
        return table

    def matrix(self, params=None, *, x=None, theta=None, nu=None) -> sp.csr_matrix:
        """Sparse CSR matrix ``H(x, θ, ν)`` (float64 when :attr:`is_real`, else complex128).

        One row per basis state with one entry per flip mask of the terms (column indices
        ``r ^ mask`` in mask order, not sorted within a row).
        """
        values = self.values(params, x=x, theta=theta, nu=nu)
        table = self._table()
        dim = self.dim
        return sp.csr_matrix(
            (table.assemble(values), table.indices, table.indptr), shape=(dim, dim), copy=False
        )

    def dense(self, params=None, *, max_qubits: int = 14, **by_role) -> np.ndarray:
        """Dense matrix (refuses more than ``max_qubits`` qubits, see :class:`SizeLimitError`)."""
        from qnets.errors import SizeLimitError

        if self._n > max_qubits:
            raise SizeLimitError(
                f"a dense {self._n}-qubit Hamiltonian has 4^{self._n} entries (limit "
                f"max_qubits={max_qubits}); use matrix() (sparse) or "
                "qnets.solvers.ground_state(H, method='lanczos' or 'dmrg')"
            )
        return self.matrix(params, **by_role).toarray()

    # -- expectation values ------------------------------------------------------------
    def term_expectations(self, state, role: str | None = None) -> np.ndarray:
        r"""``⟨op_t⟩`` of every term operator (value not applied) in one sparse product.

        ``state`` is a normalised vector ``ψ`` of shape ``(2^n,)`` (``⟨ψ|op|ψ⟩``) or a
        density matrix ``ρ`` of shape ``(2^n, 2^n)`` (``Tr ρ op``). Returns float64 of
        shape ``(n_terms,)`` or, with ``role``, the terms of that role in order.
        """
        table = self._table()
        state = np.asarray(state)
        dim = self.dim
        if state.shape == (dim,):
            bra = np.conj(state)
            out = table.contract(lambda cols: bra * state[cols]).real
        elif state.shape == (dim, dim):
            rows = np.arange(dim)
            out = table.contract(lambda cols: state[cols, rows]).real
        else:
            raise ShapeError(
                f"state must be a vector ({dim},) or a density matrix ({dim}, {dim}); "
                f"got shape {state.shape}"
            )
        if role is None:
            return out
        if role not in ROLES:
            raise ConfigError(f"role must be one of {ROLES}; got {role!r}")
        return out[[i for i, t in enumerate(self._terms) if t.role == role]]

    def term_matrix_elements(self, bra, ket, role: str | None = None) -> np.ndarray:
        r"""``⟨bra|op_t|ket⟩`` of every term operator (complex128, shape ``(n_terms,)``).

        Used for linear response: ``d⟨A_j⟩ = 2 Re⟨ψ0|A_j|dψ⟩``. ``role`` selects terms.
        """
        table = self._table()
        dim = self.dim
        bra, ket = np.asarray(bra), np.asarray(ket)
        if bra.shape != (dim,) or ket.shape != (dim,):
            raise ShapeError(f"bra and ket must have shape ({dim},); got {bra.shape}, {ket.shape}")
        bra_conj = np.conj(bra)
        out = table.contract(lambda cols: bra_conj * ket[cols])
        if role is None:
            return out
        return out[[i for i, t in enumerate(self._terms) if t.role == role]]

    def expectation(self, operator, state) -> float:
        """``⟨operator⟩`` in ``state``; ``operator`` is a term name, PauliSum or Pauli string."""
        if isinstance(operator, str) and any(t.name == operator for t in self._terms):
            operator = self.term(operator).operator
        op = as_pauli_sum(self._n, operator)
        return op.expectation(state)


@dataclass(frozen=True)
class _TermTable:
    r"""Matrix elements of every term on the union sparsity pattern of ``H``.

    A Pauli string ``X^x Z^z`` has one entry per row ``r``, in column ``r ^ x``; a term is a
    sum of strings, so it owns one row of ``data`` (shape ``(n_pairs, 2^n)``) per distinct
    flip mask ``x`` of its strings. Pairs are grouped by mask (``spans[j]`` is the slice of
    mask ``masks[j]``), so both products below are one small GEMV per mask:

    * assembly ``H[r, r ^ x_j] = Σ_{p ∈ j} value[term_p] · data[p, r]``;
    * contraction ``out[t] = Σ_{p: term_p = t} Σ_r data[p, r] · u_j(r)`` with
      ``u_j(r) = ⟨r| … |r ^ x_j⟩`` built by the caller from the column indices (e.g.
      ``conj(ψ_r) ψ_{r ^ x_j}`` for an expectation value).

    The CSR pattern of ``H`` lists the masks of each row in ``masks`` order (``indices`` =
    ``r ^ masks`` row by row, ``indptr`` = multiples of ``len(masks)``).
    """

    masks: np.ndarray
    spans: list
    data: np.ndarray
    term: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    n_terms: int

    def assemble(self, values: np.ndarray) -> np.ndarray:
        """CSR ``data`` of ``Σ_t values[t] · op_t`` (length ``2^n · len(masks)``)."""
        weights = np.asarray(values, dtype=np.float64)[self.term]
        per_mask = np.empty((len(self.masks), self.data.shape[1]), dtype=self.data.dtype)
        for j, (lo, hi) in enumerate(self.spans):
            np.matmul(weights[lo:hi], self.data[lo:hi], out=per_mask[j])
        return per_mask.T.ravel()

    def contract(self, row_values) -> np.ndarray:
        """``out[t] = Σ_r Σ_j op_t[r, r ^ x_j] · u_j(r)`` with ``u_j = row_values(r ^ x_j)``.

        ``row_values`` maps the column indices ``r ^ x_j`` (shape ``(2^n,)``) of one mask to
        ``u_j``. Returns complex128 (float64 if every product is real), shape ``(n_terms,)``.
        """
        rows = np.arange(self.data.shape[1], dtype=np.int64)
        per_pair = np.concatenate([  # spans are consecutive: pair order is kept
            self.data[lo:hi] @ row_values(rows ^ mask)
            for mask, (lo, hi) in zip(self.masks, self.spans)
        ])
        total = np.bincount(self.term, per_pair.real, minlength=self.n_terms)
        if np.iscomplexobj(per_pair):
            total = total + 1j * np.bincount(self.term, per_pair.imag, minlength=self.n_terms)
        return total
