r"""Matrix product states with log-scale tracking, canonical forms and Schmidt spectra.

An open-boundary MPS of ``N`` sites with physical dimensions ``d_i`` and cores
``A^{(i)}`` of shape ``(χ_{i-1}, d_i, χ_i)`` (``χ_{-1} = χ_{N-1} = 1``) represents

.. math::

    \psi(s_0, \dots, s_{N-1}) = e^{\ell}\, A^{(0)}_{s_0} A^{(1)}_{s_1} \cdots A^{(N-1)}_{s_{N-1}},

with a real log-scale ``ℓ`` (attribute :attr:`MPS.log_scale`) that carries the overall
magnitude, so that states whose norm does not fit into a float (a 784-site chain of
random ``χ = 64`` cores has ``‖ψ‖ ~ e^{±10^3}``) stay representable. Canonicalisation
divides every ``R`` factor by its norm and adds the logarithm to ``ℓ``.

Basis order follows the package convention: site 0 is the leftmost Kronecker factor,
``to_dense()[s_0 ⋯ s_{N-1}]`` is ``ψ.reshape(d_0, …, d_{N-1})[s_0, …, s_{N-1}]``.

Schmidt values ``s_α`` across a cut are normalised, ``Σ s_α² = 1``; the Schmidt spectrum
(reduced-density eigenvalues) is ``λ_α = s_α²`` and the entropy ``S = -Σ λ ln λ``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from qnets.entanglement.free_fermion import _region
from qnets.errors import ConfigError, NumericalError, ShapeError, SizeLimitError

__all__ = ["MPS", "spectrum_entropy"]

_MAX_DENSE = 2**24
_MAX_RHO_ELEMENTS = 2**26


def spectrum_entropy(values, *, alpha: float = 1.0, base: float | None = None) -> float:
    r"""Entropy of normalised Schmidt values ``s`` (``Σ s² = 1``).

    Von Neumann (``alpha = 1``): :math:`S = -\sum_\alpha \lambda_\alpha \ln \lambda_\alpha`
    with :math:`\lambda_\alpha = s_\alpha^2`; Rényi: :math:`S_\alpha = (1-\alpha)^{-1}
    \ln \sum \lambda^\alpha`. Divided by ``ln(base)`` when ``base`` is given.

    Parameters
    ----------
    values : array_like, shape (k,)
        Schmidt values (renormalised here so that ``Σ s² = 1``; zeros allowed).
    alpha : float, default 1
        Rényi index (> 0).
    base : float, optional
        Logarithm base (``None``: nats; ``2``: bits).

    Returns
    -------
    float
    """
    s = np.asarray(values, dtype=np.float64)
    lam = s**2
    total = lam.sum()
    if not total > 0:
        raise NumericalError(f"values: expected non-zero Schmidt values, got sum of squares {total}")
    lam = lam / total
    scale = 1.0 if base is None else _log_base(base)
    if not (isinstance(alpha, (int, float)) and alpha > 0):
        raise ConfigError(f"alpha: expected a number > 0, got {alpha!r}")
    lam = lam[lam > 0]
    if alpha == 1:
        return float(-np.sum(lam * np.log(lam))) / scale
    return float(np.log(np.sum(lam**alpha)) / (1.0 - alpha)) / scale


def _log_base(base) -> float:
    try:
        b = float(base)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"base: expected None or a number > 0, != 1, got {base!r}") from exc
    if not (b > 0 and b != 1 and math.isfinite(b)):
        raise ConfigError(f"base: expected None or a number > 0, != 1, got {base!r}")
    return math.log(b)


def _svd(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Thin SVD; falls back to LAPACK's gesvd (via scipy) when the default driver fails."""
    try:
        return torch.linalg.svd(matrix, full_matrices=False)
    except RuntimeError:  # torch.linalg.LinAlgError subclasses RuntimeError
        import scipy.linalg

        arr = matrix.detach().cpu().numpy()
        if not np.all(np.isfinite(arr)):
            raise NumericalError(
                f"SVD of a {tuple(arr.shape)} core failed: it holds NaN/inf values"
            ) from None
        try:
            u, s, vh = scipy.linalg.svd(arr, full_matrices=False, lapack_driver="gesvd")
        except np.linalg.LinAlgError as exc:
            raise NumericalError(f"SVD of a {tuple(arr.shape)} core did not converge") from exc
        conv = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(matrix.device)
        return conv(u).to(matrix.dtype), conv(s).to(matrix.real.dtype), conv(vh).to(matrix.dtype)


