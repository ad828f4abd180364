"""Taylor-mode forward propagation of value, gradient and diagonal Hessian through smooth-activation networks
(tanh, sin, softplus, SiLU, exact GELU).

For a layer ``z -> a = act(W z + b)`` and a point ``x``, the chain rule carries

    dz/dx_k    -> W dz/dx_k,             d2z/dx_i^2 -> W d2z/dx_i^2             (linear layer)
    da/dx_k     = act'(z) dz/dx_k,       d2a/dx_i^2  = act'(z) d2z/dx_i^2 + act''(z) (dz/dx_i)^2

(second-order forward mode, Griewank & Walther, *Evaluating Derivatives*, 2nd ed. 2008, ch. 13). The
``1 + d + s`` channels are stacked along a leading axis so that each linear layer is a single matrix
product; autograd then differentiates the whole propagation with respect to the parameters in one
backward pass, which is cheaper than nesting ``torch.autograd.grad`` (see ``tools/bench/pinn_derivatives.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..nn import MLP, ResidualBlock, ResNetMLP, _Sin

#: the activations the Taylor channels differentiate, by name (each smooth, with closed-form derivatives)
KINDS = ("tanh", "sin", "softplus", "silu", "gelu")

#: when a list, every linear map of the propagation appends ``(layer, input stack, output stack)`` to it; the
#: Kronecker-factored curvature of :class:`remodel_core.optim.KFAC` reads its factors from these (the output is
#: taken before the bias, which enters channel 0 only)
RECORD: list | None = None


def _ops(model: nn.Module) -> list[tuple] | None:
    """The layers of ``model`` as ``("linear", module) | ("act", kind) | ("res", linear, kind, h)``, or None."""
    ops: list[tuple] = []

    def act_kind(m: nn.Module) -> str | None:
        if isinstance(m, nn.Tanh):
            return "tanh"
        if isinstance(m, _Sin):
            return "sin"
        if isinstance(m, nn.Softplus) and m.beta == 1 and m.threshold == 20:  # what the channels compute
            return "softplus"
        if isinstance(m, nn.SiLU):
            return "silu"
        if isinstance(m, nn.GELU) and m.approximate == "none":
            return "gelu"
        return None

    def sequential(seq: nn.Sequential) -> bool:
        for m in seq:
            if isinstance(m, nn.Linear):
                ops.append(("linear", m))
            elif act_kind(m) is not None:
                ops.append(("act", act_kind(m)))
            elif isinstance(m, nn.Identity):
                continue
            else:
                return False
        return True

    if isinstance(model, ResNetMLP):
        if not sequential(model.lift):
            return None
        for block in model.blocks:
            if type(block) is not ResidualBlock or act_kind(block.act) is None:
                return None
            ops.append(("res", block.linear, act_kind(block.act), block.h))
        ops.append(("linear", model.project))
    elif isinstance(model, nn.Sequential) and (type(model) in (nn.Sequential, MLP)):
        if not sequential(model):
            return None
    else:
        return None
    linears = [op[1] for op in ops if op[0] in ("linear", "res")]
    if not linears or linears[-1].out_features != 1:
        return None
    return ops


def taylor_supported(model: nn.Module) -> bool:
    """Whether :func:`taylor_derivatives` can differentiate ``model`` (an MLP or ResNetMLP with one output and
    tanh, sin, softplus, SiLU or exact GELU activations; not ReLU, whose second derivative vanishes).

    Parameters
    ----------
    model : torch.nn.Module
        Any module.

    Returns
    -------
    bool
        True for a ``MLP`` or ``ResNetMLP`` with one output and activations of :data:`KINDS`.

    Examples
    --------
    >>> from remodel_core.nn import MLP
    >>> taylor_supported(MLP(2, 1)), taylor_supported(MLP(2, 1, activation="relu"))
    (True, False)
    """
    return _ops(model) is not None


def _act_derivatives(
    z: torch.Tensor, kind: str, third: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``act(z)`` and its first three derivatives (an activation of :data:`KINDS`)."""
    if kind == "tanh":
        a = torch.tanh(z)
        a1 = 1.0 - a * a
        a2 = -2.0 * a * a1
        a3 = -2.0 * a1 * a1 - 2.0 * a * a2 if third else None
    elif kind == "sin":
        a, a1 = torch.sin(z), torch.cos(z)
        a2 = -a
        a3 = -a1
    elif kind == "gelu":  # z Phi(z): Phi + z phi, phi (2 - z^2), phi (z^3 - 4 z)
        phi = torch.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
        cdf = 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))
        a, a1, a2 = z * cdf, cdf + z * phi, phi * (2.0 - z * z)
        a3 = phi * z * (z * z - 4.0)
    else:  # softplus log(1 + e^z) and SiLU z sigma(z), from the sigmoid and its derivatives s1, s2, s3
        sig = torch.sigmoid(z)
        s1 = sig * (1.0 - sig)
        s2 = s1 * (1.0 - 2.0 * sig)
        if kind == "softplus":
            a, a1, a2, a3 = torch.nn.functional.softplus(z), sig, s1, s2
        else:
            s3 = s1 * (1.0 - 6.0 * sig * (1.0 - sig))
            a, a1, a2, a3 = z * sig, sig + z * s1, 2.0 * s1 + z * s2, 3.0 * s2 + z * s3
    return a, a1, a2, a3


