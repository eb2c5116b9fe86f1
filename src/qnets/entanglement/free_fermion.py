r"""Entanglement of free-fermion (Gaussian) states from their correlation matrix.

A particle-number conserving Gaussian state of ``N`` fermionic modes ``c_0 … c_{N-1}`` is
fixed by its one-body correlation matrix

.. math::

    C_{ij} = \langle c_i^\dagger c_j \rangle , \qquad C = C^\dagger ,
    \qquad 0 \le C \le 1 .

The reduced state on a set of sites ``R`` is again Gaussian with correlation matrix
``C_R = C[R][:, R]``, and its von Neumann entropy is Peschel's formula

.. math::

    S_R = -\sum_{\lambda \in \operatorname{spec}(C_R)}
          \left[ \lambda \ln \lambda + (1 - \lambda) \ln (1 - \lambda) \right],

which costs ``O(|R|^3)`` instead of the ``O(2^N)`` of a many-body state.

Conventions
-----------
* Single-particle Hamiltonian ``H = Σ_ij c_i† h_ij c_j`` with ``h`` Hermitian ``(N, N)``.
  Its eigenvectors ``ψ_k`` (columns of ``V``, ``h V = V diag(E)``) define mode operators
  ``d_k† = Σ_i ψ_k(i) c_i†``.
* Correlation matrices are ``C = conj(V) diag(n) V^T``, i.e.
  ``C_ij = Σ_k n_k conj(ψ_k(i)) ψ_k(j)`` with occupations ``n_k``.
* Entropies use the natural log; ``base=2`` gives bits (any ``base > 0``, ``≠ 1``).
* Arrays are numpy ``float64`` / ``complex128``; torch tensors are accepted and converted.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.special import expit, xlogy

from qnets.errors import ConfigError, QnetsWarning, ShapeError

__all__ = [
    "FermiLevelWarning",
    "entanglement_entropy",
    "ground_state_correlation",
    "mutual_information",
    "single_site_mutual_information",
    "thermal_correlation",
    "tripartite_information",
]

_HERMITIAN_TOL = 1e-8
_FERMI_TOL = 1e-10
_SPECTRUM_TOL = 1e-6
# Upper bound on the number of matrix elements per batched eigvalsh call.
_BATCH_ELEMENTS = 2_000_000


class FermiLevelWarning(QnetsWarning):
    """A single-particle level lies at the chemical potential: the ground state is not unique."""


# ----------------------------------------------------------------------------- helpers


def _to_numpy(x, name: str) -> np.ndarray:
    """numpy array (float64 or complex128) from an array-like or a torch tensor."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch
        x = x.detach().cpu()
        if hasattr(x, "resolve_conj"):
            x = x.resolve_conj().resolve_neg()
        x = x.numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise ConfigError(f"{name} must be array-like; got {type(x).__name__}") from exc
    if arr.dtype == object:
        raise ConfigError(f"{name} must be a numeric array; got an object array")
    if np.iscomplexobj(arr):
        return arr.astype(np.complex128, copy=False)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ConfigError(f"{name} must be a numeric array; got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _hermitian_matrix(x, name: str) -> np.ndarray:
    """Validate a square Hermitian 2-D matrix and return its exactly Hermitian part."""
    a = _to_numpy(x, name)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ShapeError(f"{name} must be a square 2-D matrix (N, N); got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ConfigError(f"{name} must contain only finite values; got NaN or inf")
    if a.size == 0:
        return a
    deviation = float(np.max(np.abs(a - a.conj().T)))
    scale = max(1.0, float(np.max(np.abs(a))))
    if deviation > _HERMITIAN_TOL * scale:
        raise ConfigError(
            f"{name} must be Hermitian within {_HERMITIAN_TOL:g} (relative to max|entry| "
            f"when that exceeds 1); got max|{name} - {name}^H| = {deviation:.3e}"
        )
    return (a + a.conj().T) / 2


def _region(region, n: int, name: str, *, sort: bool = True) -> np.ndarray:
    """Unique int64 site indices from a sequence of ints, an int or a boolean mask.

    Sorted ascending unless ``sort=False`` (then in the given order; masks are ascending).
    """
    if region is None:
        raise ConfigError(f"{name} must be a sequence of site indices or a boolean mask; got None")
    if hasattr(region, "detach"):
        region = region.detach().cpu().numpy()
    if isinstance(region, range):
        region = list(region)
    arr = np.asarray(region)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ShapeError(
            f"{name} must be 1-D (site indices or a boolean mask); got shape {arr.shape}"
        )
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype == bool:
        if arr.shape[0] != n:
            raise ShapeError(
                f"{name} as a boolean mask must have length {n} (the number of sites); "
                f"got length {arr.shape[0]}"
            )
        return np.flatnonzero(arr).astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ConfigError(
                f"{name} must contain integer site indices or be a boolean mask; "
                f"got dtype {arr.dtype}"
            )
    arr = arr.astype(np.int64)
    bad = arr[(arr < 0) | (arr >= n)]
    if bad.size:
        raise ConfigError(
            f"{name} indices must lie in [0, {n}) for {n} sites; got out-of-range "
            f"{sorted(set(bad.tolist()))}"
        )
    unique, counts = np.unique(arr, return_counts=True)
    if np.any(counts > 1):
        raise ConfigError(
            f"{name} must not repeat sites; got repeated {unique[counts > 1].tolist()}"
        )
    return unique if sort else arr


def _finite(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a real number; got {value!r}") from exc
    if not math.isfinite(v):
        raise ConfigError(f"{name} must be finite; got {value!r}")
    return v


def _log_scale(base) -> float:
    """Divisor turning natural-log entropies into the requested base."""
    if base is None:
        return 1.0
    try:
        b = float(base)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"base must be None (natural log) or a number > 0, != 1; got {base!r}"
        ) from exc
    if not (b > 0 and b != 1 and math.isfinite(b)):
        raise ConfigError(f"base must be None (natural log) or a number > 0, != 1; got {base!r}")
    return math.log(b)


def _binary_entropy(lam: np.ndarray) -> np.ndarray:
    """``-[λ ln λ + (1-λ) ln(1-λ)]`` summed over the last axis, with ``0 ln 0 = 0``."""
    lam = np.clip(lam, 0.0, 1.0)
    one_minus = 1.0 - lam
    return -(xlogy(lam, lam) + xlogy(one_minus, one_minus)).sum(axis=-1)


def _check_spectrum(lam: np.ndarray, name: str) -> None:
    if lam.size and (lam.min() < -_SPECTRUM_TOL or lam.max() > 1 + _SPECTRUM_TOL):
        raise ConfigError(
            f"{name} is not a fermionic correlation matrix: the eigenvalues of <c_i† c_j> must "
            f"lie in [0, 1]; got eigenvalues in [{lam.min():.6g}, {lam.max():.6g}] "
            "(did you pass the Hamiltonian instead of ground_state_correlation(h)?)"
        )


def _entropy(c: np.ndarray, sites: np.ndarray) -> float:
    """Peschel entropy (natural log) of validated ``c`` on validated ``sites``."""
    if sites.size == 0:
        return 0.0
    lam = np.linalg.eigvalsh(c[np.ix_(sites, sites)])
    _check_spectrum(lam, "correlation")
    return float(_binary_entropy(lam))


def _disjoint(regions: dict[str, np.ndarray]) -> None:
    names = list(regions)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            common = np.intersect1d(regions[first], regions[second])
            if common.size:
                raise ConfigError(
                    f"{first} and {second} must be disjoint; they share sites {common.tolist()}"
                )


# ----------------------------------------------------------------------------- correlations


def ground_state_correlation(h, mu: float = 0.0, *, at_fermi_level: str = "warn") -> np.ndarray:
    r"""Zero-temperature correlation matrix of ``H = Σ_ij c_i† h_ij c_j``, Fermi level ``mu``.

    .. math::

        C_{ij} = \langle c_i^\dagger c_j \rangle
               = \sum_{k:\, E_k < \mu} \overline{\psi_k(i)}\, \psi_k(j),
        \qquad C = \overline{V_\mathrm{occ}}\, V_\mathrm{occ}^{T},

    where ``h ψ_k = E_k ψ_k`` and the columns of ``V_occ`` are the eigenvectors with
    ``E_k < mu`` (strictly; these are the filled modes of the Slater determinant
    ``Π_k d_k† |0⟩``, ``d_k† = Σ_i ψ_k(i) c_i†``).

    Parameters
    ----------
    h : array_like or torch.Tensor, shape (N, N)
        Hermitian single-particle Hamiltonian, real or complex (Hermitian within ``1e-8``
        relative to its largest entry).
    mu : float, default 0.0
        Chemical potential (Fermi level), in the energy units of ``h``.
    at_fermi_level : {"warn", "empty", "fill"}, default "warn"
        Levels within ``1e-10`` of ``mu``: ``"warn"`` fills those with ``E < mu`` (an
        arbitrary choice, decided by rounding) and warns; ``"empty"`` leaves all of them
        empty (the limit ``μ → μ⁻``) and ``"fill"`` fills all of them (``μ → μ⁺``), both
        deterministic and silent.

    Returns
    -------
    numpy.ndarray, shape (N, N)
        ``C``; ``float64`` for real ``h``, ``complex128`` for complex ``h``. A projector
        (``C² = C``) of rank equal to the number of filled levels.

    Warns
    -----
    FermiLevelWarning
        With ``at_fermi_level="warn"``, if an eigenvalue lies within ``1e-10`` of ``mu``:
        the Fermi level is degenerate, the ground state is not unique and the returned ``C``
        is one arbitrary choice.

    Raises
    ------
    ShapeError
        ``h`` is not a square 2-D matrix.
    ConfigError
        ``h`` is not Hermitian, not finite, or ``mu`` is not a finite number.
    """
    h = _hermitian_matrix(h, "h")
    mu = _finite(mu, "mu")
    if at_fermi_level not in ("warn", "empty", "fill"):
        raise ConfigError(f"at_fermi_level: expected 'warn', 'empty' or 'fill', got {at_fermi_level!r}")
    energies, vectors = np.linalg.eigh(h)
    if at_fermi_level != "warn":
        shift = _FERMI_TOL if at_fermi_level == "fill" else -_FERMI_TOL
        occ = vectors[:, energies < mu + shift]
        return occ.conj() @ occ.T
    close = energies[np.abs(energies - mu) < _FERMI_TOL]
    if close.size:
        warnings.warn(
            f"degenerate Fermi level: {close.size} single-particle level(s) lie within "
            f"{_FERMI_TOL:g} of mu={mu!r} (E = {close.tolist()}); the ground state is not "
            "unique and levels with E < mu were filled. Shift mu into a gap.",
            FermiLevelWarning,
            stacklevel=2,
        )
    occ = vectors[:, energies < mu]
    return occ.conj() @ occ.T


def thermal_correlation(h, temperature: float, mu: float = 0.0) -> np.ndarray:
    r"""Grand-canonical thermal correlation matrix of ``H = Σ_ij c_i† h_ij c_j``.

    .. math::

        C_{ij} = \langle c_i^\dagger c_j \rangle_T
               = \sum_k f(E_k)\, \overline{\psi_k(i)}\, \psi_k(j),
        \qquad f(E) = \frac{1}{e^{(E-\mu)/T} + 1} = \operatorname{expit}\!\left(-\frac{E-\mu}{T}\right),

    i.e. ``C = conj(V) diag(f(E)) V^T`` for ``ρ ∝ exp(-(H - μ N̂)/T)`` with ``k_B = 1``.
    The logistic form is evaluated with :func:`scipy.special.expit`, which neither
    overflows nor loses precision for ``|E - mu| ≫ T``.

    Parameters
    ----------
    h : array_like or torch.Tensor, shape (N, N)
        Hermitian single-particle Hamiltonian, real or complex.
    temperature : float
        ``T > 0`` in the energy units of ``h``. For ``T = 0`` use
        :func:`ground_state_correlation`.
    mu : float, default 0.0
        Chemical potential.

    Returns
    -------
    numpy.ndarray, shape (N, N)
        ``C`` with eigenvalues ``f(E_k) ∈ [0, 1]``; ``float64`` for real ``h``,
        ``complex128`` for complex ``h``.

    Raises
    ------
    ShapeError
        ``h`` is not a square 2-D matrix.
    ConfigError
        ``h`` is not Hermitian, ``temperature`` is not a finite positive number, or ``mu``
        is not finite.
    """
    h = _hermitian_matrix(h, "h")
    mu = _finite(mu, "mu")
    t = _finite(temperature, "temperature")
    if t <= 0:
        raise ConfigError(
            f"temperature must be > 0 (use ground_state_correlation for T = 0); got {temperature!r}"
        )
    energies, vectors = np.linalg.eigh(h)
    occupations = expit(-(energies - mu) / t)
    return (vectors.conj() * occupations) @ vectors.T


# ----------------------------------------------------------------------------- entropies


def entanglement_entropy(correlation, region, *, base=None) -> float:
    r"""Von Neumann entropy of a Gaussian state on ``region`` (Peschel's formula).

    .. math::

        S_R = -\sum_{\lambda \in \operatorname{spec}(C_R)}
              \left[ \lambda \ln \lambda + (1-\lambda) \ln(1-\lambda) \right],
        \qquad C_R = C[R][:, R],

    with ``λ`` clipped to ``[0, 1]`` and ``0 ln 0 = 0``; divided by ``ln(base)`` when
    ``base`` is given.

    Parameters
    ----------
    correlation : array_like or torch.Tensor, shape (N, N)
        ``C_ij = ⟨c_i† c_j⟩`` (real or complex, Hermitian within ``1e-8``). The transpose
        or ``1 - C^T`` (the hole correlation) give the same entropy.
    region : sequence of int, int, or boolean mask of length N
        Sites of the subsystem (order irrelevant, no repeats). Empty → ``0.0``.
    base : float, optional
        Logarithm base; ``None`` for nats, ``2`` for bits.

    Returns
    -------
    float
        ``S_R ≥ 0``; ``S_R = S_{complement}`` for a pure state (``C² = C``).

    Notes
    -----
    This is the fermionic entropy (of the state restricted to the modes in ``R``). It
    equals the entropy of the Jordan–Wigner spin state on the same sites only when ``R`` is
    a contiguous block of the Jordan–Wigner order; see
    :func:`~qnets.entanglement.slater_determinant_state` for the brute-force oracle.

    Raises
    ------
    ShapeError
        ``correlation`` is not square 2-D, or a boolean mask has the wrong length.
    ConfigError
        ``correlation`` is not Hermitian or has eigenvalues on ``region`` outside
        ``[0, 1]`` (beyond ``1e-6``); region indices out of range or repeated; bad ``base``.
    """
    c = _hermitian_matrix(correlation, "correlation")
    sites = _region(region, c.shape[0], "region")
    return _entropy(c, sites) / _log_scale(base)


def mutual_information(correlation, region_a, region_b, *, base=None) -> float:
    r"""Mutual information ``I(A:B) = S_A + S_B - S_{A∪B}`` of a Gaussian state.

    Parameters
    ----------
    correlation : array_like or torch.Tensor, shape (N, N)
        ``C_ij = ⟨c_i† c_j⟩``.
    region_a, region_b : sequence of int, int, or boolean mask
        Disjoint site sets (either may be empty, giving ``0``).
    base : float, optional
        Logarithm base; ``None`` for nats, ``2`` for bits.

    Returns
    -------
    float
        ``I(A:B) ≥ 0``.

    Raises
    ------
    ConfigError
        ``region_a`` and ``region_b`` overlap (the message lists the shared sites), or any
        validation of :func:`entanglement_entropy` fails.
    """
    c = _hermitian_matrix(correlation, "correlation")
    n = c.shape[0]
    a = _region(region_a, n, "region_a")
    b = _region(region_b, n, "region_b")
    _disjoint({"region_a": a, "region_b": b})
    value = _entropy(c, a) + _entropy(c, b) - _entropy(c, np.union1d(a, b))
    return value / _log_scale(base)


def tripartite_information(correlation, a, b, c, *, base=None) -> float:
    r"""Tripartite information ``I3(A:B:C) = I(A:B) + I(A:C) - I(A:BC)``.

    Equivalently ``S_A + S_B + S_C - S_AB - S_AC - S_BC + S_ABC``; symmetric in its three
    arguments. Negative values signal information about ``A`` stored non-locally in
    ``B ∪ C`` (scrambling); ``I3 = 0`` when ``A``'s correlations with ``B`` and ``C`` add up.

    Parameters
    ----------
    correlation : array_like or torch.Tensor, shape (N, N)
        ``C_ij = ⟨c_i† c_j⟩``.
    a, b, c : sequence of int, int, or boolean mask
        Pairwise disjoint site sets.
    base : float, optional
        Logarithm base; ``None`` for nats, ``2`` for bits.

    Returns
    -------
    float

    Raises
    ------
    ConfigError
        Two of the regions overlap (the message lists the shared sites), or any validation
        of :func:`entanglement_entropy` fails.
    """
    corr = _hermitian_matrix(correlation, "correlation")
    n = corr.shape[0]
    ra, rb, rc = _region(a, n, "a"), _region(b, n, "b"), _region(c, n, "c")
    _disjoint({"a": ra, "b": rb, "c": rc})
    value = (
        mutual_information(corr, ra, rb)
        + mutual_information(corr, ra, rc)
        - mutual_information(corr, ra, np.union1d(rb, rc))
    )
    return value / _log_scale(base)


def single_site_mutual_information(correlation, region_a, sites=None, *, base=None) -> np.ndarray:
    r"""Mutual information ``I(s : A)`` between each single site ``s`` and the region ``A``.

    .. math::

        I(s:A) = S_{\{s\}} + S_A - S_{A \cup \{s\}}, \qquad
        S_{\{s\}} = -[C_{ss} \ln C_{ss} + (1 - C_{ss}) \ln(1 - C_{ss})],

    evaluated for all sites at once: the bordered blocks ``C[A∪{s}][:, A∪{s}]`` are
    stacked and diagonalised by one batched ``eigvalsh`` (in chunks bounding memory).
    Used for per-site maps of "how much does site ``s`` know about the output ``A``".

    Parameters
    ----------
    correlation : array_like or torch.Tensor, shape (N, N)
        ``C_ij = ⟨c_i† c_j⟩``.
    region_a : sequence of int, int, or boolean mask
        The region ``A`` (may be empty: all values are then ``0``).
    sites : sequence of int or boolean mask, optional
        Sites ``s`` to evaluate (no repeats, disjoint from ``A``). Default: every site not
        in ``A``, in ascending order.
    base : float, optional
        Logarithm base; ``None`` for nats, ``2`` for bits.

    Returns
    -------
    numpy.ndarray, shape (K,), float64
        ``I(s:A)`` for the ``K`` sites, in the order given by ``sites`` (ascending for
        the default and for a boolean mask).

    Raises
    ------
    ConfigError
        ``sites`` overlaps ``region_a`` (the message lists the shared sites), or any
        validation of :func:`entanglement_entropy` fails.
    """
    c = _hermitian_matrix(correlation, "correlation")
    n = c.shape[0]
    a = _region(region_a, n, "region_a")
    if sites is None:
        s = np.setdiff1d(np.arange(n, dtype=np.int64), a)
    else:
        s = _region(sites, n, "sites", sort=False)
        _disjoint({"region_a": a, "sites": s})
    scale = _log_scale(base)
    if s.size == 0:
        return np.zeros(0, dtype=np.float64)
    if a.size == 0:
        return np.zeros(s.size, dtype=np.float64)
    single = _binary_entropy(np.real(np.diagonal(c))[s][:, None])
    s_a = _entropy(c, a)
    m = a.size + 1
    joint = np.empty(s.size, dtype=np.float64)
    chunk = max(1, _BATCH_ELEMENTS // (m * m))
    for start in range(0, s.size, chunk):
        part = s[start : start + chunk]
        idx = np.concatenate([np.broadcast_to(a, (part.size, a.size)), part[:, None]], axis=1)
        blocks = c[idx[:, :, None], idx[:, None, :]]
        lam = np.linalg.eigvalsh(blocks)
        _check_spectrum(lam, "correlation")
        joint[start : start + chunk] = _binary_entropy(lam)
    return (single + s_a - joint) / scale
