r"""``FermionNetwork``: a layered tight-binding model whose Green's function is the output.

.. math::

    H = \sum_{l\ge1} c_l^\dagger h_l c_l + \sum_{l=0}^{L-1} (c_l^\dagger T_l c_{l+1} + h.c.),
    \qquad h_l = \mathrm{diag}(2 D_l) + U_l + U_l^\dagger

with ``D_l`` real onsite terms and ``U_l`` complex hoppings on the strictly upper entries
selected by the intra-layer pattern (so ``h_ii = 2 D_i``, the authors' parameterisation).
Layer 0 is the input; it enters only through its Green's function ``g_0`` (see
:mod:`qnets.fnn.encoders`). The output is read from ``g_L = G_{LL}`` or ``G_{0L}``
(:mod:`qnets.fnn.readouts`), computed by :func:`qnets.greens.layered_greens`.

Initialisation (spec §1.2): real and imaginary parts of every ``T_{l-1}``, ``D_l``,
``U_l`` entry ~ ``U(−b, b)``, ``b = init_bound / √n_{l−1}`` (``D`` is real).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence

import torch
from torch import nn

from qnets.errors import ConfigError, PrecisionWarning, SizeLimitError
from qnets.fnn.connectivity import (
    INTER_LAYER,
    INTRA_LAYER,
    dense_pairs,
    intra_pairs,
    local_pairs,
    tree_pairs,
)
from qnets.fnn.encoders import ENCODERS, _flat_sites, encode
from qnets.fnn.readouts import (
    READOUTS,
    add_input_lead,
    conductance_readout,
    ldos_readout,
)
from qnets.greens import block_tridiagonal, layered_greens

__all__ = ["FermionNetwork"]

_COMPLEX = {torch.complex64: torch.float32, torch.complex128: torch.float64}


def _uniform(shape, bound, dtype, generator, device):
    """Uniform ``U(−b, b)`` for the real and (if complex) imaginary parts independently."""
    real_dtype = _COMPLEX.get(dtype, dtype)
    sample = (torch.rand(shape, generator=generator, dtype=real_dtype) * 2 - 1) * bound
    if dtype.is_complex:
        imag = (torch.rand(shape, generator=generator, dtype=real_dtype) * 2 - 1) * bound
        sample = torch.complex(sample, imag)
    return sample.to(device)


class _Hopping(nn.Module):
    """Hopping matrix ``T`` (``n_in × n_out``) with the non-zero pattern ``(rows, cols)``."""

    def __init__(self, n_in, n_out, rows, cols, bound, dtype, real, generator, device):
        super().__init__()
        self.n_in, self.n_out = n_in, n_out
        self.dense = len(rows) == n_in * n_out
        param_dtype = _COMPLEX[dtype] if real else dtype
        self.complex_dtype = dtype
        if self.dense:
            self.weight = nn.Parameter(_uniform((n_in, n_out), bound, param_dtype, generator, device))
        else:
            self.weight = nn.Parameter(_uniform((len(rows),), bound, param_dtype, generator, device))
            self.register_buffer("rows", torch.as_tensor(rows, device=device), persistent=False)
            self.register_buffer("cols", torch.as_tensor(cols, device=device), persistent=False)

    def matrix(self) -> torch.Tensor:
        weight = self.weight.to(self.complex_dtype)
        if self.dense:
            return weight
        T = weight.new_zeros(self.n_in, self.n_out)
        return T.index_put((self.rows, self.cols), weight)


class _Onsite(nn.Module):
    """Hermitian block ``h = diag(2D) + U + U†`` with ``U`` on the pattern's upper pairs."""

    def __init__(self, n, pattern, bound, dtype, generator, device):
        super().__init__()
        self.n = n
        self.complex_dtype = dtype
        rows, cols = intra_pairs(pattern, n, what=f"intra (layer of {n} sites)")
        self.onsite = nn.Parameter(_uniform((n,), bound, _COMPLEX[dtype], generator, device))
        self.has_hopping = len(rows) > 0
        if self.has_hopping:
            self.hopping = nn.Parameter(_uniform((len(rows),), bound, dtype, generator, device))
            self.register_buffer("rows", torch.as_tensor(rows, device=device), persistent=False)
            self.register_buffer("cols", torch.as_tensor(cols, device=device), persistent=False)

    def matrix(self) -> torch.Tensor:
        h = torch.diag_embed((2 * self.onsite).to(self.complex_dtype))
        if self.has_hopping:
            upper = h.new_zeros(self.n, self.n).index_put((self.rows, self.cols), self.hopping)
            h = h + upper + upper.mH
        return h


