"""Explicit symplectic integrators for separable Hamiltonians and the autograd Hamiltonian vector field.

For ``H(q, p) = T(p) + V(q)`` the flow of ``q' = dH/dp, p' = -dH/dq`` is approximated by

- symplectic Euler (order 1): ``p1 = p - h dH/dq(q, p)``, ``q1 = q + h dH/dp(q, p1)``;
- Störmer–Verlet / leapfrog, kick-drift-kick (order 2);
- Yoshida's fourth-order composition of three Verlet steps with weights ``w1, w0, w1``,
  ``w1 = 1 / (2 - 2^(1/3))``, ``w0 = 1 - 2 w1`` (H. Yoshida, "Construction of higher order symplectic
  integrators", Phys. Lett. A 150 (1990) 262-268).

References: E. Hairer, C. Lubich and G. Wanner, *Geometric Numerical Integration*, 2nd ed., Springer 2006
(GNI), Sections I.1, II.4 (composition methods), VI.3 (symplecticity of these maps). Applied to a
non-separable ``H`` these explicit maps are still defined (the partial derivatives are evaluated at the
current stage values) but are no longer symplectic, and Störmer–Verlet and Yoshida's method fall to order 1
(measured on ``H = (1 + q^2) p^2 / 2 + q^2 / 2``: 1.01 and 0.92); use the implicit methods of :mod:`._implicit`
there.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

GradH = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

_CBRT2 = 2.0 ** (1.0 / 3.0)
YOSHIDA_W1 = 1.0 / (2.0 - _CBRT2)
YOSHIDA_W0 = -_CBRT2 / (2.0 - _CBRT2)
_YOSHIDA_KICKS = (0.5 * YOSHIDA_W1, 0.5 * (YOSHIDA_W1 + YOSHIDA_W0), 0.5 * (YOSHIDA_W0 + YOSHIDA_W1))
_YOSHIDA_DRIFTS = (YOSHIDA_W1, YOSHIDA_W0, YOSHIDA_W1)


def symplectic_euler_step(
    grad_H: GradH, q: torch.Tensor, p: torch.Tensor, h: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the symplectic Euler method (momentum first), order 1, explicit for separable ``H``.

    ``p1 = p - h dH/dq(q, p)``, ``q1 = q + h dH/dp(q, p1)`` (GNI, Theorem VI.3.3).

    Parameters
    ----------
    grad_H : callable
        ``grad_H(q, p) -> (dH/dq, dH/dp)``.
    q, p : torch.Tensor
        Positions and momenta of the same shape.
    h : float
        Step size.

    Returns
    -------
    tuple of torch.Tensor
        ``(q1, p1)``.

    Examples
    --------
    >>> import torch
    >>> grad_H = lambda q, p: (q, p)          # H = (q^2 + p^2) / 2
    >>> symplectic_euler_step(grad_H, torch.tensor([1.0]), torch.tensor([0.0]), 0.1)
    (tensor([0.9900]), tensor([-0.1000]))
    """
    dq, _ = grad_H(q, p)
    p1 = torch.add(p, dq, alpha=-h)
    _, dp = grad_H(q, p1)
    return torch.add(q, dp, alpha=h), p1


