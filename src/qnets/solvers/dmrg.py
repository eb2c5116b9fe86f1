r"""DMRG ground states of 1-D spin chains through quimb (optional extra ``dmrg``).

The MPO is built exactly from the :class:`~qnets.hamiltonians.SpinHamiltonian`'s Pauli
strings by a finite-state machine: bond state ``0`` = "nothing placed yet", ``1`` =
"string complete", and one channel per string that is open across the bond (started left
of it, ending right of it). A string ``c · σ_{q_1} … σ_{q_m}`` enters its channel at
``q_1`` with ``c σ_{q_1}``, carries ``σ_q`` (or the identity) through the sites in
between, and closes into state ``1`` at ``q_m``. The bond dimension at a cut is ``2 +``
(number of strings crossing it): small for local chains, including periodic bonds, and
exact (no compression). Expectation values of any :class:`PauliSum` use the same MPO
construction, so DMRG and exact diagonalisation share operators and conventions
(qubit 0 = leftmost site).

quimb is imported lazily; without it the functions raise ``ImportError`` with the hint
``pip install qnets[dmrg]``.
"""

from __future__ import annotations

import numpy as np

from qnets.errors import ConfigError, ConvergenceWarning
from qnets.hamiltonians.pauli import PauliSum, _letters
from qnets.hamiltonians.spin import SpinHamiltonian

__all__ = ["dmrg_ground_state", "mps_expectation", "mps_to_dense", "pauli_sum_mpo"]

_SINGLE = {
    "I": np.eye(2, dtype=np.complex128),
    "X": np.array([[0, 1], [1, 0]], dtype=np.complex128),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=np.complex128),
    "Z": np.array([[1, 0], [0, -1]], dtype=np.complex128),
}
# Real MPOs of real operators: Y = −i·(iY) with iY = [[0, 1], [−1, 0]] real; a string with
# an even number of Y then carries the real factor (−i)^{n_Y} in its coefficient.
_SINGLE_REAL = {**_SINGLE, "Y": np.array([[0, 1], [-1, 0]], dtype=np.complex128)}


def _quimb():
    try:
        import quimb.tensor as qtn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "DMRG needs quimb: install it with `pip install qnets[dmrg]`"
        ) from exc
    return qtn


def _mpo_arrays(op: PauliSum) -> list[np.ndarray]:
    """Finite-state-machine MPO tensors ``W_i[l, r, u, d]`` of a PauliSum."""
    n = op.n_qubits
    if n < 2:
        raise ConfigError(f"an MPO needs at least 2 sites; got n_qubits={n}")
    real = op.is_real
    strings = []  # (first, last, {q: letter}, coeff)
    identity_coeff = 0.0 + 0j
    for (key, coeff) in op._terms.items():
        letters = _letters(n, key)
        if not letters:
            identity_coeff += coeff
            continue
        if real:
            coeff = coeff * (-1j) ** sum(1 for v in letters.values() if v == "Y")
        strings.append((min(letters), max(letters), letters, coeff))
    # channels crossing cut i (between site i and i+1): strings with first <= i < last
    channels = [
        [s for s, (a, b, _, _) in enumerate(strings) if a <= i < b] for i in range(n - 1)
    ]
    index = [{s: 2 + k for k, s in enumerate(ch)} for ch in channels]
    single = _SINGLE_REAL if real else _SINGLE
    arrays = []
    for i in range(n):
        dl = 1 if i == 0 else 2 + len(channels[i - 1])
        dr = 1 if i == n - 1 else 2 + len(channels[i])
        W = np.zeros((dl, dr, 2, 2), dtype=np.complex128)
        left = (lambda s: 0) if i == 0 else (lambda s, i=i: index[i - 1][s])
        # state 0 -> 0 and 1 -> 1 carry the identity (boundaries collapse them)
        l0, r0 = 0, 0
        l1 = 0 if i == 0 else 1
        r1 = 0 if i == n - 1 else 1
        if i < n - 1:
            W[l0, r0] += _SINGLE["I"]
        if i > 0:
            W[l1, r1] += _SINGLE["I"]
        if i == 0 and identity_coeff != 0:
            W[0, r1] += identity_coeff * _SINGLE["I"]
        for s, (a, b, letters, coeff) in enumerate(strings):
            if not a <= i <= b:
                continue
            mat = single[letters.get(i, "I")]
            src = l0 if i == a else left(s)
            dst = r1 if i == b else index[i][s]
            W[src, dst] += (coeff if i == a else 1.0) * mat
        arrays.append(W.real.copy() if real else W)
    arrays[0] = arrays[0][0]
    arrays[-1] = arrays[-1][:, 0]
    return arrays


