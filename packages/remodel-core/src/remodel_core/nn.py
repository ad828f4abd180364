"""Networks shared by the packages: plain MLPs and residual MLPs viewed as ODE discretisations."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ._validation import check_positive

__all__ = ["ACTIVATIONS", "MLP", "ResNetMLP", "ResidualBlock", "activation"]

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "sin": lambda: _Sin(),
}


class _Sin(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)


def activation(name: str) -> nn.Module:
    """The activation module called ``name`` (tanh, relu, gelu, silu, softplus, sin).

    Parameters
    ----------
    name : {"tanh", "relu", "gelu", "silu", "softplus", "sin"}
        A key of ``ACTIVATIONS``.

    Returns
    -------
    torch.nn.Module
        A new activation module (parameter-free).

    Examples
    --------
    >>> activation("sin")(torch.tensor([0.0])).tolist()
    [0.0]
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        check_positive(name, value, integer=True)


class MLP(nn.Sequential):
    """Fully connected network ``in -> width (x depth hidden layers) -> out``.

    Parameters
    ----------
    in_features : int
        Input size.
    out_features : int
        Output size.
    width : int, default 20
        Units of every hidden layer.
    depth : int, default 4
        Number of hidden layers (each ``Linear`` followed by the activation); the output layer is linear.
    activation : str, default "tanh"
        Name of the hidden activation (see :func:`activation`).

    Examples
    --------
    >>> net = MLP(2, 1, width=20, depth=3)
    >>> net(torch.zeros(5, 2)).shape
    torch.Size([5, 1])
    """

    def __init__(
        self, in_features: int, out_features: int, *, width: int = 20, depth: int = 4, activation: str = "tanh"
    ) -> None:
        _check_sizes(in_features=in_features, out_features=out_features, width=width, depth=depth)
        layers: list[nn.Module] = []
        n = in_features
        for _ in range(depth):
            layers += [nn.Linear(n, width), globals()["activation"](activation)]
            n = width
        layers.append(nn.Linear(n, out_features))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """One forward-Euler step ``x + h * act(W x + b)`` of the ODE ``x' = act(W(t) x + b(t))``.

    Parameters
    ----------
    width : int
        Size of ``x`` (the block maps ``[n, width]`` to ``[n, width]``).
    h : float
        The step.
    activation : str, default "tanh"
        Name of the activation (see :func:`activation`).

    Examples
    --------
    >>> block = ResidualBlock(3, 0.5)
    >>> torch.equal(block(torch.zeros(2, 3)), 0.5 * torch.tanh(block.linear.bias).expand(2, 3))
    True
    """

    def __init__(self, width: int, h: float, activation: str = "tanh") -> None:
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.act = globals()["activation"](activation)
        self.h = float(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.h * self.act(self.linear(x))


class ResNetMLP(nn.Module):
    """Residual MLP: a lifting layer, ``depth`` residual blocks with step ``h = T / depth``, a projection.

    Read as the forward-Euler discretisation of an ODE on [0, T] (Haber & Ruthotto 2017), it coarsens
    by keeping every other block with a doubled step, which the multilevel optimizers use.

    Parameters
    ----------
    in_features : int
        Input size.
    out_features : int
        Output size.
    width : int, default 20
        Width of the residual blocks.
    depth : int, default 8
        Number of residual blocks.
    activation : str, default "tanh"
        Name of the activation (see :func:`activation`), also after the lifting layer.
    horizon : float, default 1.0
        The time ``T > 0`` of the ODE; each block's step is ``h = T / depth``.

    Examples
    --------
    >>> net = ResNetMLP(2, 1, width=20, depth=8)
    >>> net(torch.zeros(4, 2)).shape, len(net.blocks), net.blocks[0].h
    (torch.Size([4, 1]), 8, 0.125)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        width: int = 20,
        depth: int = 8,
        activation: str = "tanh",
        horizon: float = 1.0,
    ) -> None:
        super().__init__()
        _check_sizes(in_features=in_features, out_features=out_features, width=width, depth=depth)
        check_positive("horizon", horizon)  # finite: an infinite step h = T / depth makes every output NaN
        self.in_features, self.out_features, self.width = in_features, out_features, width
        self.activation, self.horizon = activation, float(horizon)
        self.lift = nn.Sequential(nn.Linear(in_features, width), globals()["activation"](activation))
        self.blocks = nn.ModuleList(ResidualBlock(width, horizon / depth, activation) for _ in range(depth))
        self.project = nn.Linear(width, out_features)

    @property
    def depth(self) -> int:
        return len(self.blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lift(x)
        for block in self.blocks:
            x = block(x)
        return self.project(x)
