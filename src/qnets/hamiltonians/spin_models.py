r"""Spin-model zoo as :class:`~qnets.hamiltonians.spin.SpinHamiltonian` objects.

Every coupling is one named term ``value · operator`` whose sign convention is stated in
the docstring with the parameter names; all terms are ``fixed`` unless ``roles`` maps a
parameter name to another role (``roles={'h': 'input'}``). Pauli operators (±1); chains
index sites ``0 … n−1``; a periodic chain adds the bond ``(n−1, 0)``.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

from qnets.errors import ConfigError
from qnets.hamiltonians.pauli import PauliSum, identity
from qnets.hamiltonians.spin import ROLES, SpinHamiltonian

__all__ = [
    "bond_operator",
    "cluster_ising",
    "cluster_ising_sensor",
    "heisenberg",
    "honeycomb_bonds",
    "honeycomb_plaquettes",
    "kitaev_honeycomb",
    "plaquette_operator",
    "tfim",
    "xxz",
    "z_projector",
]


def _chain_length(n, minimum=2) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < minimum:
        raise ConfigError(f"n must be an integer ≥ {minimum}; got {n!r}")
    return int(n)


def _bonds(n: int, periodic: bool, span: int = 1) -> list[tuple[int, ...]]:
    """Windows ``(j, j+1, …, j+span)`` of a chain (wrapped when periodic)."""
    last = n if periodic else n - span
    return [tuple((j + k) % n for k in range(span + 1)) for j in range(last)]


def _build(n: int, specs, roles: Mapping[str, str] | None, real: bool | None = None):
    """``specs``: list of (name, value, operator)."""
    roles = dict(roles or {})
    names = [s[0] for s in specs]
    unknown = set(roles) - set(names)
    if unknown:
        raise ConfigError(f"roles: unknown parameter names {sorted(unknown)}; known: {names}")
    H = SpinHamiltonian(n, real=real)
    for name, value, op in specs:
        role = roles.get(name, "fixed")
        if role not in ROLES:
            raise ConfigError(f"roles[{name!r}] must be one of {ROLES}; got {role!r}")
        H.add(name, op, role=role, value=value)
    return H


def tfim(n: int, *, J: float = 1.0, h: float = 1.0, periodic: bool = True, roles=None):
    r"""Transverse-field Ising chain ``H = −J Σ_j Z_j Z_{j+1} − h Σ_j X_j``.

    Terms ``'J'`` (operator ``−Σ ZZ``) and ``'h'`` (operator ``−Σ X``). Real (float64).
    Periodic chains need ``n ≥ 3``.
    """
    n = _chain_length(n, 3 if periodic else 2)
    zz = PauliSum(n, [(-1.0, "ZZ", b) for b in _bonds(n, periodic)])
    x = PauliSum(n, [(-1.0, "X", (j,)) for j in range(n)])
    return _build(n, [("J", J, zz), ("h", h, x)], roles)


def xxz(n: int, *, J: float = 1.0, delta: float = 1.0, h: float = 0.0, periodic: bool = True,
        roles=None):
    r"""XXZ chain ``H = J Σ_j (X_j X_{j+1} + Y_j Y_{j+1}) + J_z Σ_j Z_j Z_{j+1} − h Σ_j Z_j``.

    ``J_z = J·delta``. Terms ``'J'`` (``Σ XX + YY``), ``'Jz'`` (``Σ ZZ``, value ``J·delta``)
    and ``'h'`` (``−Σ Z``, only when ``h ≠ 0`` or a role is given). Real: ``YY`` has two Y.
    """
    n = _chain_length(n, 3 if periodic else 2)
    bonds = _bonds(n, periodic)
    xy = PauliSum(n, [(1.0, "XX", b) for b in bonds] + [(1.0, "YY", b) for b in bonds])
    zz = PauliSum(n, [(1.0, "ZZ", b) for b in bonds])
    specs = [("J", J, xy), ("Jz", J * delta, zz)]
    if h != 0 or (roles and "h" in roles):
        specs.append(("h", h, PauliSum(n, [(-1.0, "Z", (j,)) for j in range(n)])))
    return _build(n, specs, roles)


def heisenberg(n: int, *, J: float = 1.0, h: float = 0.0, periodic: bool = True, roles=None):
    r"""Heisenberg chain ``H = J Σ_j (X X + Y Y + Z Z)_{j,j+1} − h Σ_j Z_j`` (:func:`xxz`, Δ = 1)."""
    return xxz(n, J=J, delta=1.0, h=h, periodic=periodic, roles=roles)


def cluster_ising(n: int, *, g_zxz: float = 1.0, g_zz: float = 0.0, g_x: float = 0.0,
                  periodic: bool = True, roles=None):
    r"""Cluster-Ising chain (spec ``qep.md`` §3.1).

    .. math::

        H = g_{ZXZ} \sum_j Z_j X_{j+1} Z_{j+2} - g_{ZZ} \sum_j Z_j Z_{j+1} - g_X \sum_j X_j

    Terms ``'g_zxz'`` (operator ``+Σ ZXZ``), ``'g_zz'`` (``−Σ ZZ``), ``'g_x'`` (``−Σ X``);
    open chains keep the windows inside ``0 … n−1``. Real. Periodic needs ``n ≥ 3``.
    """
    n = _chain_length(n, 3)
    zxz = PauliSum(n, [(1.0, "ZXZ", w) for w in _bonds(n, periodic, span=2)])
    zz = PauliSum(n, [(-1.0, "ZZ", b) for b in _bonds(n, periodic)])
    x = PauliSum(n, [(-1.0, "X", (j,)) for j in range(n)])
    return _build(n, [("g_zxz", g_zxz, zxz), ("g_zz", g_zz, zz), ("g_x", g_x, x)], roles)


def _honeycomb_shape(Lx, Ly):
    for name, value in (("Lx", Lx), ("Ly", Ly)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 2 \
                or value % 2:
            raise ConfigError(f"{name} must be an even integer ≥ 2; got {value!r}")
    return int(Lx), int(Ly)


def honeycomb_bonds(Lx: int, Ly: int) -> list[tuple[int, int, str]]:
    r"""Bonds ``(i, j, type)`` of a periodic brick-wall honeycomb of ``Ly`` rows × ``Lx`` sites.

    Site ``(r, c)`` has index ``r·Lx + c``. The horizontal bond ``(r, c)–(r, c+1)`` is of
    type ``'x'`` when ``r + c`` is even, ``'y'`` otherwise; the vertical ``'z'`` bond joins
    ``(r, c)`` to ``(r+1, c)`` when ``r + c`` is even. Every site has one bond of each type
    (``3·Lx·Ly/2`` bonds); ``Lx`` and ``Ly`` must be even.
    """
    Lx, Ly = _honeycomb_shape(Lx, Ly)
    bonds = []
    for r in range(Ly):
        for c in range(Lx):
            i = r * Lx + c
            kind = "x" if (r + c) % 2 == 0 else "y"
            bonds.append((i, r * Lx + (c + 1) % Lx, kind))
            if (r + c) % 2 == 0:
                bonds.append((i, ((r + 1) % Ly) * Lx + c, "z"))
    return bonds


def honeycomb_plaquettes(Lx: int, Ly: int) -> list[tuple[int, ...]]:
    """Hexagons as 6-tuples of site indices, one per ``(r, c)`` with ``r + c`` even."""
    Lx, Ly = _honeycomb_shape(Lx, Ly)
    if Lx < 4:
        raise ConfigError(f"plaquettes need Lx ≥ 4 (a hexagon spans 3 columns); got Lx={Lx}")
    out = []
    for r in range(Ly):
        for c in range(Lx):
            if (r + c) % 2:
                continue
            up = (r + 1) % Ly
            out.append(tuple([r * Lx + (c + k) % Lx for k in range(3)]
                             + [up * Lx + (c + 2 - k) % Lx for k in range(3)]))
    return out


def plaquette_operator(Lx: int, Ly: int, index: int = 0) -> PauliSum:
    r"""Kitaev flux operator ``W_p = Π_{j∈p} σ_j^{γ(j)}`` of hexagon ``index``.

    ``γ(j)`` is the type of the bond of site ``j`` that is not on the hexagon's loop
    (:func:`honeycomb_plaquettes` order); ``W_p`` commutes with the field-free model.
    Needs ``Lx ≥ 4``.
    """
    plaquettes = honeycomb_plaquettes(Lx, Ly)
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) \
            or not 0 <= index < len(plaquettes):
        raise ConfigError(
            f"index must be an integer in 0 … {len(plaquettes) - 1}; got {index!r}"
        )
    hexagon = plaquettes[index]
    kinds = {frozenset((i, j)): k for i, j, k in honeycomb_bonds(Lx, Ly)}
    letters = {}
    for pos, site in enumerate(hexagon):
        on_loop = {kinds.get(frozenset((site, hexagon[(pos + d) % 6]))) for d in (-1, 1)}
        rest = set("xyz") - on_loop
        if len(rest) != 1:
            raise ConfigError(
                f"hexagon {hexagon} on a {Ly}×{Lx} lattice is not a closed loop of three "
                "bond types; use Lx ≥ 4"
            )
        letters[site] = rest.pop().upper()
    n = Lx * Ly
    return PauliSum(n, [(1.0, " ".join(f"{letters[q]}{q}" for q in sorted(letters)))])


def kitaev_honeycomb(Lx: int, Ly: int, *, Jx: float = 1.0, Jy: float = 1.0, Jz: float = 1.0,
                     h: float = 0.0, roles=None):
    r"""Kitaev honeycomb model with an optional [111] field (spec ``qep.md`` §3.5).

    .. math::

        H = J_x \sum_{x\text{-bonds}} X_i X_j + J_y \sum_{y} Y_i Y_j + J_z \sum_{z} Z_i Z_j
            + h \sum_j (X_j + Y_j + Z_j)

    on the periodic brick wall of :func:`honeycomb_bonds` (``Lx·Ly`` spins). Terms ``'Jx'``,
    ``'Jy'``, ``'Jz'`` and, when ``h ≠ 0`` or a role for it is given, ``'h'``. The field
    term contains ``Y`` and makes the matrix complex.
    """
    bonds = honeycomb_bonds(Lx, Ly)
    n = Lx * Ly
    specs = []
    for kind in "xyz":
        op = PauliSum(n, [(1.0, 2 * kind.upper(), (i, j)) for i, j, k in bonds if k == kind])
        specs.append((f"J{kind}", {"x": Jx, "y": Jy, "z": Jz}[kind], op))
    if h != 0 or (roles and "h" in roles):
        field = PauliSum(n, [(1.0, p, (j,)) for j in range(n) for p in "XYZ"])
        specs.append(("h", h, field))
    return _build(n, specs, roles)


def bond_operator(n: int, i: int, j: int, letters: str = "ZZ") -> PauliSum:
    """Two-site Pauli product ``σ_i^a σ_j^b`` with ``letters = 'ab'`` (e.g. ``'XX'``)."""
    if not isinstance(letters, str) or len(letters) != 2:
        raise ConfigError(f"letters must be a 2-letter string such as 'ZZ'; got {letters!r}")
    if i == j:
        raise ConfigError(f"a bond needs two different sites; got i = j = {i}")
    return PauliSum(n, [(1.0, letters, (i, j))])


def z_projector(n: int, outcomes: Mapping[int, int]) -> PauliSum:
    r"""Projector ``Π_q (1 + s_q Z_q)/2`` on the Z-basis outcomes ``{qubit: s_q}``.

    ``s_q = +1`` selects ``|0⟩`` (``Z = +1``), ``s_q = −1`` selects ``|1⟩`` (Z eigenvalues,
    not bits). Its expectation value is the outcome probability.
    """
    if not hasattr(outcomes, "items") or not outcomes:
        raise ConfigError(f"outcomes must be a non-empty mapping qubit -> ±1; got {outcomes!r}")
    out = identity(n)
    for q, s in outcomes.items():
        if isinstance(s, bool) or s not in (1, -1):
            raise ConfigError(f"outcomes[{q}] must be +1 or −1 (a Z eigenvalue); got {s!r}")
        sign = float(s)
        out = out @ PauliSum(n, [(0.5, ""), (0.5 * sign, "Z", (q,))])
    return out


_SENSOR_LETTERS = {"xyz": "XYZ", "xz": "XZ", "z": "Z"}


def cluster_ising_sensor(n_sys: int = 8, *, couplings: str = "xyz", periodic: bool = True):
    r"""Cluster-Ising ring plus a trainable 2-qubit sensor (spec ``qep.md`` §3.1).

    Qubits ``0 … n_sys−1`` form the ring
    ``H_sys = g_ZXZ Σ Z_j X_{j+1} Z_{j+2} − g_ZZ Σ Z_j Z_{j+1} − g_X Σ X_j`` whose three
    couplings are the ``input`` terms ``'g_zxz'``, ``'g_zz'``, ``'g_x'`` (x on the simplex
    ``Σ = 4`` in the paper). Sensor qubits ``A = n_sys``, ``B = n_sys + 1``. Trainable
    terms (value 0; set them through ``theta``):

    * ``'c_{a}{i}_{b}{s}'``: ``σ^a_i σ^b_s`` for system qubits ``i ∈ {0, 1}``, sensor
      ``s ∈ {A, B}``, ``b ∈ {X, Y, Z}`` and ``a`` in ``couplings`` (``'xyz'``: 36 terms,
      ``'xz'``: 24, ``'z'``: 12);
    * ``'f_{b}{s}'``: 6 sensor fields ``σ^b_s``;
    * ``'s_{a}A_{b}B'``: 9 sensor–sensor couplings ``σ^a_A σ^b_B``.

    ``output`` terms: the Z-basis projectors ``'P++'``, ``'P+-'``, ``'P--'`` of (A, B)
    (outcome ``(−, +)`` unused), whose expectation values are the phase probabilities
    (order I, II, III). With Y couplings the matrix is complex.
    """
    if couplings not in _SENSOR_LETTERS:
        raise ConfigError(f"couplings must be one of {sorted(_SENSOR_LETTERS)}; got {couplings!r}")
    n_sys = _chain_length(n_sys, 3)
    n = n_sys + 2
    A, B = n_sys, n_sys + 1
    ring = cluster_ising(n_sys, periodic=periodic)
    H = SpinHamiltonian(n)
    for t in ring.terms:
        op = PauliSum(n, [(c.real, label) for c, label in t.operator])
        H.add(t.name, op, role="input")
    for a in _SENSOR_LETTERS[couplings]:
        for i in (0, 1):
            for b in "XYZ":
                for s_name, s in (("A", A), ("B", B)):
                    H.add(f"c_{a}{i}_{b}{s_name}", f"{a}{i} {b}{s}", role="trainable")
    for b in "XYZ":
        for s_name, s in (("A", A), ("B", B)):
            H.add(f"f_{b}{s_name}", f"{b}{s}", role="trainable")
    for a in "XYZ":
        for b in "XYZ":
            H.add(f"s_{a}A_{b}B", f"{a}{A} {b}{B}", role="trainable")
    for name, (sa, sb) in (("P++", (1, 1)), ("P+-", (1, -1)), ("P--", (-1, -1))):
        H.add(name, z_projector(n, {A: sa, B: sb}), role="output")
    return H
