r"""Layered Green's-function recursion with an explicit layer-by-layer adjoint.

A layered network has layers ``l = 0 … L`` with ``n_l`` sites, Hermitian intra-layer
blocks ``h_l`` (``l = 1 … L``) and hoppings ``T_l`` (``n_l × n_{l+1}``) between adjacent
layers, so that its single-particle Hamiltonian is block-tridiagonal:

.. math::

    H = \sum_l c_l^\dagger h_l c_l + \sum_{l=0}^{L-1} (c_l^\dagger T_l c_{l+1} + h.c.)

The input layer enters only through its own retarded Green's function ``g_0`` (the
"encoder"). The left-connected Green's functions obey

.. math::

    g_{l+1} = [z - h_{l+1} - T_l^\dagger g_l T_l]^{-1}, \qquad
    F_{l+1} = F_l T_l g_{l+1}, \quad F_0 = u\, g_0 ,

so that ``g_L`` is exactly the output block ``G_{LL}`` of ``(z - H)^{-1}`` and ``F_L`` is
``u G_{0L}`` for a matrix of source vectors ``u`` (``u = 1`` gives the whole input→output
block). The backward pass is the adjoint recursion (``P_l = g_l^\dagger \bar G_l
g_l^\dagger``; ``\bar h_l = P_l``; ``\bar T_{l-1} = g_{l-1}^\dagger T P_l + g_{l-1} T
P_l^\dagger``; ``\bar G_{l-1} = T P_l T^\dagger``) written with PyTorch's gradient
convention for complex tensors (``dℒ = Re Σ conj(x̄) dx``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import NamedTuple

import torch

from qnets.errors import NumericalError, PrecisionWarning, ShapeError
from qnets.greens import _block_cyclic, _first_layer, _linalg

__all__ = ["LayeredGreens", "layered_greens"]

# Solve block-cyclic tridiagonal first hidden layers block by block (tests switch it off).
_USE_BLOCK_CYCLIC = True


class LayeredGreens(NamedTuple):
    """Result of :func:`layered_greens`.

    Attributes
    ----------
    g_out : torch.Tensor
        ``(B, n_L, n_L)`` output block ``G_{LL}`` of ``(z - H)^{-1}``.
    g_in_out : torch.Tensor or None
        ``(B, k, n_L)`` block ``u G_{0L}`` (``(B, n_0, n_L)``, i.e. ``G_{0L}`` itself, when
        no source was given), or ``None`` when it was not requested.
    """

    g_out: torch.Tensor
    g_in_out: torch.Tensor | None


def _adjoint_left(T: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """``T† X_b`` for every ``b`` (``T``: ``(n, m)``, ``X``: ``(B, n, k)`` → ``(B, m, k)``).

    One ``bmm`` against a stride-0 batch of ``T†``: on CPU ≈ 1.3–1.6× faster than the
    broadcast ``T.mH @ X``, which copies ``X`` into a transposed layout first.
    """
    left = T.mH.resolve_conj()
    return torch.bmm(left.expand(X.shape[0], *left.shape), X)


def _eye_like(batch: int, n: int, ref: torch.Tensor) -> torch.Tensor:
    return torch.eye(n, dtype=ref.dtype, device=ref.device).expand(batch, n, n)


def _all_finite(t: torch.Tensor) -> bool:
    """Whether every entry of ``t`` is finite, by one reduction (NaN and inf propagate into
    the sum); only when the sum is not finite (or overflows) are the entries checked."""
    if bool(torch.isfinite(t.sum())):
        return True
    return bool(torch.isfinite(t).all())


def _via_inverse(n: int, m: int) -> bool:
    """Whether ``A⁻¹ T`` and ``A⁻ᴴ T`` (``T``: ``n × m``) are cheaper through ``g = A⁻¹``.

    Batched triangular solves of small blocks run far below GEMM speed on CPU: measured
    (`benchmarks/fnn_layer_solve.py`: 256 blocks, complex64, 1 thread) two thin solves took
    64 ms vs 49 ms via ``g`` and two ``bmm`` for ``n = m = 64``, but 121 vs 131 ms for
    ``n, m = 100, 64`` and 250 vs 487 ms for ``169, 36``. The crossover is near ``m ≈ 0.8 n``.
    """
    return 5 * m >= 4 * n


class _LayerSolve(NamedTuple):
    right: torch.Tensor  # block⁻¹ rhs (block⁻¹ itself without rhs)
    adjoint: torch.Tensor | None  # block⁻ᴴ rhs
    left: torch.Tensor | None  # row_rhs block⁻¹
    lu: tuple[torch.Tensor, torch.Tensor] | None  # (LU, pivots), possibly in complex128


def _solve_layer_block(
    block: torch.Tensor,
    layer: int,
    rhs: torch.Tensor | None = None,
    *,
    adjoint: bool = False,
    row_rhs: torch.Tensor | None = None,
    keep_lu: bool = False,
) -> _LayerSolve:
    """Solves with a batch of layer blocks ``A = z − h − Σ`` from one LU factorisation.

    Returns ``A⁻¹ rhs`` (the inverse ``g`` when ``rhs`` is None), ``A⁻ᴴ rhs`` (when
    ``adjoint``), ``row_rhs A⁻¹`` (when given) and the factorisation (when ``keep_lu``). If LAPACK reports
    a failure (or, as seen once with MKL's batched complex64 LU on CPU, raises on its own
    pivots) the batch is solved again in complex128 with a
    :class:`~qnets.errors.PrecisionWarning` (the kept factorisation is then complex128); a
    block that is non-finite or singular in complex128 too raises
    :class:`~qnets.errors.NumericalError`.
    """
    if not _all_finite(block):
        finite = torch.isfinite(block).flatten(1).all(1)
        raise NumericalError(
            f"layered_greens: layer {layer + 1} (z − h − T† g T) is non-finite for "
            f"{int((~finite).sum())} of {block.shape[0]} samples; check the parameters and inputs "
            f"for NaN/inf (a diverging training run) or use a larger eta / complex128"
        )
    try:
        lu, pivots, info = _linalg.lu_factor_ex(block)
        if not bool(info.any()):
            if rhs is None or _via_inverse(*rhs.shape):
                g = _linalg.lu_solve(lu, pivots, _eye_like(block.shape[0], block.shape[-1], block))
                right = g if rhs is None else g @ rhs
                adjoint_solution = g.mH @ rhs if adjoint else None
            else:
                right = _linalg.lu_solve(lu, pivots, rhs)
                adjoint_solution = _linalg.lu_solve(lu, pivots, rhs, adjoint=True) if adjoint else None
            result = _LayerSolve(
                right,
                adjoint_solution,
                # row_rhs A⁻¹ = (A⁻ᴴ row_rhs†)†: LAPACK's own transpose, no copy of the factors
                _linalg.lu_solve(lu, pivots, row_rhs.mH, adjoint=True).mH if row_rhs is not None else None,
                (lu, pivots) if keep_lu else None,
            )
            if all(_all_finite(t) for t in result[:3] if t is not None):
                return result
            reason = "non-finite solution"
        else:
            reason = f"LAPACK info ≠ 0 for {int((info != 0).sum())} samples"
    except RuntimeError as error:
        reason = f"LAPACK raised: {str(error).splitlines()[0]}"
    if block.dtype == torch.complex128:
        raise NumericalError(
            f"layered_greens: layer {layer + 1} (z − h − T† g T) is singular for some of "
            f"{block.shape[0]} samples ({reason}); max |entry| = {float(block.abs().max()):.3g}. "
            f"Use a larger eta or check the parameters"
        )
    warnings.warn(
        f"layered_greens: the batched solve of layer {layer + 1} failed in {block.dtype} "
        f"({reason}); recomputed in complex128",
        PrecisionWarning,
        stacklevel=4,
    )
    wide = torch.complex128
    result = _solve_layer_block(
        block.to(wide), layer, rhs.to(wide) if rhs is not None else None, adjoint=adjoint,
        row_rhs=row_rhs.to(wide) if row_rhs is not None else None, keep_lu=keep_lu,
    )
    narrow = [t.to(block.dtype) if t is not None else None for t in result[:3]]
    return _LayerSolve(*narrow, result.lu)


def _structured_first_block(block, h, pairs, rhs, adjoint: bool) -> _LayerSolve | None:
    """``A⁻¹ T_1`` and ``A⁻ᴴ T_1`` of a first hidden layer whose block is block-cyclic
    tridiagonal (a 2-D grid layer fed by local patches, :mod:`._block_cyclic`); None when
    it is not (or the structured solve is not finite: the dense route then decides)."""
    if not _USE_BLOCK_CYCLIC:
        return None
    mask = h != 0
    mask[pairs[1], pairs[2]] = True
    mask.fill_diagonal_(True)
    b = _block_cyclic.block_size(mask)
    if b is None:
        return None
    try:
        factors = _block_cyclic.factor(block, b)
        right = _block_cyclic.solve(factors, rhs)
        left = _block_cyclic.solve(factors, rhs, adjoint=True) if adjoint else None
    except RuntimeError:  # a singular pivot block
        return None
    if not all(_all_finite(t) for t in (right, left) if t is not None):
        return None
    return _LayerSolve(right, left, None, None)


def _lu_row_solve_adjoint(lu: tuple[torch.Tensor, torch.Tensor], rows: torch.Tensor) -> torch.Tensor:
    """``rows A⁻ᴴ`` (i.e. ``rows g†``) from the kept factorisation of ``A``."""
    factors, pivots = lu
    return _linalg.lu_solve(factors, pivots, rows.to(factors.dtype).mH).mH.to(rows.dtype)


class _LayeredGreensFunction(torch.autograd.Function):
    """Forward recursion (§1.3 of the spec) and its explicit adjoint (§1.6).

    A hidden layer's ``g_l`` (``1 ≤ l < L``) enters the recursion only through
    ``X_l = g_l T_l`` and ``Y_l = g_l† T_l`` (both ``n_l × n_{l+1}``): ``Σ_{l+1} = T_l† X_l``,
    ``P_l = Y_l P_{l+1} X_l†`` and ``T̄_l = Σ_b Y_l P_{l+1} + X_l P_{l+1}†``. These layers
    are solved "thin" from one LU factorisation with ``n_{l+1}`` right-hand sides instead of
    being inverted, which saves ``n_l³ − n_l² n_{l+1}`` multiply-adds per sample in the
    forward and ``2 n_l³ + 2 n_l² n_{l+1}`` in the backward (for ``n_{l+1} ≥ 0.8 n_l`` the
    same ``X_l``, ``Y_l`` come from ``g_l`` and two products, faster on CPU:
    :func:`_via_inverse`). With sources,
    ``F_l = (F_{l-1} T_{l-1}) g_l`` is a row solve with the same factors, and the backward
    adds ``F_l† (F̄_l g_l†)`` to ``P_l`` (``F̄_l g_l†`` again a row solve). Only the output
    block ``g_L`` is formed explicitly.
    """

    @staticmethod
    def forward(ctx, z, g0, source, pattern, want_adjoint, n_layers, *params):
        onsite = params[:n_layers]
        hoppings = params[n_layers:]
        diagonal = g0.dim() == 2
        has_source = source is not None
        keep_lu = has_source and want_adjoint
        batch = g0.shape[0]
        greens = [g0]  # g_0, then X_l = g_l T_l for the hidden layers, then g_L
        first_right = []  # X_0 = g_0 T_0 for a dense g_0 (its adjoint uses it)
        adjoints, factors, pivots = [], [], []  # Y_l and the LU of the hidden layers
        sources = None
        if has_source:
            sources = [source * g0[:, None, :] if diagonal else source @ g0]
        strategy = pairs = None
        if diagonal:
            strategy, pairs = _first_layer.choose_strategy(hoppings[0], pattern)
        for layer in range(n_layers):
            T, h = hoppings[layer], onsite[layer]
            n_next = T.shape[1]
            eye = _eye_like(batch, n_next, g0)
            if layer > 0:
                sigma = _adjoint_left(T, greens[-1])
            elif diagonal:
                sigma = _first_layer.self_energy(g0, T, strategy, pairs)
            else:
                first_right.append(g0 @ T)
                sigma = _adjoint_left(T, first_right[0])
            # (z − h) first when it is one matrix for the whole batch: one pass over the
            # (B, n, n) self-energies instead of three
            block = (z * eye[0] - h) - sigma if z.dim() == 0 else z * eye - h - sigma
            row_rhs = sources[-1] @ T if has_source else None
            if layer < n_layers - 1:
                solved = None
                if layer == 0 and strategy == "sparse" and not has_source:
                    solved = _structured_first_block(block, h, pairs, hoppings[1], want_adjoint)
                if solved is None:
                    solved = _solve_layer_block(
                        block, layer, hoppings[layer + 1], adjoint=want_adjoint, row_rhs=row_rhs,
                        keep_lu=keep_lu,
                    )
                greens.append(solved.right)
                adjoints.append(solved.adjoint)
                if keep_lu:
                    factors.append(solved.lu[0])
                    pivots.append(solved.lu[1])
                if has_source:
                    sources.append(solved.left)
            else:
                g = _solve_layer_block(block, layer).right
                greens.append(g)
                if has_source:
                    sources.append(row_rhs @ g)
        ctx.n_layers = n_layers
        ctx.diagonal = diagonal
        ctx.keep_lu = keep_lu
        ctx.strategy, ctx.pairs = strategy, pairs
        ctx.has_source = has_source
        saved_sources = sources[:-1] if has_source else []
        ctx.save_for_backward(source, *first_right, *greens, *adjoints, *factors, *pivots,
                              *saved_sources, *hoppings)
        out_source = sources[-1] if has_source else g.new_zeros(())
        return g, out_source

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_g_out, grad_source_out):
        n_layers, diagonal = ctx.n_layers, ctx.diagonal
        hidden = n_layers - 1
        saved = list(ctx.saved_tensors)
        source = saved.pop(0)
        first_right = None if diagonal else saved.pop(0)
        greens = saved[: n_layers + 1]
        rest = saved[n_layers + 1 :]
        adjoints, rest = [None, *rest[:hidden]], rest[hidden:]  # adjoints[l] = Y_l
        factors = [None] * n_layers
        if ctx.keep_lu:
            for l in range(1, n_layers):
                factors[l] = (rest[l - 1], rest[hidden + l - 1])
            rest = rest[2 * hidden :]
        sources = rest[:n_layers] if ctx.has_source else None
        hoppings = rest[n_layers:] if ctx.has_source else rest
        if hidden and adjoints[1] is None:
            raise RuntimeError("layered_greens: backward through a forward run without gradients")
        needs = ctx.needs_input_grad
        need_g0 = needs[1]
        grad_onsite: list[torch.Tensor | None] = [None] * n_layers
        grad_hoppings: list[torch.Tensor | None] = [None] * n_layers

        batch = greens[0].shape[0]
        n_out = greens[-1].shape[-1]
        g_bar = grad_g_out if grad_g_out is not None else greens[-1].new_zeros(batch, n_out, n_out)
        f_bar = grad_source_out if (ctx.has_source and grad_source_out is not None) else None
        P = None
        for layer in range(n_layers, 0, -1):
            T = hoppings[layer - 1]
            t_bar = torch.zeros_like(T)
            # P_l = g_l† Ḡ_l g_l† (for a hidden layer, Y_l P_{l+1} X_l† came from above)
            if layer == n_layers:
                g = greens[layer]
                if f_bar is not None:  # F_L = F_{L-1} T g_L
                    f_bar_gh = f_bar @ g.mH
                    g_bar = g_bar + (sources[layer - 1] @ T).mH @ f_bar
                P = g.mH @ g_bar @ g.mH
            elif f_bar is not None:  # F_l = F_{l-1} T g_l
                f_bar_gh = _lu_row_solve_adjoint(factors[layer], f_bar)
                P = P + sources[layer].mH @ f_bar_gh
            if f_bar is not None:
                t_bar = t_bar + torch.einsum("bki,bka->ia", sources[layer - 1].conj(), f_bar_gh)
                f_bar = f_bar_gh @ T.mH
            grad_onsite[layer - 1] = P.sum(0)
            if layer > 1:
                X, Y = greens[layer - 1], adjoints[layer - 1]
                YP = Y @ P
                t_bar = t_bar + YP.sum(0) + (X @ P.mH).sum(0)
                P = YP @ X.mH
            elif diagonal:
                t_first, g_bar = _first_layer.adjoint(greens[0], T, P, ctx.strategy, ctx.pairs, need_g0)
                t_bar = t_bar + t_first
            else:
                # T̄ = Σ_b g_0b† T P_b + g_0b T P_b† = G† (T P) + Σ_b X_0b P_b†, with G the
                # (B n0, n0) stack of the g_0b: one GEMM with a long inner dimension
                g0 = greens[0]
                TP = T @ P
                t_bar = t_bar + g0.reshape(-1, g0.shape[-1]).mH @ TP.reshape(-1, TP.shape[-1])
                t_bar = t_bar + (first_right @ P.mH).sum(0)
                if need_g0:
                    g_bar = TP @ T.mH
            grad_hoppings[layer - 1] = t_bar
        grad_g0 = None
        if need_g0:
            grad_g0 = g_bar
            if f_bar is not None:
                if diagonal:
                    grad_g0 = grad_g0 + (source.conj() * f_bar).sum(-2)
                else:
                    grad_g0 = grad_g0 + source.mH @ f_bar
        grads_params = [
            grad if needs[6 + i] else None
            for i, grad in enumerate(grad_onsite + grad_hoppings)
        ]
        return (None, grad_g0, None, None, None, None, *grads_params)


def _as_z(z, batch: int, ref: torch.Tensor) -> torch.Tensor:
    z_t = torch.as_tensor(z, dtype=ref.dtype, device=ref.device)
    if z_t.dim() == 0:
        return z_t
    if z_t.shape != (batch,):
        raise ShapeError(f"z: expected a complex scalar or a tensor of shape ({batch},), got shape {tuple(z_t.shape)}")
    return z_t.view(batch, 1, 1)


def _validate(g0, onsite, hoppings, source):
    if not torch.is_tensor(g0) or not g0.is_complex():
        raise ShapeError(
            f"g0: expected a complex tensor of shape (B, n0) or (B, n0, n0), got "
            f"{type(g0).__name__ if not torch.is_tensor(g0) else g0.dtype}"
        )
    if g0.dim() not in (2, 3) or (g0.dim() == 3 and g0.shape[1] != g0.shape[2]):
        raise ShapeError(f"g0: expected shape (B, n0) or (B, n0, n0), got {tuple(g0.shape)}")
    if len(onsite) != len(hoppings) or len(hoppings) == 0:
        raise ShapeError(
            f"onsite/hoppings: expected one onsite block per hopping (L ≥ 1 each), got "
            f"{len(onsite)} onsite blocks and {len(hoppings)} hoppings"
        )
    n_prev = g0.shape[1]
    for layer, (T, h) in enumerate(zip(hoppings, onsite)):
        if T.dim() != 2 or T.shape[0] != n_prev:
            raise ShapeError(
                f"hoppings[{layer}]: expected shape ({n_prev}, n_{layer + 1}) (rows = sites of "
                f"layer {layer}), got {tuple(T.shape)}"
            )
        n_next = T.shape[1]
        if h.shape != (n_next, n_next):
            raise ShapeError(
                f"onsite[{layer}]: expected shape ({n_next}, {n_next}) for layer {layer + 1}, "
                f"got {tuple(h.shape)}"
            )
        if T.dtype != g0.dtype or h.dtype != g0.dtype:
            raise ShapeError(
                f"hoppings[{layer}]/onsite[{layer}]: expected dtype {g0.dtype} (that of g0), got "
                f"{T.dtype} and {h.dtype}"
            )
        n_prev = n_next
    if source is not None:
        if source.dim() not in (2, 3) or source.shape[-1] != g0.shape[1]:
            raise ShapeError(
                f"source: expected shape (k, {g0.shape[1]}) or (B, k, {g0.shape[1]}), got "
                f"{tuple(source.shape)}"
            )
        if source.dim() == 3 and source.shape[0] != g0.shape[0]:
            raise ShapeError(
                f"source: batch size {source.shape[0]} does not match g0's {g0.shape[0]}"
            )


def layered_greens(
    g0: torch.Tensor,
    onsite: Sequence[torch.Tensor],
    hoppings: Sequence[torch.Tensor],
    z,
    *,
    source: torch.Tensor | None = None,
    return_in_out: bool = False,
    input_pattern: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> LayeredGreens:
    r"""Output block of ``(z - H)^{-1}`` of a layered network, by the layer recursion.

    .. math::

        g_{l+1} = [z - h_{l+1} - T_l^\dagger g_l T_l]^{-1}, \qquad
        F_{l+1} = F_l T_l g_{l+1}, \quad F_0 = u\, g_0

    Parameters
    ----------
    g0 : torch.Tensor
        Green's function of the isolated input layer, complex: ``(B, n0)`` when diagonal
        (classical encoders; the first layer then costs ``O(n0 n1²)``) or ``(B, n0, n0)``
        when dense (a quantum system as input).
    onsite : sequence of torch.Tensor
        ``h_1 … h_L``: intra-layer blocks, ``(n_l, n_l)``, same dtype as ``g0``; Hermitian
        for a closed network, non-Hermitian when they carry lead self-energies (the
        recursion and its adjoint hold for any blocks).
    hoppings : sequence of torch.Tensor
        ``T_0 … T_{L-1}``: hoppings ``(n_l, n_{l+1})`` from layer ``l`` to ``l + 1``.
    z : complex or torch.Tensor
        Complex energy ``E + iη`` (retarded: ``η > 0``); a scalar or a ``(B,)`` tensor.
    source : torch.Tensor, optional
        Source vectors ``u``, ``(k, n0)`` or ``(B, k, n0)``; the result then carries
        ``u G_{0L}`` of shape ``(B, k, n_L)``. E.g. ``u = ones(1, n0)`` gives
        ``Σ_i G_{i o}`` for the conditional conductance.
    return_in_out : bool
        Return the full input→output block ``G_{0L}`` (``(B, n0, n_L)``); implied by
        ``source``.
    input_pattern : (rows, cols) of torch.Tensor, optional
        Declares that ``T_0`` vanishes outside these entries (locally connected or tree
        layers). With a diagonal ``g0`` the first layer then sums over the pattern only,
        and the gradient of ``T_0`` is computed on the pattern (zero elsewhere).

    Returns
    -------
    LayeredGreens
        ``g_out`` ``(B, n_L, n_L)`` and ``g_in_out`` (or ``None``).

    Notes
    -----
    The backward pass is the explicit adjoint of the recursion, one linear-algebra sweep
    from the output back to the input using the stored ``g_l`` (no autograd through
    matrix inverses); gradients flow to ``onsite``, ``hoppings`` and ``g0``.
    The forward costs ``O(Σ_l n_l² n_{l+1} + n_l n_{l+1}² + n_{l+1}³)`` per sample.
    """
    onsite, hoppings = list(onsite), list(hoppings)
    _validate(g0, onsite, hoppings, source)
    batch = g0.shape[0]
    if source is None and return_in_out:
        source = torch.eye(g0.shape[1], dtype=g0.dtype, device=g0.device)
    if source is not None:
        source = source.to(dtype=g0.dtype)
    z_t = _as_z(z, batch, g0)
    want_adjoint = torch.is_grad_enabled() and any(
        t.requires_grad for t in (g0, *onsite, *hoppings)
    )
    g_out, g_in_out = _LayeredGreensFunction.apply(
        z_t, g0, source, input_pattern, want_adjoint, len(onsite), *onsite, *hoppings
    )
    return LayeredGreens(g_out, g_in_out if source is not None else None)
