"""Explicit Runge–Kutta steps (Euler, Heun, RK4) applied to ``q' = dH/dp, p' = -dH/dq`` on ``(q, p)`` pairs.

The same methods as :mod:`._explicit`, written on the pair so that no stacking of ``q`` and ``p`` is needed; they
are the non-symplectic references of :func:`remodel_core.integrate.hamiltonian_odeint`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._symplectic import GradH

Pair = tuple[torch.Tensor, torch.Tensor]


def pair_euler_step(grad_H: GradH, q: torch.Tensor, p: torch.Tensor, h: float) -> Pair:
    """Explicit Euler on the Hamiltonian vector field."""
    dq, dp = grad_H(q, p)
    return torch.add(q, dp, alpha=h), torch.add(p, dq, alpha=-h)


def pair_heun_step(grad_H: GradH, q: torch.Tensor, p: torch.Tensor, h: float) -> Pair:
    """Heun's method on the Hamiltonian vector field."""
    dq1, dp1 = grad_H(q, p)
    dq2, dp2 = grad_H(torch.add(q, dp1, alpha=h), torch.add(p, dq1, alpha=-h))
    half = 0.5 * h
    return torch.add(q, dp1 + dp2, alpha=half), torch.add(p, dq1 + dq2, alpha=-half)


def pair_rk4_step(grad_H: GradH, q: torch.Tensor, p: torch.Tensor, h: float) -> Pair:
    """Classical RK4 on the Hamiltonian vector field."""
    half = 0.5 * h
    dq1, dp1 = grad_H(q, p)
    dq2, dp2 = grad_H(torch.add(q, dp1, alpha=half), torch.add(p, dq1, alpha=-half))
    dq3, dp3 = grad_H(torch.add(q, dp2, alpha=half), torch.add(p, dq2, alpha=-half))
    dq4, dp4 = grad_H(torch.add(q, dp3, alpha=h), torch.add(p, dq3, alpha=-h))
    sq = torch.add(dp1, dp2 + dp3, alpha=2.0) + dp4
    sp = torch.add(dq1, dq2 + dq3, alpha=2.0) + dq4
    return torch.add(q, sq, alpha=h / 6.0), torch.add(p, sp, alpha=-h / 6.0)


PAIR_STEPS: dict[str, Callable[[GradH, torch.Tensor, torch.Tensor, float], Pair]] = {
    "euler": pair_euler_step,
    "heun": pair_heun_step,
    "rk4": pair_rk4_step,
}
