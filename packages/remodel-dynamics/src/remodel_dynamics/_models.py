"""Learned dynamics: Hamiltonian (HNN) and Lagrangian (LNN) neural networks and the plain baseline network.

Every model is a :class:`DynamicsModel`: a ``torch.nn.Module`` with a vector field, a one-step map and rollouts,
that turns a :class:`~remodel_dynamics.HamiltonianProblem` into a :class:`remodel_core.TrainingProblem`.
"""

from __future__ import annotations

from typing import Any

import torch
from remodel_core import check_positive
from remodel_core.integrate import SYMPLECTIC_METHODS, hamiltonian_odeint, hamiltonian_vector_field, odeint
from remodel_core.nn import MLP
from torch import nn


def _check_dim(name: str, value: int, even: bool = False) -> int:
    check_positive(name, value, integer=True)
    if even and value % 2:
        raise ValueError(f"{name} must be a positive even integer (2 * dof), got {value!r}")
    return value


def _check_times(t: torch.Tensor) -> float:
    if not isinstance(t, torch.Tensor) or t.ndim != 1 or t.numel() < 2:
        raise ValueError("t must be a 1-d tensor of at least two times")
    steps = torch.diff(t)
    if not bool((steps > 0).all()):
        raise ValueError("t must be strictly increasing")
    return float(steps[0])


def time_tolerance(t: torch.Tensor) -> float:
    """Absolute rounding error of times stored in ``t``'s dtype: 8 ulps of ``max(1, max |t|)``.

    Steps of a uniform grid held in float32 (``HamiltonianProblem.generate(dtype=torch.float32)``,
    ``torch.linspace``) differ by a few ulps of the largest time; comparisons of steps allow this much.
    """
    eps = torch.finfo(t.dtype).eps if t.is_floating_point() else 0.0
    return 8.0 * eps * max(1.0, float(t.detach().abs().max()))


INITS = ("orthogonal", "default")


def _initialise(net: nn.Module, init: str) -> None:
    """Orthogonal weights (as Greydanus et al.'s code; biases keep torch's default), or torch's default.

    Zero biases would make a tanh network odd in its input, a poor start for an even Hamiltonian.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if init == "orthogonal":
        for mod in net.modules():
            if isinstance(mod, nn.Linear):
                nn.init.orthogonal_(mod.weight)


def _param_dtype(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error."""
    return ((a - b) ** 2).mean()


