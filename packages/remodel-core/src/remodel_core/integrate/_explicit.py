"""Fixed-step explicit Runge–Kutta steps: Euler, Heun, classical RK4.

References: Hairer, Nørsett & Wanner, *Solving Ordinary Differential Equations I*, 2nd ed., Springer 1993,
Sections II.1–II.2 (explicit Euler, Heun's second-order method, Kutta's 1901 classical fourth-order method).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

RHS = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def euler_step(f: RHS, t: torch.Tensor, y: torch.Tensor, h: float) -> torch.Tensor:
    """One explicit Euler step ``y + h f(t, y)`` (order 1).

    Parameters
    ----------
    f : callable
        Right-hand side ``f(t, y)``, returning a tensor of the shape of ``y``.
    t : torch.Tensor
        Current time (0-d tensor).
    y : torch.Tensor
        Current state.
    h : float
        Step size.

    Returns
    -------
    torch.Tensor
        The state at ``t + h``.

    Examples
    --------
    >>> import torch
    >>> euler_step(lambda t, y: -y, torch.tensor(0.0), torch.ones(2), 0.1)
    tensor([0.9000, 0.9000])
    """
    return torch.add(y, f(t, y), alpha=h)


def heun_step(f: RHS, t: torch.Tensor, y: torch.Tensor, h: float) -> torch.Tensor:
    """One step of Heun's method (explicit trapezoidal rule, order 2).

    ``k1 = f(t, y)``, ``k2 = f(t + h, y + h k1)``, ``y + h (k1 + k2) / 2``.

    Parameters
    ----------
    f : callable
        The right-hand side ``f(t, y) -> dy/dt``.
    t : torch.Tensor
        Time at the start of the step.
    y : torch.Tensor
        State at ``t``.
    h : float
        Step size.

    Returns
    -------
    torch.Tensor
        The state at ``t + h``.

    Examples
    --------
    >>> import torch
    >>> heun_step(lambda t, y: -y, torch.tensor(0.0), torch.ones(1), 0.1)
    tensor([0.9050])
    """
    k1 = f(t, y)
    k2 = f(t + h, torch.add(y, k1, alpha=h))
    return torch.add(y, k1 + k2, alpha=0.5 * h)


def rk4_step(f: RHS, t: torch.Tensor, y: torch.Tensor, h: float) -> torch.Tensor:
    """One step of the classical fourth-order Runge–Kutta method (Kutta 1901).

    Parameters
    ----------
    f : callable
        The right-hand side ``f(t, y) -> dy/dt``.
    t : torch.Tensor
        Time at the start of the step.
    y : torch.Tensor
        State at ``t``.
    h : float
        Step size.

    Returns
    -------
    torch.Tensor
        The state at ``t + h``.

    Examples
    --------
    >>> import torch
    >>> y1 = rk4_step(lambda t, y: -y, torch.tensor(0.0, dtype=torch.float64), torch.ones(1, dtype=torch.float64), 0.1)
    >>> abs(float(y1) - 0.9048374180359595) < 1e-7
    True
    """
    half = 0.5 * h
    t_half = t + half
    k1 = f(t, y)
    k2 = f(t_half, torch.add(y, k1, alpha=half))
    k3 = f(t_half, torch.add(y, k2, alpha=half))
    k4 = f(t + h, torch.add(y, k3, alpha=h))
    return torch.add(y, torch.add(k1, k2 + k3, alpha=2.0) + k4, alpha=h / 6.0)


FIXED_STEPS: dict[str, Callable[[RHS, torch.Tensor, torch.Tensor, float], torch.Tensor]] = {
    "euler": euler_step,
    "heun": heun_step,
    "rk4": rk4_step,
}
EVALS_PER_STEP = {"euler": 1, "heun": 2, "rk4": 4}
