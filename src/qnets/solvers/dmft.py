r"""Real-space single-site DMFT of the Falicov–Kimball model on Matsubara frequencies.

Every site ``i`` of a lattice with non-interacting ``d`` Hamiltonian ``H_0`` (``(N, N)``,
chemical potential included, e.g. :attr:`qnets.hamiltonians.FalicovKimball.h0`) carries
its own local self-energy ``Σ_i(iω_n)``, ``ω_n = (2n + 1)πT``. One iteration:

1. lattice: ``G_loc,i = [(iω_n − H_0 − diag Σ(iω_n) − Σ_emb(iω_n))^{-1}]_ii``, where
   ``Σ_emb`` is an optional embedding self-energy of something attached to the lattice —
   the fermion network of spec ``fnn.md`` §4.3, see :func:`embedding_self_energy`;
2. Weiss field: ``𝒢_{0,i}^{-1} = G_loc,i^{-1} + Σ_i``;
3. exact Falicov–Kimball impurity (:func:`fk_impurity`):
   ``n^f_i = sigmoid(a_i − E_f/T)`` with ``a_i = Σ_n ln(1 − U 𝒢_{0,i}(iω_n))``,
   ``E_f`` by bisection so that ``(1/N) Σ_i n^f_i = n_f`` (to ``filling_tol``), and
   ``G_imp,i = n^f_i / (𝒢_{0,i}^{-1} − U) + (1 − n^f_i) / 𝒢_{0,i}^{-1}``;
4. stop when ``max_{n,i} |G_imp − G_loc| < tol``; otherwise
   ``Σ ← (1 − α) Σ + α (𝒢_0^{-1} − G_imp^{-1})`` (linear mixing ``α = mixing``), or an
   Anderson step (below).

**Anderson acceleration** (``anderson = k > 0``; the paper's protocol is linear mixing,
``k = 0``). Write the bare update as a map ``F(Σ) = 𝒢_0^{-1} − G_imp^{-1}`` with residual
``r = F(Σ) − Σ`` (``Σ`` and ``r`` as real vectors of length ``2MN``). An accelerating
sample's last ``k + 1`` iterates give differences ``ΔΣ_j``, ``Δr_j`` and

.. math::

    γ = \arg\min_γ \lVert r − Δr\,γ \rVert_2, \qquad
    Σ ← Σ + α r − (ΔΣ + α Δr)\,γ

(type-II Anderson / Pulay mixing with the linear step ``α = mixing``). Anderson is a root
finder: it converges to *unstable* fixed points too, such as the homogeneous solution of an
ordered phase that the symmetry-breaking start is meant to leave. So a sample starts
accelerating only once its residual ``max |G_imp − G_loc|`` is below ``anderson_start`` and
its linear iterations contract at a steady rate — 3 successive residual ratios ``ρ < 1``
within 0.02 of each other, the asymptotic regime near a stable fixed point (near an
unstable one ``ρ`` drifts above 1). It goes back to linear mixing, dropping its history,
when the residual exceeds ``anderson_start`` or 10× its smallest value since it started.
At low temperature the ordered solutions have sites with intermediate ``n^f`` whose slow
mode makes linear mixing contract by ≈ 0.98 per iteration (stripe samples at
``T = 0.005`` often miss 200 iterations); Anderson steps remove that mode
(``benchmarks/dmft_fk.py --anderson``).

Frequencies: ``n_matsubara`` frequencies ``n = −M … M − 1`` (``M = n_matsubara / 2``; the
paper's 40). Because ``H_0`` is Hermitian and ``Σ(−iω) = Σ(iω)^†``,
``G_ii(−iω_n) = conj G_ii(iω_n)``: only the ``M`` positive frequencies are stored and
computed, and a symmetric sum becomes ``Σ_n f(iω_n) = 2 Re Σ_{n ≥ 0} f(iω_n)``; in
particular ``a_i = 2 Σ_{n≥0} ln|1 − U 𝒢_{0,i}(iω_n)|`` (branch-free). The truncation of
``a_i`` shifts all sites by the same amount to leading order and is absorbed by ``E_f``.
The ``d`` densities use the high-frequency tail ``G ≈ 1/(iω) + m_1/(iω)²``,
``m_1,i = (H_0)_ii + U n^f_i`` (:attr:`DMFTResult.n_d`).

The homogeneous solution at ``n_f = 1/2`` is an unstable fixed point of the iteration;
ordered phases need a symmetry-breaking start: ``init="random"`` (default) starts from the
static Hartree self-energy ``Σ_i = U n^{(0)}_i`` with ``n^{(0)}_i = n_f + 0.05 u_i``,
``u_i ~ U(−1, 1)`` (seeded), so the fastest-growing charge mode selects the order.

All samples of a batch are solved together (batched dense inverses with torch, on any
device); each sample stops when it has converged. Cost per iteration and sample
``O(M N³)``; memory ``O(B M N²)``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from qnets.errors import ConfigError, ConvergenceError, QnetsWarning, ShapeError, SizeLimitError

__all__ = [
    "DMFTResult",
    "dmft_step",
    "embedding_self_energy",
    "fk_impurity",
    "local_greens",
    "matsubara_frequencies",
    "max_batch",
    "solve_dmft",
]

_MAX_BYTES = 2 * 1024**3


def _bytes_per_sample(m: int, n: int, embedding: bool) -> int:
    """Dense complex128 ``(M, N, N)`` matrices one sample holds: lattice and inverse, plus
    the embedding self-energy when one is given."""
    return m * n * n * 16 * (3 if embedding else 2)


def max_batch(n_sites: int, n_matsubara: int, *, embedding: bool = False) -> int:
    """The most samples one :func:`solve_dmft` call accepts for ``n_sites`` sites and
    ``n_matsubara`` frequencies (its memory guard); at least 1. Solve larger batches in
    pieces of this size."""
    m = len(matsubara_frequencies(1.0, n_matsubara))
    return max(1, _MAX_BYTES // _bytes_per_sample(m, int(n_sites), embedding))


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigError(f"{name}: expected a finite real number, got {value!r}")
    if not value > 0:
        raise ConfigError(f"{name}: expected a number > 0, got {value!r}")
    return float(value)


def matsubara_frequencies(temperature: float, n_matsubara: int = 40) -> np.ndarray:
    r"""Positive fermionic Matsubara frequencies ``ω_n = (2n + 1)πT``, ``n = 0 … M − 1``.

    ``n_matsubara = 2M`` counts both signs (``n = −M … M − 1``, the paper's 40); the
    negative ones follow by symmetry (module docstring). Returns ``(M,)`` float64.
    """
    temperature = _temperature(temperature)
    if (
        isinstance(n_matsubara, bool)
        or not isinstance(n_matsubara, (int, np.integer))
        or n_matsubara < 2
        or n_matsubara % 2
    ):
        raise ConfigError(
            f"n_matsubara: expected an even integer ≥ 2 (frequencies n = −M … M−1), got {n_matsubara!r}"
        )
    return (2 * np.arange(n_matsubara // 2) + 1) * math.pi * temperature


def _temperature(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigError(f"temperature: expected a finite real number T > 0, got {value!r}")
    if not value > 0:
        raise ConfigError(
            f"temperature: expected T > 0 (Matsubara frequencies ω_n = (2n+1)πT need a finite "
            f"temperature; use a small T such as 0.005 for ground-state-like physics), got {value!r}"
        )
    return float(value)


@dataclass(frozen=True)
class DMFTResult:
    r"""Converged (or last) real-space DMFT solution.

    Arrays carry a leading batch axis ``B`` when :func:`solve_dmft` got a batch.

    Attributes
    ----------
    sigma : numpy.ndarray
        ``([B,] M, N)`` complex128 local self-energies ``Σ_i(iω_n)`` at the positive
        frequencies.
    g_loc : numpy.ndarray
        ``([B,] M, N)`` complex128 local lattice Green's functions ``G_ii(iω_n)``.
    n_f : numpy.ndarray
        ``([B,] N)`` f occupations.
    n_d : numpy.ndarray
        ``([B,] N)`` d occupations ``½ + 2T Σ_{n≥0} Re G_ii(iω_n)`` plus the analytic
        ``−m_1/ω²`` tail beyond the last frequency.
    e_f : numpy.ndarray
        ``([B])`` f level fixing the mean f filling.
    omega : numpy.ndarray
        ``([B,] M)`` positive Matsubara frequencies.
    residual : numpy.ndarray
        ``([B])`` last ``max |G_imp − G_loc|``.
    iterations : numpy.ndarray
        ``([B])`` iterations used (int).
    converged : numpy.ndarray
        ``([B])`` bool.
    """

    sigma: np.ndarray
    g_loc: np.ndarray
    n_f: np.ndarray
    n_d: np.ndarray
    e_f: np.ndarray
    omega: np.ndarray
    residual: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray


def local_greens(h0, sigma, omega, embedding=None) -> torch.Tensor:
    r"""``G_ii(iω_n) = [(iω_n − H_0 − diag Σ(iω_n) − Σ_emb(iω_n))^{-1}]_ii``.

    Parameters
    ----------
    h0 : torch.Tensor
        ``(B, N, N)`` Hermitian ``d`` Hamiltonians (chemical potential included).
    sigma : torch.Tensor
        ``(B, M, N)`` complex local self-energies.
    omega : torch.Tensor
        ``(B, M)`` real Matsubara frequencies.
    embedding : torch.Tensor, optional
        ``(B, M, N, N)`` complex embedding self-energy (e.g. an attached network).

    Returns
    -------
    torch.Tensor
        ``(B, M, N)`` complex local Green's functions (same dtype as ``sigma``).
    """
    n = h0.shape[-1]
    eye = torch.eye(n, dtype=sigma.dtype, device=sigma.device)
    matrix = (1j * omega)[..., None, None] * eye - h0[:, None].to(sigma.dtype)
    matrix = matrix - torch.diag_embed(sigma)
    if embedding is not None:
        matrix = matrix - embedding
    return torch.diagonal(torch.linalg.inv(matrix), dim1=-2, dim2=-1)


def _fix_filling(a: torch.Tensor, target: torch.Tensor, tol: float) -> torch.Tensor:
    """``x`` (``(B,)``) with ``mean_i sigmoid(a_i − x) = target`` by bisection."""
    margin = torch.log(target / (1 - target)).abs() + 40.0
    lo = a.min(-1).values - margin
    hi = a.max(-1).values + margin
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        filling = torch.sigmoid(a - mid[:, None]).mean(-1)
        # bisect to (near) machine precision so that a sample's E_f does not depend on the
        # other samples of its batch; ``tol`` is the guaranteed filling accuracy
        if float((hi - lo).max()) < 1e-12 and bool(((filling - target).abs() < tol).all()):
            break
        above = filling > target  # filling decreases with x: move x up
        lo = torch.where(above, mid, lo)
        hi = torch.where(above, hi, mid)
    return mid


def fk_impurity(weiss_inv, U, temperature, n_f=0.5, *, filling_tol: float = 1e-7):
    r"""Exact Falicov–Kimball impurity solution for every site, at fixed mean f filling.

    Parameters
    ----------
    weiss_inv : torch.Tensor
        ``(B, M, N)`` inverse Weiss fields ``𝒢_{0,i}^{-1}(iω_n)`` at positive frequencies.
    U, temperature, n_f : torch.Tensor
        ``(B,)`` interaction, temperature and target mean f filling.
    filling_tol : float
        Bisection tolerance on ``|mean n^f − n_f|``.

    Returns
    -------
    (g_imp, occupations, e_f) : tuple of torch.Tensor
        ``(B, M, N)`` ``G_imp``, ``(B, N)`` ``n^f_i``, ``(B,)`` ``E_f``.
    """
    U_ = U[:, None, None].to(weiss_inv.dtype)
    log_ratio = 2 * torch.log(torch.abs(1 - U_ / weiss_inv)).sum(-2)  # (B, N): Σ_n over ±n
    x = _fix_filling(log_ratio, n_f.to(log_ratio.dtype), filling_tol)
    occupations = torch.sigmoid(log_ratio - x[:, None])
    w = occupations[:, None, :].to(weiss_inv.dtype)
    g_imp = w / (weiss_inv - U_) + (1 - w) / weiss_inv
    return g_imp, occupations, x * temperature


def embedding_self_energy(onsite, hoppings, z) -> torch.Tensor:
    r"""Self-energy that a layered network exerts on the system it is attached to.

    The network has layers ``1 … L`` with blocks ``h_l`` and hoppings ``T_{l−1}``
    (``n_{l−1} × n_l``) to the layer below; layer 0 is the system. Reverse recursion
    (output → input, spec §4.3):

    .. math::

        Σ_{L} = T_{L-1}(z − h_L)^{-1}T_{L-1}^\dagger, \qquad
        Σ_{l} = T_{l-1}(z − h_l − Σ_{l+1})^{-1}T_{l-1}^\dagger, \qquad Σ_{emb} = Σ_1,

    so that ``[(z − H_{system+network})^{-1}]_{00} = (z − H_sys − Σ_emb)^{-1}`` exactly.

    Parameters
    ----------
    onsite : sequence of torch.Tensor or numpy.ndarray
        ``[h_1 … h_L]``, ``(n_l, n_l)``.
    hoppings : sequence of torch.Tensor or numpy.ndarray
        ``[T_0 … T_{L−1}]``, ``(n_l, n_{l+1})``.
    z : complex or array
        Complex energies, any shape ``S``.

    Returns
    -------
    torch.Tensor
        ``(*S, n_0, n_0)`` complex128.
    """
    onsite = [torch.as_tensor(h).to(torch.complex128) for h in onsite]
    hoppings = [torch.as_tensor(T).to(torch.complex128) for T in hoppings]
    if len(onsite) != len(hoppings) or not hoppings:
        raise ShapeError(
            f"onsite/hoppings: expected one block per hopping (L ≥ 1), got {len(onsite)} blocks "
            f"and {len(hoppings)} hoppings"
        )
    for layer, (h, T) in enumerate(zip(onsite, hoppings)):
        if T.dim() != 2 or h.shape != (T.shape[1], T.shape[1]):
            raise ShapeError(
                f"onsite[{layer}]/hoppings[{layer}]: expected h of shape (n, n) matching the "
                f"columns of T (n_in, n), got {tuple(h.shape)} and {tuple(T.shape)}"
            )
        if layer and hoppings[layer - 1].shape[1] != T.shape[0]:
            raise ShapeError(
                f"hoppings[{layer}]: expected {hoppings[layer - 1].shape[1]} rows, got {T.shape[0]}"
            )
    device = hoppings[0].device
    z = torch.as_tensor(z, dtype=torch.complex128, device=device)
    sigma = None
    for h, T in zip(reversed(onsite), reversed(hoppings)):
        n = h.shape[0]
        block = z[..., None, None] * torch.eye(n, dtype=h.dtype, device=device) - h
        if sigma is not None:
            block = block - sigma
        sigma = T @ torch.linalg.solve(block, T.mH.expand(*block.shape[:-2], *T.mH.shape))
    return sigma


def _batch(value, name, batch, device, *, positive=False):
    t = torch.as_tensor(value, dtype=torch.float64, device=device)
    if t.dim() == 0:
        t = t.expand(batch)
    if t.shape != (batch,):
        raise ShapeError(f"{name}: expected a scalar or shape ({batch},), got {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ConfigError(f"{name}: expected finite values, got {value!r}")
    if positive and not bool((t > 0).all()):
        raise ConfigError(f"{name}: expected values > 0, got minimum {t.min().item():.4g}")
    return t


def _per_sample(value, name, shape, device):
    """``value`` as complex128 of ``shape = (B, ...)``, broadcasting one sample over the batch."""
    value = torch.as_tensor(value, dtype=torch.complex128, device=device)
    if value.dim() == len(shape) - 1:
        value = value.expand(shape[0], *value.shape)
    if value.shape != shape:
        raise ShapeError(
            f"{name}: expected shape {shape[1:]} or {shape} (positive frequencies first, then "
            f"sites), got {tuple(value.shape)}"
        )
    return value


def _prepare(h0, U, temperature, n_f, n_matsubara, embedding, sigma0, device, max_sites):
    h0 = torch.as_tensor(np.asarray(h0) if not torch.is_tensor(h0) else h0, device=device)
    single = h0.dim() == 2
    if single:
        h0 = h0[None]
    if h0.dim() != 3 or h0.shape[-1] != h0.shape[-2]:
        raise ShapeError(f"h0: expected a square matrix (N, N) or a batch (B, N, N), got {tuple(h0.shape)}")
    batch, n = h0.shape[0], h0.shape[-1]
    if n > max_sites:
        raise SizeLimitError(
            f"h0: {n} sites exceed max_sites={max_sites}; real-space DMFT inverts a dense N×N "
            f"matrix per Matsubara frequency and iteration (O(M N³)). Use a smaller lattice, fewer "
            f"frequencies, or raise max_sites if memory allows"
        )
    h0 = h0.to(torch.complex128)
    if not bool(torch.isfinite(torch.view_as_real(h0)).all()):
        raise ConfigError("h0: expected finite entries, got NaN or inf")
    deviation = (h0 - h0.mH).abs().max().item()
    if deviation > 1e-10 * max(1.0, h0.abs().max().item()):
        raise ConfigError(f"h0: expected Hermitian matrices, max |H − H†| = {deviation:.3g}")
    if isinstance(temperature, numbers.Real):
        _temperature(temperature)
    T = _batch(temperature, "temperature", batch, device, positive=True)
    U = _batch(U, "U", batch, device)
    if bool((U < 0).any()):
        raise ConfigError(f"U: expected U ≥ 0, got minimum {U.min().item():.4g}")
    filling = _batch(n_f, "n_f", batch, device)
    if not bool(((filling > 0) & (filling < 1)).all()):
        raise ConfigError(f"n_f: expected a mean f filling strictly between 0 and 1, got {n_f!r}")
    m = len(matsubara_frequencies(1.0, n_matsubara))
    omega = (2 * torch.arange(m, dtype=torch.float64, device=device) + 1) * math.pi * T[:, None]
    need = batch * _bytes_per_sample(m, n, embedding is not None)
    if need > _MAX_BYTES:
        raise SizeLimitError(
            f"solve_dmft: {batch} samples × {m} frequencies × {n}² sites need ≈ {need / 2**30:.1f} "
            f"GiB of dense matrices (limit {_MAX_BYTES / 2**30:.0f} GiB); solve the batch in chunks"
        )
    if embedding is not None:
        embedding = _per_sample(embedding, "embedding", (batch, m, n, n), device)
    if sigma0 is not None:
        sigma0 = _per_sample(sigma0, "sigma0", (batch, m, n), device).clone()
    return single, h0, U, T, filling, omega, embedding, sigma0


def _initial_sigma(U, filling, batch, m, n, init, seed, device):
    if init == "uniform":
        occupation = filling[:, None].expand(batch, n)
    elif init == "random":
        if isinstance(seed, (list, tuple)):
            if len(seed) != batch:
                raise ShapeError(f"seed: expected one seed per sample ({batch}), got {len(seed)}")
            rows = [np.random.default_rng(s).uniform(-1, 1, size=n) for s in seed]
            noise = torch.as_tensor(np.stack(rows), device=device)
        else:
            rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
            noise = torch.as_tensor(rng.uniform(-1, 1, size=(batch, n)), device=device)
        occupation = filling[:, None] + 0.05 * noise
    else:
        raise ConfigError(f"init: expected 'random' or 'uniform', got {init!r}")
    sigma = (U[:, None] * occupation).to(torch.complex128)
    return sigma[:, None, :].expand(batch, m, n).clone()


def _anderson_step(x, r, hist_x, hist_r, count, mixing):
    """Type-II Anderson update of the rows of ``x`` (``(b, D)`` real) from their histories.

    ``hist_x``, ``hist_r``: ``(b, k + 1, D)`` past iterates and residuals, newest last (the
    current ``x``, ``r`` included); only the newest ``count`` (``(b,)``) entries of a row are
    valid. Rows with ``count ≤ 1`` take the linear step ``x + mixing · r``.
    """
    d_x = hist_x[:, 1:] - hist_x[:, :-1]
    d_r = hist_r[:, 1:] - hist_r[:, :-1]
    k = d_x.shape[1]
    valid = torch.arange(k, device=x.device) >= (k + 1 - count)[:, None]  # (b, k)
    d_x = d_x * valid[..., None]
    d_r = d_r * valid[..., None]
    gram = d_r @ d_r.mT
    scale = torch.diagonal(gram, dim1=-2, dim2=-1).amax(-1).clamp_min(1e-300)
    # tiny Tikhonov term for collinear differences; an invalid column gets γ_j = 0
    gram = gram + torch.diag_embed(1e-12 * scale[:, None] + (~valid).to(gram.dtype))
    gamma = torch.linalg.solve(gram, (d_r @ r[..., None]))
    return x + mixing * r - ((d_x + mixing * d_r).mT @ gamma)[..., 0]


def _iterate(h0, U, T, filling, omega, embedding, sigma, mixing, filling_tol):
    """One DMFT iteration: ``(new Σ, G_loc, n_f, E_f, residual)``."""
    g_loc = local_greens(h0, sigma, omega, embedding)
    weiss_inv = 1 / g_loc + sigma
    g_imp, occupations, e_f = fk_impurity(weiss_inv, U, T, filling, filling_tol=filling_tol)
    residual = (g_imp - g_loc).abs().flatten(1).max(-1).values
    new_sigma = (1 - mixing) * sigma + mixing * (weiss_inv - 1 / g_imp)
    return new_sigma, g_loc, occupations, e_f, residual


_SETTLE_ITERATIONS = 3  # linear iterations with a steady contraction before Anderson starts
_SETTLE_SPREAD = 0.02  # "steady": successive residual ratios differ by less than this


class _Anderson:
    """Per-sample Anderson state of a batch of ``batch`` samples (module docstring).

    A sample accelerates once, below ``start``, its linear iterations have contracted at a
    steady rate ``ρ < 1`` (successive ratios of residuals within ``_SETTLE_SPREAD``) for
    ``_SETTLE_ITERATIONS`` iterations: then the linear iteration is in its asymptotic regime
    near a *stable* fixed point. Near an unstable one (the homogeneous solution of an ordered
    phase) the ratio drifts to > 1 instead, and Anderson — a root finder that would happily
    converge there — is not used.
    """

    def __init__(self, batch, depth, width, mixing, start, device):
        f64 = {"dtype": torch.float64, "device": device}
        self.hist_x = torch.zeros(batch, depth + 1, width, **f64)
        self.hist_r = torch.zeros_like(self.hist_x)
        self.count = torch.zeros(batch, dtype=torch.int64, device=device)
        self.best = torch.full((batch,), math.inf, **f64)
        self.last_res = torch.full((batch,), math.inf, **f64)
        self.last_ratio = torch.full((batch,), math.inf, **f64)
        self.settled = torch.zeros(batch, dtype=torch.int64, device=device)
        self.on = torch.zeros(batch, dtype=torch.bool, device=device)
        self.mixing, self.start = mixing, start

    def step(self, active, sigma, bare, res):
        """New ``Σ`` of the ``active`` samples from ``Σ`` and the bare update ``F(Σ)``."""
        b, shape = sigma.shape[0], sigma.shape
        x = torch.view_as_real(sigma).reshape(b, -1)
        r = torch.view_as_real(bare).reshape(b, -1) - x
        ratio = res / self.last_res[active]
        steady = (res < self.start) & (ratio < 1) & ((ratio - self.last_ratio[active]).abs() < _SETTLE_SPREAD)
        settled = torch.where(steady, self.settled[active] + 1, 0)
        on = self.on[active]
        # drop the acceleration (and its history) when the residual jumps
        on = on & (res < self.start) & (res <= 10 * self.best[active])
        on = on | (settled >= _SETTLE_ITERATIONS)
        self.best[active] = torch.where(on, torch.minimum(self.best[active], res), math.inf)
        self.last_res[active], self.last_ratio[active], self.settled[active] = res, ratio, settled
        self.on[active] = on
        hx = torch.cat([self.hist_x[active, 1:], x[:, None]], 1)
        hr = torch.cat([self.hist_r[active, 1:], r[:, None]], 1)
        self.hist_x[active], self.hist_r[active] = hx, hr
        count = torch.where(on, torch.clamp(self.count[active] + 1, max=hx.shape[1]), 0)
        self.count[active] = count
        new = _anderson_step(x, r, hx, hr, count, self.mixing)
        return torch.view_as_complex(new.reshape(*shape, 2))


def _trigamma(x: float) -> float:
    """``ψ'(x) = Σ_{k≥0} 1/(x + k)²`` for ``x > 0`` (recurrence + asymptotic series)."""
    total = 0.0
    while x < 20:
        total += 1 / (x * x)
        x += 1
    inv = 1 / x
    return total + inv + inv**2 / 2 + inv**3 / 6 - inv**5 / 30 + inv**7 / 42 - inv**9 / 30


def _densities(g_loc, omega, T, h0, U, occupations):
    m = omega.shape[-1]
    tail_sum = _trigamma(m + 0.5) / (4 * math.pi**2)  # T² Σ_{n≥M} 1/ω_n²
    m1 = torch.diagonal(h0, dim1=-2, dim2=-1).real + U[:, None] * occupations
    return 0.5 + 2 * T[:, None] * g_loc.real.sum(-2) - 2 * m1 * tail_sum / T[:, None]


def solve_dmft(
    h0,
    U,
    temperature,
    *,
    n_f=0.5,
    n_matsubara: int = 40,
    mixing: float = 0.5,
    tol: float = 1e-6,
    max_iter: int = 200,
    filling_tol: float = 1e-7,
    anderson: int = 0,
    anderson_start: float = 1e-2,
    sigma0=None,
    init: str = "random",
    seed=None,
    embedding=None,
    on_failure: str = "raise",
    max_sites: int = 4096,
    device: torch.device | str | None = None,
) -> DMFTResult:
    r"""Solve real-space single-site DMFT of the Falicov–Kimball model (module docstring).

    Parameters
    ----------
    h0 : array_like
        ``(N, N)`` or a batch ``(B, N, N)`` of Hermitian ``d`` Hamiltonians with the
        chemical potential included (``H_0 = hopping − μ``).
    U : float or array_like
        Interaction ``U ≥ 0`` (scalar or ``(B,)``).
    temperature : float or array_like
        ``T > 0`` (scalar or ``(B,)``); ``T ≤ 0`` raises :class:`ConfigError`.
    n_f : float or array_like
        Target mean f filling in ``(0, 1)``.
    n_matsubara : int
        Number of Matsubara frequencies ``n = −M … M − 1`` (even; the paper's 40).
    mixing : float
        Linear mixing ``α ∈ (0, 1]`` of the new self-energy (also the linear part of an
        Anderson step).
    tol : float
        Convergence threshold on ``max |G_imp − G_loc|``.
    max_iter : int
        Maximum iterations.
    filling_tol : float
        Tolerance of the ``E_f`` bisection on the mean f filling.
    anderson : int
        History depth ``k`` of Anderson acceleration (module docstring); 0 (default, the
        paper's protocol) iterates with linear mixing only.
    anderson_start : float
        Residual ``max |G_imp − G_loc|`` below which a sample's Anderson steps begin.
    sigma0 : array_like, optional
        ``([B,] M, N)`` starting self-energy (warm start); overrides ``init``.
    init : {"random", "uniform"}
        Start from a seeded random static Hartree pattern (breaks the symmetry) or from the
        uniform one (stays homogeneous for a translation-invariant ``H_0``).
    seed : int, numpy.random.Generator or sequence, optional
        Randomness of ``init="random"``; a list or tuple gives one seed (int,
        ``SeedSequence`` or ``Generator``) per sample, so that a sample's start does not
        depend on the batch it is solved in.
    embedding : array_like, optional
        ``([B,] M, N, N)`` embedding self-energy at the positive frequencies, added to the
        lattice (:func:`embedding_self_energy`; the FNN "coupled in situ").
    on_failure : {"raise", "warn", "ignore"}
        What to do when a sample has not converged after ``max_iter`` iterations:
        :class:`ConvergenceError` (default; it carries ``residual``), a
        :class:`~qnets.errors.QnetsWarning`, or nothing (inspect ``result.converged``).
    max_sites : int
        Size guard on ``N``.
    device : torch.device or str, optional
        Where to compute (default CPU).

    Returns
    -------
    DMFTResult
    """
    if not (isinstance(mixing, numbers.Real) and 0 < mixing <= 1):
        raise ConfigError(f"mixing: expected 0 < mixing ≤ 1, got {mixing!r}")
    _positive("tol", tol)
    _positive("filling_tol", filling_tol)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ConfigError(f"max_iter: expected a positive integer, got {max_iter!r}")
    if on_failure not in ("raise", "warn", "ignore"):
        raise ConfigError(f"on_failure: expected 'raise', 'warn' or 'ignore', got {on_failure!r}")
    if isinstance(anderson, bool) or not isinstance(anderson, (int, np.integer)) or anderson < 0:
        raise ConfigError(
            f"anderson: expected a history depth ≥ 0 (0 = linear mixing only), got {anderson!r}"
        )
    _positive("anderson_start", anderson_start)
    device = torch.device(device) if device is not None else torch.device("cpu")
    single, h0, U, T, filling, omega, embedding, sigma = _prepare(
        h0, U, temperature, n_f, n_matsubara, embedding, sigma0, device, max_sites
    )
    batch, m, n = h0.shape[0], omega.shape[-1], h0.shape[-1]
    if sigma is None:
        sigma = _initial_sigma(U, filling, batch, m, n, init, seed, device)
    g_loc = torch.zeros_like(sigma)
    occupations = torch.zeros(batch, n, dtype=torch.float64, device=device)
    e_f = torch.zeros(batch, dtype=torch.float64, device=device)
    residual = torch.full((batch,), math.inf, dtype=torch.float64, device=device)
    iterations = torch.zeros(batch, dtype=torch.int64, device=device)
    active = torch.arange(batch, device=device)
    accelerator = _Anderson(batch, anderson, 2 * m * n, mixing, anderson_start, device) if anderson else None
    for _ in range(max_iter):
        emb = embedding[active] if embedding is not None else None
        current = sigma[active]
        new_sigma, g, occ, ef, res = _iterate(
            h0[active], U[active], T[active], filling[active], omega[active], emb,
            current, 1.0 if anderson else mixing, filling_tol,
        )
        g_loc[active], occupations[active], e_f[active], residual[active] = g, occ, ef, res
        iterations[active] += 1
        if accelerator is not None:
            new_sigma = accelerator.step(active, current, new_sigma, res)
        done = res < tol
        moving = active[~done]
        sigma[moving] = new_sigma[~done]
        active = moving
        if active.numel() == 0:
            break
    converged = residual < tol
    if not bool(converged.all()) and on_failure != "ignore":
        worst = residual.max().item()
        message = (
            f"solve_dmft: {int((~converged).sum())} of {batch} sample(s) not converged after "
            f"{max_iter} iterations (last residual max |G_imp − G_loc| = {worst:.3g} > tol={tol:g}); "
            f"raise max_iter, lower mixing, or warm-start with sigma0"
        )
        if on_failure == "raise":
            raise ConvergenceError(message, residual=worst)
        warnings.warn(message, QnetsWarning, stacklevel=2)
    n_d = _densities(g_loc, omega, T, h0, U, occupations)
    arrays = [sigma, g_loc, occupations, n_d, e_f, omega, residual, iterations, converged]
    arrays = [a.cpu().numpy() for a in arrays]
    if single:
        arrays = [a[0] for a in arrays]
    return DMFTResult(*arrays)


def dmft_step(h0, U, temperature, sigma, *, n_f=0.5, mixing: float = 1.0, embedding=None,
              filling_tol: float = 1e-7):
    r"""One DMFT iteration from ``sigma`` (``([B,] M, N)``; ``M`` taken from its shape).

    Returns ``(new_sigma, residual)`` as numpy arrays: ``new_sigma`` is the mixed update
    (``mixing = 1``: the bare update ``𝒢_0^{-1} − G_imp^{-1}``) and ``residual`` is
    ``max |G_imp − G_loc|`` before the update. A converged :func:`solve_dmft` solution is
    a fixed point: ``new_sigma ≈ sigma`` and ``residual < tol``.
    """
    sigma = torch.as_tensor(np.asarray(sigma), dtype=torch.complex128)
    single = sigma.dim() == 2
    _, h0, U, T, filling, omega, embedding, sigma = _prepare(
        h0, U, temperature, n_f, 2 * sigma.shape[-2], embedding, sigma, None, 1 << 30
    )
    new_sigma, _, _, _, residual = _iterate(h0, U, T, filling, omega, embedding, sigma, mixing, filling_tol)
    new_sigma, residual = new_sigma.numpy(), residual.numpy()
    return (new_sigma[0], residual[0]) if single else (new_sigma, residual)
