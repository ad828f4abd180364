"""Learned components for linear solvers: reduced-model initial guesses for CG."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp


def conjugate_gradient(
    A: sp.spmatrix | np.ndarray,
    b: np.ndarray,
    x0: np.ndarray | None = None,
    *,
    rtol: float = 1e-8,
    maxiter: int | None = None,
    preconditioner: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, int]:
    """(Preconditioned) conjugate gradients (Hestenes & Stiefel 1952) until ``||b - A x|| <= rtol ||b||``.

    Returns the solution and the number of iterations (0 when ``x0`` already meets the tolerance). The rule:
    ``rtol`` must lie in ``(0, 1)``; when ``maxiter`` iterations do not reach it, a ``RuntimeWarning`` says so
    (with the relative residual reached) and the last iterate is returned with ``maxiter``; a breakdown
    (``p^T A p <= 0``: ``A`` is not positive definite, or ``r^T M^{-1} r <= 0``: the preconditioner is not)
    raises ``ValueError`` naming ``A`` or ``preconditioner``, never a NaN result.

    Parameters
    ----------
    A : scipy.sparse matrix or numpy.ndarray
        Symmetric positive definite.
    b : numpy.ndarray
        Right-hand side.
    x0 : numpy.ndarray, optional
        Initial guess (zero when not given).
    rtol : float, default 1e-8
        Relative residual tolerance, in ``(0, 1)``.
    maxiter : int, optional
        Iteration limit (by default ``10 * len(b)``).
    preconditioner : callable, optional
        ``r -> M^{-1} r`` for a symmetric positive definite ``M``.

    Examples
    --------
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(50, 50))
    >>> x, its = conjugate_gradient(A, np.ones(50))
    >>> bool(np.linalg.norm(A @ x - 1) <= 1e-8 * np.sqrt(50)), its <= 50
    (True, True)
    """
    b = np.asarray(b, dtype=np.float64)
    if b.ndim != 1 or len(b) == 0:
        raise ValueError(f"b must be a non-empty 1-D array, got shape {b.shape}")
    if not hasattr(A, "shape") or A.shape != (len(b), len(b)):
        raise ValueError(f"A must be {len(b)} x {len(b)} like b, got {getattr(A, 'shape', type(A).__name__)}")
    if isinstance(rtol, bool) or not isinstance(rtol, int | float) or not (0 < rtol < 1):
        raise ValueError(f"rtol must lie in (0, 1), got {rtol!r}")
    if maxiter is not None and (isinstance(maxiter, bool) or not isinstance(maxiter, int) or maxiter < 1):
        raise ValueError(f"maxiter must be a positive integer or None, got {maxiter!r}")
    if not np.all(np.isfinite(b)):
        raise ValueError("b must be finite")
    x = np.zeros_like(b) if x0 is None else np.array(x0, dtype=np.float64, copy=True)
    if x.shape != b.shape:
        raise ValueError(f"x0 must have shape {b.shape}, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x0 must be finite")
    maxiter = 10 * len(b) if maxiter is None else maxiter
    r = b - A @ x
    bnorm = np.linalg.norm(b)
    target = rtol * bnorm
    if np.linalg.norm(r) <= target:
        return x, 0
    z = r if preconditioner is None else preconditioner(r)
    p = z.copy()
    rz = r @ z
    if not rz > 0:
        raise ValueError(f"preconditioner must be positive definite: r^T M^-1 r = {rz!r} at iteration 0")
    for it in range(1, maxiter + 1):
        Ap = A @ p
        pAp = p @ Ap
        if not (pAp > 0 and math.isfinite(pAp)):
            raise ValueError(
                f"A must be symmetric positive definite: CG broke down at iteration {it} (p^T A p = {pAp!r})"
            )
        alpha = rz / pAp
        x += alpha * p
        r -= alpha * Ap
        if np.linalg.norm(r) <= target:
            return x, it
        z = r if preconditioner is None else preconditioner(r)
        rz_new = r @ z
        if not (rz_new > 0 and math.isfinite(rz_new)):
            raise ValueError(f"preconditioner must be positive definite: r^T M^-1 r = {rz_new!r} at iteration {it}")
        p = z + (rz_new / rz) * p
        rz = rz_new
    warnings.warn(
        f"conjugate_gradient did not converge in maxiter={maxiter} iterations: relative residual "
        f"{np.linalg.norm(r) / bnorm:.2e} > rtol={rtol:g}",
        RuntimeWarning,
        stacklevel=2,
    )
    return x, maxiter


class LearnedInitialGuess:
    """Initial guesses ``x0(mu) = V u_r(mu)`` for iterative solves of the full model from a reduced model.

    Any object with ``solve(mu)`` and ``reconstruct(u_r)`` works: a Galerkin/RB model or a POD-NN.

    Parameters
    ----------
    rom : reduced model
        Any object with ``solve(mu)`` and ``reconstruct(u_r)``.

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


def cg_iterations(
    fom: Any,
    mus: np.ndarray,
    guess: Callable[[np.ndarray], np.ndarray] | None = None,
    *,
    rtol: float = 1e-8,
    jacobi: bool = False,
) -> np.ndarray:
    """CG iterations to ``rtol`` on the full model at each parameter, cold or from ``guess(mu)``.

    Parameters
    ----------
    fom : StationaryAffineModel
        The full model (``operator(mu)`` and ``rhs``).
    mus : numpy.ndarray, shape (k, p)
        Parameters.
    guess : callable, optional
        ``guess(mu) -> x0``, e.g. a :class:`LearnedInitialGuess`; zero when not given.
    rtol : float, default 1e-8
        Relative residual tolerance.
    jacobi : bool, default False
        Precondition with the diagonal of ``A(mu)``.

    Returns
    -------
    numpy.ndarray of int, shape (k,)

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
