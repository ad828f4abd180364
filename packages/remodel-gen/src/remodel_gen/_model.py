"""The learned velocity field ``v(t, x)`` and sampling by integrating its ODE."""

from __future__ import annotations

import torch
from remodel_core.integrate import odeint
from remodel_core.nn import MLP
from torch import nn


class FlowModel(nn.Module):
    """A time-dependent velocity field ``v_θ(t, x)`` (an MLP on ``[x, t]``) that transports ``N(0, I)`` to data.

    Samples are drawn by integrating ``dx/dt = v_θ(t, x)`` from ``t = 0`` (standard normal) to ``t = 1``
    with :func:`remodel_core.integrate.odeint` (continuous normalising flow; Chen et al. 2018).

    Parameters
    ----------
    dim : int
        Dimension of the data.
    width, depth : int
        Of the hidden layers.
    activation : str
        Hidden activation (see :mod:`remodel_core.nn`).

    Examples
    --------
    >>> model = FlowModel(2, width=16, depth=2)
    >>> model(torch.zeros(5), torch.zeros(5, 2)).shape
    torch.Size([5, 2])
    >>> model.sample(10, seed=0, steps=4).shape
    torch.Size([10, 2])
    """

    def __init__(self, dim: int, *, width: int = 64, depth: int = 3, activation: str = "silu") -> None:
        super().__init__()
        self.dim = dim
        self.net = MLP(dim + 1, dim, width=width, depth=depth, activation=activation)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The velocity at times ``t`` (scalar or ``[n]``) and points ``x`` (``[n, dim]``)."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        t = t.expand(x.shape[0]) if t.dim() == 0 else t.reshape(-1)
        return self.net(torch.cat((x, t[:, None]), dim=1))

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, steps: int = 100, method: str = "rk4",
               x0: torch.Tensor | None = None, trajectory: bool = False) -> torch.Tensor:
        """Draw ``n`` samples by integrating the flow from ``N(0, I)`` (or from given ``x0``).

        Parameters
        ----------
        n : int
            Number of samples (ignored when ``x0`` is given).
        seed : int
            Seed of the source noise.
        steps : int
            Number of output times; fixed-step methods take one step between consecutive ones.
        method : str
            ``"euler"``, ``"heun"``, ``"rk4"`` or ``"dopri5"``.
        x0 : torch.Tensor, optional
            Source points ``[n, dim]``.
        trajectory : bool
            Return the whole path ``[steps + 1, n, dim]`` instead of the end points.
        """
        if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        p = next(self.parameters())
        if x0 is None:
            if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
                raise ValueError(f"n must be a positive integer, got {n!r}")
            gen = torch.Generator().manual_seed(seed)
            x0 = torch.randn(n, self.dim, generator=gen, dtype=p.dtype).to(p.device)
        elif x0.dim() != 2 or x0.shape[1] != self.dim:
            raise ValueError(f"x0 must have shape [n, {self.dim}], got {list(x0.shape)}")
        t = torch.linspace(0.0, 1.0, steps + 1, dtype=x0.dtype, device=x0.device)
        ys = odeint(lambda s, x: self(s, x), x0.to(p.dtype), t, method=method)
        return ys if trajectory else ys[-1]
