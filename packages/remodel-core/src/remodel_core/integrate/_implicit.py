"""Implicit symplectic integrators for non-separable Hamiltonians: implicit midpoint, generalised Störmer–Verlet.

References: E. Hairer, C. Lubich and G. Wanner, *Geometric Numerical Integration*, 2nd ed., Springer 2006
(GNI): the implicit midpoint rule (Section I.1.2, Theorem VI.3.5: symplectic, conserves quadratic first
integrals) and the generalised Störmer–Verlet method for general ``H(q, p)`` (Section VI.3, equation (3.4);
Theorem VI.3.4: symplectic, order 2). Implicit stages are solved by fixed-point iteration (GNI, Section VIII.6),
which converges for ``h * Lip(grad H)`` small enough.
"""

from __future__ import annotations

import math
import warnings

import torch

from .._algorithm import check_positive
from ._symplectic import GradH


class _FixedPoint:
    """Shared fixed-point iteration settings and counters."""

    def __init__(self, tol: float, max_iter: int, on_fail: str, method: str) -> None:
        check_positive("tol", tol)
        check_positive("max_iter", max_iter, integer=True)
        if on_fail not in ("raise", "warn"):
            raise ValueError(f"on_fail must be 'raise' or 'warn', got {on_fail!r}")
        self.tol = tol
        self.max_iter = max_iter
        self.on_fail = on_fail
        self.method = method
        self.iterations = 0
        self.evals = 0

    def threshold(self, *states: torch.Tensor) -> float:
        """Increment below which the iteration has converged: ``tol * max(1, |states|_inf)``."""
        return self.tol * max([1.0] + [_maxabs(s) for s in states])

    def converged(self, delta: float, bound: float, stage: str) -> bool:
        """True when the increment is below ``bound``; a non-finite increment fails at once (blow-up)."""
        if delta <= bound:
            return True
        if not math.isfinite(delta):
            self.fail(delta, stage)
            return True
        return False

    def fail(self, delta: float, stage: str) -> None:
        msg = (
            f"{self.method}: fixed-point iteration for {stage} did not converge in max_iter={self.max_iter} "
            f"iterations (last increment {delta:.3g}, tol={self.tol:.3g}); reduce dt or increase max_iter"
        )
        if self.on_fail == "raise":
            raise RuntimeError(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=4)


def _maxabs(x: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(x.detach(), ord=float("inf"))) if x.numel() else 0.0


