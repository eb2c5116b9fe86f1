r"""Measurement simulation for QEP: exact values, Gaussian shot noise, sampled bitstrings.

Three models of how an experiment reads ``⟨A⟩`` for Hermitian Pauli sums ``A``:

``ExactMeasurement``
    The exact expectation values (infinitely many shots).
``GaussianShots(shots=M)``
    The authors' model (spec ``qep.md`` §2): ``⟨A⟩ + N(0, Var(A)/M)`` with
    ``Var(A) = ⟨A²⟩ − ⟨A⟩²``, independently per operator. Valid for ``M ≳ 5–10``.
``SampledShots(shots=M)``
    Exact multinomial sampling: the Pauli strings of all requested operators are grouped
    into qubit-wise-commuting (QWC) sets; each set is one *measurement setting* (one
    product basis, rotated with ``H`` for X and ``H S†`` for Y); ``M`` bitstrings are
    drawn per setting from the Born probabilities and every string of the set is
    estimated from the same bitstrings as the mean of ``(−1)^{popcount(b & support)}``.

Every model reports the number of settings an experiment needs for the operators
(:func:`qwc_groups`), so QEP and finite differences can be compared in measurement cost.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

from qnets.errors import ConfigError, ShapeError
from qnets.hamiltonians.pauli import PauliSum, _parity

__all__ = [
    "ExactMeasurement",
    "GaussianShots",
    "SampledShots",
    "as_measurement",
    "count_settings",
    "qwc_groups",
]

_H = np.array([[1, 1], [1, -1]], dtype=np.complex128) / np.sqrt(2)
_ROTATION = {"X": _H, "Y": _H @ np.diag([1, -1j]), "Z": np.eye(2, dtype=np.complex128)}


def _strings(operators) -> list[tuple[int, int]]:
    """Distinct non-identity strings ``(x, z)`` of a list of PauliSums (first-seen order)."""
    seen = {}
    for op in operators:
        for key in op._terms:
            if key != (0, 0):
                seen.setdefault(key, None)
    return list(seen)


def _compatible(basis: dict, key, n: int) -> bool:
    x, z = key
    for q in range(n):
        bit = 1 << (n - 1 - q)
        if (x | z) & bit:
            letter = "Y" if (x & z & bit) else ("X" if x & bit else "Z")
            if basis.get(q, letter) != letter:
                return False
    return True


def _assign(basis: dict, key, n: int):
    x, z = key
    for q in range(n):
        bit = 1 << (n - 1 - q)
        if (x | z) & bit:
            basis[q] = "Y" if (x & z & bit) else ("X" if x & bit else "Z")


def qwc_groups(operators, *, n_orders: int = 8, seed: int = 0) -> list[dict]:
    r"""Group the Pauli strings of ``operators`` into qubit-wise-commuting measurement settings.

    DSATUR colouring of the conflict graph (strings that do not commute qubit-wise) and
    greedy colouring (each string joins the first setting whose basis agrees with it on every
    qubit of its support) for the weight-sorted order and ``n_orders − 1`` random orders;
    the grouping with the fewest settings is returned.

    Parameters
    ----------
    operators : sequence of PauliSum
        All on the same register.

    Returns
    -------
    list of dict
        One entry per setting: ``{'basis': {qubit: 'X'|'Y'|'Z'}, 'strings': [(x, z), …]}``
        (qubits absent from ``basis`` may be measured in any basis).
    """
    operators = list(operators)
    if not operators:
        return []
    n = operators[0].n_qubits
    keys = _strings(operators)
    if not keys:
        return []
    best = _dsatur(keys, n)
    rng = np.random.default_rng(seed)
    weight = [(k[0] | k[1]).bit_count() for k in keys]
    orders = [sorted(range(len(keys)), key=lambda i: -weight[i])]
    orders += [list(rng.permutation(len(keys))) for _ in range(max(n_orders, 1) - 1)]
    for order in orders:
        groups: list[dict] = []
        for i in order:
            key = keys[i]
            for g in groups:
                if _compatible(g["basis"], key, n):
                    _assign(g["basis"], key, n)
                    g["strings"].append(key)
                    break
            else:
                g = {"basis": {}, "strings": [key]}
                _assign(g["basis"], key, n)
                groups.append(g)
        if len(groups) < len(best):
            best = groups
    # try to save settings with a tabu search for a (k − 1)-colouring (cached per string set)
    while len(best) > 1:
        colouring = _tabu_colouring(tuple(keys), len(best) - 1, seed)
        if colouring is None:
            break
        best = _groups_from_colours(keys, colouring, n)
    return best


def _groups_from_colours(keys, colour, n: int) -> list[dict]:
    groups: list[dict] = [{"basis": {}, "strings": []} for _ in range(max(colour) + 1)]
    for key, c in zip(keys, colour):
        _assign(groups[c]["basis"], key, n)
        groups[c]["strings"].append(key)
    return [g for g in groups if g["strings"]]


@functools.lru_cache(maxsize=64)
def _tabu_colouring(keys: tuple, k: int, seed: int, iterations: int = 300):
    """A conflict-free ``k``-colouring of the non-QWC graph by TabuCol, or None."""
    from qnets.hamiltonians.pauli import _qwc

    m = len(keys)
    if m > 400 or k < 1:
        return None
    conflict = [np.array([j for j in range(m) if j != i and not _qwc(keys[i], keys[j])], dtype=int)
                for i in range(m)]
    rng = np.random.default_rng(seed)
    colour = rng.integers(0, k, m)
    tabu = np.zeros((m, k), dtype=int)
    for it in range(iterations):
        bad = [i for i in range(m) if np.any(colour[conflict[i]] == colour[i])]
        if not bad:
            return [int(c) for c in colour]
        best_move, best_delta = None, None
        for i in bad:
            counts = np.bincount(colour[conflict[i]], minlength=k)
            for c in range(k):
                if c == colour[i] or tabu[i, c] > it:
                    continue
                delta = counts[c] - counts[colour[i]]
                if best_delta is None or delta < best_delta or (delta == best_delta and rng.random() < 0.3):
                    best_move, best_delta = (i, c), delta
        if best_move is None:
            continue
        i, c = best_move
        tabu[i, colour[i]] = it + 7 + int(rng.integers(0, 5))
        colour[i] = c
    return None


def _dsatur(keys, n: int) -> list[dict]:
    """DSATUR colouring of the non-QWC conflict graph (colour classes = settings)."""
    from qnets.hamiltonians.pauli import _qwc

    m = len(keys)
    conflict = [[j for j in range(m) if j != i and not _qwc(keys[i], keys[j])] for i in range(m)]
    colour = [-1] * m
    for _ in range(m):
        def priority(i):
            used = {colour[j] for j in conflict[i] if colour[j] >= 0}
            return (len(used), len(conflict[i]))
        i = max((i for i in range(m) if colour[i] < 0), key=priority)
        used = {colour[j] for j in conflict[i] if colour[j] >= 0}
        colour[i] = next(c for c in range(m) if c not in used)
    return _groups_from_colours(keys, colour, n)


def count_settings(operators) -> int:
    """Number of QWC measurement settings needed for ``operators`` (:func:`qwc_groups`)."""
    return len(qwc_groups(operators))


def _exact_values(state, operators) -> np.ndarray:
    return np.array([op.expectation(state) for op in operators], dtype=np.float64)


def _check_shots(shots) -> int:
    if isinstance(shots, bool) or not isinstance(shots, numbers.Integral) or shots < 1:
        raise ConfigError(f"shots must be a positive integer; got {shots!r}")
    return int(shots)


class ExactMeasurement:
    """Exact expectation values (no shot noise)."""

    shots = None

    def estimate(self, state, operators, *, exact=None, rng=None) -> np.ndarray:
        """``⟨A⟩`` for each operator; ``exact`` (precomputed values) is returned as is."""
        return _exact_values(state, operators) if exact is None else np.asarray(exact, float)

    def __repr__(self):
        return "ExactMeasurement()"


class GaussianShots:
    r"""Gaussian shot-noise model: ``⟨A⟩ + N(0, (⟨A²⟩ − ⟨A⟩²)/M)`` per operator."""

    def __init__(self, shots: int):
        self.shots = _check_shots(shots)
        self._squares: dict[int, PauliSum] = {}

    def _square(self, op: PauliSum) -> PauliSum:
        key = id(op)
        if key not in self._squares:
            self._squares[key] = (op, op @ op)
        return self._squares[key][1]

    def estimate(self, state, operators, *, exact=None, rng=None) -> np.ndarray:
        rng = np.random.default_rng(rng)
        mean = _exact_values(state, operators) if exact is None else np.asarray(exact, float)
        second = np.array([self._square(op).expectation(state) for op in operators])
        var = np.clip(second - mean**2, 0.0, None)
        return mean + rng.normal(size=mean.shape) * np.sqrt(var / self.shots)

    def __repr__(self):
        return f"GaussianShots(shots={self.shots})"


class SampledShots:
    """Exact multinomial sampling of ``shots`` bitstrings per QWC measurement setting."""

    def __init__(self, shots: int, *, grouping: str = "qwc"):
        self.shots = _check_shots(shots)
        if grouping not in ("qwc", "none"):
            raise ConfigError(f"grouping must be 'qwc' or 'none'; got {grouping!r}")
        self.grouping = grouping
        self._cache: dict = {}

    def _groups(self, operators):
        key = tuple(id(op) for op in operators)
        if key not in self._cache:
            if self.grouping == "qwc":
                groups = qwc_groups(operators)
            else:
                n = operators[0].n_qubits
                groups = []
                for k in _strings(operators):
                    g = {"basis": {}, "strings": [k]}
                    _assign(g["basis"], k, n)
                    groups.append(g)
            self._cache[key] = (list(operators), groups)
        return self._cache[key][1]

    def estimate(self, state, operators, *, exact=None, rng=None) -> np.ndarray:
        rng = np.random.default_rng(rng)
        operators = list(operators)
        if not operators:
            return np.zeros(0)
        n = operators[0].n_qubits
        state = np.asarray(state)
        dim = 1 << n
        if state.shape not in ((dim,), (dim, dim)):
            raise ShapeError(f"state must have shape ({dim},) or ({dim}, {dim}); got {state.shape}")
        estimates: dict = {}
        basis_index = np.arange(dim, dtype=np.int64)
        for g in self._groups(operators):
            probs = _probabilities(state, g["basis"], n)
            counts = rng.multinomial(self.shots, probs / probs.sum())
            for x, z in g["strings"]:
                signs = 1 - 2 * _parity(basis_index & (x | z))
                estimates[(x, z)] = float(counts @ signs) / self.shots
        out = []
        for op in operators:
            total = 0.0
            for key, coeff in op._terms.items():
                total += coeff.real * (1.0 if key == (0, 0) else estimates[key])
            out.append(total)
        return np.array(out)

    def __repr__(self):
        return f"SampledShots(shots={self.shots}, grouping={self.grouping!r})"


def _rotate(tensor: np.ndarray, q: int, U: np.ndarray) -> np.ndarray:
    return np.moveaxis(np.tensordot(U, tensor, axes=([1], [q])), 0, q)


def _probabilities(state: np.ndarray, basis: dict, n: int) -> np.ndarray:
    """Born probabilities of the computational outcomes after rotating into ``basis``."""
    if state.ndim == 1:
        psi = state.astype(np.complex128).reshape((2,) * n)
        for q, letter in basis.items():
            if letter != "Z":
                psi = _rotate(psi, q, _ROTATION[letter])
        return np.abs(psi.ravel()) ** 2
    rho = state.astype(np.complex128).reshape((2,) * (2 * n))
    for q, letter in basis.items():
        if letter != "Z":
            U = _ROTATION[letter]
            rho = _rotate(rho, q, U)
            rho = _rotate(rho, n + q, U.conj())
    return np.clip(np.real(np.diagonal(rho.reshape(1 << n, 1 << n))), 0.0, None)


def as_measurement(measurement=None, shots=None, grouping="qwc"):
    """A measurement model from a name (``'exact'``, ``'gaussian'``, ``'sampled'``) or object."""
    if measurement is None:
        measurement = "exact" if shots is None else "gaussian"
    if isinstance(measurement, (ExactMeasurement, GaussianShots, SampledShots)):
        return measurement
    if measurement == "exact":
        return ExactMeasurement()
    if measurement == "gaussian":
        return GaussianShots(shots if shots is not None else 0)
    if measurement == "sampled":
        return SampledShots(shots if shots is not None else 0, grouping=grouping)
    raise ConfigError(
        f"measurement must be 'exact', 'gaussian', 'sampled' or a measurement object; got "
        f"{measurement!r}"
    )
