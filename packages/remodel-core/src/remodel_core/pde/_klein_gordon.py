"""Klein–Gordon equation with a manufactured solution (Wang, Teng & Perdikaris 2021)."""

from __future__ import annotations

import functools
import math

import torch

from ._conditions import Dirichlet
from ._derivatives import Derivatives
from ._domain import Box
from ._problem import PINNProblem

_K = 5.0 * math.pi


def klein_gordon_solution(x: torch.Tensor) -> torch.Tensor:
    """``u(x, t) = x cos(5 pi t) + (x t)^3`` at the rows ``(x, t)`` of ``x``.

    Parameters
    ----------
    x : torch.Tensor, shape (n, 2)
        Rows ``(x, t)``.

    Returns
    -------
    torch.Tensor, shape (n,)
        The exact solution.

    Examples
    --------
    >>> klein_gordon_solution(torch.tensor([[1.0, 0.0], [0.5, 1.0]], dtype=torch.float64)).tolist()
    [1.0, -0.375]
    """
    xs, t = x[:, 0], x[:, 1]
    return xs * torch.cos(_K * t) + (xs * t) ** 3


def klein_gordon_source(x: torch.Tensor) -> torch.Tensor:
    """``f = u_tt - u_xx + u^3`` of :func:`klein_gordon_solution`, differentiated by hand.

    Parameters
    ----------
    x : torch.Tensor, shape (n, 2)
        Rows ``(x, t)``.

    Returns
    -------
    torch.Tensor, shape (n,)
        The source term that makes :func:`klein_gordon_solution` exact.
    """
    xs, t = x[:, 0], x[:, 1]
    u_tt = -(_K**2) * xs * torch.cos(_K * t) + 6.0 * xs**3 * t
    u_xx = 6.0 * xs * t**3
    return u_tt - u_xx + klein_gordon_solution(x) ** 3


def _residual(x: torch.Tensor, d: Derivatives) -> torch.Tensor:
    return d.dxx(1) - d.dxx(0) + d.u**3 - klein_gordon_source(x)


def _zero(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x[:, 0])


@functools.lru_cache(maxsize=1)
def _evaluation() -> tuple[torch.Tensor, torch.Tensor]:
    pts = Box((0.0, 0.0), (1.0, 1.0)).grid(101, 101)
    return pts, klein_gordon_solution(pts)


def klein_gordon() -> PINNProblem:
    """Nonlinear Klein–Gordon ``u_tt - u_xx + u^3 = f`` on ``x in [0, 1], t in [0, 1]``, inputs ``(x, t)``.

    Manufactured solution ``u = x cos(5 pi t) + (x t)^3`` with ``f`` from it, initial ``u(x, 0) = x``,
    ``u_t(x, 0) = 0`` and Dirichlet data ``u(0, t) = 0``, ``u(1, t) = cos(5 pi t) + t^3`` (the setting of
    Wang, Teng & Perdikaris, *Understanding and mitigating gradient flow pathologies in physics-informed
    neural networks*, SIAM J. Sci. Comput. 43, 2021, with alpha = -1, beta = 0, gamma = 1, k = 3).
    :meth:`~PINNProblem.relative_l2` uses a 101 x 101 grid.

    Examples
    --------
    >>> prob = klein_gordon()
    >>> prob.reference(torch.tensor([[1.0, 1.0]], dtype=torch.float64)).item()
    0.0
    """
    return PINNProblem(
        name="klein_gordon",
        domain=Box((0.0, 0.0), (1.0, 1.0)),
        pde=_residual,
        second=(0, 1),
        conditions=(
            Dirichlet("initial", ((1, 0),), klein_gordon_solution),
            Dirichlet("initial", ((1, 0),), _zero, derivative=1),
            Dirichlet("boundary", ((0, 0), (0, 1)), klein_gordon_solution),
        ),
        solution=klein_gordon_solution,
        evaluation=_evaluation,
        parameters={"alpha": -1.0, "beta": 0.0, "gamma": 1.0, "k": 3.0},
    )
