"""Derivatives of a network's output with respect to its inputs, by three routes.

The PDE residuals need the value ``u``, the gradient ``du/dx_k`` and some diagonal second derivatives
``d2u/dx_i^2`` at every collocation point, and the loss then needs the gradient of everything with
respect to the network's parameters. Three routes compute the same numbers:

``"autograd"``
    nested :func:`torch.autograd.grad` with ``create_graph=True`` (the textbook PINN route,
    Raissi, Perdikaris & Karniadakis 2019).
``"func"``
    :mod:`torch.func` forward-over-reverse: the input gradient by ``torch.func.grad`` and each Hessian
    column by a ``torch.func.jvp`` of it, several columns at once with ``torch.func.vmap``.
``"taylor"``
    value, gradient and second derivatives propagated forward through the layers by hand (Taylor-mode
    forward differentiation, Griewank & Walther 2008, ch. 13), for :class:`~remodel_core.nn.MLP` and
    :class:`~remodel_core.nn.ResNetMLP` networks with tanh, sin, softplus, SiLU or GELU activations; the input
    derivatives are stacked as extra rows of every matrix product, so one backward pass gives the parameter
    gradient.

The input points are constants of the loss: no gradient with respect to ``x`` flows out of the
``"func"`` and ``"taylor"`` routes. The ``"autograd"`` and ``"func"`` routes assume the network maps rows
independently (no batch normalisation).

``"auto"`` picks ``"taylor"`` when the network supports it and ``"autograd"`` otherwise, by measurement
(``tools/bench/pinn_derivatives.py``; Burgers, 8x20 tanh ResNetMLP, 10,000 points, float64, on the shared
two-core machine under a load average of 9-17): with one thread ``"taylor"`` and ``"autograd"`` cost the
same (CPU 0.090 vs 0.095 s, equal minimum wall time), ``"func"`` about 40 % more; with two threads
``"taylor"`` needed half the CPU time and half the median wall time of ``"autograd"`` (fewer, larger
operations, so fewer thread synchronisations; equal minima); on Klein–Gordon (two second derivatives)
``"taylor"`` was 11 % faster with one thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import nn

from ._taylor import taylor_derivatives, taylor_supported

ROUTES = ("auto", "autograd", "func", "taylor")


@dataclasses.dataclass(frozen=True)
class Derivatives:
    """Value and input derivatives of a scalar network output at ``n`` points.

    Parameters
    ----------
    u : torch.Tensor
        Values, shape ``[n]``.
    grad : torch.Tensor
        ``du/dx_k``, shape ``[n, d]``.
    second : dict of int to torch.Tensor
        ``d2u/dx_i^2`` for the requested ``i``, each of shape ``[n]``.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    >>> d = derivatives(net, torch.rand(5, 2, dtype=torch.float64), second=(0,))
    >>> d.u.shape, d.dx(1).shape, d.dxx(0).shape
    (torch.Size([5]), torch.Size([5]), torch.Size([5]))
    """

    u: torch.Tensor
    grad: torch.Tensor
    second: dict[int, torch.Tensor]

    def dx(self, i: int) -> torch.Tensor:
        """``du/dx_i``."""
        return self.grad[:, i]

    def dxx(self, i: int) -> torch.Tensor:
        """``d2u/dx_i^2`` (must have been requested)."""
        if i not in self.second:
            raise KeyError(f"second derivative along input {i} was not requested (have {sorted(self.second)})")
        return self.second[i]


def check_route(route: str) -> str:
    """Return ``route`` if it names a derivative route, else raise ``ValueError``."""
    if route not in ROUTES:
        raise ValueError(f"derivatives must be one of {ROUTES}, got {route!r}")
    return route


def resolve_route(model: nn.Module, route: str) -> str:
    """The concrete route ``"auto"`` stands for with this ``model``."""
    check_route(route)
    if route == "auto":
        return "taylor" if taylor_supported(model) else "autograd"
    if route == "taylor" and not taylor_supported(model):
        raise ValueError(
            "derivatives='taylor' needs a remodel_core.nn.MLP/ResNetMLP (or nn.Sequential of Linear and "
            "tanh, sin, softplus, SiLU or exact GELU layers) with one output, got "
            f"{type(model).__name__}; use 'autograd' or 'func'"
        )
    return route


def _scalar_output(out: torch.Tensor, n: int) -> torch.Tensor:
    if out.ndim == 2 and out.shape[1] == 1:
        return out[:, 0]
    if out.ndim == 1 and out.shape[0] == n:
        return out
    raise ValueError(f"the network must give one output per point (shape [n, 1]), got {tuple(out.shape)}")


def _autograd(model: nn.Module, x: torch.Tensor, second: Sequence[int], create_graph: bool) -> Derivatives:
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        u = _scalar_output(model(x), x.shape[0])
        (g,) = torch.autograd.grad(u.sum(), x, create_graph=True)
        sec = {}
        for j, i in enumerate(second):
            (h,) = torch.autograd.grad(
                g[:, i].sum(), x, create_graph=create_graph, retain_graph=create_graph or j < len(second) - 1
            )
            sec[i] = h[:, i]
    if not create_graph:
        u, g = u.detach(), g.detach()
    return Derivatives(u=u, grad=g, second=sec)


def _func(model: nn.Module, x: torch.Tensor, second: Sequence[int]) -> Derivatives:
    x = x.detach()
    n = x.shape[0]

    def total(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = _scalar_output(model(z), n)
        return u.sum(), u

    grad_fn = torch.func.grad(total, has_aux=True)  # rows independent: d(sum u)/dx is the per-row gradient
    if not second:
        g, u = grad_fn(x)
        return Derivatives(u=u, grad=g, second={})
    idx = list(second)
    tangents = torch.zeros(len(idx), *x.shape, dtype=x.dtype, device=x.device)
    for j, i in enumerate(idx):
        tangents[j, :, i] = 1.0

    def column(v: torch.Tensor) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        return torch.func.jvp(grad_fn, (x,), (v,))

    if len(idx) == 1:
        (g, u), (h, _) = column(tangents[0])
        return Derivatives(u=u, grad=g, second={idx[0]: h[:, idx[0]]})
    (g, u), (h, _) = torch.func.vmap(column)(tangents)
    return Derivatives(u=u[0], grad=g[0], second={i: h[j, :, i] for j, i in enumerate(idx)})


def derivatives(
    model: nn.Module, x: torch.Tensor, *, second: Sequence[int] = (), route: str = "auto", create_graph: bool = True
) -> Derivatives:
    """Value, gradient and the requested diagonal second derivatives of ``model`` at the rows of ``x``.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``[n, d]`` to ``[n, 1]``, row by row.
    x : torch.Tensor
        Points, shape ``[n, d]``.
    second : sequence of int
        Inputs ``i`` whose ``d2u/dx_i^2`` is wanted.
    route : {"auto", "autograd", "func", "taylor"}
        How to differentiate (see the module docstring); all agree to rounding.
    create_graph : bool
        Keep the graph so the results can be differentiated with respect to the parameters (the
        ``"func"`` and ``"taylor"`` routes always keep it).

    Returns
    -------
    Derivatives

    Examples
    --------
    >>> from remodel_core.nn import ResNetMLP
    >>> net = ResNetMLP(2, 1, width=8, depth=2).double()
    >>> x = torch.rand(6, 2, dtype=torch.float64)
    >>> a = derivatives(net, x, second=(0,), route="autograd")
    >>> b = derivatives(net, x, second=(0,), route="taylor")
    >>> bool(torch.allclose(a.dxx(0), b.dxx(0), atol=1e-12))
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        raise ValueError(f"x must be a tensor of shape [n, d], got {getattr(x, 'shape', type(x).__name__)}")
    second = tuple(dict.fromkeys(second))  # drop repeats, keep order
    for i in second:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < x.shape[1]:
            raise ValueError(f"second must hold input indices in [0, {x.shape[1]}), got {second}")
    route = resolve_route(model, route)
    if route == "autograd":
        return _autograd(model, x, second, create_graph)
    if route == "func":
        return _func(model, x, second)
    u, g, sec = taylor_derivatives(model, x, second)
    return Derivatives(u=u, grad=g, second=sec)
