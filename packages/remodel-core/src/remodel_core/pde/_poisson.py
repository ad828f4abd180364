"""Poisson equation on the unit square with a manufactured solution."""

from __future__ import annotations

import functools
import math

import torch

from ._conditions import Dirichlet
from ._derivatives import Derivatives
from ._domain import Box
from ._problem import PINNProblem


def _check_k(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _solution(kx: int, ky: int, x: torch.Tensor) -> torch.Tensor:
    return torch.sin(kx * math.pi * x[:, 0]) * torch.sin(ky * math.pi * x[:, 1])


def _residual(kx: int, ky: int, x: torch.Tensor, d: Derivatives) -> torch.Tensor:
    f = (kx**2 + ky**2) * math.pi**2 * _solution(kx, ky, x)
    return -(d.dxx(0) + d.dxx(1)) - f


def _zero(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x[:, 0])


@functools.lru_cache(maxsize=4)
def _evaluation(kx: int, ky: int) -> tuple[torch.Tensor, torch.Tensor]:
    pts = Box((0.0, 0.0), (1.0, 1.0)).grid(101, 101)
    return pts, _solution(kx, ky, pts)


def poisson2d(kx: int = 1, ky: int = 1) -> PINNProblem:
    """Poisson ``-Δu = f`` on ``[0, 1]^2`` with ``u = sin(kx pi x) sin(ky pi y)`` and ``u = 0`` on the boundary.

    ``f = (kx^2 + ky^2) pi^2 u``; the classical manufactured test of PINN solvers (e.g. Lagaris, Likas &
    Fotiadis, IEEE TNN 9, 1998; Raissi et al. 2019). :meth:`~PINNProblem.relative_l2` uses a 101 x 101 grid.

    Parameters
    ----------
    kx, ky : int, default 1
        Wave numbers of the manufactured solution along ``x`` and ``y``.

    Returns
    -------
    PINNProblem
        The equation, the boundary condition and the exact solution as reference.

    Examples
    --------
    >>> prob = poisson2d()
    >>> round(prob.reference(torch.tensor([[0.5, 0.5]], dtype=torch.float64)).item(), 12)
    1.0
    """
    kx, ky = _check_k("kx", kx), _check_k("ky", ky)
    return PINNProblem(
        name="poisson2d",
        domain=Box((0.0, 0.0), (1.0, 1.0)),
        pde=functools.partial(_residual, kx, ky),
        second=(0, 1),
        conditions=(Dirichlet("boundary", ((0, 0), (0, 1), (1, 0), (1, 1)), _zero),),
        solution=functools.partial(_solution, kx, ky),
        evaluation=functools.partial(_evaluation, kx, ky),
        parameters={"kx": float(kx), "ky": float(ky)},
    )
