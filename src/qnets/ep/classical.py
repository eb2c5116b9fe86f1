r"""Classical equilibrium propagation: the layered continuous Hopfield network.

The model of Scellier & Bengio (2017) with the estimators of Laborieux et al. (2021)
(spec ``specs/qep.md`` §7). Layers :math:`s_0 = x` (clamped input), :math:`s_1, \dots,
s_L` with sizes ``sizes = [n_0, ..., n_L]``; weights :math:`W_k` of shape
``(n_k, n_{k+1})`` connect neighbouring layers, biases :math:`b_k` of shape
``(n_{k+1},)`` act on layer :math:`k+1`. The energy of one sample is

.. math::

    E(s) = \tfrac12 \sum_{k \ge 1} \lVert s_k \rVert^2
           - \sum_{k=0}^{L-1} \rho(s_k)^\top W_k\, \rho(s_{k+1})
           - \sum_{k=0}^{L-1} b_k^\top \rho(s_{k+1}),

i.e. :math:`\tfrac12\sum_i s_i^2 - \tfrac12\sum_{i\ne j} W_{ij}\rho(s_i)\rho(s_j) -
\sum_i b_i\rho(s_i)` with a symmetric, layered :math:`W`, and the hard sigmoid
:math:`\rho(s) = \mathrm{clip}(s, 0, 1)`.

Dynamics. As in the authors' code, the states live in the box :math:`[0, 1]` (where
:math:`\rho(s) = s`); a relaxation step is a projected Euler step of
:math:`\dot s = -\partial F/\partial s`,

.. math::

    s \leftarrow \mathrm{clip}\bigl(s - \epsilon\, \partial F / \partial s,\; 0,\; 1\bigr),
    \qquad F = E + \beta\, C,

with :math:`\partial E/\partial s_k = s_k - (\rho(s_{k-1}) W_{k-1} + \rho(s_{k+1}) W_k^\top
+ b_{k-1})` (row vectors) and step ``epsilon`` (default 0.5). All layers update
synchronously. The fixed point is the minimum of :math:`F` on the box.

Costs. ``output="mse"`` (Scellier & Bengio): the last layer is a dynamic layer of
outputs and :math:`C = \tfrac12 \lVert s_L - d \rVert^2` for a one-hot target :math:`d`.
``output="cross_entropy"`` (Laborieux et al.): the last weight is a read-out outside
the energy, logits :math:`z = \rho(s_{L-1}) W_{L-1} + b_{L-1}`, :math:`C = -\sum_c d_c
\log \mathrm{softmax}(z)_c`; the nudge acts on :math:`s_{L-1}` through
:math:`\partial C/\partial s_{L-1} = (p - d) W_{L-1}^\top`.

EP gradient. For the loss :math:`J(\theta) = \mathrm{mean}_n\, C(s^0_n, d_n)` at the
free fixed point :math:`s^0`, with nudged fixed points :math:`s^{\beta}` of :math:`F`,

.. math::

    \hat g = \frac{\partial F/\partial\theta\,(s^{\beta_1}, \beta_1)
                   - \partial F/\partial\theta\,(s^{\beta_2}, \beta_2)}{\beta_1 - \beta_2}
    \;\to\; \frac{dJ}{d\theta},

with :math:`(\beta_1, \beta_2) = (\beta, 0)` (``one_sided``, error :math:`O(\beta)`),
:math:`(\beta, -\beta)` (``symmetric``, :math:`O(\beta^2)`) or :math:`(\sigma\beta, 0)`
with a random sign :math:`\sigma = \pm 1` per call (``random_sign``, unbiased to first
order on average). Here :math:`\partial F/\partial W_k = -\rho(s_k)^\top\rho(s_{k+1})`
and :math:`\partial F/\partial b_k = -\rho(s_{k+1})` (batch means) — the local,
contrastive rule :math:`\Delta W_{ij} \propto \rho(s_i^\beta)\rho(s_j^\beta) -
\rho(s_i^0)\rho(s_j^0)` — and for the cross-entropy read-out
:math:`\partial F/\partial W_{L-1} = \beta\, \rho(s_{L-1})^\top (p - d)`.

References: B. Scellier and Y. Bengio, Front. Comput. Neurosci. 11:24 (2017);
A. Laborieux et al., Front. Neurosci. 15:633674 (2021).
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from qnets.errors import ConfigError, ShapeError

__all__ = ["ESTIMATORS", "OUTPUTS", "EPResult", "HopfieldEP", "hard_sigmoid"]

#: Names accepted by ``HopfieldEP.ep_gradient(estimator=...)``.
ESTIMATORS = ("one_sided", "symmetric", "random_sign")
#: Names accepted by ``HopfieldEP(output=...)``.
OUTPUTS = ("mse", "cross_entropy")

States = list[torch.Tensor]


def hard_sigmoid(s: torch.Tensor) -> torch.Tensor:
    r"""The activation :math:`\rho(s) = \mathrm{clip}(s, 0, 1)` (same shape and dtype)."""
    return s.clamp(0.0, 1.0)


@dataclass
class EPResult:
    """What :meth:`HopfieldEP.ep_gradient` measured on one minibatch.

    Attributes
    ----------
    loss : float
        :math:`J = \\mathrm{mean}_n C(s^0_n, d_n)` at the free fixed point.
    outputs : Tensor, shape (B, n_out)
        Free-phase outputs (output states for ``mse``, logits for ``cross_entropy``).
    free_states : list of Tensor
        Free fixed point :math:`s^0` of the dynamic layers (detached; pass back as
        ``states=`` for persistent relaxation).
    betas : tuple of float
        The two nudges :math:`(\\beta_1, \\beta_2)` of the estimator (``beta_2 = 0`` is
        the free phase).
    gradients : list of Tensor
        The EP estimate for each parameter, in ``model.parameters()`` order (also
        written to ``.grad``).
    """

    loss: float
    outputs: torch.Tensor
    free_states: States
    betas: tuple[float, float]
    gradients: list[torch.Tensor]


def _check_positive_int(name: str, value, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name}: expected an int, got {value!r} ({type(value).__name__})")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else ">= 1"
        raise ConfigError(f"{name}: expected an int {bound}, got {value!r}")
    return int(value)


def _check_positive_real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigError(f"{name}: expected a finite float, got {value!r} ({type(value).__name__})")
    if not value > 0:
        raise ConfigError(f"{name}: expected a float > 0, got {value!r}")
    return float(value)


class HopfieldEP(nn.Module):
    r"""Layered continuous Hopfield network trained by equilibrium propagation.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths ``[n_0, n_1, ..., n_L]``: input, hidden layers, outputs (``L >= 1``;
        ``cross_entropy`` needs at least one hidden layer, ``L >= 2``).
    output : {"mse", "cross_entropy"}, default "mse"
        Cost and output layer (see the module docstring).
    epsilon : float, default 0.5
        Euler step :math:`\epsilon` of the relaxation, in ``(0, 1]``.
    free_steps : int, default 20
        Default number of free-phase steps (``relax``/``ep_gradient``).
    nudged_steps : int, default 4
        Default number of steps of each nudged phase (started from the free fixed point).
    eval_steps : int, default 100
        Steps of the free relaxation from zero used by :meth:`forward`.
    init : {"glorot", "zeros"}, default "glorot"
        Weights :math:`W_k \sim U(-a, a)`, :math:`a = \sqrt{6/(n_k + n_{k+1})}`
        (Glorot & Bengio) or zero; biases start at zero.
    seed : int, optional
        Seed of the initialisation (a private :class:`torch.Generator`; global RNG state
        is neither seeded nor consumed when given).
    dtype : torch.dtype, default torch.float64
        Real floating dtype of parameters and states.
    device : torch.device or str, optional

    Attributes
    ----------
    weights : nn.ParameterList
        :math:`W_k`, shape ``(n_k, n_{k+1})``.
    biases : nn.ParameterList
        :math:`b_k`, shape ``(n_{k+1},)``.
    state_sizes : list of int
        Widths of the dynamic layers: ``sizes[1:]`` (mse) or ``sizes[1:-1]``
        (cross_entropy).

    Examples
    --------
    >>> net = HopfieldEP([64, 32, 10], seed=0)
    >>> x = torch.rand(5, 64, dtype=torch.float64)
    >>> res = net.ep_gradient(x, torch.tensor([0, 1, 2, 3, 4]), beta=0.5)
    >>> net.weights[0].grad.shape
    torch.Size([64, 32])
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        output: str = "mse",
        epsilon: float = 0.5,
        free_steps: int = 20,
        nudged_steps: int = 4,
        eval_steps: int = 100,
        init: str = "glorot",
        seed: int | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
            raise ConfigError(f"sizes: expected a list of layer widths, got {sizes!r}")
        sizes = [_check_positive_int(f"sizes[{i}]", n) for i, n in enumerate(sizes)]
        if output not in OUTPUTS:
            raise ConfigError(f"output: expected one of {OUTPUTS}, got {output!r}")
        minimum = 3 if output == "cross_entropy" else 2
        if len(sizes) < minimum:
            raise ConfigError(
                f"sizes: output={output!r} needs at least {minimum} layers "
                f"(input, {'hidden, ' if minimum == 3 else ''}output), got {sizes!r}"
            )
        epsilon = _check_positive_real("epsilon", epsilon)
        if epsilon > 1:
            raise ConfigError(f"epsilon: expected a step in (0, 1], got {epsilon!r}")
        if init not in ("glorot", "zeros"):
            raise ConfigError(f"init: expected 'glorot' or 'zeros', got {init!r}")
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ConfigError(f"dtype: expected a real floating torch dtype, got {dtype!r}")
        if seed is not None:
            _check_positive_int("seed", seed, allow_zero=True)
        self.sizes = sizes
        self.output = output
        self.epsilon = epsilon
        self.free_steps = _check_positive_int("free_steps", free_steps)
        self.nudged_steps = _check_positive_int("nudged_steps", nudged_steps)
        self.eval_steps = _check_positive_int("eval_steps", eval_steps)
        self.state_sizes = sizes[1:] if output == "mse" else sizes[1:-1]

        gen = torch.Generator()
        if seed is not None:
            gen.manual_seed(int(seed))
        else:
            gen.seed()
        weights, biases = [], []
        for n_in, n_out in itertools.pairwise(sizes):
            w = torch.zeros(n_in, n_out, dtype=torch.float64)
            if init == "glorot":
                bound = math.sqrt(6.0 / (n_in + n_out))
                w = (torch.rand(n_in, n_out, generator=gen, dtype=torch.float64) * 2 - 1) * bound
            weights.append(nn.Parameter(w.to(dtype=dtype, device=device)))
            biases.append(nn.Parameter(torch.zeros(n_out, dtype=dtype, device=device)))
        self.weights = nn.ParameterList(weights)
        self.biases = nn.ParameterList(biases)

    # ----------------------------------------------------------------- helpers

    @property
    def dtype(self) -> torch.dtype:
        return self.weights[0].dtype

    @property
    def device(self) -> torch.device:
        return self.weights[0].device

    def _check_x(self, x) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise ShapeError(f"x: expected a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ShapeError(
                f"x: expected shape (batch, {self.sizes[0]}), got {tuple(x.shape)}"
            )
        if x.shape[0] == 0:
            raise ShapeError("x: expected at least one sample, got an empty batch")
        return x.to(dtype=self.dtype, device=self.device)

    def _target(self, y, batch: int) -> torch.Tensor:
        """One-hot targets ``(B, n_out)`` from labels ``(B,)`` or targets ``(B, n_out)``."""
        n_out = self.sizes[-1]
        if not isinstance(y, torch.Tensor):
            raise ShapeError(f"y: expected a torch.Tensor, got {type(y).__name__}")
        if y.ndim == 1 and not y.is_floating_point():
            if y.shape[0] != batch:
                raise ShapeError(f"y: expected {batch} labels (one per sample of x), got {y.shape[0]}")
            if y.numel() and (int(y.min()) < 0 or int(y.max()) >= n_out):
                raise ShapeError(
                    f"y: labels must lie in [0, {n_out - 1}] (the output layer has {n_out} "
                    f"units), got min {int(y.min())}, max {int(y.max())}"
                )
            return nn.functional.one_hot(y.long(), n_out).to(dtype=self.dtype, device=self.device)
        if y.ndim == 2 and y.shape == (batch, n_out):
            return y.to(dtype=self.dtype, device=self.device)
        raise ShapeError(
            f"y: expected integer labels of shape ({batch},) or targets of shape "
            f"({batch}, {n_out}), got {tuple(y.shape)} ({y.dtype})"
        )

    def _check_states(self, states, batch: int) -> States:
        """Validated copies of ``states`` (detached, model dtype, clipped to the box)."""
        if states is None:
            return self.zero_states(batch)
        return [
            s.detach().to(dtype=self.dtype, device=self.device).clamp(0.0, 1.0)
            for s in self._check_state_shapes(states, batch)
        ]

    def _check_state_shapes(self, states, batch: int) -> States:
        """``states`` as a list after checking the number of layers and their shapes."""
        if not isinstance(states, (list, tuple)) or len(states) != len(self.state_sizes):
            raise ShapeError(
                f"states: expected a list of {len(self.state_sizes)} tensors of shapes "
                f"{[(batch, n) for n in self.state_sizes]}, got {type(states).__name__}"
                f"{'' if not isinstance(states, (list, tuple)) else ' of length ' + str(len(states))}"
            )
        for k, (s, n) in enumerate(zip(states, self.state_sizes)):
            if not isinstance(s, torch.Tensor) or tuple(s.shape) != (batch, n):
                shape = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
                raise ShapeError(f"states[{k}]: expected shape ({batch}, {n}), got {shape}")
        return list(states)

    def zero_states(self, batch: int) -> States:
        """All-zero dynamic states, one ``(batch, n)`` tensor per dynamic layer."""
        return [torch.zeros(batch, n, dtype=self.dtype, device=self.device) for n in self.state_sizes]

    def _logits(self, h_last: torch.Tensor) -> torch.Tensor:
        return hard_sigmoid(h_last) @ self.weights[-1] + self.biases[-1]

    def outputs(self, states: States) -> torch.Tensor:
        """Outputs of a state: the output layer (mse) or read-out logits (cross_entropy)."""
        if self.output == "mse":
            return states[-1]
        return self._logits(states[-1])

    def cost(self, states: States, y) -> torch.Tensor:
        r"""Per-sample cost :math:`C(s, d)`, shape ``(B,)`` (differentiable in ``states``).

        ``y``: integer labels ``(B,)`` or targets ``(B, n_out)`` (one-hot :math:`d`).
        """
        if not isinstance(states, (list, tuple)) or len(states) != len(self.state_sizes):
            raise ShapeError(f"states: expected a list of {len(self.state_sizes)} tensors")
        target = self._target(y, states[-1].shape[0])
        if self.output == "mse":
            return 0.5 * ((states[-1] - target) ** 2).sum(-1)
        logp = torch.log_softmax(self._logits(states[-1]), dim=-1)
        return -(target * logp).sum(-1)

    def energy(self, x: torch.Tensor, states: States) -> torch.Tensor:
        r"""Per-sample Hopfield energy :math:`E(s)` (module docstring), shape ``(B,)``.

        Differentiable in ``states`` and the parameters (autograd); ``states`` are used as
        given (not clipped), shapes ``(B, n)`` for ``n`` in :attr:`state_sizes`.
        """
        x = self._check_x(x)
        states = self._check_state_shapes(states, x.shape[0])
        layers = [x] + list(states)
        n_energy = len(self.state_sizes)  # weights inside the energy
        e = sum(0.5 * (s**2).sum(-1) for s in states)
        for k in range(n_energy):
            rho_next = hard_sigmoid(layers[k + 1])
            e = e - ((hard_sigmoid(layers[k]) @ self.weights[k]) * rho_next).sum(-1)
            e = e - (self.biases[k] * rho_next).sum(-1)
        return e

    def total_energy(self, x: torch.Tensor, states: States, y, beta: float) -> torch.Tensor:
        r"""Per-sample :math:`F = E + \beta C`, shape ``(B,)`` (``beta`` any real)."""
        x = self._check_x(x)
        states = self._check_state_shapes(states, x.shape[0])
        return self.energy(x, states) + float(beta) * self.cost(states, self._target(y, x.shape[0]))

    @torch.no_grad()
    def _drives(self, x_drive: torch.Tensor, states: States, target, beta: float) -> States:
        """``-dF/ds_k + s_k`` for every dynamic layer (the bottom-up + top-down input)."""
        n = len(states)
        drives = []
        for k in range(n):
            below = x_drive if k == 0 else hard_sigmoid(states[k - 1]) @ self.weights[k]
            if k > 0:
                below = below + self.biases[k]
            d = below
            if k + 1 < n:
                d = d + hard_sigmoid(states[k + 1]) @ self.weights[k + 1].T
            drives.append(d)
        if beta != 0.0:
            if self.output == "mse":
                drives[-1] = drives[-1] - beta * (states[-1] - target)
            else:
                p = torch.softmax(self._logits(states[-1]), dim=-1)
                drives[-1] = drives[-1] - beta * ((p - target) @ self.weights[-1].T)
        return drives

    @torch.no_grad()
    def _run(self, x: torch.Tensor, states: States, target, beta: float, steps: int) -> States:
        eps = self.epsilon
        # The clamped input's contribution is constant during relaxation: compute it once.
        x_drive = hard_sigmoid(x) @ self.weights[0] + self.biases[0]
        for _ in range(steps):
            drives = self._drives(x_drive, states, target, beta)
            states = [
                (s + eps * (d - s)).clamp_(0.0, 1.0) for s, d in zip(states, drives)
            ]
        return states

    # ----------------------------------------------------------------- public API

    @torch.no_grad()
    def relax(
        self,
        x: torch.Tensor,
        *,
        states: States | None = None,
        y=None,
        beta: float = 0.0,
        steps: int | None = None,
    ) -> States:
        r"""Relax the states towards the minimum of :math:`F = E + \beta C` on :math:`[0,1]`.

        Parameters
        ----------
        x : Tensor, shape (B, n_0)
            Clamped input.
        states : list of Tensor, optional
            Initial dynamic states, shapes ``(B, n)`` for ``n`` in :attr:`state_sizes`
            (clipped to the box); default all zero.
        y : Tensor, optional
            Labels ``(B,)`` or targets ``(B, n_out)``; required when ``beta != 0``.
        beta : float, default 0.0
            Nudge strength (any sign; 0 is the free phase).
        steps : int, optional
            Number of projected Euler steps; default :attr:`free_steps` when ``beta == 0``,
            else :attr:`nudged_steps`.

        Returns
        -------
        list of Tensor
            The relaxed states (new tensors, ``dtype`` of the model).
        """
        x = self._check_x(x)
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not math.isfinite(beta):
            raise ConfigError(f"beta: expected a finite float, got {beta!r}")
        beta = float(beta)
        if steps is None:
            steps = self.free_steps if beta == 0.0 else self.nudged_steps
        steps = _check_positive_int("steps", steps, allow_zero=True)
        states = self._check_states(states, x.shape[0])
        target = None
        if beta != 0.0:
            if y is None:
                raise ConfigError(f"y: targets are required for a nudged relaxation (beta={beta!r})")
            target = self._target(y, x.shape[0])
        return self._run(x, states, target, beta, steps)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Outputs after a free relaxation from zero (``eval_steps`` steps by default).

        Returns output-layer states (mse) or logits (cross_entropy), shape ``(B, n_out)``;
        the prediction is their argmax.
        """
        steps = self.eval_steps if steps is None else steps
        return self.outputs(self.relax(x, steps=steps))

    @torch.no_grad()
    def _dF_dtheta(self, x: torch.Tensor, states: States, target, beta: float) -> list[torch.Tensor]:
        """Batch-mean :math:`\\partial F/\\partial\\theta` at ``states``, in parameter order."""
        batch = x.shape[0]
        layers = [hard_sigmoid(x)] + [hard_sigmoid(s) for s in states]
        n_energy = len(self.state_sizes)
        dws, dbs = [], []
        for k in range(n_energy):
            dws.append(-(layers[k].T @ layers[k + 1]) / batch)
            dbs.append(-layers[k + 1].mean(0))
        if self.output == "cross_entropy":
            p = torch.softmax(self._logits(states[-1]), dim=-1)
            err = p - target
            dws.append(beta * (layers[-1].T @ err) / batch)
            dbs.append(beta * err.mean(0))
        # parameters() order: all weights, then all biases (ParameterList registration order)
        return dws + dbs

    def ep_gradient(
        self,
        x: torch.Tensor,
        y,
        beta: float = 0.5,
        *,
        estimator: str = "symmetric",
        states: States | None = None,
        free_steps: int | None = None,
        nudged_steps: int | None = None,
        generator: torch.Generator | None = None,
    ) -> EPResult:
        r"""Estimate :math:`dJ/d\theta` by equilibrium propagation and write it to ``.grad``.

        Runs the free phase (``free_steps`` from ``states`` or zero), then one nudged phase
        (``one_sided``, ``random_sign``) or two (``symmetric``), each ``nudged_steps`` long
        and started from the free fixed point, and sets ``p.grad`` of every parameter to the
        estimate (replacing any previous value), so that ``optimizer.step()`` descends
        :math:`J`.

        Parameters
        ----------
        x : Tensor, shape (B, n_0)
        y : Tensor
            Integer labels ``(B,)`` or (one-hot / soft) targets ``(B, n_out)``.
        beta : float, default 0.5
            Nudge strength, ``> 0`` (the sign is set by ``estimator``).
        estimator : {"one_sided", "symmetric", "random_sign"}, default "symmetric"
            ``(beta_1, beta_2)`` = ``(beta, 0)``, ``(beta, -beta)`` or ``(±beta, 0)``.
        states : list of Tensor, optional
            Initial free states (persistent particles); default zero.
        free_steps, nudged_steps : int, optional
            Default :attr:`free_steps`, :attr:`nudged_steps`.
        generator : torch.Generator, optional
            Draws the sign for ``random_sign`` (default: a fresh unseeded generator).

        Returns
        -------
        EPResult

        Raises
        ------
        ConfigError
            For ``beta <= 0``, an unknown estimator or invalid step counts.
        ShapeError
            For inputs, targets or states of the wrong shape.
        """
        if estimator not in ESTIMATORS:
            raise ConfigError(f"estimator: expected one of {ESTIMATORS}, got {estimator!r}")
        beta = _check_positive_real("beta", beta)
        x = self._check_x(x)
        target = self._target(y, x.shape[0])
        free_steps = self.free_steps if free_steps is None else free_steps
        nudged_steps = self.nudged_steps if nudged_steps is None else nudged_steps
        _check_positive_int("free_steps", free_steps, allow_zero=True)
        _check_positive_int("nudged_steps", nudged_steps)
        free = self._run(x, self._check_states(states, x.shape[0]), None, 0.0, free_steps)
        if estimator == "symmetric":
            betas = (beta, -beta)
        elif estimator == "one_sided":
            betas = (beta, 0.0)
        else:
            if generator is None:
                generator = torch.Generator()
                generator.seed()
            sign = 1.0 if torch.randint(0, 2, (1,), generator=generator).item() else -1.0
            betas = (sign * beta, 0.0)
        ends = []
        for b in betas:
            s = free if b == 0.0 else self._run(x, free, target, b, nudged_steps)
            ends.append(self._dF_dtheta(x, s, target, b))
        grads = [(g1 - g2) / (betas[0] - betas[1]) for g1, g2 in zip(*ends)]
        for p, g in zip(self.parameters(), grads):
            p.grad = g.detach().clone()
        with torch.no_grad():
            loss = self.cost(free, target).mean().item()
            outputs = self.outputs(free).detach()
        return EPResult(loss, outputs, [s.detach() for s in free], betas, grads)
