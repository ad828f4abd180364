"""Symplectic networks: LA-SympNets and G-SympNets (Jin, Zhang, Zhu, Tang & Karniadakis, Neural Networks 2020).

A SympNet is a composition of shears ``(q, p) -> (q + grad V(p), p)`` or ``(q, p + grad V(q))``, each exactly
symplectic, so the whole map is symplectic for every parameter value. It learns the time-``h`` flow map
``x_k -> x_{k+1}`` from trajectory pairs.
"""

from __future__ import annotations

from typing import Any

import torch
from remodel_core import check_positive
from remodel_core.nn import activation as make_activation
from torch import nn

from ._models import DynamicsModel, _check_dim, _check_times, _PairLoss, time_tolerance


class LinearModule(nn.Module):
    """``prod_k [[I, S_k], [0, I]]`` or ``[[I, 0], [S_k, I]]`` alternately (``S_k`` symmetric), then ``+ b``."""

    def __init__(self, dof: int, sublayers: int = 2, std: float = 0.01) -> None:
        super().__init__()
        self.dof = dof
        self.A = nn.Parameter(std * torch.randn(sublayers, dof, dof))
        self.b = nn.Parameter(torch.zeros(2 * dof))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, p = x[..., : self.dof], x[..., self.dof :]
        for k in range(self.A.shape[0]):
            S = self.A[k] + self.A[k].T
            if k % 2 == 0:
                q = q + p @ S
            else:
                p = p + q @ S
        return torch.cat([q, p], dim=-1) + self.b


class ActivationModule(nn.Module):
    """``q <- q + a * sigma(p)`` ("up") or ``p <- p + a * sigma(q)`` ("low")."""

    def __init__(self, dof: int, mode: str, activation: str = "sigmoid", std: float = 0.01) -> None:
        super().__init__()
        self.dof, self.mode = dof, mode
        self.act = _activation(activation)
        self.a = nn.Parameter(std * torch.randn(dof))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, p = x[..., : self.dof], x[..., self.dof :]
        if self.mode == "up":
            q = q + self.a * self.act(p)
        else:
            p = p + self.a * self.act(q)
        return torch.cat([q, p], dim=-1)


