r"""The input layer of a diagonal ``g_0``: ``Σ_b = T† diag(d_b) T`` and its adjoint.

For a diagonal input Green's function (classical encoders) the first layer dominates the
cost: ``Σ_b[a, c] = Σ_i conj(T_ia) d_bi T_ic`` for every sample ``b``. Three strategies:

``sparse``
    for a hopping matrix with few non-zeros per input site (locally connected and tree
    layers): sum over the triples ``(i, a, c)`` with ``T_ia ≠ 0 ≠ T_ic`` only.
``hermitian``
    dense ``T``: with ``d = d_r + i d_i`` (real parts), ``Σ = T† diag(d_r) T + i T† diag(d_i) T``
    is a combination of two Hermitian matrices, so only the upper triangle
    ``K_i[a ≤ c] = conj(T_ia) T_ic`` is needed: one real GEMM ``[d_r; d_i] @ [Re K, Im K]``
    of ``2B × n0 × n1(n1+1)`` real multiply-adds, half of the complex product ``d @ K``.
``batched``
    when ``K`` would not fit in memory: ``(T† diag(d_b)) T`` folded into one GEMM.

The adjoint uses ``P_b = g_1† Ḡ_1 g_1†`` of the first hidden layer:
``T̄[i, a] = Σ_c T_ic M[i, c, a]`` with ``M[i] = Σ_b conj(d_bi) P_b + d_bi P_b†``
``= Σ_b Re d_bi X_b + Im d_bi Z_b``, ``X = P + P†``, ``Z = −i (P − P†)`` (both Hermitian),
and ``ḡ_0[b, i] = Σ_{a c} T_ia P_b[a, c] conj(T_ic)``. In the ``hermitian`` strategy one real
GEMM gives the packed upper triangle ``U_i`` of every ``M[i]``; with ``M = U + U† − diag U``,
``T̄_i[c] = Σ_{a ≤ c} T_ia U_i[a, c] + Σ_{c' > a} conj(U_i[a, c']) T_ic'`` (the second sum
lands in column ``a``), one row of the triangle at a time, without assembling ``M``. Both
GEMMs are written with the long pair dimension as the output's rows (``K^T D^T``,
``parts^T D``): on this CPU (MKL, 2 threads) such tall products run at ≈ 175–195 GFLOP/s
against ≈ 125–145 for the same products with a wide output.
"""

from __future__ import annotations

import torch

__all__: list[str] = []

# Above this many real entries the Hermitian outer-product matrix (n0 × n1(n1+1)) is not
# formed and the batched strategy is used.
_MAX_OUTER_ENTRIES = 2**27
# The sparse strategy is used when the triples are fewer than this fraction of n0·n1².
_SPARSE_FRACTION = 0.25


