"""Convolutional arithmetic circuits (ConvACs): product-pooling networks and their overlapping variant.

A ConvAC (spec ``tn.md`` §1.1) maps N input vectors ``rep(i, :) ∈ R^M`` (the representation
layer: one-hot tokens or any feature map) through L hidden layers

    conv_l(j, γ) = ⟨W^{l,j}[:, γ], pool_{l-1}(j, :)⟩              (1 × 1 convolution, r_l channels)
    pool_l(j', γ) = ∏_{j ∈ window(j')} conv_l(j, γ)               (product pooling)

and an output layer ``y = ⟨W^{out}[:, y], pool_{L-1}⟩``.  Every operation is multilinear in
the representation vectors, so ``h_y(x) = Σ_d A^y_{d_1…d_N} ∏_i rep(i, d_i)`` with an
order-N *coefficient tensor* ``A^y`` (the network's "wave function").

:class:`ConvAC` has non-overlapping windows (window 2 in 1-D, 2 × 2 in 2-D by default) and
is a tree tensor network.  :class:`OverlappingConvAC` uses *generalized convolutional*
layers with kernel K and stride s < K (Sharir & Shashua): each output position multiplies
K (1-D) or K² (2-D) linearly mapped input vectors,

    v_l(p, γ) = ∏_{k=0}^{K_eff-1} ⟨W^{l,p,k}[:, γ], v_{l-1}(idx_l(p, k), :)⟩,

so every vector is re-used by several windows ("information re-use", spec §1.2, §1.7).
After the last layer the remaining positions are multiplied together (global product
pooling) and read out by ``W^{out}``.  Such a network is *not* a plain tensor network;
its min-cut bound is computed on the duplicated-input network (:mod:`qnets.tn.mincut`).
With stride = kernel the generalized layer is exactly a ConvAC layer (conv + pooling).

Numerics: every intermediate vector is stored as ``exp(ℓ) · u`` with ``max_γ |u_γ| = 1``
(per sample and position); the log-scales ``ℓ`` add up under products and are detached
from autograd, which is exact because the scale cancels.  :meth:`log_forward` returns
``(sign, log|y|)`` and never overflows; :meth:`forward` returns ``y`` itself.

Input positions in 2-D are ``D × D`` grids indexed row-major (``i = row·D + col``);
inputs are ``(batch, N, M)`` feature vectors or ``(batch, N)`` integer tokens in
``[0, M)`` (one-hot representation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from qnets.errors import ConfigError, ShapeError, SizeLimitError

__all__ = ["MAX_COEFFICIENT_ENTRIES", "ConvAC", "OverlappingConvAC"]

#: Largest coefficient tensor (M^N entries) that :meth:`coefficient_tensor` builds densely.
MAX_COEFFICIENT_ENTRIES = 2**22

_GEOMETRIES = ("1d", "2d")


@dataclass(frozen=True)
class _Layer:
    """Index table of one layer: output position p multiplies inputs ``index[p, :]``."""

    kernel: int
    stride: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    index: np.ndarray  # (P_out, K_eff) int64, row-major flattened input positions


def _check_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name}: expected an integer ≥ {minimum}, got {value!r}")
    return int(value)


def _grid_shape(n_inputs: int, geometry: str) -> tuple[int, ...]:
    if geometry not in _GEOMETRIES:
        raise ConfigError(f"geometry: expected one of {_GEOMETRIES}, got {geometry!r}")
    if geometry == "1d":
        return (n_inputs,)
    side = math.isqrt(n_inputs)
    if side * side != n_inputs:
        raise ConfigError(f"n_inputs: geometry '2d' needs a square number of inputs (D × D), got {n_inputs}")
    return (side, side)


def _build_layers(
    n_inputs: int, geometry: str, kernels: Sequence[int], strides: Sequence[int], what: str
) -> tuple[_Layer, ...]:
    """Index tables of windows ``kernel`` / ``stride`` per layer (per dimension in 2-D)."""
    shape = _grid_shape(n_inputs, geometry)
    layers = []
    for level, (kernel, stride) in enumerate(zip(kernels, strides)):
        size = shape[0]
        if size < kernel or (size - kernel) % stride:
            raise ConfigError(
                f"{what}: layer {level} sees {size} positions per dimension, which windows of "
                f"size {kernel} with stride {stride} do not tile (need size ≥ kernel and "
                f"(size − kernel) divisible by stride); n_inputs={n_inputs}, geometry={geometry!r}"
            )
        out = (size - kernel) // stride + 1
        if geometry == "1d":
            p = np.arange(out)[:, None]
            k = np.arange(kernel)[None, :]
            index = p * stride + k
            out_shape: tuple[int, ...] = (out,)
        else:
            pi, pj = np.divmod(np.arange(out * out), out)
            ki, kj = np.divmod(np.arange(kernel * kernel), kernel)
            rows = pi[:, None] * stride + ki[None, :]
            cols = pj[:, None] * stride + kj[None, :]
            index = rows * size + cols
            out_shape = (out, out)
        layers.append(_Layer(kernel, stride, shape, out_shape, index.astype(np.int64)))
        shape = out_shape
    return tuple(layers)


def _renormalise(u: torch.Tensor, ell: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Divide ``u`` (…, C) by its max-abs over channels (detached); add the log to ``ell``."""
    scale = u.detach().abs().amax(dim=-1)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return u / scale.unsqueeze(-1), ell + torch.log(scale)