class GradientModule(nn.Module):
    """``q <- q + K^T (a * sigma(K p + b))`` ("up") or the same on ``p`` from ``q`` ("low"), ``K`` of ``width`` rows."""

    def __init__(self, dof: int, width: int, mode: str, activation: str = "sigmoid", std: float = 0.01) -> None:
        super().__init__()
        self.dof, self.mode = dof, mode
        self.act = _activation(activation)
        self.K = nn.Parameter(std * torch.randn(width, dof))
        self.a = nn.Parameter(std * torch.randn(width))
        self.b = nn.Parameter(torch.zeros(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, p = x[..., : self.dof], x[..., self.dof :]
        if self.mode == "up":
            q = q + (self.a * self.act(p @ self.K.T + self.b)) @ self.K
        else:
            p = p + (self.a * self.act(q @ self.K.T + self.b)) @ self.K
        return torch.cat([q, p], dim=-1)


def _activation(name: str) -> nn.Module:
    return nn.Sigmoid() if name == "sigmoid" else make_activation(name)


class SympNet(DynamicsModel):
    """Base of the SympNets: a learned symplectic map approximating the flow over a fixed step ``h``.

    Parameters
    ----------
    dim : int
        State dimension ``2 * dof`` (even).
    h : float
        The time step the map advances (finite, > 0).
    """

    targets = ("pairs",)
    layers: nn.ModuleList

    def __init__(self, dim: int, h: float) -> None:
        super().__init__()
        self.dim = _check_dim("dim", dim, even=True)
        self.dof = dim // 2
        check_positive("h", h)
        if h == float("inf"):
            raise ValueError(f"h must be a finite time step, got {h!r}")
        self.h = float(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One application of the map: the state one step ``h`` later."""
        self._check_state(x)
        for layer in self.layers:
            x = layer(x)
        return x

    def time_derivative(self, x: torch.Tensor) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} learns a flow map, not a vector field; use step/rollout")

    def _steps(self, h: float, atol: float = 0.0) -> int:
        """How many applications of the map make a step ``h`` (``atol``: rounding error of ``h``)."""
        n = round(h / self.h)
        if n < 1 or abs(n * self.h - h) > 1e-9 * max(1.0, h) + atol:
            raise ValueError(f"a {type(self).__name__} steps by h={self.h}; got a step of {h} (not a multiple)")
        return n

    def step(self, x: torch.Tensor, h: float, method: str | None = None) -> torch.Tensor:
        for _ in range(self._steps(h)):
            x = self(x)
        return x

    def rollout(
        self, x0: torch.Tensor, t: torch.Tensor, method: str | None = None, dt: float | None = None, **kwargs: Any
    ) -> torch.Tensor:
        self._check_initial(x0)
        tol = time_tolerance(t)
        n = self._steps(_check_times(t), atol=tol)
        steps = torch.diff(t)
        if not torch.allclose(steps, steps[0], rtol=1e-9, atol=max(1e-12, tol)):
            raise ValueError("SympNet rollouts need uniformly spaced t")
        out = [x0]
        x = x0
        with torch.no_grad():
            for _ in range(t.numel() - 1):
                for _ in range(n):
                    x = self(x)
                out.append(x)
        return torch.stack(out, dim=-2)

    def _training_data(
        self, problem: Any, target: str, method: str | None
    ) -> tuple[tuple[torch.Tensor, ...], Any, str]:
        if target != "pairs":
            raise ValueError(f"{type(self).__name__} learns a flow map from target='pairs', got {target!r}")
        n = self._steps(problem.dt, atol=time_tolerance(problem.t))
        # the loss steps by exactly n * h, so a grid held in float32 (dt off by ulps) still trains the map
        return problem.pairs(), _PairLoss(n * self.h, None), f"{type(self).__name__.lower()}-{problem.system.name}"


class LASympNet(SympNet):
    """LA-SympNet: linear modules alternating with activation modules, ``L_{n+1} o s_n o L_n o ... o s_1 o L_1``.

    Parameters
    ----------
    dim : int
        State dimension ``2 * dof``.
    h : float
        The time step of the learned map.
    layers : int
        Number of activation modules.
    sublayers : int
        Shears per linear module.
    activation : str
        ``"sigmoid"`` (paper) or any of ``remodel_core.nn``'s.

    Examples
    --------
    >>> net = LASympNet(2, h=0.1, layers=3).double()
    >>> net(torch.zeros(4, 2, dtype=torch.float64)).shape
    torch.Size([4, 2])
    """

    def __init__(self, dim: int, h: float, *, layers: int = 3, sublayers: int = 2, activation: str = "sigmoid") -> None:
        super().__init__(dim, h)
        _check_dim("layers", layers)
        _check_dim("sublayers", sublayers)
        mods: list[nn.Module] = []
        for i in range(layers):
            mods.append(LinearModule(self.dof, sublayers))
            mods.append(ActivationModule(self.dof, "up" if i % 2 == 0 else "low", activation))
        mods.append(LinearModule(self.dof, sublayers))
        self.layers = nn.ModuleList(mods)


class GSympNet(SympNet):
    """G-SympNet: gradient modules ``q += K^T diag(a) sigma(K p + b)`` and ``p += ...`` alternately.

    Parameters
    ----------
    dim : int
        State dimension ``2 * dof``.
    h : float
        The time step of the learned map.
    layers : int
        Number of gradient modules.
    width : int
        Rows of each ``K``.
    activation : str
        ``"sigmoid"`` (paper) or any of ``remodel_core.nn``'s.

    Examples
    --------
    >>> net = GSympNet(2, h=0.1, layers=4, width=8).double()
    >>> net(torch.zeros(4, 2, dtype=torch.float64)).shape
    torch.Size([4, 2])
    """

    def __init__(self, dim: int, h: float, *, layers: int = 4, width: int = 30, activation: str = "sigmoid") -> None:
        super().__init__(dim, h)
        _check_dim("layers", layers)
        _check_dim("width", width)
        self.layers = nn.ModuleList(
            GradientModule(self.dof, width, "up" if i % 2 == 0 else "low", activation) for i in range(layers)
        )