class MPS:
    r"""Open-boundary matrix product state ``ψ = e^ℓ A^{(0)} ⋯ A^{(N-1)}``.

    Parameters
    ----------
    cores : sequence of torch.Tensor
        ``N ≥ 1`` tensors of shape ``(χ_{i-1}, d_i, χ_i)``, ``χ_{-1} = χ_{N-1} = 1``,
        consecutive bonds matching, one dtype (real or complex floating) and device.
    log_scale : float, default 0.0
        The log-scale ``ℓ`` multiplying the contracted cores by ``e^ℓ``.

    Attributes
    ----------
    cores : list of torch.Tensor
    log_scale : float

    Raises
    ------
    ShapeError
        Cores that are not 3-D, boundary bonds ≠ 1, or mismatched bonds.
    ConfigError
        Empty ``cores``, mixed or non-floating dtypes, non-finite ``log_scale``.

    Notes
    -----
    All methods are functional: canonical forms return a new MPS representing the same
    state (``to_dense`` is unchanged up to rounding), so a failed decomposition never
    leaves a half-updated object behind.
    """

    def __init__(self, cores: Sequence[torch.Tensor], *, log_scale: float = 0.0) -> None:
        cores = list(cores)
        if not cores:
            raise ConfigError("cores: expected at least one core, got an empty sequence")
        for i, core in enumerate(cores):
            if not isinstance(core, torch.Tensor):
                raise ConfigError(f"cores[{i}]: expected a torch.Tensor, got {type(core).__name__}")
            if core.ndim != 3:
                raise ShapeError(
                    f"cores[{i}]: expected shape (chi_left, d, chi_right), got {tuple(core.shape)}"
                )
            if not (core.is_floating_point() or core.is_complex()):
                raise ConfigError(f"cores[{i}]: expected a floating dtype, got {core.dtype}")
            if core.dtype != cores[0].dtype or core.device != cores[0].device:
                raise ConfigError(
                    f"cores[{i}]: dtype/device {core.dtype}/{core.device} differs from cores[0] "
                    f"({cores[0].dtype}/{cores[0].device})"
                )
            if i > 0 and cores[i - 1].shape[2] != core.shape[0]:
                raise ShapeError(
                    f"cores[{i}]: left bond {core.shape[0]} does not match the right bond "
                    f"{cores[i - 1].shape[2]} of cores[{i - 1}]"
                )
        if cores[0].shape[0] != 1 or cores[-1].shape[2] != 1:
            raise ShapeError(
                f"cores: open boundaries need cores[0].shape[0] == 1 and cores[-1].shape[2] == 1, "
                f"got {cores[0].shape[0]} and {cores[-1].shape[2]}"
            )
        if not math.isfinite(float(log_scale)):
            raise ConfigError(f"log_scale: expected a finite float, got {log_scale!r}")
        self.cores = cores
        self.log_scale = float(log_scale)

    # ------------------------------------------------------------------ basics

    @property
    def n_sites(self) -> int:
        """Number of sites ``N``."""
        return len(self.cores)

    @property
    def phys_dims(self) -> tuple[int, ...]:
        """Physical dimensions ``(d_0, …, d_{N-1})``."""
        return tuple(int(c.shape[1]) for c in self.cores)

    @property
    def bond_dims(self) -> tuple[int, ...]:
        """Internal bond dimensions ``(χ_0, …, χ_{N-2})`` (``N - 1`` entries)."""
        return tuple(int(c.shape[2]) for c in self.cores[:-1])

    @property
    def dtype(self) -> torch.dtype:
        return self.cores[0].dtype

    @property
    def device(self) -> torch.device:
        return self.cores[0].device

    def __repr__(self) -> str:
        chi = max(self.bond_dims, default=1)
        return (
            f"MPS(n_sites={self.n_sites}, phys_dims={set(self.phys_dims)}, max_bond={chi}, "
            f"dtype={self.dtype}, log_scale={self.log_scale:.6g})"
        )

    def copy(self) -> MPS:
        """A deep copy (cores detached and cloned)."""
        return MPS([c.detach().clone() for c in self.cores], log_scale=self.log_scale)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def random(
        cls,
        n_sites: int,
        phys_dim: int,
        bond_dim: int,
        *,
        seed: int | None = None,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device | None = None,
    ) -> MPS:
        r"""MPS with i.i.d. Gaussian cores (std ``1/sqrt(χ_l d)``), bonds ``min(χ, d^i, d^{N-i})``.

        Parameters
        ----------
        n_sites, phys_dim, bond_dim : int
            ``N ≥ 1``, ``d ≥ 1``, ``χ ≥ 1``.
        seed : int, optional
            Seed of a private :class:`torch.Generator`.
        dtype : torch.dtype, default float64
            Real or complex floating dtype.
        device : optional
        """
        for name, value in (("n_sites", n_sites), ("phys_dim", phys_dim), ("bond_dim", bond_dim)):
            _check_positive_int(name, value)
        gen = torch.Generator()
        if seed is not None:
            gen.manual_seed(int(seed))
        else:
            gen.seed()
        bonds = [1]
        for i in range(1, n_sites):
            bonds.append(int(min(bond_dim, phys_dim ** min(i, n_sites - i, 62))))
        bonds.append(1)
        cores = []
        for i in range(n_sites):
            shape = (bonds[i], phys_dim, bonds[i + 1])
            real = dtype.to_real() if dtype.is_complex else dtype
            core = torch.randn(shape, generator=gen, dtype=real)
            if dtype.is_complex:
                core = torch.complex(core, torch.randn(shape, generator=gen, dtype=real))
                core = core / math.sqrt(2)
            cores.append((core / math.sqrt(bonds[i] * phys_dim)).to(device=device))
        return cls(cores)

    @classmethod
    def from_dense(
        cls,
        psi,
        dims: Sequence[int],
        *,
        max_bond: int | None = None,
        cutoff: float = 0.0,
    ) -> MPS:
        r"""Exact (or truncated) MPS of a dense vector by successive SVDs.

        Parameters
        ----------
        psi : torch.Tensor or array_like, shape (prod(dims),) or dims
            State vector; not required to be normalised (its norm goes into ``log_scale``).
        dims : sequence of int
            Local dimensions ``(d_0, …, d_{N-1})``; site 0 is the leftmost Kronecker factor.
        max_bond : int, optional
            Keep at most this many singular values per cut (``None``: exact).
        cutoff : float, default 0
            Drop singular values below ``cutoff · s_max`` at each cut.

        Returns
        -------
        MPS
            Left-canonical, with ``log_scale = ln ‖ψ‖``.
        """
        dims = tuple(int(d) for d in dims)
        if not dims or any(d < 1 for d in dims):
            raise ConfigError(f"dims: expected a non-empty sequence of positive ints, got {dims}")
        t = psi if isinstance(psi, torch.Tensor) else torch.as_tensor(np.asarray(psi))
        if not (t.is_floating_point() or t.is_complex()):
            t = t.to(torch.float64)
        total = math.prod(dims)
        if t.numel() != total:
            raise ShapeError(
                f"psi: expected prod(dims) = {total} entries (dims={dims}), got shape {tuple(t.shape)}"
            )
        if max_bond is not None:
            _check_positive_int("max_bond", max_bond)
        norm = torch.linalg.vector_norm(t).item()
        if not norm > 0 or not math.isfinite(norm):
            raise NumericalError(f"psi: expected a finite non-zero vector, got norm {norm}")
        rest = (t / norm).reshape(1, -1)
        cores = []
        left = 1
        for d in dims[:-1]:
            mat = rest.reshape(left * d, -1)
            u, s, vh = _svd(mat)
            keep = int((s > cutoff * s[0]).sum()) if cutoff > 0 else s.shape[0]
            if max_bond is not None:
                keep = min(keep, max_bond)
            keep = max(keep, 1)
            u, s, vh = u[:, :keep], s[:keep], vh[:keep]
            cores.append(u.reshape(left, d, keep))
            rest = s.to(vh.dtype)[:, None] * vh
            left = keep
        last = rest.reshape(left, dims[-1], 1)
        scale = torch.linalg.vector_norm(last).item()
        cores.append(last / scale)
        return cls(cores, log_scale=math.log(norm) + math.log(scale))

    def to_dense(self, *, max_size: int = _MAX_DENSE) -> torch.Tensor:
        """The state vector ``ψ`` of length ``Π d_i`` (``e^ℓ`` included).

        Raises
        ------
        SizeLimitError
            If ``Π d_i > max_size``.
        NumericalError
            If ``e^ℓ`` overflows the dtype (use :meth:`normalized` first).
        """
        size = math.prod(self.phys_dims)
        if size > max_size:
            raise SizeLimitError(
                f"to_dense: the state has {size} entries > max_size={max_size}; use "
                "schmidt_spectra()/log_norm() on the MPS instead of the dense vector"
            )
        vec = self.cores[0].reshape(-1, self.cores[0].shape[2])
        for core in self.cores[1:]:
            vec = (vec @ core.reshape(core.shape[0], -1)).reshape(-1, core.shape[2])
        factor = math.exp(self.log_scale) if self.log_scale < 700 else math.inf
        if not math.isfinite(factor):
            raise NumericalError(
                f"to_dense: e^log_scale with log_scale={self.log_scale:.4g} overflows; "
                "call normalized() first"
            )
        return vec.reshape(-1) * factor

    # ------------------------------------------------------------------ norms

    def log_norm(self) -> float:
        r"""``ln ‖ψ‖`` by a left-to-right transfer contraction with per-site rescaling.

        ``E_i = Σ_s A_s^† E_{i-1} A_s`` with ``E_i`` divided by its Frobenius norm at each
        site (the logarithms are summed), so no intermediate over- or underflows.
        """
        return self._log_overlap(self)[1] / 2.0

    def norm(self) -> float:
        """``‖ψ‖`` (may be ``inf``/``0`` for extreme scales; use :meth:`log_norm`)."""
        ln = self.log_norm()
        return math.exp(ln) if ln < 709 else math.inf

    def overlap(self, other: MPS) -> tuple[complex, float]:
        r"""``⟨self|other⟩`` in log form: ``(phase, ln|⟨self|other⟩|)``.

        ``phase`` is a complex number of modulus 1 (a real sign for real states); the
        overlap is ``phase · e^{ln|…|}``. A zero overlap gives ``(0, -inf)``.
        """
        if not isinstance(other, MPS):
            raise ConfigError(f"other: expected an MPS, got {type(other).__name__}")
        if other.phys_dims != self.phys_dims:
            raise ShapeError(
                f"other: physical dimensions {other.phys_dims} differ from {self.phys_dims}"
            )
        return self._log_overlap(other)

    def _log_overlap(self, other: MPS) -> tuple[complex, float]:
        dtype = torch.promote_types(self.dtype, other.dtype)
        env = torch.ones(1, 1, dtype=dtype, device=self.device)
        log_acc = 0.0
        for a, b in zip(self.cores, other.cores):
            a = a.to(dtype).conj()
            b = b.to(dtype)
            # env[l, l'] a*[l, s, r] b[l', s, r'] -> new[r, r']
            tmp = torch.tensordot(env, b, dims=([1], [0]))  # (l, s, r')
            env = torch.tensordot(a, tmp, dims=([0, 1], [0, 1]))  # (r, r')
            scale = torch.linalg.matrix_norm(env).item()
            if scale == 0.0:
                return 0j, -math.inf
            if not math.isfinite(scale):
                raise NumericalError("overlap: the transfer contraction produced NaN/inf values")
            env = env / scale
            log_acc += math.log(scale)
        value = complex(env.reshape(()).item())
        log_abs = log_acc + math.log(abs(value)) + self.log_scale + other.log_scale
        return value / abs(value), log_abs

    def normalized(self) -> MPS:
        """The same direction with ``‖ψ‖ = 1`` (``log_scale`` reset; right-canonical)."""
        out = self.canonicalize("right")
        out.log_scale = 0.0
        return out

    # ------------------------------------------------------------------ canonical forms

    def canonicalize(self, form: str = "right", center: int | None = None) -> MPS:
        r"""Return the same state in left, right or mixed canonical form.

        * ``"left"``: every core but the last satisfies ``Σ_s A_s^† A_s = 1``;
        * ``"right"``: every core but the first satisfies ``Σ_s A_s A_s^† = 1``;
        * ``"mixed"``: cores left of ``center`` left-, right of it right-canonical.

        QR factors are divided by their norm and the logarithm added to ``log_scale``;
        the orthogonality centre is normalised too, so ``e^ℓ = ‖ψ‖`` afterwards. Bond
        dimensions may shrink to ``min(χ, d·χ_neighbour)`` (same state).

        Parameters
        ----------
        form : {"left", "right", "mixed"}
        center : int, optional
            Orthogonality centre for ``"mixed"`` (``0 ≤ center < N``).
        """
        n = self.n_sites
        if form == "left":
            center = n - 1
        elif form == "right":
            center = 0
        elif form == "mixed":
            if isinstance(center, bool) or not isinstance(center, int) or not 0 <= center < n:
                raise ConfigError(f"center: expected an int in [0, {n}) for form='mixed', got {center!r}")
        else:
            raise ConfigError(f"form: expected 'left', 'right' or 'mixed', got {form!r}")
        cores = [c.detach().clone() for c in self.cores]
        log_scale = self.log_scale
        for i in range(center):
            cores, log_scale = _left_step(cores, i, log_scale)
        for i in range(n - 1, center, -1):
            cores, log_scale = _right_step(cores, i, log_scale)
        scale = torch.linalg.vector_norm(cores[center]).item()
        if not scale > 0 or not math.isfinite(scale):
            raise NumericalError(f"canonicalize: the centre core has norm {scale}")
        cores[center] = cores[center] / scale
        return MPS(cores, log_scale=log_scale + math.log(scale))

    # ------------------------------------------------------------------ entanglement

    def schmidt_spectra(self) -> list[np.ndarray]:
        r"""Normalised Schmidt values at every contiguous cut, in one sweep.

        Right-canonicalise (with log-norm tracking), then sweep left to right: the SVD
        ``A^{(i)}_{(χ d), χ} = U S V^†`` gives the Schmidt values of the cut between sites
        ``i`` and ``i+1`` (``S / ‖S‖``); ``U`` stays, ``S V^†`` moves right. Cost
        ``O(N d χ³)``.

        Returns
        -------
        list of numpy.ndarray, float64
            ``N - 1`` arrays; entry ``k`` holds ``s_α`` (descending, ``Σ s² = 1``) of the
            cut ``{0..k} | {k+1..N-1}``.
        """
        mps = self.canonicalize("right")
        cores = mps.cores
        spectra = []
        for i in range(self.n_sites - 1):
            chi_l, d, chi_r = cores[i].shape
            _, s, vh = _svd(cores[i].reshape(chi_l * d, chi_r))
            s = s / torch.linalg.vector_norm(s)
            spectra.append(s.detach().cpu().numpy().astype(np.float64))
            sv = s.to(vh.dtype)[:, None] * vh
            cores[i + 1] = torch.tensordot(sv, cores[i + 1], dims=([1], [0]))
        return spectra

    def entropies(self, *, alpha: float = 1.0, base: float | None = None) -> np.ndarray:
        """Entanglement entropy at every contiguous cut (``N - 1`` values, nats by default)."""
        return np.array(
            [spectrum_entropy(s, alpha=alpha, base=base) for s in self.schmidt_spectra()]
        )

    def schmidt_values(self, region) -> np.ndarray:
        r"""Normalised Schmidt values for the bipartition ``region | rest`` of the sites.

        * An ``int`` ``k`` means the contiguous cut ``{0..k-1} | {k..N-1}`` (``1 ≤ k < N``),
          computed by moving the orthogonality centre (``O(N d χ³)``).
        * A sequence of sites (or a boolean mask), contiguous or not: exact. Small states
          (``Π d_i ≤ 2^22``) are contracted densely and SVD'd; otherwise the reduced
          density matrix of the smaller side is accumulated through the chain
          (``O(N D² χ³)`` with ``D = Π_{i∈A} d_i``, refused past ``D² χ² > 2^26``).

        Returns
        -------
        numpy.ndarray, float64
            Descending, ``Σ s² = 1`` (zeros dropped below round-off for the ρ route).
        """
        n = self.n_sites
        if isinstance(region, (int, np.integer)) and not isinstance(region, bool):
            k = int(region)
            if not 1 <= k < n:
                raise ConfigError(f"region: a cut position must lie in [1, {n}), got {k}")
            return self._cut_values(k)
        sites = _region(region, n, "region")
        if sites.size == 0 or sites.size == n:
            return np.ones(1)
        if sites[-1] - sites[0] + 1 == sites.size and (sites[0] == 0 or sites[-1] == n - 1):
            return self._cut_values(int(sites[-1] + 1) if sites[0] == 0 else int(sites[0]))
        if math.prod(self.phys_dims) <= 2**22:
            from qnets.entanglement import schmidt_values as dense_schmidt_values

            psi = self.normalized().to_dense()
            values = dense_schmidt_values(psi, self.phys_dims, sites.tolist())
            return values / np.linalg.norm(values)
        return self._rho_values(sites)

    def entanglement_entropy(self, region, *, alpha: float = 1.0, base: float | None = None) -> float:
        """Entropy of :meth:`schmidt_values` for ``region`` (nats unless ``base``)."""
        return spectrum_entropy(self.schmidt_values(region), alpha=alpha, base=base)

    def _cut_values(self, k: int) -> np.ndarray:
        mps = self.canonicalize("mixed", center=k - 1)
        core = mps.cores[k - 1]
        s = _svd(core.reshape(-1, core.shape[2]))[1]
        s = s / torch.linalg.vector_norm(s)
        return s.detach().cpu().numpy().astype(np.float64)

    def _rho_values(self, sites: np.ndarray) -> np.ndarray:
        n = self.n_sites
        other = np.setdiff1d(np.arange(n), sites)
        dims = self.phys_dims
        d_a = math.prod(dims[i] for i in sites)
        d_b = math.prod(dims[i] for i in other)
        if d_b < d_a:
            sites, d_a = other, d_b
        chi = max(self.bond_dims, default=1)
        if d_a * d_a * chi * chi > _MAX_RHO_ELEMENTS:
            raise SizeLimitError(
                f"schmidt_values: the smaller side has local dimension {d_a}; its reduced "
                f"density matrix with bond {chi} would need {d_a * d_a * chi * chi} elements "
                f"> {_MAX_RHO_ELEMENTS}. Use mincut-type bounds or a contiguous cut instead"
            )
        inside = set(sites.tolist())
        mps = self.normalized()
        # env[a, a', r, r'] over the A legs seen so far
        env = torch.ones(1, 1, 1, 1, dtype=mps.dtype, device=mps.device)
        for i, core in enumerate(mps.cores):
            tmp = torch.tensordot(env, core, dims=([2], [0]))  # (a, a', r', s, r)
            if i in inside:
                full = torch.tensordot(tmp, core.conj(), dims=([2], [0]))  # (a,a',s,r,s',r')
                a, ap = full.shape[0], full.shape[1]
                full = full.permute(0, 2, 1, 4, 3, 5)  # (a, s, a', s', r, r')
                env = full.reshape(a * core.shape[1], ap * core.shape[1], core.shape[2], core.shape[2])
            else:
                env = torch.einsum("abmsr,msq->abrq", tmp, core.conj())
        rho = env[:, :, 0, 0]
        rho = (rho + rho.conj().T) / 2
        lam = torch.linalg.eigvalsh(rho).flip(0).clamp_min(0.0)
        lam = lam / lam.sum()
        return torch.sqrt(lam).cpu().numpy().astype(np.float64)


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name}: expected an int >= 1, got {value!r}")


