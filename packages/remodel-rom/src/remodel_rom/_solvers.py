"""Learned components for linear solvers: reduced-model initial guesses for CG."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp


def conjugate_gradient(A: sp.spmatrix | np.ndarray, b: np.ndarray, x0: np.ndarray | None = None, *,
                       rtol: float = 1e-8, maxiter: int | None = None,
                       preconditioner: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[np.ndarray, int]:
    """(Preconditioned) conjugate gradients (Hestenes & Stiefel 1952) until ``||b - A x|| <= rtol ||b||``.

    Returns the solution and the number of iterations (0 when ``x0`` already meets the tolerance).

    Examples
    --------
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(50, 50))
    >>> x, its = conjugate_gradient(A, np.ones(50))
    >>> bool(np.linalg.norm(A @ x - 1) <= 1e-8 * np.sqrt(50)), its <= 50
    (True, True)
    """
    b = np.asarray(b, dtype=np.float64)
    if A.shape != (len(b), len(b)):
        raise ValueError(f"A must be {len(b)} x {len(b)} like b, got {A.shape}")
    x = np.zeros_like(b) if x0 is None else np.array(x0, dtype=np.float64, copy=True)
    if x.shape != b.shape:
        raise ValueError(f"x0 must have shape {b.shape}, got {x.shape}")
    maxiter = 10 * len(b) if maxiter is None else maxiter
    r = b - A @ x
    target = rtol * np.linalg.norm(b)
    if np.linalg.norm(r) <= target:
        return x, 0
    z = r if preconditioner is None else preconditioner(r)
    p = z.copy()
    rz = r @ z
    for it in range(1, maxiter + 1):
        Ap = A @ p
        alpha = rz / (p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        if np.linalg.norm(r) <= target:
            return x, it
        z = r if preconditioner is None else preconditioner(r)
        rz_new = r @ z
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x, maxiter


class LearnedInitialGuess:
    """Initial guesses ``x0(mu) = V u_r(mu)`` for iterative solves of the full model from a reduced model.

    Any object with ``solve(mu)`` and ``reconstruct(u_r)`` works: a Galerkin/RB model or a POD-NN.

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_rom import ReductionProblem, RBGreedy, thermal_block
    >>> fom = thermal_block(n=16)
    >>> guess = LearnedInitialGuess(solve(ReductionProblem(fom, training=30), RBGreedy(basis_size=10)).u)
    >>> mu = [0.3, 0.6, 0.2, 0.9]
    >>> cold = conjugate_gradient(fom.operator(mu), fom.rhs)[1]
    >>> warm = conjugate_gradient(fom.operator(mu), fom.rhs, guess(mu))[1]
    >>> warm < cold
    True
    """

    def __init__(self, rom: Any) -> None:
        if not (hasattr(rom, "solve") and hasattr(rom, "reconstruct")):
            raise TypeError(f"rom must have solve(mu) and reconstruct(u_r), got {type(rom).__name__}")
        self.rom = rom

    def __call__(self, mu: Sequence[float] | np.ndarray) -> np.ndarray:
        return self.rom.reconstruct(self.rom.solve(mu))


def cg_iterations(fom: Any, mus: np.ndarray, guess: Callable[[np.ndarray], np.ndarray] | None = None, *,
                  rtol: float = 1e-8, jacobi: bool = False) -> np.ndarray:
    """CG iterations to ``rtol`` on the full model at each parameter, cold or from ``guess(mu)``.

    Examples
    --------
    >>> from remodel_rom import thermal_block
    >>> fom = thermal_block(n=8)
    >>> its = cg_iterations(fom, fom.sample(2, np.random.default_rng(0)))
    >>> its.shape, bool(np.all(its > 0))
    ((2,), True)
    """
    its = []
    for mu in mus:
        A = fom.operator(mu)
        pre = None
        if jacobi:
            d = 1.0 / A.diagonal()
            pre = lambda r, d=d: d * r  # noqa: E731
        x0 = None if guess is None else guess(mu)
        its.append(conjugate_gradient(A, fom.rhs, x0, rtol=rtol, preconditioner=pre)[1])
    return np.array(its)