class _TaylorAct(torch.autograd.Function):
    """Fused activation of stacked Taylor channels ``s = [z; dz/dx_k (d); d2z/dx_i^2 (len(sel))]`` plus bias.

    Forward: ``a = act(z + b)``, ``da_k = act' dz_k``, ``d2a_i = act' d2z_i + act'' dz_i^2``. The backward is
    written out by hand (a few fused tensor expressions instead of the dozen nodes autograd would record)
    with differentiable operations, so double backward still works.
    """

    @staticmethod
    def forward(ctx, s: torch.Tensor, bias: torch.Tensor, kind: str, d: int, sel: tuple[int, ...]):
        a, a1, a2, _ = _act_derivatives(s[0] + bias, kind, third=False)
        out = torch.empty_like(s)
        out[0] = a
        torch.mul(s[1 : 1 + d], a1, out=out[1 : 1 + d])
        if sel:
            first = s[1 : 1 + d][list(sel)]
            torch.addcmul(a1 * s[1 + d :], a2, first * first, out=out[1 + d :])
        ctx.save_for_backward(s, bias, a, a1, a2)
        ctx.kind, ctx.d, ctx.sel, ctx.bias_dim = kind, d, sel, bias.dim()
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        s, bias, a, a1, a2 = ctx.saved_tensors
        d, sel = ctx.d, list(ctx.sel)
        g_first, first = grad[1 : 1 + d], s[1 : 1 + d]
        if not torch.is_grad_enabled():  # plain backward: write into one buffer, no concatenation
            if ctx.kind == "tanh":
                a3 = (a * a2).mul_(-2.0).addcmul_(a1, a1, value=-2.0)
            elif ctx.kind == "sin":
                a3 = -a1
            else:
                a3 = _act_derivatives(s[0] + bias, ctx.kind)[3]
            gs = torch.empty_like(s)
            gz = gs[0]
            torch.mul(grad[0], a1, out=gz)
            gz.addcmul_(a2, (g_first * first).sum(0))
            torch.mul(g_first, a1, out=gs[1 : 1 + d])
            for j, i in enumerate(sel):
                g_sec, f = grad[1 + d + j], first[i]
                gz.addcmul_(g_sec, torch.addcmul(a2 * s[1 + d + j], a3, f * f))
                gs[1 + i].addcmul_(a2 * f, g_sec, value=2.0)
                torch.mul(g_sec, a1, out=gs[1 + d + j])
        else:  # double backward: recompute the activation differentiably, use differentiable operations only
            _, a1, a2, a3 = _act_derivatives(s[0] + bias, ctx.kind)
            gs, gz = _backward_graph(grad, s, a1, a2, a3, d, sel)
        gb = None
        if ctx.needs_input_grad[1]:
            gb = gz.reshape(-1, gz.shape[-1]).sum(0) if ctx.bias_dim else gz.sum()
        return gs, gb, None, None, None