class _DerivativeLoss:
    def __call__(self, model: DynamicsModel, x: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
        return mse(model.time_derivative(x), dx)


class _PairLoss:
    def __init__(self, h: float, method: str | None) -> None:
        self.h, self.method = h, method

    def __call__(self, model: DynamicsModel, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        return mse(model.step(x0, self.h, method=self.method), x1)


class DynamicsModel(nn.Module):
    """Base class of the learned models of ``x' = f(x)`` on states of dimension ``dim``.

    Subclasses set ``dim`` and implement :meth:`time_derivative` (or, for flow maps, :meth:`step`); they get
    one-step maps and rollouts from here. A model is fitted to data through the one entry point
    :meth:`HamiltonianProblem.discretize`, which asks the model (``_training_data``) which data and loss it
    learns from.

    Parameters
    ----------
    *args, **kwargs
        Passed to :class:`torch.nn.Module`; a subclass takes its own parameters and sets ``dim``.

    Examples
    --------
    >>> model = BaselineMLP(2, width=8, depth=1)
    >>> model.rollout(torch.zeros(3, 2), torch.linspace(0, 1, 5)).shape
    torch.Size([3, 5, 2])
    """

    dim: int
    default_method: str = "rk4"
    targets: tuple[str, ...] = ("derivatives", "pairs")

    def _check_state(self, x: torch.Tensor, name: str = "x") -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.dim:
            raise ValueError(f"{name} must have last dimension {self.dim}, got shape {tuple(x.shape)}")

    def _check_initial(self, x0: torch.Tensor) -> None:
        """Rollouts: ``x0`` of the state shape and of the parameters' dtype (no silent cast of either)."""
        self._check_state(x0, "x0")
        p = next(self.parameters(), None)
        if p is not None and x0.dtype != p.dtype:
            raise TypeError(
                f"x0 has dtype {x0.dtype} but the model's parameters are {p.dtype}: cast one to the other "
                f"(e.g. model.to({x0.dtype}) or x0.to({p.dtype}))"
            )

    def time_derivative(self, x: torch.Tensor) -> torch.Tensor:
        """The learned vector field ``f(x)``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.time_derivative(x)

    def step(self, x: torch.Tensor, h: float, method: str | None = None) -> torch.Tensor:
        """One step of size ``h`` of the integrator ``method`` (differentiable)."""
        self._check_state(x)
        t = torch.tensor([0.0, h], dtype=x.dtype, device=x.device)
        return odeint(lambda _t, y: self.time_derivative(y), x, t, method=method or self.default_method)[-1]

    def rollout(
        self, x0: torch.Tensor, t: torch.Tensor, method: str | None = None, dt: float | None = None, **kwargs: Any
    ) -> torch.Tensor:
        """Trajectories from ``x0`` (n, dim) at times ``t``: shape (n, len(t), dim), without gradients.

        ``method`` is the integrator (model default when ``None``); ``dt`` the largest step (default: the spacing
        of ``t``); further keywords go to ``remodel_core.integrate``.
        """
        self._check_initial(x0)
        _check_times(t)
        with torch.no_grad():
            ys = odeint(
                lambda _t, y: self.time_derivative(y),
                x0,
                t.to(x0.dtype),
                method=method or self.default_method,
                dt=dt,
                **kwargs,
            )
        return ys.movedim(0, -2)

    def _training_data(
        self, problem: Any, target: str, method: str | None
    ) -> tuple[tuple[torch.Tensor, ...], Any, str]:
        """The data, loss and name of fitting this model to ``problem``'s data (a ``HamiltonianProblem``)."""
        if target not in self.targets:
            raise ValueError(f"{type(self).__name__} learns from target in {self.targets}, got {target!r}")
        if target == "derivatives":
            return problem.points(), _DerivativeLoss(), f"{type(self).__name__.lower()}-{problem.system.name}-{target}"
        return (
            problem.pairs(),
            _PairLoss(problem.dt, method),
            f"{type(self).__name__.lower()}-{problem.system.name}-{target}",
        )


class BaselineMLP(DynamicsModel):
    """The unstructured baseline: an MLP ``f_theta(x)`` fitted directly to ``x'`` (a neural ODE right-hand side).

    This is the baseline of Greydanus et al. (2019), same width/depth/activation as the HNN.

    Parameters
    ----------
    dim : int
        State dimension.
    width, depth, activation
        The MLP of ``f_theta`` (same as the HNN's: 200 wide, tanh).
    init : {"orthogonal", "default"}
        Orthogonal weights (the authors' code), or torch's default.

    Examples
    --------
    >>> model = BaselineMLP(2, width=16, depth=2)
    >>> model.time_derivative(torch.zeros(5, 2)).shape
    torch.Size([5, 2])
    """

    def __init__(
        self, dim: int, *, width: int = 200, depth: int = 3, activation: str = "tanh", init: str = "orthogonal"
    ) -> None:
        super().__init__()
        self.dim = _check_dim("dim", dim)
        self.net = MLP(dim, dim, width=width, depth=depth, activation=activation)
        _initialise(self.net, init)

    def time_derivative(self, x: torch.Tensor) -> torch.Tensor:
        self._check_state(x)
        return self.net(x)


class HNN(DynamicsModel):
    """Hamiltonian neural network (Greydanus, Dzamba & Yosinski, NeurIPS 2019).

    A scalar network ``H_theta(q, p)``; the vector field is ``(dH/dp, -dH/dq)`` by automatic differentiation,
    so it is exactly divergence-free and conserves ``H_theta``. Rollouts default to the implicit midpoint rule,
    symplectic for the non-separable learned ``H_theta`` (the explicit ``"verlet"`` and ``"yoshida4"`` assume
    ``H = T(p) + V(q)``: on a non-separable ``H`` they are first order, see
    :func:`remodel_core.integrate.hamiltonian_odeint`); the pairs loss takes one implicit-midpoint step
    inside the loss (discrete-time learning, cf. Zhu, Jin & Tang 2020; David & Mehats 2023).

    ``torch.save`` of the whole module works; ``torch.export`` of it does not, since ``forward`` calls
    ``torch.autograd.grad``, which export cannot trace: export the Hamiltonian network ``self.net`` and
    differentiate the exported program instead (docs/export.rst, tests/test_model_export.py).

    Parameters
    ----------
    dim : int
        State dimension ``2 * dof``.
    width, depth, activation
        The MLP of ``H_theta`` (paper: 200 wide, tanh).
    init : {"orthogonal", "default"}
        Orthogonal weights (the authors' code), or torch's default.

    Examples
    --------
    >>> model = HNN(2, width=16, depth=2).double()
    >>> x = torch.randn(4, 2, dtype=torch.float64)
    >>> model.time_derivative(x).shape, model.hamiltonian(x).shape
    (torch.Size([4, 2]), torch.Size([4]))
    """

    default_method = "implicit_midpoint"

    def __init__(
        self, dim: int, *, width: int = 200, depth: int = 3, activation: str = "tanh", init: str = "orthogonal"
    ) -> None:
        super().__init__()
        self.dim = _check_dim("dim", dim, even=True)
        self.dof = dim // 2
        self.net = MLP(dim, 1, width=width, depth=depth, activation=activation)
        _initialise(self.net, init)

    def hamiltonian(self, x: torch.Tensor) -> torch.Tensor:
        """``H_theta(x)`` per sample."""
        self._check_state(x)
        return self.net(x).squeeze(-1)

    def _H_qp(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([q, p], dim=-1)).squeeze(-1)

    def grad_hamiltonian(self, x: torch.Tensor) -> torch.Tensor:
        """``grad H_theta(x)``, differentiable when gradients are enabled."""
        self._check_state(x)
        create = torch.is_grad_enabled()
        with torch.enable_grad():
            xx = x if x.requires_grad else x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.net(xx).sum(), xx, create_graph=create)
        return g

    def time_derivative(self, x: torch.Tensor) -> torch.Tensor:
        g = self.grad_hamiltonian(x)
        return torch.cat([g[..., self.dof :], -g[..., : self.dof]], dim=-1)

    def _grad_H(self) -> Any:
        return hamiltonian_vector_field(self._H_qp, create_graph=torch.is_grad_enabled())

    def step(self, x: torch.Tensor, h: float, method: str | None = None, **kwargs: Any) -> torch.Tensor:
        method = method or self.default_method
        if method not in SYMPLECTIC_METHODS:
            return super().step(x, h, method)
        self._check_state(x)
        t = torch.tensor([0.0, h], dtype=x.dtype, device=x.device)
        qs, ps = hamiltonian_odeint(self._grad_H(), x[..., : self.dof], x[..., self.dof :], t, method=method, **kwargs)
        return torch.cat([qs[-1], ps[-1]], dim=-1)

    def rollout(
        self, x0: torch.Tensor, t: torch.Tensor, method: str | None = None, dt: float | None = None, **kwargs: Any
    ) -> torch.Tensor:
        method = method or self.default_method
        if method not in SYMPLECTIC_METHODS:
            return super().rollout(x0, t, method, dt, **kwargs)
        self._check_initial(x0)
        _check_times(t)
        with torch.no_grad():
            qs, ps = hamiltonian_odeint(
                self._grad_H(), x0[..., : self.dof], x0[..., self.dof :], t.to(x0.dtype), method=method, dt=dt, **kwargs
            )
        return torch.cat([qs, ps], dim=-1).movedim(0, -2)


class LNN(DynamicsModel):
    """Lagrangian neural network (Cranmer, Greydanus, Hoyer, Battaglia, Spergel & Ho, 2020).

    A scalar network ``L_theta(q, v)`` on states ``s = (q, v)``; accelerations follow from the Euler-Lagrange
    equations ``a = (d^2L/dv^2)^{-1} (dL/dq - d^2L/(dv dq) v)`` by automatic differentiation.
    Softplus activations as in the paper (the Hessian must not vanish).

    ``torch.save`` of the whole module works; ``torch.export`` of it does not (``forward`` calls
    ``torch.autograd.grad`` and a linear solve with a data-dependent check): export the Lagrangian network
    ``self.net`` instead (docs/export.rst).

    Parameters
    ----------
    dim : int
        State dimension ``2 * dof`` (positions and velocities).
    width, depth, activation
        The MLP of ``L_theta`` (paper: softplus).
    init : {"orthogonal", "default"}
        Orthogonal weights (the authors' code), or torch's default.

    Examples
    --------
    >>> model = LNN(2, width=16, depth=2).double()
    >>> model.time_derivative(torch.randn(3, 2, dtype=torch.float64)).shape
    torch.Size([3, 2])
    """

    targets = ("derivatives",)

    def __init__(
        self, dim: int, *, width: int = 200, depth: int = 3, activation: str = "softplus", init: str = "default"
    ) -> None:
        super().__init__()
        self.dim = _check_dim("dim", dim, even=True)
        self.dof = dim // 2
        self.net = MLP(dim, 1, width=width, depth=depth, activation=activation)
        _initialise(self.net, init)

    def lagrangian(self, s: torch.Tensor) -> torch.Tensor:
        """``L_theta(q, v)`` per sample."""
        self._check_state(s, "s")
        return self.net(s).squeeze(-1)

    def acceleration(self, s: torch.Tensor) -> torch.Tensor:
        """Accelerations ``a(q, v)`` from the learned Lagrangian (differentiable when gradients are enabled)."""
        self._check_state(s, "s")
        d = self.dof
        create = torch.is_grad_enabled()
        flat = s.reshape(-1, self.dim)
        with torch.enable_grad():
            ss = flat if flat.requires_grad else flat.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.net(ss).sum(), ss, create_graph=True)
            # row i: d(dL/dv_i)/ds = [d^2L/(dv_i dq), d^2L/(dv_i dv)]
            rows = [
                torch.autograd.grad(g[:, d + i].sum(), ss, create_graph=create, retain_graph=True)[0] for i in range(d)
            ]
        hess = torch.stack(rows, dim=1)
        hess_vq, hess_vv = hess[..., :d], hess[..., d:]
        rhs = g[:, :d] - (hess_vq @ flat[:, d:].unsqueeze(-1)).squeeze(-1)
        a, info = torch.linalg.solve_ex(hess_vv, rhs.unsqueeze(-1))
        if bool((info != 0).any()):
            raise RuntimeError(
                "LNN: the Hessian d^2L/dv^2 of the learned Lagrangian is singular at "
                f"{int((info != 0).sum())} state(s); the Euler-Lagrange equations have no solution"
            )
        a = a.squeeze(-1)
        if not create:
            a = a.detach()
        return a.reshape(*s.shape[:-1], d)

    def time_derivative(self, s: torch.Tensor) -> torch.Tensor:
        return torch.cat([s[..., self.dof :], self.acceleration(s)], dim=-1)

    def energy(self, s: torch.Tensor) -> torch.Tensor:
        """The learned energy ``v . dL/dv - L`` (conserved by the exact learned flow)."""
        self._check_state(s, "s")
        with torch.enable_grad():
            ss = s if s.requires_grad else s.detach().requires_grad_(True)
            L = self.net(ss).squeeze(-1)
            (g,) = torch.autograd.grad(L.sum(), ss, create_graph=torch.is_grad_enabled())
        return (s[..., self.dof :] * g[..., self.dof :]).sum(-1) - L

    def _training_data(
        self, problem: Any, target: str, method: str | None
    ) -> tuple[tuple[torch.Tensor, ...], Any, str]:
        if target not in self.targets:
            raise ValueError(f"LNN learns from target in {self.targets}, got {target!r}")
        return problem.lagrangian_points(), _AccelerationLoss(), f"lnn-{problem.system.name}"


class _AccelerationLoss:
    def __call__(self, model: LNN, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return mse(model.acceleration(s), a)
