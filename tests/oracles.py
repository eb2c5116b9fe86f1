"""Exact references shared by the tests: random matrices and finite-difference gradients."""

from __future__ import annotations

import torch

__all__ = ["directional_fd_check", "random_hermitian"]


def random_hermitian(n: int, generator: torch.Generator, *, batch=(), dtype=torch.complex128):
    """A random Hermitian ``(…, n, n)`` matrix with O(1) entries."""
    real = torch.randn(*batch, n, n, generator=generator, dtype=torch.float64)
    imag = torch.randn(*batch, n, n, generator=generator, dtype=torch.float64)
    a = torch.complex(real, imag).to(dtype)
    return (a + a.mH) / 2


def directional_fd_check(loss_fn, params, generator, *, n_directions=3, step=1e-6):
    """Max relative error between autograd/adjoint directional derivatives and central FDs.

    For a random direction ``V`` (complex for complex parameters) the directional
    derivative of a real loss is ``Re Σ conj(grad) · V`` in PyTorch's convention; it is
    compared with ``(L(θ + hV) − L(θ − hV)) / 2h``. Each parameter is probed on its own.
    """
    params = [p.detach().clone().requires_grad_(True) for p in params]
    loss = loss_fn(params)
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    worst = 0.0
    for index, (param, grad) in enumerate(zip(params, grads)):
        for _ in range(n_directions):
            real = torch.randn(param.shape, generator=generator, dtype=torch.float64)
            if param.is_complex():
                imag = torch.randn(param.shape, generator=generator, dtype=torch.float64)
                direction = torch.complex(real, imag).to(param.dtype)
            else:
                direction = real.to(param.dtype)
            analytic = 0.0 if grad is None else (grad.conj() * direction).real.sum().item()

            def shifted(sign, index=index, direction=direction):
                moved = [p.detach() for p in params]
                moved[index] = moved[index] + sign * step * direction
                with torch.no_grad():
                    return loss_fn(moved).item()

            numeric = (shifted(1) - shifted(-1)) / (2 * step)
            scale = max(abs(numeric), abs(analytic), 1e-12)
            worst = max(worst, abs(numeric - analytic) / scale)
    return worst
