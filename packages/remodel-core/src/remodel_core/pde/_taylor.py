"""Taylor-mode forward propagation of value, gradient and diagonal Hessian through tanh/sin networks.

For a layer ``z -> a = act(W z + b)`` and a point ``x``, the chain rule carries

    dz/dx_k    -> W dz/dx_k,             d2z/dx_i^2 -> W d2z/dx_i^2             (linear layer)
    da/dx_k     = act'(z) dz/dx_k,       d2a/dx_i^2  = act'(z) d2z/dx_i^2 + act''(z) (dz/dx_i)^2

(second-order forward mode, Griewank & Walther, *Evaluating Derivatives*, 2nd ed. 2008, ch. 13). The
``1 + d + s`` channels are stacked along a leading axis so that each linear layer is a single matrix
product; autograd then differentiates the whole propagation with respect to the parameters in one
backward pass, which is cheaper than nesting ``torch.autograd.grad`` (see ``tools/bench/pinn_derivatives.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..nn import MLP, ResidualBlock, ResNetMLP, _Sin

_ACTS = (nn.Tanh, _Sin)


def _ops(model: nn.Module) -> list[tuple] | None:
    """The layers of ``model`` as ``("linear", module) | ("act", kind) | ("res", linear, kind, h)``, or None."""
    ops: list[tuple] = []

    def act_kind(m: nn.Module) -> str | None:
        return "tanh" if isinstance(m, nn.Tanh) else "sin" if isinstance(m, _Sin) else None

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
    """Whether :func:`taylor_derivatives` can differentiate ``model`` (tanh/sin MLP or ResNetMLP, one output).

    Examples
    --------
    >>> from remodel_core.nn import MLP
    >>> taylor_supported(MLP(2, 1)), taylor_supported(MLP(2, 1, activation="relu"))
    (True, False)
    """
    return _ops(model) is not None


def _linear(s: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    y = torch.matmul(s, layer.weight.t())
    if layer.bias is None:
        return y
    return torch.cat([(y[0] + layer.bias).unsqueeze(0), y[1:]])


def _act(s: torch.Tensor, kind: str, d: int, sel: list[int]) -> torch.Tensor:
    z = s[0]
    if kind == "tanh":
        a = torch.tanh(z)
        a1 = 1.0 - a * a
        a2 = -2.0 * a * a1
    else:
        a = torch.sin(z)
        a1 = torch.cos(z)
        a2 = -a
    parts = [a.unsqueeze(0), a1 * s[1 : 1 + d]]
    if sel:
        first = s[1 : 1 + d][sel]
        parts.append(a1 * s[1 + d :] + a2 * first * first)
    return torch.cat(parts)


def taylor_derivatives(model: nn.Module, x: torch.Tensor, second: Sequence[int] = ()
                       ) -> tuple[torch.Tensor, torch.Tensor, dict[int, torch.Tensor]]:
    """Value ``[n]``, gradient ``[n, d]`` and ``{i: d2u/dx_i^2 [n]}`` of a tanh/sin MLP or ResNetMLP.

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
        raise ValueError(f"taylor_derivatives does not support {type(model).__name__} (tanh/sin MLP or ResNetMLP "
                         "with one output)")
    n, d = x.shape
    sel = list(second)
    s = torch.zeros(1 + d + len(sel), n, d, dtype=x.dtype, device=x.device)
    s[0] = x.detach()
    idx = torch.arange(d, device=x.device)
    s[1 + idx, :, idx] = 1.0
    for op in ops:
        if op[0] == "linear":
            s = _linear(s, op[1])
        elif op[0] == "act":
            s = _act(s, op[1], d, sel)
        else:
            _, layer, kind, h = op
            s = s + h * _act(_linear(s, layer), kind, d, sel)
    u = s[0, :, 0]
    g = s[1 : 1 + d, :, 0].t()
    return u, g, {i: s[1 + d + j, :, 0] for j, i in enumerate(sel)}
