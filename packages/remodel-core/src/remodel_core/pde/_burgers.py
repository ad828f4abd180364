"""Viscous Burgers equation with its Cole–Hopf reference solution (Basdevant et al. 1986)."""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.special
import torch

from ._conditions import Dirichlet
from ._derivatives import Derivatives
from ._domain import Box
from ._problem import PINNProblem

_CHUNK = 4096


@functools.lru_cache(maxsize=4)
def _hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = scipy.special.roots_hermite(n)
    with np.errstate(divide="ignore"):
        return nodes, np.log(weights)


def burgers_cole_hopf(
    x: np.ndarray, t: np.ndarray, nu: float, *, quadrature: int = 200, derivative: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Exact solution of ``u_t + u u_x = nu u_xx``, ``u(x, 0) = -sin(pi x)``, periodic in ``x`` with period 2.

    The Cole–Hopf transform ``u = -2 nu (log phi)_x`` turns Burgers into the heat equation, whose solution
    is a Gaussian convolution; with ``eta = sqrt(4 nu t) z`` (Basdevant, Deville, Haldenwang, Lacroix,
    Ouazzani, Peyret, Orlandi & Patera, *Spectral and finite difference solutions of the Burgers equation*,
    Computers & Fluids 14, 1986)

        u(x, t) = - E[sin(pi y)],    u_x(x, t) = - pi E[cos(pi y)] - Var[sin(pi y)] / (2 nu),

    where ``y = x - sqrt(4 nu t) z`` and ``E`` averages over ``z`` with the weight
    ``exp(-z^2) exp(-cos(pi y) / (2 pi nu))``, computed by Gauss–Hermite quadrature with the weights
    normalised in log space (they span ``exp(+-1/(2 pi nu))``). Since ``-sin(pi x)`` is odd and periodic, the
    solution also satisfies ``u(+-1, t) = 0``.

    Parameters
    ----------
    x, t : array_like
        Points (broadcast together), ``t >= 0``.
    nu : float
        Viscosity, > 0.
    quadrature : int
        Gauss–Hermite nodes (200 agree with 800 to 2e-15 for ``nu = 0.01/pi`` on ``[-1, 1] x [0, 1]``).
    derivative : bool
        Also return ``u_x`` (analytic, from the same quadrature).

    Examples
    --------
    >>> u, ux = burgers_cole_hopf(0.0, 1.6037 / np.pi, 0.01 / np.pi, derivative=True)
    >>> round(float(-ux), 3)
    152.005
    """
    if not (isinstance(nu, (int, float)) and nu > 0):
        raise ValueError(f"nu must be > 0, got {nu!r}")
    x, t = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64))
    if np.any(t < 0):
        raise ValueError("t must be >= 0")
    shape = x.shape
    x, t = x.reshape(-1), t.reshape(-1)
    z, logw = _hermite(int(quadrature))
    u = np.empty_like(x)
    ux = np.empty_like(x) if derivative else None
    for s in range(0, x.size, _CHUNK):
        xs, ts = x[s : s + _CHUNK, None], t[s : s + _CHUNK, None]
        y = xs - np.sqrt(4.0 * nu * ts) * z
        cos = np.cos(np.pi * y)
        log_w = logw - cos / (2.0 * np.pi * nu)
        log_w -= log_w.max(axis=1, keepdims=True)
        w = np.exp(log_w)
        w /= w.sum(axis=1, keepdims=True)
        sin = np.sin(np.pi * y)
        mean_sin = (w * sin).sum(axis=1)
        u[s : s + _CHUNK] = -mean_sin
        if ux is not None:
            var = (w * sin * sin).sum(axis=1) - mean_sin**2
            ux[s : s + _CHUNK] = -np.pi * (w * cos).sum(axis=1) - var / (2.0 * nu)
    if ux is not None:
        return u.reshape(shape), ux.reshape(shape)
    return u.reshape(shape)


def _solution(nu: float, x: torch.Tensor) -> torch.Tensor:
    xn = x.detach().cpu().double().numpy()
    return torch.from_numpy(burgers_cole_hopf(xn[:, 0], xn[:, 1], nu))


@functools.lru_cache(maxsize=4)
def _evaluation(nu: float) -> tuple[torch.Tensor, torch.Tensor]:
    pts = Box((-1.0, 0.0), (1.0, 1.0)).grid(256, 100)
    return pts, _solution(nu, pts)


def _residual(nu: float, x: torch.Tensor, d: Derivatives) -> torch.Tensor:
    return d.dx(1) + d.u * d.dx(0) - nu * d.dxx(0)


def _initial(x: torch.Tensor) -> torch.Tensor:
    return -torch.sin(math.pi * x[:, 0])


def _zero(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x[:, 0])


def burgers(nu: float = 0.01 / math.pi) -> PINNProblem:
    """Viscous Burgers ``u_t + u u_x = nu u_xx`` on ``x in [-1, 1], t in [0, 1]``.

    ``u(x, 0) = -sin(pi x)``, ``u(+-1, t) = 0``; inputs ordered ``(x, t)``. The PINN benchmark of Raissi,
    Perdikaris & Karniadakis (2019) with ``nu = 0.01/pi``: a shock forms at ``x = 0`` near ``t = 0.5``
    (maximum slope ``|u_x(0, t)| = 152.00516`` at ``t = 1.6037/pi``, Basdevant et al. 1986). Reference by
    :func:`burgers_cole_hopf`; :meth:`~PINNProblem.relative_l2` uses the 256 x 100 grid of Raissi's data.

    Parameters
    ----------
    nu : float, default 0.01/pi
        Viscosity (> 0).

    Returns
    -------
    PINNProblem
        The equation, its initial and boundary conditions and the Cole–Hopf reference.

    Examples
    --------
    >>> prob = burgers()
    >>> x = torch.tensor([[0.5, 0.0], [-0.5, 0.3], [0.5, 0.3]], dtype=torch.float64)
    >>> u = prob.reference(x)
    >>> round(float(u[0]), 12), bool(torch.isclose(u[1], -u[2]))
    (-1.0, True)
    """
    if isinstance(nu, bool) or not isinstance(nu, (int, float)) or not (math.isfinite(nu) and nu > 0):
        raise ValueError(f"nu must be a finite number > 0, got {nu!r}")
    nu = float(nu)
    return PINNProblem(
        name="burgers",
        domain=Box((-1.0, 0.0), (1.0, 1.0)),
        pde=functools.partial(_residual, nu),
        second=(0,),
        conditions=(Dirichlet("initial", ((1, 0),), _initial), Dirichlet("boundary", ((0, 0), (0, 1)), _zero)),
        solution=functools.partial(_solution, nu),
        evaluation=functools.partial(_evaluation, nu),
        parameters={"nu": nu},
    )
