r"""MPS Born machine: a generative model ``p(x) = |ψ(x)|² / Z`` with exact normalisation.

For discrete data ``x ∈ {0, …, d-1}^N`` the amplitude is a matrix product

.. math::

    \psi(x) = e_0^\top A^{(0)}_{x_0} A^{(1)}_{x_1} \cdots A^{(N-1)}_{x_{N-1}} e_0 ,
    \qquad Z = \sum_x |\psi(x)|^2 = e_0^\top\, \mathcal{E}^{(0)} \cdots \mathcal{E}^{(N-1)}\, e_0 ,

with transfer maps ``E ↦ Σ_s A_s^† E A_s`` applied to a ``χ × χ`` environment that is
renormalised at every site (log-scale accumulated), so ``ln Z`` is exact and finite for any
``N``. Sampling is exact and sequential (no Markov chain):
``p(x_i | x_{<i}) ∝ v_{<i} A_{x_i} R_{i+1} A_{x_i}^† v_{<i}^†`` with right environments
``R``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from qnets.errors import ConfigError, ShapeError, SizeLimitError
from qnets.tn.mps import MPS

__all__ = ["MPSBornMachine"]

_TINY = 1e-300


class MPSBornMachine(nn.Module):
    r"""Real or complex MPS Born machine over ``N`` discrete variables with ``d`` values.

    Parameters
    ----------
    n_sites : int
        Number of variables ``N``.
    bond_dim : int
        Bond dimension ``χ ≥ 1``.
    phys_dim : int, default 2
        Number of values ``d`` per variable.
    init_std : float, default 0.1
        Cores start as the identity in the bond indices (for every value) plus Gaussian noise
        of this std relative to 1.
    dtype : torch.dtype, default torch.float64
        Real or complex.
    device : optional
    seed : int, optional
        Seed of the initialisation.
    """

    def __init__(
        self,
        n_sites: int,
        bond_dim: int,
        phys_dim: int = 2,
        *,
        init_std: float = 0.1,
        dtype: torch.dtype = torch.float64,
        device=None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("n_sites", n_sites), ("bond_dim", bond_dim), ("phys_dim", phys_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"{name}: expected an int >= 1, got {value!r}")
        if not isinstance(dtype, torch.dtype) or not (dtype.is_floating_point or dtype.is_complex):
            raise ConfigError(f"dtype: expected a floating or complex torch dtype, got {dtype!r}")
        if not (isinstance(init_std, (int, float)) and init_std >= 0 and math.isfinite(init_std)):
            raise ConfigError(f"init_std: expected a finite float >= 0, got {init_std!r}")
        self.n_sites, self.bond_dim, self.phys_dim = int(n_sites), int(bond_dim), int(phys_dim)
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed))
        chi, d = self.bond_dim, self.phys_dim
        shape = (self.n_sites, chi, d, chi)
        cores = torch.eye(chi, dtype=torch.float64)[None, :, None, :].expand(shape).clone()
        cores += init_std * torch.randn(shape, generator=gen, dtype=torch.float64)
        cores = cores.to(dtype)
        if dtype.is_complex:
            cores = cores + 1j * init_std * torch.randn(shape, generator=gen, dtype=torch.float64)
        self.cores = nn.Parameter(cores.to(device=device))
        boundary = torch.zeros(chi, dtype=dtype, device=device)
        boundary[0] = 1.0
        self.register_buffer("boundary", boundary)

    def extra_repr(self) -> str:
        return f"n_sites={self.n_sites}, bond_dim={self.bond_dim}, phys_dim={self.phys_dim}"

    # ------------------------------------------------------------------ validation

    def _check_data(self, x) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        if x.ndim != 2 or x.shape[1] != self.n_sites:
            raise ShapeError(f"x: expected shape (batch, {self.n_sites}), got {tuple(x.shape)}")
        if x.is_floating_point() and not torch.equal(x, x.round()):
            raise ConfigError("x: expected integer values (discrete data), got non-integers")
        x = x.long()
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.phys_dim):
            raise ConfigError(
                f"x: values must lie in [0, {self.phys_dim}), got [{int(x.min())}, {int(x.max())}]"
            )
        return x.to(self.cores.device)

    # ------------------------------------------------------------------ probabilities

    def log_amplitude(self, x) -> torch.Tensor:
        r"""``ln |ψ(x)|`` per sample, shape ``(B,)`` (real; ``-inf`` for ``ψ = 0``)."""
        x = self._check_data(x)
        b = x.shape[0]
        sites = torch.arange(self.n_sites, device=x.device)
        mats = self.cores[sites[None, :], :, x, :]  # (B, N, χ, χ)
        v = self.boundary.expand(b, self.bond_dim)
        log_acc = torch.zeros(b, dtype=self.cores.real.dtype, device=x.device)
        for i in range(self.n_sites):
            v = torch.bmm(v[:, None, :], mats[:, i])[:, 0]
            norm = torch.linalg.vector_norm(v, dim=1).clamp_min(_TINY)
            v = v / norm[:, None]
            log_acc = log_acc + torch.log(norm)
        return log_acc + torch.log(v[:, 0].abs().clamp_min(_TINY))

    def log_normalization(self) -> torch.Tensor:
        r"""``ln Z`` with ``Z = Σ_x |ψ(x)|²`` (exact, by transfer matrices with rescaling)."""
        env = torch.outer(self.boundary, self.boundary.conj())
        log_acc = torch.zeros((), dtype=self.cores.real.dtype, device=self.cores.device)
        for i in range(self.n_sites):
            a = self.cores[i]  # (l, s, r)
            env = torch.einsum("lm,lsr,msq->rq", env, a.conj(), a)
            scale = torch.linalg.matrix_norm(env).clamp_min(_TINY)
            env = env / scale
            log_acc = log_acc + torch.log(scale)
        return log_acc + torch.log(env[0, 0].real.clamp_min(_TINY))

    def log_prob(self, x) -> torch.Tensor:
        """``ln p(x) = 2 ln|ψ(x)| - ln Z`` per sample, shape ``(B,)``."""
        return 2.0 * self.log_amplitude(x) - self.log_normalization()

    def forward(self, x) -> torch.Tensor:
        """Same as :meth:`log_prob`."""
        return self.log_prob(x)

    def nll(self, x) -> torch.Tensor:
        """Mean negative log-likelihood ``-mean ln p(x)`` (nats)."""
        return -self.log_prob(x).mean()

    @torch.no_grad()
    def probabilities(self, *, max_size: int = 2**20) -> torch.Tensor:
        """``p(x)`` for all ``d^N`` configurations (row-major, site 0 most significant)."""
        size = self.phys_dim**self.n_sites
        if size > max_size:
            raise SizeLimitError(
                f"probabilities: d^N = {size} > max_size={max_size}; use log_prob on samples"
            )
        grid = torch.cartesian_prod(*[torch.arange(self.phys_dim)] * self.n_sites)
        grid = grid.reshape(size, self.n_sites)
        return torch.exp(self.log_prob(grid))

    # ------------------------------------------------------------------ sampling

    @torch.no_grad()
    def sample(self, n_samples: int, *, seed: int | None = None) -> torch.Tensor:
        """Exact samples ``x ~ p``, shape ``(n_samples, N)``, int64.

        Parameters
        ----------
        n_samples : int
        seed : int, optional
            Seed of a private :class:`torch.Generator` (CPU).
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ConfigError(f"n_samples: expected an int >= 1, got {n_samples!r}")
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed))
        cores = self.cores.detach()
        # Right environments R_i (χ × χ) of sites i..N-1, normalised.
        envs = [None] * (self.n_sites + 1)
        env = torch.outer(self.boundary, self.boundary.conj())
        envs[self.n_sites] = env
        for i in range(self.n_sites - 1, -1, -1):
            env = torch.einsum("lsr,rq,msq->lm", cores[i], env, cores[i].conj())
            env = env / torch.linalg.matrix_norm(env).clamp_min(_TINY)
            envs[i] = env
        out = torch.empty(n_samples, self.n_sites, dtype=torch.long)
        v = self.boundary.expand(n_samples, self.bond_dim)
        for i in range(self.n_sites):
            w = torch.einsum("bl,lsr->bsr", v, cores[i])  # (B, d, χ)
            probs = torch.einsum("bsr,rq,bsq->bs", w, envs[i + 1], w.conj()).real.clamp_min(0)
            probs = probs / probs.sum(1, keepdim=True)
            s = torch.multinomial(probs.cpu(), 1, generator=gen)[:, 0]
            out[:, i] = s
            v = w[torch.arange(n_samples), s.to(w.device)]
            v = v / torch.linalg.vector_norm(v, dim=1, keepdim=True).clamp_min(_TINY)
        return out

    # ------------------------------------------------------------------ training

    def fit(
        self,
        data,
        *,
        steps: int = 800,
        lr: float = 0.05,
        batch_size: int | None = None,
        seed: int = 0,
        record_every: int = 1,
    ) -> list[float]:
        """Minimise the NLL of ``data`` with Adam (full batch unless ``batch_size``).

        Returns
        -------
        list of float
            Training-set NLL (nats) every ``record_every`` steps (before each update).
        """
        x = self._check_data(data)
        for name, value in (("steps", steps), ("record_every", record_every)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected an int >= 1, got {value!r}")
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ConfigError(f"lr: expected a float > 0, got {lr!r}")
        gen = torch.Generator().manual_seed(int(seed))
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        history = []
        for step in range(steps):
            batch = x
            if batch_size is not None and batch_size < x.shape[0]:
                batch = x[torch.randperm(x.shape[0], generator=gen)[:batch_size].to(x.device)]
            loss = self.nll(batch)
            if step % record_every == 0:
                history.append(loss.item())
            opt.zero_grad()
            loss.backward()
            opt.step()
        return history

    @torch.no_grad()
    def to_mps(self) -> MPS:
        """The (unnormalised) amplitude ``ψ`` as an :class:`~qnets.tn.MPS`."""
        cores = [c.clone() for c in self.cores.detach()]
        cores[0] = torch.tensordot(self.boundary, cores[0], dims=([0], [0]))[None]
        cores[-1] = torch.tensordot(cores[-1], self.boundary, dims=([2], [0]))[..., None]
        return MPS(cores)