def _left_step(cores: list[torch.Tensor], i: int, log_scale: float):
    """QR of core ``i`` as ``(χ_l d) × χ_r``; ``R/‖R‖`` into core ``i+1``; log into the scale."""
    chi_l, d, chi_r = cores[i].shape
    q, r = torch.linalg.qr(cores[i].reshape(chi_l * d, chi_r))
    scale = torch.linalg.matrix_norm(r).item()
    if not scale > 0 or not math.isfinite(scale):
        raise NumericalError(f"canonicalize: core {i} has norm {scale} (zero or non-finite)")
    cores[i] = q.reshape(chi_l, d, q.shape[1])
    cores[i + 1] = torch.tensordot(r / scale, cores[i + 1], dims=([1], [0]))
    return cores, log_scale + math.log(scale)


def _right_step(cores: list[torch.Tensor], i: int, log_scale: float):
    """LQ of core ``i`` as ``χ_l × (d χ_r)`` (QR of the transpose); ``L/‖L‖`` into core ``i-1``."""
    chi_l, d, chi_r = cores[i].shape
    q, r = torch.linalg.qr(cores[i].reshape(chi_l, d * chi_r).mT)
    scale = torch.linalg.matrix_norm(r).item()
    if not scale > 0 or not math.isfinite(scale):
        raise NumericalError(f"canonicalize: core {i} has norm {scale} (zero or non-finite)")
    cores[i] = q.mT.reshape(q.shape[1], d, chi_r)
    cores[i - 1] = torch.tensordot(cores[i - 1], (r / scale).mT, dims=([2], [0]))
    return cores, log_scale + math.log(scale)
