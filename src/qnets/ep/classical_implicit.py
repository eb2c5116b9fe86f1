r"""Exact equilibrium gradient of a small Hopfield network by implicit differentiation.

Reference (oracle) for :meth:`qnets.ep.HopfieldEP.ep_gradient`. The free fixed point
:math:`s^*(\theta)` of the projected dynamics satisfies :math:`s^* = T(s^*, \theta)`,
:math:`T(s, \theta) = \mathrm{clip}(s - \epsilon\, \nabla_s E(s, \theta), 0, 1)`. By the
implicit function theorem (valid where no unit sits exactly on the edge of becoming
clipped),

.. math::

    \frac{dJ}{d\theta} = \lambda^\top \frac{\partial T}{\partial \theta}
        + \frac{\partial J}{\partial \theta}\Big|_{s^*},
    \qquad (I - \partial T/\partial s)^\top \lambda = \partial J/\partial s,

with :math:`J = \mathrm{mean}_n C(s^*_n, d_n)`. :math:`\nabla_s E` and all Jacobians come
from torch autograd on :meth:`HopfieldEP.energy` and :meth:`HopfieldEP.cost` — a code path
independent of the hand-written relaxation and EP rule. The Jacobian
:math:`\partial T/\partial s` is formed densely, so the batch times the number of dynamic
units is limited by ``max_units``.
"""

from __future__ import annotations

import torch

from qnets.errors import NumericalError, SizeLimitError

__all__ = ["implicit_gradient"]


def implicit_gradient(net, x: torch.Tensor, y, *, steps: int = 5000, tol: float = 1e-10,
                      max_units: int = 4096) -> list[torch.Tensor]:
    r"""Exact :math:`dJ/d\theta` at the free fixed point, in ``net.parameters()`` order.

    Parameters
    ----------
    net : HopfieldEP
    x : Tensor, shape (B, n_0)
    y : Tensor
        Labels ``(B,)`` or targets ``(B, n_out)``.
    steps : int, default 5000
        Free relaxation steps from zero used to find :math:`s^*`.
    tol : float, default 1e-10
        Largest accepted fixed-point residual :math:`\max |T(s) - s|`.
    max_units : int, default 4096
        Size guard on ``B * sum(net.state_sizes)`` (the dense Jacobian is its square).

    Returns
    -------
    list of Tensor
        One gradient per parameter (same shapes and dtype).

    Raises
    ------
    SizeLimitError
        If the dense Jacobian would be too large; use :meth:`HopfieldEP.ep_gradient` with a
        symmetric nudge instead.
    NumericalError
        If the relaxation has not converged to ``tol`` after ``steps`` steps.
    """
    x = net._check_x(x)
    batch = x.shape[0]
    target = net._target(y, batch)
    sizes = net.state_sizes
    total = batch * sum(sizes)
    if total > max_units:
        raise SizeLimitError(
            f"x: batch {batch} x {sum(sizes)} dynamic units = {total} > max_units={max_units} "
            "for the dense implicit Jacobian; use a smaller batch or HopfieldEP.ep_gradient "
            "with estimator='symmetric' and a small beta"
        )
    params = list(net.parameters())
    eps = net.epsilon

    def split(flat: torch.Tensor) -> list[torch.Tensor]:
        return [c.reshape(batch, n) for c, n in zip(flat.split([batch * n for n in sizes]), sizes)]

    def fixed_point_map(flat: torch.Tensor) -> torch.Tensor:
        states = split(flat)
        e = net.energy(x, states).sum()
        grads = torch.autograd.grad(e, states, create_graph=True)
        return torch.cat([(s - eps * g).clamp(0.0, 1.0).reshape(-1) for s, g in zip(states, grads)])

    with torch.no_grad():
        s_star = torch.cat([s.reshape(-1) for s in net.relax(x, steps=steps)])
    s_var = s_star.clone().requires_grad_(True)
    t_val = fixed_point_map(s_var)
    residual = (t_val - s_var).abs().max().item()
    if not residual <= tol:
        raise NumericalError(
            f"steps: the free relaxation has not converged after {steps} steps "
            f"(fixed-point residual {residual:.3e} > tol={tol:.1e}); increase steps"
        )
    jac = torch.autograd.functional.jacobian(fixed_point_map, s_star, vectorize=True)
    s_leaf = s_star.clone().requires_grad_(True)
    loss = net.cost(split(s_leaf), target).mean()
    dj_ds, *dj_dp = torch.autograd.grad(loss, [s_leaf, *params], allow_unused=True)
    eye = torch.eye(total, dtype=jac.dtype, device=jac.device)
    lam = torch.linalg.solve((eye - jac).T, dj_ds)
    dt_dp = torch.autograd.grad(t_val, params, grad_outputs=lam, allow_unused=True)
    out = []
    for p, a, b in zip(params, dt_dp, dj_dp):
        g = torch.zeros_like(p)
        if a is not None:
            g = g + a
        if b is not None:
            g = g + b
        out.append(g.detach())
    return out