def _product_over_positions(u: torch.Tensor, ell: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Multiply ``u`` (B, P, C) over positions by pairwise reduction with renormalisation."""
    while u.shape[1] > 1:
        if u.shape[1] % 2:
            carry_u, carry_ell = u[:, -1:], ell[:, -1:]
            u, ell = u[:, :-1], ell[:, :-1]
        else:
            carry_u = carry_ell = None
        u = u[:, 0::2] * u[:, 1::2]
        ell = ell[:, 0::2] + ell[:, 1::2]
        u, ell = _renormalise(u, ell)
        if carry_u is not None:
            u = torch.cat([u, carry_u], dim=1)
            ell = torch.cat([ell, carry_ell], dim=1)
    return u[:, 0], ell[:, 0]


def _initial_weights(shape, init: str, init_std, generator) -> torch.Tensor:
    """Gaussian ``N(0, std²)`` (std = ``init_std`` or ``1/sqrt(fan_in)``) or scaled Haar-orthogonal.

    ``"orthogonal"``: every ``fan_in × fan_out`` block is the top-left corner of a random
    orthogonal matrix of size ``max(fan_in, fan_out)`` (orthonormal rows or columns) times
    ``init_std`` (default 1).  Its coefficient tensors are far better conditioned than
    Gaussian ones (singular values over a few decades instead of > 10).
    """
    fan_in, fan_out = shape[-2], shape[-1]
    if init == "normal":
        std = init_std if init_std is not None else 1.0 / math.sqrt(fan_in)
        return torch.randn(*shape, generator=generator, dtype=torch.float64) * std
    size = max(fan_in, fan_out)
    blocks = torch.randn(math.prod(shape[:-2]), size, size, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(blocks)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)  # Haar measure
    gain = init_std if init_std is not None else 1.0
    return (q[:, :fan_in, :fan_out] * gain).reshape(shape)


class _ProductCircuit(nn.Module):
    """Shared machinery of :class:`ConvAC` and :class:`OverlappingConvAC`."""

    geometry: str
    layers: tuple[_Layer, ...]

    def _setup(
        self,
        n_inputs,
        in_features,
        widths,
        geometry,
        kernels,
        strides,
        n_outputs,
        shared_kernel: bool | None,
        init,
        init_std,
        dtype,
        device,
        seed,
    ) -> None:
        """Validate and build the weights.

        ``shared_kernel``: ``None`` one matrix per (output position, window offset)
        (locally connected); ``False`` one matrix per layer (ConvAC 1 × 1 convolution);
        ``True`` one matrix per window offset (a convolution kernel).
        """
        self.n_inputs = _check_int("n_inputs", n_inputs)
        self.in_features = _check_int("in_features", in_features)
        self.n_outputs = _check_int("n_outputs", n_outputs)
        _n_layers(widths)
        self.widths = tuple(_check_int(f"widths[{i}]", w) for i, w in enumerate(widths))
        self.geometry = geometry
        self.layers = _build_layers(self.n_inputs, geometry, kernels, strides, type(self).__name__)
        if dtype not in (torch.float32, torch.float64):
            raise ConfigError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
        if init_std is not None and not (isinstance(init_std, (int, float)) and init_std > 0):
            raise ConfigError(f"init_std: expected a positive number or None, got {init_std!r}")
        if init not in ("normal", "orthogonal"):
            raise ConfigError(f"init: expected 'normal' or 'orthogonal', got {init!r}")
        self.shared = shared_kernel is not None
        generator = torch.Generator().manual_seed(int(seed))
        weights = []
        fan_in = self.in_features
        for layer, width in zip(self.layers, self.widths):
            positions = 1 if self.shared else layer.index.shape[0]
            offsets = 1 if shared_kernel is False else layer.index.shape[1]
            w = _initial_weights((positions, offsets, fan_in, width), init, init_std, generator)
            weights.append(nn.Parameter(w.to(device=device, dtype=dtype)))
            fan_in = width
        self.weights = nn.ParameterList(weights)
        w_out = _initial_weights((fan_in, self.n_outputs), init, init_std, generator)
        self.output_weight = nn.Parameter(w_out.to(device=device, dtype=dtype))

    # ------------------------------------------------------------------ input
    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """Validate ``x`` and return representation vectors (B, N, M) in the model dtype."""
        dtype, device = self.output_weight.dtype, self.output_weight.device
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(x)
        n, m = self.n_inputs, self.in_features
        if x.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
            if x.dim() != 2 or x.shape[1] != n:
                raise ShapeError(f"x: integer tokens must have shape (batch, {n}), got {tuple(x.shape)}")
            if x.numel() and (int(x.min()) < 0 or int(x.max()) >= m):
                raise ShapeError(
                    f"x: tokens must lie in [0, in_features={m}), got values in [{int(x.min())}, {int(x.max())}]"
                )
            return torch.nn.functional.one_hot(x.long().to(device), m).to(dtype)
        if x.dim() != 3 or x.shape[1] != n or x.shape[2] != m:
            raise ShapeError(
                f"x: expected feature vectors of shape (batch, n_inputs={n}, in_features={m}) "
                f"or integer tokens (batch, {n}), got {tuple(x.shape)}"
            )
        return x.to(device=device, dtype=dtype)

    # ---------------------------------------------------------------- forward
    def _log_scaled(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``y = y_scaled · exp(ell)``: returns ``(y_scaled (B, Y), ell (B,))``."""
        u = self._features(x)
        u, ell = _renormalise(u, torch.zeros(u.shape[:2], dtype=u.dtype, device=u.device))
        for layer, weight in zip(self.layers, self.weights):
            index = torch.as_tensor(layer.index, device=u.device)
            gathered = u[:, index]  # (B, P_out, K_eff, C)
            w = weight.expand(index.shape[0], index.shape[1], *weight.shape[2:])
            z = torch.einsum("bpkc,pkcr->bpkr", gathered, w)
            u = z.prod(dim=2)
            ell = ell[:, index].sum(dim=2)
            u, ell = _renormalise(u, ell)
        u, ell = _product_over_positions(u, ell)
        return u @ self.output_weight, ell

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Network outputs ``h_y(x)``.

        Parameters
        ----------
        x : torch.Tensor
            ``(batch, n_inputs, in_features)`` representation vectors (float), or
            ``(batch, n_inputs)`` integer tokens in ``[0, in_features)`` (one-hot).

        Returns
        -------
        torch.Tensor
            ``(batch, n_outputs)`` in the model dtype (may overflow to ±inf for very deep or
            wide networks with large weights; :meth:`log_forward` does not).
        """
        y, ell = self._log_scaled(x)
        return y * torch.exp(ell).unsqueeze(-1)

    def log_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(sign, log|h_y(x)|)``, each ``(batch, n_outputs)``; ``log 0 = -inf``."""
        y, ell = self._log_scaled(x)
        return torch.sign(y), torch.log(y.abs()) + ell.unsqueeze(-1)

    # ------------------------------------------------------------- analysis
    def num_parameters(self) -> int:
        """Number of real parameters (weights of every layer and of the output)."""
        return sum(p.numel() for p in self.parameters())

    def _check_coefficient_size(self) -> None:
        entries = self.in_features**self.n_inputs
        if entries > MAX_COEFFICIENT_ENTRIES:
            raise SizeLimitError(
                f"coefficient tensor: in_features**n_inputs = {self.in_features}**{self.n_inputs} = "
                f"{entries} entries exceeds the dense limit {MAX_COEFFICIENT_ENTRIES}; use "
                f"qnets.tn.mincut_bound for the rank ceiling of large networks"
            )

    def _check_output(self, output: int) -> int:
        if isinstance(output, bool) or not isinstance(output, (int, np.integer)) or not 0 <= output < self.n_outputs:
            raise ConfigError(f"output: expected an integer in [0, n_outputs={self.n_outputs}), got {output!r}")
        return int(output)

    @torch.no_grad()
    def grid_tensor(self, output: int = 0, *, batch_size: int = 8192) -> torch.Tensor:
        """The network on all ``M^N`` one-hot inputs: ``T[d_1, …, d_N] = h_y(e_{d_1}, …, e_{d_N})``.

        For a multilinear network (:class:`ConvAC`) this equals the coefficient tensor; for
        the overlapping variant it is the coefficient tensor of the function restricted to
        one-hot (discrete) inputs.  Shape ``(M,) * N``, model dtype.
        """
        output = self._check_output(output)
        self._check_coefficient_size()
        m, n = self.in_features, self.n_inputs
        total = m**n
        device = self.output_weight.device
        values = []
        powers = m ** torch.arange(n - 1, -1, -1, device=device)
        for start in range(0, total, batch_size):
            flat = torch.arange(start, min(start + batch_size, total), device=device)
            tokens = (flat[:, None] // powers[None, :]) % m
            values.append(self.forward(tokens)[:, output])
        return torch.cat(values).reshape((m,) * n)

    def coefficient_tensor(self, output: int = 0) -> torch.Tensor:
        """Coefficient tensor ``A^y`` of shape ``(M,) * N`` (modes in input order).

        The overlapping variant has no multilinear coefficient tensor for general
        representation functions; this returns its :meth:`grid_tensor` (one-hot inputs).
        """
        return self.grid_tensor(output)

    def extra_repr(self) -> str:
        return (
            f"n_inputs={self.n_inputs}, in_features={self.in_features}, widths={self.widths}, "
            f"geometry={self.geometry!r}, kernels={tuple(l.kernel for l in self.layers)}, "
            f"strides={tuple(l.stride for l in self.layers)}, n_outputs={self.n_outputs}, shared={self.shared}"
        )


def _n_layers(widths) -> int:
    """Number of layers L = len(widths); a clear error for anything but a non-empty sequence."""
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence) or len(widths) == 0:
        raise ConfigError(f"widths: expected a non-empty sequence of channel counts, got {widths!r}")
    return len(widths)


def _per_layer(name: str, value, n_layers: int) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (_check_int(name, value),) * n_layers
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) == n_layers:
        return tuple(_check_int(f"{name}[{i}]", v) for i, v in enumerate(value))
    raise ConfigError(f"{name}: expected an integer or a list of {n_layers} integers (one per layer), got {value!r}")


