r"""Encoders: how data enter a fermion network, as the input layer's Green's function ``g_0``.

======================  ===============================  ====================================
name                    input ``x``                      ``g_0``
======================  ===============================  ====================================
``hamiltonian``         ``(B, n0)`` real pixels          ``diag(1 / (z − x_i))``: pixel =
                                                         onsite energy of an isolated site
``ldos``                ``(B, n0)`` real, ``x ≥ 0``      ``diag(−iπ x_i)``: an external LDOS
                                                         field (wide-band reservoir per site)
``system``              ``(B, n0, n0)`` Hamiltonian      ``(z − H_sys)^{-1}`` (dense)
======================  ===============================  ====================================

Images ``(B, H, W)`` are flattened row-major for the diagonal encoders.
"""

from __future__ import annotations

import math

import torch

from qnets.errors import ConfigError, ShapeError
from qnets.greens import _linalg
from qnets.greens.recursion import _all_finite

__all__ = ["ENCODERS", "encode", "encode_hamiltonian", "encode_ldos", "encode_system"]

ENCODERS = ("hamiltonian", "ldos", "system")


def _check_finite(x: torch.Tensor, name: str = "x") -> None:
    if not _all_finite(x):  # one sum first; the full scan only when the sum is not finite
        bad = (~torch.isfinite(x)).nonzero()[0].tolist()
        raise ConfigError(
            f"{name}: expected finite values, got NaN or inf (first at index {tuple(bad)})"
        )


def _flat_sites(x: torch.Tensor, n0: int | None, name: str = "x") -> torch.Tensor:
    if not torch.is_tensor(x):
        raise ShapeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.is_complex():
        raise ShapeError(f"{name}: expected real values (pixels / LDOS), got dtype {x.dtype}")
    if x.dim() < 2:
        raise ShapeError(
            f"{name}: expected a batch of shape (B, n0) or (B, H, W), got shape {tuple(x.shape)}"
        )
    flat = x.reshape(x.shape[0], -1)
    if n0 is not None and flat.shape[1] != n0:
        raise ShapeError(
            f"{name}: the input layer has {n0} sites, but each sample has {flat.shape[1]} values "
            f"(shape {tuple(x.shape)})"
        )
    _check_finite(flat, name)
    return flat


def encode_hamiltonian(x: torch.Tensor, z: complex, *, dtype=torch.complex64, n0=None) -> torch.Tensor:
    r"""``g_0 = diag(1 / (z − x))``: each pixel is the onsite energy of an isolated site.

    Returns the diagonal, ``(B, n0)`` complex of ``dtype``. At ``E = 0``, ``η = 0.005`` a
    black pixel (``x = 0``) is resonant, ``g = −200 i``; a white one gives ``g ≈ −1``.
    """
    flat = _flat_sites(x, n0)
    return 1.0 / (z - flat.to(dtype))


def encode_ldos(x: torch.Tensor, *, dtype=torch.complex64, n0=None) -> torch.Tensor:
    r"""``g_0 = diag(−iπ x)``: input site ``i`` has local density of states ``x_i``.

    Equivalent to a wide-band reservoir with surface LDOS ``x_i`` on each input site; layer
    1 sees the absorbing self-energy ``−iπ T_0† diag(x) T_0``. Requires ``x ≥ 0``.
    """
    flat = _flat_sites(x, n0)
    if (flat < 0).any():
        raise ConfigError(
            f"x: the 'ldos' encoder needs non-negative values (a density of states), got "
            f"minimum {flat.min().item():.4g}"
        )
    return (-1j * math.pi) * flat.to(dtype)


def _real_parts(t: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(t) if t.is_complex() else t.unsqueeze(-1)


def _check_hermitian(h_sys: torch.Tensor, tol: float) -> None:
    """Refuse a batch with ``max |H − H†| > tol · max(max |H|, 1)`` for some sample.

    Fast paths: an exactly Hermitian batch passes after one comparison; otherwise real and
    imaginary parts bound the moduli (``|w| ≤ √2 max(|Re w|, |Im w|)``,
    ``|w| ≥ max(|Re w|, |Im w|)``), which avoids the complex absolute value; the exact
    moduli are computed only when that bound does not already pass.
    """
    with torch.no_grad():
        if torch.equal(h_sys, h_sys.mH):  # exactly Hermitian (datasets built as such): one read
            return
        difference = h_sys - h_sys.transpose(-1, -2).conj()
        screen = _real_parts(difference).abs().amax(dim=(-3, -2, -1))
        scale = _real_parts(h_sys).abs().amax(dim=(-3, -2, -1)).clamp_min(1.0)
        if bool((math.sqrt(2) * screen <= tol * scale).all()):
            return
        deviation = difference.abs().amax(dim=(-1, -2))
        scale = h_sys.abs().amax(dim=(-1, -2)).clamp_min(1.0)
    worst = int(torch.argmax(deviation / scale))
    if float(deviation[worst] / scale[worst]) > tol:
        raise ConfigError(
            f"x: the 'system' encoder needs Hermitian Hamiltonians; sample {worst} has "
            f"max |H − H†| = {float(deviation[worst]):.3g}. For H + Σ with a self-energy, build "
            f"g_0 = (z − H − Σ)^-1 yourself and call net.forward_greens(g_0)"
        )


def encode_system(h_sys: torch.Tensor, z, *, dtype=torch.complex64, n0=None) -> torch.Tensor:
    r"""``g_0 = (z − H_sys)^{-1}`` for a batch of system Hamiltonians ``(B, n0, n0)``.

    ``H_sys`` must be Hermitian (checked to ``1e-6`` relative to its largest entry); ``z``
    may be a scalar or a ``(B,)`` tensor. For a non-Hermitian effective Hamiltonian (e.g.
    ``H_0 + Σ(iω)`` with a DMFT self-energy) build ``g_0`` yourself and call
    :meth:`FermionNetwork.forward_greens`.
    """
    if not torch.is_tensor(h_sys) or h_sys.dim() != 3 or h_sys.shape[1] != h_sys.shape[2]:
        shape = tuple(h_sys.shape) if torch.is_tensor(h_sys) else type(h_sys).__name__
        raise ShapeError(f"x: the 'system' encoder expects Hamiltonians of shape (B, n0, n0), got {shape}")
    if n0 is not None and h_sys.shape[1] != n0:
        raise ShapeError(
            f"x: the input layer has {n0} sites, but the system Hamiltonians are "
            f"{h_sys.shape[1]}×{h_sys.shape[2]}"
        )
    _check_finite(h_sys if not h_sys.is_complex() else torch.view_as_real(h_sys), "x")
    _check_hermitian(h_sys, 1e-6)
    block = -h_sys.to(dtype)  # z − H built in place: no broadcast against a dense identity
    z_t = torch.as_tensor(z, dtype=dtype, device=block.device)
    block.diagonal(dim1=-2, dim2=-1).add_(z_t.view(-1, 1) if z_t.dim() == 1 else z_t)
    return _linalg.inv(block)


def encode(name: str, x: torch.Tensor, z, *, dtype=torch.complex64, n0=None) -> torch.Tensor:
    """Dispatch to the encoder called ``name`` (one of :data:`ENCODERS`)."""
    if name == "hamiltonian":
        return encode_hamiltonian(x, z, dtype=dtype, n0=n0)
    if name == "ldos":
        return encode_ldos(x, dtype=dtype, n0=n0)
    if name == "system":
        return encode_system(x, z, dtype=dtype, n0=n0)
    raise ConfigError(f"encoder: expected one of {ENCODERS}, got {name!r}")
