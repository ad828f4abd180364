"""Problems for adaptive sampling: networks with the initial/boundary conditions built in, and a Poisson
problem on a domain with holes."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import torch
from remodel_core.pde import Box, Dirichlet, Disk, Geometry, PINNProblem, burgers
from remodel_core.pde import allen_cahn as _allen_cahn
from torch import nn


class HardConstraint(nn.Module):
    """``u(x) = g(x) + phi(x) N(x)``: a network ``N`` whose output meets the conditions exactly where the
    factor ``phi`` vanishes (Lagaris, Likas & Fotiadis, IEEE TNN 9, 1998; the set-up of Wu et al. 2023).

    Parameters
    ----------
    network : torch.nn.Module
        ``N``, ``[n, d] -> [n, 1]``.
    offset, factor : callable
        ``g(x)`` and ``phi(x)``, ``[n, d] -> [n]``.

    Examples
    --------
    >>> net = HardConstraint(torch.nn.Linear(2, 1).double(), burgers_offset, burgers_factor)
    >>> u = net(torch.tensor([[0.5, 0.0], [1.0, 0.7]], dtype=torch.float64))[:, 0]
    >>> float(u[0]), abs(float(u[1])) < 1e-15   # u(x, 0) = -sin(pi x), u(1, t) = 0
    (-1.0, True)
    """

    def __init__(
        self,
        network: nn.Module,
        offset: Callable[[torch.Tensor], torch.Tensor],
        factor: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        super().__init__()
        if not isinstance(network, nn.Module):
            raise TypeError(f"network must be a torch.nn.Module, got {type(network).__name__}")
        if not (callable(offset) and callable(factor)):
            raise TypeError("offset and factor must be callables x -> [n]")
        self.network, self.offset, self.factor = network, offset, factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.offset(x)[:, None] + self.factor(x)[:, None] * self.network(x)


def burgers_offset(x: torch.Tensor) -> torch.Tensor:
    """``-sin(pi x)``: the Burgers initial condition."""
    return -torch.sin(math.pi * x[:, 0])


def burgers_factor(x: torch.Tensor) -> torch.Tensor:
    """``t (1 - x^2)``: zero at ``t = 0`` and ``x = +-1``."""
    return x[:, 1] * (1 - x[:, 0] ** 2)


def allen_cahn_offset(x: torch.Tensor) -> torch.Tensor:
    """``x^2 cos(pi x)``: the Allen–Cahn initial condition (and ``u(+-1, t) = -1``)."""
    return x[:, 0] ** 2 * torch.cos(math.pi * x[:, 0])


def hard_burgers(nu: float = 0.01 / math.pi) -> tuple[PINNProblem, Callable[[nn.Module], nn.Module]]:
    """Burgers (``remodel_core.pde.burgers``) without penalty conditions, and the wrapper that builds them into a
    network: ``u = -sin(pi x) + t (1 - x^2) N(x, t)`` (Wu et al. 2023, Sec. 4.3).

    Parameters
    ----------
    nu : float, default 0.01 / pi
        The viscosity of Burgers' equation ``u_t + u u_x = nu u_xx``.

    Returns
    -------
    problem : remodel_core.pde.PINNProblem
        Burgers' problem with no penalty conditions (``conditions == ()``).
    wrap : callable
        ``wrap(network)`` returns a ``HardConstraint`` module that satisfies the initial and boundary conditions
        exactly.

    Examples
    --------
    >>> prob, wrap = hard_burgers()
    >>> prob.conditions, type(wrap(torch.nn.Linear(2, 1))).__name__
    ((), 'HardConstraint')
    """
    return dataclasses.replace(burgers(nu), conditions=()), functools.partial(
        HardConstraint, offset=burgers_offset, factor=burgers_factor
    )


def hard_allen_cahn() -> tuple[PINNProblem, Callable[[nn.Module], nn.Module]]:
    """Allen–Cahn (``remodel_core.pde.allen_cahn``) with ``u = x^2 cos(pi x) + t (1 - x^2) N(x, t)`` (Wu et al.
    2023, Sec. 4.4: the solution keeps ``u(+-1, t) = -1``).

    Examples
    --------
    >>> prob, wrap = hard_allen_cahn()
    >>> prob.conditions
    ()
    """
    return dataclasses.replace(_allen_cahn(), conditions=()), functools.partial(
        HardConstraint, offset=allen_cahn_offset, factor=burgers_factor
    )


HOLES = ((-0.45, 0.4, 0.3), (0.45, -0.4, 0.3), (-0.5, -0.5, 0.2))  # (x, y, r) of the holes
PEAK = (0.25, 0.3, 0.12)  # centre and width of the sharp bump of the solution


def holes_domain() -> Geometry:
    """``[-1, 1]^2`` minus three discs.

    Examples
    --------
    >>> round(holes_domain().volume(), 2)
    3.31
    """
    g: Geometry = Box((-1.0, -1.0), (1.0, 1.0))
    for cx, cy, r in HOLES:
        g = g - Disk((cx, cy), r)
    return g


def _holes_solution(x: torch.Tensor) -> torch.Tensor:
    cx, cy, s = PEAK
    r2 = (x[:, 0] - cx) ** 2 + (x[:, 1] - cy) ** 2
    return torch.exp(-r2 / s**2) + 0.5 * torch.sin(math.pi * x[:, 0]) * torch.cos(0.5 * math.pi * x[:, 1])


def _holes_source(x: torch.Tensor) -> torch.Tensor:
    """``f = -Δu``: for ``exp(-r^2/s^2)`` the Laplacian is ``(4 r^2 / s^4 - 4 / s^2) exp(-r^2/s^2)``."""
    cx, cy, s = PEAK
    r2 = (x[:, 0] - cx) ** 2 + (x[:, 1] - cy) ** 2
    lap_peak = (4 * r2 / s**4 - 4 / s**2) * torch.exp(-r2 / s**2)
    lap_smooth = (
        -(math.pi**2 + 0.25 * math.pi**2) * 0.5 * torch.sin(math.pi * x[:, 0]) * torch.cos(0.5 * math.pi * x[:, 1])
    )
    return -(lap_peak + lap_smooth)


def _holes_residual(x: torch.Tensor, d: object) -> torch.Tensor:
    return -(d.dxx(0) + d.dxx(1)) - _holes_source(x)  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=1)
def _holes_evaluation() -> tuple[torch.Tensor, torch.Tensor]:
    pts = holes_domain().grid(201, 201)
    return pts, _holes_solution(pts)


def poisson_holes() -> PINNProblem:
    """Poisson ``-Δu = f`` on ``[-1, 1]^2`` with three circular holes, Dirichlet data from the manufactured
    solution ``u = exp(-|x - x_0|^2 / 0.12^2) + sin(pi x) cos(pi y / 2) / 2`` (a sharp bump between the holes
    on a smooth field) on the outer square and on the three circles (a :class:`~remodel_core.pde.Difference`
    of a box and discs). Relative L2 on the 201 x 201 grid points inside the domain.

    Examples
    --------
    >>> prob = poisson_holes()
    >>> prob.domain.boundary_pieces[-1], len(prob.evaluation_set()[0]) > 30000
    ('1/circle', True)
    """
    return PINNProblem(
        name="poisson_holes",
        domain=holes_domain(),
        pde=_holes_residual,
        second=(0, 1),
        conditions=(Dirichlet("boundary", ("all",), _holes_solution),),
        solution=_holes_solution,
        evaluation=_holes_evaluation,
        parameters={"holes": float(len(HOLES)), "peak_width": PEAK[2]},
    )