def _inc(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Max-norm of ``new - old`` as a 0-d tensor (no graph)."""
    return torch.linalg.vector_norm((new - old).detach(), ord=float("inf"))


def implicit_midpoint_step(
    grad_H: GradH,
    q: torch.Tensor,
    p: torch.Tensor,
    h: float,
    *,
    tol: float = 1e-12,
    max_iter: int = 100,
    on_fail: str = "raise",
    _fp: _FixedPoint | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the implicit midpoint rule, symplectic of order 2 for any ``H``.

    Solves ``q1 = q + h dH/dp(m)``, ``p1 = p - h dH/dq(m)``, ``m = ((q + q1)/2, (p + p1)/2)`` by fixed-point
    iteration started at ``(q, p)``, until the max-norm increment is below ``tol * max(1, |(q, p)|_inf)``.

    Parameters
    ----------
    grad_H : callable
        ``grad_H(q, p) -> (dH/dq, dH/dp)``.
    q, p : torch.Tensor
        Positions and momenta of the same shape.
    h : float
        Step size.
    tol : float, default 1e-12
        Fixed-point tolerance (use about 1e-6 in float32).
    max_iter : int, default 100
        Iteration limit per step.
    on_fail : {"raise", "warn"}
        What to do when the iteration does not converge: ``RuntimeError`` or a ``RuntimeWarning``.

    Returns
    -------
    tuple of torch.Tensor
        ``(q1, p1)``.

    Examples
    --------
    >>> import torch
    >>> grad_H = lambda q, p: (q, p)           # harmonic oscillator: energy conserved exactly
    >>> q1, p1 = implicit_midpoint_step(grad_H, torch.tensor([1.0], dtype=torch.float64),
    ...                                 torch.tensor([0.0], dtype=torch.float64), 0.5)
    >>> abs(float(q1**2 + p1**2) - 1.0) < 1e-12
    True
    """
    fp = _fp if _fp is not None else _FixedPoint(tol, max_iter, on_fail, "implicit_midpoint")
    bound = fp.threshold(q, p)
    q1, p1 = q, p
    delta = float("inf")
    for _ in range(fp.max_iter):
        dq, dp = grad_H(0.5 * (q + q1), 0.5 * (p + p1))
        fp.evals += 1
        fp.iterations += 1
        q_new, p_new = torch.add(q, dp, alpha=h), torch.add(p, dq, alpha=-h)
        delta = float(torch.maximum(_inc(q_new, q1), _inc(p_new, p1)))
        q1, p1 = q_new, p_new
        if fp.converged(delta, bound, "the midpoint stage"):
            return q1, p1
    fp.fail(delta, "the midpoint stage")
    return q1, p1


def stormer_verlet_implicit_step(
    grad_H: GradH,
    q: torch.Tensor,
    p: torch.Tensor,
    h: float,
    *,
    tol: float = 1e-12,
    max_iter: int = 100,
    on_fail: str = "raise",
    _fp: _FixedPoint | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the generalised Störmer–Verlet method for non-separable ``H`` (GNI, eq. VI.(3.4)), order 2.

    ``p_half = p - h/2 dH/dq(q, p_half)`` (implicit in ``p_half``),
    ``q1 = q + h/2 (dH/dp(q, p_half) + dH/dp(q1, p_half))`` (implicit in ``q1``),
    ``p1 = p_half - h/2 dH/dq(q1, p_half)`` (explicit). Both implicit stages are solved by fixed-point iteration.
    For separable ``H`` it reduces to the explicit leapfrog :func:`verlet_step`.

    Parameters
    ----------
    grad_H : callable
        ``grad_H(q, p) -> (dH/dq, dH/dp)``.
    q, p : torch.Tensor
        Positions and momenta of the same shape.
    h : float
        Step size.
    tol : float, default 1e-12
        Fixed-point tolerance of both implicit stages (use about 1e-6 in float32).
    max_iter : int, default 100
        Iteration limit per stage.
    on_fail : {"raise", "warn"}
        What to do when an iteration does not converge: ``RuntimeError`` or a ``RuntimeWarning``.

    Returns
    -------
    tuple of torch.Tensor
        ``(q1, p1)``.

    Examples
    --------
    >>> import torch
    >>> from remodel_core.integrate import hamiltonian_vector_field
    >>> grad_H = hamiltonian_vector_field(lambda q, p: 0.5 * (q**2 + 1) * (p**2 + 1))
    >>> q1, p1 = stormer_verlet_implicit_step(grad_H, torch.tensor([0.5], dtype=torch.float64),
    ...                                       torch.tensor([0.3], dtype=torch.float64), 0.1)
    >>> q1.shape, p1.shape
    (torch.Size([1]), torch.Size([1]))
    """
    fp = _fp if _fp is not None else _FixedPoint(tol, max_iter, on_fail, "stormer_verlet_implicit")
    half = 0.5 * h
    bound = fp.threshold(q, p)
    # Stage 1: p_half = p - h/2 dH/dq(q, p_half).
    p_half = p
    delta = float("inf")
    for _ in range(fp.max_iter):
        dq, _ = grad_H(q, p_half)
        fp.evals += 1
        fp.iterations += 1
        p_new = torch.add(p, dq, alpha=-half)
        delta = float(_inc(p_new, p_half))
        p_half = p_new
        if fp.converged(delta, bound, "the half-step momentum"):
            break
    else:
        fp.fail(delta, "the half-step momentum")
    # dH/dp(q, p_half) at the converged p_half.
    _, dp0 = grad_H(q, p_half)
    fp.evals += 1
    # Stage 2: q1 = q + h/2 (dH/dp(q, p_half) + dH/dp(q1, p_half)).
    q1 = torch.add(q, dp0, alpha=h)
    delta = float("inf")
    for _ in range(fp.max_iter):
        dq1, dp1 = grad_H(q1, p_half)
        fp.evals += 1
        fp.iterations += 1
        q_new = torch.add(q, dp0 + dp1, alpha=half)
        delta = float(_inc(q_new, q1))
        q1 = q_new
        if fp.converged(delta, bound, "the position"):
            break
    else:
        fp.fail(delta, "the position")
    # Stage 3 (explicit): p1 = p_half - h/2 dH/dq(q1, p_half).
    dq1, _ = grad_H(q1, p_half)
    fp.evals += 1
    return q1, torch.add(p_half, dq1, alpha=-half)