def _backward_graph(
    grad: torch.Tensor, s: torch.Tensor, a1: torch.Tensor, a2: torch.Tensor, a3: torch.Tensor, d: int, sel: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    g_first, first = grad[1 : 1 + d], s[1 : 1 + d]
    gz = grad[0] * a1 + a2 * (g_first * first).sum(0)
    parts: list[torch.Tensor] = [gz.unsqueeze(0), a1 * g_first]
    if sel:
        g_sec, sec, fsel = grad[1 + d :], s[1 + d :], first[sel]
        gz = gz + (g_sec * (a2 * sec + a3 * fsel * fsel)).sum(0)
        extra = torch.zeros_like(g_first).index_add(0, torch.tensor(sel, device=s.device), 2.0 * a2 * fsel * g_sec)
        parts = [gz.unsqueeze(0), parts[1] + extra, a1 * g_sec]
    return torch.cat(parts), gz


def _linear(s: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    y = torch.matmul(s, layer.weight.t())
    if RECORD is not None:
        RECORD.append((layer, s, y))
    if layer.bias is None:
        return y
    return torch.cat([(y[0] + layer.bias).unsqueeze(0), y[1:]])


def _act_linear(s: torch.Tensor, layer: nn.Linear, kind: str, d: int, sel: tuple[int, ...]) -> torch.Tensor:
    """``act(W s + b)`` on stacked channels: one matrix product, one fused activation."""
    y = torch.matmul(s, layer.weight.t())
    if RECORD is not None:
        RECORD.append((layer, s, y))
    bias = layer.bias if layer.bias is not None else torch.zeros(y.shape[-1], dtype=y.dtype, device=y.device)
    return _TaylorAct.apply(y, bias, kind, d, sel)


def taylor_derivatives(
    model: nn.Module, x: torch.Tensor, second: Sequence[int] = ()
) -> tuple[torch.Tensor, torch.Tensor, dict[int, torch.Tensor]]:
    """Value ``[n]``, gradient ``[n, d]`` and ``{i: d2u/dx_i^2 [n]}`` of an MLP or ResNetMLP (see
    :func:`taylor_supported`).

    Parameters
    ----------
    model : torch.nn.Module
        A network for which :func:`taylor_supported` is True.
    x : torch.Tensor, shape (n, d)
        The points.
    second : sequence of int, default ()
        Input dimensions ``i`` whose second derivative ``d2u/dx_i^2`` is wanted.

    Returns
    -------
    tuple
        ``(u, grad, second)``: values ``[n]``, gradient ``[n, d]`` and a dict ``{i: [n]}``.

    Examples
    --------
    >>> from remodel_core.nn import MLP
    >>> net = MLP(1, 1, width=4, depth=1).double()
    >>> x = torch.linspace(-1, 1, 3, dtype=torch.float64)[:, None]
    >>> u, g, h = taylor_derivatives(net, x, second=(0,))
    >>> bool(torch.allclose(u, net(x)[:, 0]))
    True
    """
    ops = _ops(model)
    if ops is None:
        raise ValueError(
            f"taylor_derivatives does not support {type(model).__name__} (an MLP or ResNetMLP with one output and "
            f"activations in {KINDS})"
        )
    n, d = x.shape
    sel = list(second)
    s = torch.zeros(1 + d + len(sel), n, d, dtype=x.dtype, device=x.device)
    s[0] = x.detach()
    idx = torch.arange(d, device=x.device)
    s[1 + idx, :, idx] = 1.0
    sel_t = tuple(sel)
    k = 0
    while k < len(ops):
        op = ops[k]
        if op[0] == "linear" and k + 1 < len(ops) and ops[k + 1][0] == "act":
            s = _act_linear(s, op[1], ops[k + 1][1], d, sel_t)
            k += 2
            continue
        if op[0] == "linear":
            s = _linear(s, op[1])
        elif op[0] == "act":  # an activation not preceded by a linear layer
            s = _TaylorAct.apply(s, torch.zeros((), dtype=s.dtype, device=s.device), op[1], d, sel_t)
        else:
            _, layer, kind, h = op
            s = torch.add(s, _act_linear(s, layer, kind, d, sel_t), alpha=h)
        k += 1
    u = s[0, :, 0]
    g = s[1 : 1 + d, :, 0].t()
    return u, g, {i: s[1 + d + j, :, 0] for j, i in enumerate(sel)}