class ConvAC(_ProductCircuit):
    """Convolutional arithmetic circuit with non-overlapping product pooling (a tree tensor network).

    Parameters
    ----------
    n_inputs : int
        Number of input positions N (``D × D`` row-major grid in 2-D).
    in_features : int
        Representation size M (one-hot alphabet size for integer inputs).
    widths : sequence of int
        Channels ``(r_0, …, r_{L-1})`` of the L hidden layers; after layer L−1's pooling
        one position remains, so ``N = ∏_l pooling_l`` (1-D) or ``(∏_l pooling_l)²`` (2-D).
    geometry : {"1d", "2d"}
        Pooling windows of ``w`` consecutive positions (1-D) or ``w × w`` blocks (2-D).
    pooling : int or sequence of int
        Window size per layer (per dimension), default 2 (binary tree / quad tree).
    n_outputs : int
        Number of outputs y (classes); each has its own coefficient tensor ``A^y``.
    shared : bool
        One 1 × 1 convolution per layer (convolutional) instead of one weight matrix per
        position (locally connected, the default; the theory covers both).
    init : {"normal", "orthogonal"}
        Initial weights: Gaussian, or scaled random orthogonal blocks (better-conditioned
        coefficient tensors; see ``_initial_weights``).
    init_std : float, optional
        Standard deviation of the Gaussian weights (default ``1/sqrt(fan_in)``), or the
        gain of the orthogonal ones (default 1).
    dtype, device, seed
        Parameter dtype (float64 default, or float32), device, and the seed of the
        initial weights (a private generator; global RNG state is untouched).

    Notes
    -----
    Weights: layer l holds ``(P_l, w_l, r_{l-1}, r_l)`` (unshared; ``P_l`` output positions,
    ``w_l`` window positions, ``r_{-1} = M``) or ``(1, 1, r_{l-1}, r_l)`` (shared); the
    output weight is ``(r_{L-1}, n_outputs)``.  Parameter count (unshared)
    ``Σ_l N_l r_{l-1} r_l + r_{L-1}·Y`` with ``N_l`` the input positions of layer l.
    """

    def __init__(
        self,
        n_inputs: int,
        in_features: int,
        widths: Sequence[int],
        geometry: str = "1d",
        pooling: int | Sequence[int] = 2,
        *,
        n_outputs: int = 1,
        shared: bool = False,
        init: str = "normal",
        init_std: float | None = None,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
        seed: int = 0,
    ):
        super().__init__()
        n_layers = _n_layers(widths)
        windows = _per_layer("pooling", pooling, n_layers)
        n_inputs = _check_int("n_inputs", n_inputs)
        shape = _grid_shape(n_inputs, geometry)
        if math.prod(windows) != shape[0]:
            need = math.prod(windows) ** len(shape)
            raise ConfigError(
                f"widths: {n_layers} layers with pooling windows {windows} cover "
                f"{need} inputs in geometry {geometry!r}, but n_inputs={n_inputs}; give one width per "
                f"pooling layer so that the last pooling leaves a single position"
            )
        self.pooling = windows
        self._setup(
            n_inputs, in_features, widths, geometry, windows, windows, n_outputs,
            False if shared else None, init, init_std, dtype, device, seed,
        )

    @torch.no_grad()
    def coefficient_tensor(self, output: int = 0) -> torch.Tensor:
        """Coefficient tensor ``A^y`` by contracting the tree tensor network (spec §1.2).

        Each position starts as the identity ``M × M`` (representation leg, open mode);
        per layer the tensors are multiplied by their weight matrix and the window's
        children are merged by product pooling, ``P[a…, b…, γ] = T_1[a…, γ]·T_2[b…, γ]``
        (a δ tensor); the root is contracted with ``W^{out}[:, y]``.

        Returns
        -------
        torch.Tensor
            Shape ``(M,) * N`` (modes in input order, row-major in 2-D), model dtype.
        """
        output = self._check_output(output)
        self._check_coefficient_size()
        m = self.in_features
        eye = torch.eye(m, dtype=self.output_weight.dtype, device=self.output_weight.device)
        tensors = [eye] * self.n_inputs  # each (M^{|modes|}, channels)
        modes: list[list[int]] = [[i] for i in range(self.n_inputs)]
        for layer, weight in zip(self.layers, self.weights):
            new_tensors, new_modes = [], []
            for p, children in enumerate(layer.index):
                merged, merged_modes = None, []
                for k, child in enumerate(children):
                    w = weight[0 if self.shared else p, 0 if self.shared else k]
                    t = tensors[child] @ w
                    merged = t if merged is None else (merged[:, None, :] * t[None, :, :]).reshape(-1, t.shape[1])
                    merged_modes += modes[child]
                new_tensors.append(merged)
                new_modes.append(merged_modes)
            tensors, modes = new_tensors, new_modes
        flat = tensors[0] @ self.output_weight[:, output]
        tensor = flat.reshape((m,) * self.n_inputs)
        return tensor.permute(*np.argsort(modes[0]).tolist()).contiguous()