def _row_pairs(nonzero: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Triples ``(i, a, c)`` with ``nonzero[i, a]`` and ``nonzero[i, c]`` (a boolean mask)."""
    counts = nonzero.sum(1)
    k_max = int(counts.max()) if counts.numel() else 0
    n0 = nonzero.shape[0]
    # columns of each row's non-zeros, padded with -1
    order = torch.sort(nonzero.to(torch.int8), dim=1, descending=True, stable=True).indices
    cols = order[:, :k_max]
    valid = torch.arange(k_max, device=nonzero.device)[None, :] < counts[:, None]
    pair_valid = valid[:, :, None] & valid[:, None, :]
    rows = torch.arange(n0, device=nonzero.device)[:, None, None].expand(n0, k_max, k_max)
    a = cols[:, :, None].expand(n0, k_max, k_max)
    c = cols[:, None, :].expand(n0, k_max, k_max)
    return rows[pair_valid], a[pair_valid], c[pair_valid]


def choose_strategy(T: torch.Tensor, pattern=None) -> tuple[str, tuple | None]:
    """Pick ``sparse`` / ``hermitian`` / ``batched`` for hopping matrix ``T`` (``n0 × n1``).

    ``sparse`` needs a declared non-zero ``pattern`` ``(rows, cols)``: exact zeros of a
    dense ``T`` are never taken as structural (their gradients would be lost).
    """
    n0, n1 = T.shape
    if pattern is not None:
        mask = torch.zeros(n0, n1, dtype=torch.bool, device=T.device)
        mask[pattern[0], pattern[1]] = True
        n_triples = int((mask.sum(1) ** 2).sum())
        if n_triples <= _SPARSE_FRACTION * n0 * n1 * n1:
            return "sparse", _row_pairs(mask)
    if n0 * n1 * (n1 + 1) <= _MAX_OUTER_ENTRIES:
        return "hermitian", None
    return "batched", None


def _upper(n1: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    ua, uc = torch.triu_indices(n1, n1, device=device)
    return ua, uc


def _row_runs(n1: int) -> list[tuple[int, int]]:
    """``(o_a, o_a + n1 − a)`` per row ``a``: row ``a`` of a row-major packed upper triangle
    (the order of ``torch.triu_indices``) is the contiguous run ``packed[..., o_a : o_a + n1 − a]``."""
    runs, start = [], 0
    for a in range(n1):
        runs.append((start, start + n1 - a))
        start += n1 - a
    return runs


def _outer_upper(T: torch.Tensor) -> torch.Tensor:
    """Packed upper triangles ``K_i[a ≤ c] = conj(T_ia) T_ic``, shape ``(n0, n1(n1+1)/2)``.

    One product per row ``a`` written in place: half the work of the full outer product and
    no gather.
    """
    n1 = T.shape[1]
    packed = T.new_empty(T.shape[0], n1 * (n1 + 1) // 2)
    conj = T.conj()
    for a, (lo, hi) in enumerate(_row_runs(n1)):
        torch.mul(conj[:, a : a + 1], T[:, a:], out=packed[:, lo:hi])
    return packed


def _unpack_pair(upper: torch.Tensor, lower: torch.Tensor, n1: int) -> torch.Tensor:
    """``(k, n1, n1)`` matrices from packed values: ``X[a, c] = upper[(a, c)]`` for ``a ≤ c``
    and ``X[c, a] = lower[(a, c)]`` for ``a < c`` (rows and columns of the triangle)."""
    full = upper.new_empty(upper.shape[0], n1, n1)
    for a, (lo, hi) in enumerate(_row_runs(n1)):
        full[:, a, a:] = upper[:, lo:hi]
        full[:, a + 1 :, a] = lower[:, lo + 1 : hi]
    return full


def _hermitian_parts_upper(P: torch.Tensor, n1: int, m: int) -> torch.Tensor:
    """Upper triangles of ``X_b = P_b + P_b†`` and ``Z_b = −i (P_b − P_b†)`` as real parts.

    Returns ``(2B, 2m)``: row ``b`` holds ``Re X_b[k], Im X_b[k]`` interleaved for the pairs
    ``k = (a ≤ c)`` (a GEMM against it gives Re and Im of each pair in adjacent rows), rows
    ``B + b`` the same for ``Z_b``, from one gather of ``P[a, c]`` and ``P[c, a]``:
    ``X = (Re P_ac + Re P_ca) + i(Im P_ac − Im P_ca)``,
    ``Z = (Im P_ac + Im P_ca) + i(Re P_ca − Re P_ac)``.
    """
    batch = P.shape[0]
    ua, uc = _upper(n1, P.device)
    pairs = torch.view_as_real(P).reshape(batch, n1 * n1, 2).index_select(
        1, torch.cat([ua * n1 + uc, uc * n1 + ua])
    )
    upper, lower = pairs[:, :m], pairs[:, m:]
    out = P.real.new_empty(2 * batch, m, 2)
    torch.add(upper[..., 0], lower[..., 0], out=out[:batch, :, 0])
    torch.sub(upper[..., 1], lower[..., 1], out=out[:batch, :, 1])
    torch.add(upper[..., 1], lower[..., 1], out=out[batch:, :, 0])
    torch.sub(lower[..., 0], upper[..., 0], out=out[batch:, :, 1])
    return out.view(2 * batch, 2 * m)


def self_energy(d: torch.Tensor, T: torch.Tensor, strategy: str, pairs) -> torch.Tensor:
    """``Σ_b = T† diag(d_b) T``, shape ``(B, n1, n1)``."""
    batch = d.shape[0]
    n0, n1 = T.shape
    if strategy == "sparse":
        i, a, c = pairs
        k = T[i, a].conj() * T[i, c]
        flat = d.new_zeros(batch, n1 * n1)
        flat.index_add_(1, a * n1 + c, d[:, i] * k)
        return flat.view(batch, n1, n1)
    if strategy == "hermitian":
        m = n1 * (n1 + 1) // 2
        k = torch.view_as_real(_outer_upper(T)).reshape(n0, 2 * m)  # Re K, Im K interleaved
        real = (k.T @ torch.cat([d.real, d.imag], 0).T).view(m, 2, 2 * batch)  # tall GEMM
        r1, r3 = real[:, 0, :batch], real[:, 1, :batch]  # d_r Re K, d_r Im K (pairs × B)
        r4, r2 = real[:, 0, batch:], real[:, 1, batch:]  # d_i Re K, d_i Im K
        # Σ[a, c] (upper) = (r1 − r2) + i(r3 + r4), Σ[c, a] (lower) = (r1 + r2) + i(r4 − r3)
        upper, lower = torch.complex(r1 - r2, r3 + r4), torch.complex(r1 + r2, r4 - r3)
        return _unpack_pair(upper.T, lower.T, n1)
    scaled = (T.mH[None, :, :] * d[:, None, :]).reshape(batch * n1, n0)
    return (scaled @ T).view(batch, n1, n1)


def adjoint(
    d: torch.Tensor, T: torch.Tensor, P: torch.Tensor, strategy: str, pairs, need_g0: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(T̄, ḡ_0)`` of the first layer from ``P_b = g_1† Ḡ_1 g_1†`` (``(B, n1, n1)``)."""
    batch = d.shape[0]
    n0, n1 = T.shape
    flat = P.reshape(batch, n1 * n1)
    grad_g0 = None
    if strategy == "sparse":
        i, a, c = pairs
        d_conj = d[:, i].conj()
        w_ca = (d_conj * flat[:, c * n1 + a]).sum(0)
        p_ac = flat[:, a * n1 + c]
        w_ac = (d_conj * p_ac).sum(0)
        t_bar = torch.zeros_like(T)
        t_bar.index_put_((i, a), T[i, c] * (w_ca + w_ac.conj()), accumulate=True)
        if need_g0:
            weights = T[i, a] * T[i, c].conj()
            grad_g0 = d.new_zeros(batch, n0).index_add_(1, i, p_ac * weights)
        return t_bar, grad_g0
    if strategy == "hermitian":
        m = n1 * (n1 + 1) // 2
        parts = _hermitian_parts_upper(P, n1, m)
        real = (parts.T @ torch.cat([d.real, d.imag], 0)).view(m, 2, n0)  # tall GEMM
        upper = torch.complex(real[:, 0], real[:, 1])  # (m, n0): M_i[a ≤ c] for pair (a, c)
        # M = U + U† − diag U (Hermitian), one triangle row a (pairs (a, c ≥ a)) at a time:
        # column c ≥ a gets T_ia M[a, c]; column a gets Σ_{c > a} conj(M[a, c]) T_ic
        t_rows = T.T.contiguous()  # (n1, n0)
        t_bar_rows = torch.zeros_like(t_rows)
        for a, (lo, hi) in enumerate(_row_runs(n1)):
            row = upper[lo:hi]
            t_bar_rows[a:].addcmul_(row, t_rows[a])
            t_bar_rows[a] += torch.linalg.vecdot(row[1:], t_rows[a + 1 :], dim=0)
        t_bar = t_bar_rows.T
    else:
        TP = T @ P  # (B, n0, n1)
        TPh = T @ P.mH
        t_bar = torch.einsum("bi,bia->ia", d.conj(), TP) + torch.einsum("bi,bia->ia", d, TPh)
    if need_g0:
        grad_g0 = torch.einsum("ia,bac,ic->bi", T, P, T.conj())
    return t_bar, grad_g0