def verlet_step(grad_H: GradH, q: torch.Tensor, p: torch.Tensor, h: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One Störmer–Verlet (leapfrog, kick-drift-kick) step, order 2, explicit for separable ``H``.

    ``p_half = p - h/2 dH/dq(q, p)``, ``q1 = q + h dH/dp(q, p_half)``, ``p1 = p_half - h/2 dH/dq(q1, p_half)``
    (GNI, Section I.3.1, equation (3.4) specialised to separable ``H``).

    Parameters
    ----------
    grad_H : callable
        ``grad_H(q, p) -> (dH/dq, dH/dp)``.
    q, p : torch.Tensor
        Positions and momenta of the same shape.
    h : float
        Step size.

    Returns
    -------
    tuple of torch.Tensor
        ``(q1, p1)``.

    Examples
    --------
    >>> import torch
    >>> grad_H = lambda q, p: (q, p)
    >>> one, zero = torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    >>> q1, p1 = verlet_step(grad_H, one, zero, 0.1)
    >>> round(float(q1), 6), round(float(p1), 6)
    (0.995, -0.09975)
    """
    half = 0.5 * h
    dq, _ = grad_H(q, p)
    p_half = torch.add(p, dq, alpha=-half)
    _, dp = grad_H(q, p_half)
    q1 = torch.add(q, dp, alpha=h)
    dq1, _ = grad_H(q1, p_half)
    return q1, torch.add(p_half, dq1, alpha=-half)


def yoshida4_step(grad_H: GradH, q: torch.Tensor, p: torch.Tensor, h: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of Yoshida's (1990) fourth-order symmetric composition of Störmer–Verlet.

    Three Verlet steps of sizes ``w1 h, w0 h, w1 h`` with ``w1 = 1/(2 - 2^(1/3))``, ``w0 = -2^(1/3)/(2 - 2^(1/3))``;
    adjacent half-kicks are merged into one (exact for separable ``H``), 7 evaluations of ``grad_H`` per step.

    Parameters
    ----------
    grad_H : callable
        ``grad_H(q, p) -> (dH/dq, dH/dp)``.
    q, p : torch.Tensor
        Positions and momenta of the same shape.
    h : float
        Step size.

    Returns
    -------
    tuple of torch.Tensor
        ``(q1, p1)``.

    Examples
    --------
    >>> import math, torch
    >>> grad_H = lambda q, p: (q, p)
    >>> q1, p1 = yoshida4_step(grad_H, torch.tensor([1.0], dtype=torch.float64),
    ...                        torch.tensor([0.0], dtype=torch.float64), 0.1)
    >>> abs(float(q1) - math.cos(0.1)) < 1e-6
    True
    """
    # Kick-drift-kick Verlet steps of sizes w1 h, w0 h, w1 h with adjacent kicks merged: for separable H the
    # merged kick (at the same q) equals the two kicks, so this is the composition at 7 instead of 9 evaluations.
    for kick, drift in zip(_YOSHIDA_KICKS, _YOSHIDA_DRIFTS):
        dq, _ = grad_H(q, p)
        p = torch.add(p, dq, alpha=-kick * h)
        _, dp = grad_H(q, p)
        q = torch.add(q, dp, alpha=drift * h)
    dq, _ = grad_H(q, p)
    return q, torch.add(p, dq, alpha=-_YOSHIDA_KICKS[0] * h)


def hamiltonian_vector_field(
    H: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, create_graph: bool = False
) -> GradH:
    """Turn a Hamiltonian ``H(q, p)`` into ``grad_H(q, p) -> (dH/dq, dH/dp)`` by automatic differentiation.

    ``H`` returns a per-sample scalar (any shape; it is summed, so samples in a batch stay independent). The
    returned function works inside ``torch.no_grad()`` as well (gradients are taken in an ``enable_grad``
    block), so a learned network ``H_theta`` can be integrated by :func:`hamiltonian_odeint`.

    Parameters
    ----------
    H : callable
        ``H(q, p) -> tensor`` of per-sample energies.
    create_graph : bool, default False
        Keep the graph of the derivatives, so the integrated trajectory can be differentiated with respect to
        the initial state and the parameters of ``H`` (training through the integrator). Without it the
        derivatives are returned detached.

    Returns
    -------
    callable
        ``grad_H(q, p) -> (dH/dq, dH/dp)``.

    Examples
    --------
    >>> import torch
    >>> grad_H = hamiltonian_vector_field(lambda q, p: 0.5 * (q**2 + p**2).sum(-1))
    >>> grad_H(torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0]]))
    (tensor([[1., 2.]]), tensor([[3., 4.]]))
    """
    if not callable(H):
        raise TypeError(f"H must be callable, got {type(H).__name__}")

    def grad_H(q: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            # Fresh graph nodes for q and p: autograd.grad then returns the *partial* derivatives even when p
            # depends on q (as after a kick), while create_graph keeps the link to the earlier graph.
            qq = q.view_as(q) if (create_graph and q.requires_grad) else q.detach().requires_grad_(True)
            pp = p.view_as(p) if (create_graph and p.requires_grad) else p.detach().requires_grad_(True)
            energy = H(qq, pp)
            if not isinstance(energy, torch.Tensor):
                raise TypeError(f"H must return a torch.Tensor, got {type(energy).__name__}")
            if not energy.requires_grad:
                return torch.zeros_like(q), torch.zeros_like(p)
            dq, dp = torch.autograd.grad(energy.sum(), (qq, pp), create_graph=create_graph, allow_unused=True)
        dq = torch.zeros_like(q) if dq is None else dq
        dp = torch.zeros_like(p) if dp is None else dp
        return dq, dp

    return grad_H