def pauli_sum_mpo(op: PauliSum):
    """The exact ``quimb.tensor.MatrixProductOperator`` of a PauliSum (real when possible).

    Upper indices ``k{i}`` (ket), lower ``b{i}``; ``mpo.to_dense()`` equals
    ``op.to_dense()``.
    """
    if not isinstance(op, PauliSum):
        raise ConfigError(f"op must be a PauliSum; got {type(op).__name__}")
    qtn = _quimb()
    return qtn.MatrixProductOperator(_mpo_arrays(op), shape="lrud")


def mps_expectation(psi, op: PauliSum) -> float:
    """``⟨ψ|op|ψ⟩ / ⟨ψ|ψ⟩`` for a quimb MPS (real part)."""
    qtn = _quimb()
    mpo = pauli_sum_mpo(op)
    value = qtn.expec_TN_1D(psi.H, mpo, psi)
    norm = psi.H @ psi
    return float(np.real(value / norm))


def mps_to_dense(psi) -> np.ndarray:
    """The MPS as a dense vector in the qubit-0-most-significant basis (small chains)."""
    return np.asarray(psi.to_dense()).ravel()


def dmrg_ground_state(
    H: SpinHamiltonian,
    *,
    params=None,
    x=None,
    theta=None,
    nu=None,
    v0=None,
    bond_dims=(16, 32, 64, 128),
    cutoffs: float = 1e-10,
    dmrg_tol: float = 1e-10,
    max_sweeps: int = 30,
    verbosity: int = 0,
):
    r"""Two-site DMRG ground state of ``H(x, θ, ν)`` (``quimb.tensor.DMRG2``).

    Parameters
    ----------
    H : SpinHamiltonian
        Any Pauli-string Hamiltonian; sites are ordered as the qubits (a periodic bond
        is an MPO channel across the chain, so it costs bond dimension, not correctness).
    v0 : MPS or GroundState, optional
        Warm start (e.g. the free-phase MPS before a nudged solve).
    bond_dims : int or sequence of int
        Bond-dimension schedule of the sweeps.
    cutoffs : float
        Singular-value cutoff.
    dmrg_tol : float
        Energy convergence tolerance between sweeps.
    max_sweeps : int

    Returns
    -------
    GroundState
        ``state`` is the quimb MPS; ``gap`` is None; ``residual`` NaN;
        ``info['max_bond']`` the largest bond dimension.
    """
    import warnings

    from qnets.solvers.exact import GroundState

    qtn = _quimb()
    if not isinstance(H, SpinHamiltonian):
        raise ConfigError(f"H must be a SpinHamiltonian; got {type(H).__name__}")
    total = H.operator(params, x=x, theta=theta, nu=nu)
    mpo = pauli_sum_mpo(total)
    p0 = getattr(v0, "state", v0)
    if p0 is not None and not isinstance(p0, qtn.MatrixProductState):
        raise ConfigError(f"v0 for DMRG must be a quimb MPS or a DMRG GroundState; got {type(p0).__name__}")
    if isinstance(bond_dims, int):
        bond_dims = [bond_dims]
    solver = qtn.DMRG2(mpo, bond_dims=list(bond_dims), cutoffs=cutoffs, p0=p0)
    converged = bool(solver.solve(tol=dmrg_tol, max_sweeps=max_sweeps, verbosity=verbosity))
    if not converged:
        warnings.warn(
            f"DMRG did not converge to tol={dmrg_tol} in {max_sweeps} sweeps; raise "
            "max_sweeps or bond_dims",
            ConvergenceWarning,
            stacklevel=2,
        )
    state = solver.state
    state /= (state.H @ state) ** 0.5
    energy = float(np.real(solver.energy))
    return GroundState(
        energy=energy, state=state, gap=None, converged=converged, method="dmrg",
        energies=np.array([energy]), hamiltonian=H, info={"max_bond": state.max_bond()},
    )