def _per_transition(value, count, name, allowed):
    values = [value] * count if isinstance(value, str) else list(value)
    if len(values) != count:
        raise ConfigError(f"{name}: expected a string or {count} entries (one per layer), got {len(values)}")
    for entry in values:
        if entry not in allowed:
            raise ConfigError(f"{name}: expected one of {allowed}, got {entry!r}")
    return values


class FermionNetwork(nn.Module):
    r"""A fermion neural network: a layered tight-binding model read out through ``(z − H)^{-1}``.

    Parameters
    ----------
    sizes : sequence of int
        Sites per layer, input first: ``[784, 100, 64, 10]``.
    connectivity : str or sequence of str
        Inter-layer pattern, ``"dense"``, ``"local"`` or ``"tree"``, per transition (``L``
        entries) or one string. A single ``"local"`` / ``"tree"`` applies to every
        transition but the last, which is dense (the spec's locally connected and tree nets).
    kernels, strides : sequence of int, optional
        Patch size and stride of each ``"local"`` transition, in order (e.g. ``(4, 3)`` and
        ``(2, 2)`` for 784 → 169 → 36).
    intra : str or sequence of str
        Intra-layer hopping of layers ``1 … L``: ``"none"`` (onsite only), ``"dense"``
        (Hermitian), ``"nn1d"``, ``"nnn1d"``, ``"nn2d"``, ``"nnn2d"`` (periodic). A single
        string other than ``"dense"``/``"none"`` leaves the output layer onsite-only.
    encoder : {"hamiltonian", "ldos", "system"}
        How the input enters ``g_0`` (:mod:`qnets.fnn.encoders`).
    readout : {"ldos", "conductance", "landauer"}
        Output observable (:mod:`qnets.fnn.readouts`).
    energy, eta : float
        ``z = energy + i·eta``; ``eta > 0`` (retarded).
    init_bound : float
        ``b = init_bound / √n_{l−1}`` for the uniform initialisation.
    real_hopping : bool
        Real inter-layer hoppings ``T`` (default complex).
    lead_coupling : float
        ``γ_in = γ_out`` of the ``"landauer"`` readout.
    learnable_scale : bool
        Multiply the outputs by a learnable real scalar (a softmax temperature; off in the
        paper's runs).
    dtype : torch.dtype
        ``torch.complex64`` (default) or ``torch.complex128``; outputs are the matching real
        dtype.
    device : torch.device or str, optional
    seed : int or torch.Generator, optional
        Randomness of the initialisation; ``None`` draws from torch's default generator
        (without seeding it).

    Examples
    --------
    >>> net = FermionNetwork([16, 8, 3], eta=0.05, seed=0)
    >>> net(torch.rand(5, 16)).shape
    torch.Size([5, 3])
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        connectivity: str | Sequence[str] = "dense",
        kernels: Sequence[int] | None = None,
        strides: Sequence[int] | None = None,
        intra: str | Sequence[str] = "dense",
        encoder: str = "hamiltonian",
        readout: str = "ldos",
        energy: float = 0.0,
        eta: float = 0.005,
        init_bound: float = 0.1,
        real_hopping: bool = False,
        lead_coupling: float = 1.0,
        learnable_scale: bool = False,
        dtype: torch.dtype = torch.complex64,
        device: torch.device | str | None = None,
        seed: int | torch.Generator | None = None,
    ):
        super().__init__()
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2 or any(n < 1 for n in sizes):
            raise ConfigError(f"sizes: expected ≥ 2 positive layer widths (input first), got {sizes}")
        if dtype not in _COMPLEX:
            raise ConfigError(f"dtype: expected torch.complex64 or torch.complex128, got {dtype}")
        if encoder not in ENCODERS:
            raise ConfigError(f"encoder: expected one of {ENCODERS}, got {encoder!r}")
        if readout not in READOUTS:
            raise ConfigError(f"readout: expected one of {READOUTS}, got {readout!r}")
        if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 0):
            raise ConfigError(f"eta: expected a finite broadening > 0 (retarded z = E + iη), got {eta!r}")
        if not math.isfinite(energy):
            raise ConfigError(f"energy: expected a finite real number, got {energy!r}")
        if not init_bound > 0:
            raise ConfigError(f"init_bound: expected > 0, got {init_bound!r}")
        threshold = 1000 * torch.finfo(_COMPLEX[dtype]).eps
        if eta < threshold:
            warnings.warn(
                f"eta={eta:g} is below {threshold:.2g} for {dtype}: |g| reaches ~1/eta and "
                f"round-off dominates; use dtype=torch.complex128 or a larger eta",
                PrecisionWarning,
                stacklevel=2,
            )
        n_transitions = len(sizes) - 1
        if isinstance(connectivity, str) and connectivity in ("local", "tree"):
            connectivity = [connectivity] * (n_transitions - 1) + ["dense"]
        connectivity = _per_transition(connectivity, n_transitions, "connectivity", INTER_LAYER)
        if isinstance(intra, str) and intra not in ("dense", "none") and intra in INTRA_LAYER:
            intra = [intra] * (n_transitions - 1) + ["none"]
        intra = _per_transition(intra, n_transitions, "intra", INTRA_LAYER)
        n_local = connectivity.count("local")
        kernels, strides = list(kernels or []), list(strides or [])
        if n_local and (len(kernels) != n_local or len(strides) != n_local):
            raise ConfigError(
                f"kernels/strides: {n_local} 'local' transition(s) need {n_local} kernel(s) and "
                f"stride(s), got kernels={kernels}, strides={strides}"
            )

        self.sizes = sizes
        self.connectivity = connectivity
        self.intra = intra
        self.encoder = encoder
        self.readout = readout
        self.energy = float(energy)
        self.eta = float(eta)
        self.lead_coupling = float(lead_coupling)
        self.dtype = dtype
        generator = seed if isinstance(seed, torch.Generator) else None
        if generator is None and seed is not None:
            generator = torch.Generator().manual_seed(int(seed))

        self.hoppings = nn.ModuleList()
        self.blocks = nn.ModuleList()
        local_index = 0
        for layer, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            bound = init_bound / math.sqrt(n_in)
            what = f"connectivity[{layer}] ({n_in} → {n_out})"
            kind = connectivity[layer]
            if kind == "dense":
                rows, cols = dense_pairs(n_in, n_out)
            elif kind == "tree":
                rows, cols = tree_pairs(n_in, n_out, what=what)
            else:
                rows, cols = local_pairs(
                    n_in, n_out, kernels[local_index], strides[local_index], what=what
                )
                local_index += 1
            self.hoppings.append(
                _Hopping(n_in, n_out, rows, cols, bound, dtype, real_hopping, generator, device)
            )
            self.blocks.append(_Onsite(n_out, intra[layer], bound, dtype, generator, device))
        self.scale = nn.Parameter(torch.ones((), dtype=_COMPLEX[dtype], device=device)) if learnable_scale else None

    # ------------------------------------------------------------------ properties
    @property
    def z(self) -> complex:
        """Complex energy ``E + iη``."""
        return complex(self.energy, self.eta)

    @property
    def n_layers(self) -> int:
        """Number of non-input layers ``L``."""
        return len(self.sizes) - 1

    def num_real_parameters(self) -> int:
        """Real degrees of freedom (a complex entry counts twice)."""
        return sum(p.numel() * (2 if p.is_complex() else 1) for p in self.parameters())

    def layer_matrices(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """``([h_1 … h_L], [T_0 … T_{L-1}])`` as dense complex matrices."""
        return [b.matrix() for b in self.blocks], [t.matrix() for t in self.hoppings]

    # ------------------------------------------------------------------ forward
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Input Green's function ``g_0`` of a batch (see :mod:`qnets.fnn.encoders`)."""
        return encode(self.encoder, x, self.z, dtype=self.dtype, n0=self.sizes[0])

    def _input_pattern(self):
        first = self.hoppings[0]
        return None if first.dense else (first.rows, first.cols)

    def forward_greens(self, g0: torch.Tensor) -> torch.Tensor:
        """Outputs from a given input Green's function ``g_0`` (``(B, n0)`` or ``(B, n0, n0)``)."""
        onsite, hoppings = self.layer_matrices()
        pattern = self._input_pattern()
        if self.readout == "ldos":
            result = layered_greens(g0, onsite, hoppings, self.z, input_pattern=pattern)
            out = ldos_readout(result.g_out)
        else:
            gamma = self.lead_coupling
            scale = 1.0
            if self.readout == "landauer":
                g0 = add_input_lead(g0, gamma)
                onsite[-1] = onsite[-1] - 0.5j * gamma * torch.eye(
                    self.sizes[-1], dtype=self.dtype, device=g0.device
                )
                scale = gamma * gamma
            source = torch.ones(1, self.sizes[0], dtype=self.dtype, device=g0.device)
            result = layered_greens(
                g0, onsite, hoppings, self.z, source=source, input_pattern=pattern
            )
            out = conductance_readout(result.g_in_out, scale)
        if self.scale is not None:
            out = out * self.scale
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Real outputs ``(B, n_L)`` (LDOS, conductance or transmission per output site)."""
        return self.forward_greens(self.encode(x))

    # ------------------------------------------------------------------ oracles
    def hamiltonian(self, x: torch.Tensor, *, max_sites: int = 4096) -> torch.Tensor:
        r"""Dense single-particle Hamiltonian of input layer plus network, ``(B, N, N)``.

        The input block is ``diag(x)`` for the ``hamiltonian`` encoder and ``H_sys`` for the
        ``system`` encoder; ``N = Σ_l n_l``. Then ``[(z − H)^{-1}]_{LL}`` equals the
        recursion's ``g_L``. The ``ldos`` encoder has no Hermitian input Hamiltonian (the
        input sites are open reservoirs) and is refused.
        """
        if self.encoder == "ldos":
            raise ConfigError(
                "encoder: hamiltonian() needs a Hermitian input layer ('hamiltonian' or 'system' "
                "encoder); the 'ldos' encoder attaches reservoirs (g_0 = -iπx) and has none"
            )
        total = sum(self.sizes)
        if total > max_sites:
            raise SizeLimitError(
                f"hamiltonian: {total} sites exceed max_sites={max_sites} ({total}² entries per "
                f"sample); use the layer recursion (net(x) / qnets.greens.layered_greens) or raise "
                f"max_sites"
            )
        if self.encoder == "hamiltonian":
            input_block = torch.diag_embed(_flat_sites(x, self.sizes[0]).to(self.dtype))
        else:
            encode("system", x, self.z, dtype=self.dtype, n0=self.sizes[0])  # validates x
            input_block = x.to(self.dtype)
        onsite, hoppings = self.layer_matrices()
        return block_tridiagonal([input_block, *onsite], hoppings)

    def extra_repr(self) -> str:
        return (
            f"sizes={self.sizes}, connectivity={self.connectivity}, intra={self.intra}, "
            f"encoder={self.encoder!r}, readout={self.readout!r}, z={self.z}, dtype={self.dtype}"
        )

    def layer_parameters(self) -> list[list[nn.Parameter]]:
        """Parameters grouped by layer ``l = 1 … L`` (``T_{l−1}`` and ``h_l``), for gradient analysis."""
        return [
            list(hop.parameters()) + list(block.parameters())
            for hop, block in zip(self.hoppings, self.blocks)
        ]