class OverlappingConvAC(_ProductCircuit):
    """ConvAC with overlapping windows (stride < kernel): information re-use, duplicated inputs.

    Parameters
    ----------
    n_inputs, in_features, widths, geometry, n_outputs, init, init_std, dtype, device, seed
        As in :class:`ConvAC`; ``widths`` gives the channels of the L generalized
        convolutional layers.
    kernel : int or sequence of int
        Window size K per layer (K × K in 2-D), default 2.
    stride : int or sequence of int
        Stride per layer, default 1 (each vector is re-used by up to K^d windows).
    shared : bool
        Weights ``W^{l,k}`` shared over output positions (a convolution kernel; one matrix
        per window offset k) instead of one matrix per (position, offset).

    Notes
    -----
    Layer l maps ``(P_{l-1}, r_{l-1})`` to ``(P_l, r_l)`` positions × channels with
    ``P_l = (P_{l-1} − K)/s + 1`` per dimension ("valid" windows); the remaining positions
    are multiplied together and read out by ``W^{out}`` (global product pooling).  With
    ``kernel = stride`` this is a :class:`ConvAC`.  As a tensor network, every re-used
    vector needs its own copy of the sub-network below it (PRL App. A, no cloning); the
    rank ceiling across a partition is the min-cut of that duplicated-input network
    (:func:`qnets.tn.mincut_bound`).
    """

    def __init__(
        self,
        n_inputs: int,
        in_features: int,
        widths: Sequence[int],
        geometry: str = "1d",
        kernel: int | Sequence[int] = 2,
        stride: int | Sequence[int] = 1,
        *,
        n_outputs: int = 1,
        shared: bool = False,
        init: str = "normal",
        init_std: float | None = None,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
        seed: int = 0,
    ):
        super().__init__()
        n_layers = _n_layers(widths)
        kernels = _per_layer("kernel", kernel, n_layers)
        strides = _per_layer("stride", stride, n_layers)
        self.kernel, self.stride = kernels, strides
        self._setup(
            n_inputs, in_features, widths, geometry, kernels, strides, n_outputs,
            True if shared else None, init, init_std, dtype, device, seed,
        )
