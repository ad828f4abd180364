"""The choice of the regularisation weight: Morozov's discrepancy principle by bisection on ``log lam``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import torch
from remodel_core import Algorithm, ReturnCode, Solution, SolveContext, check_positive

from ._problem import InverseProblem

_SUPPORTED = frozenset({"maxiters", "maxtime", "callback"})


def discrepancy_target(problem: InverseProblem, tau: float = 1.0) -> float:
    """``tau * sqrt(m) * sigma``: the expected norm of the noise, ``m`` the number of real measurement components
    (twice the size of a complex ``y``) and ``sigma = problem.noise_sigma``.

    Parameters
    ----------
    problem : InverseProblem
        Must have ``noise_sigma > 0``.
    tau : float
        Safety factor (``>= 1`` in the theory; 1 is the usual choice in imaging).

    Examples
    --------
    >>> from remodel_imaging import GaussianBlur
    >>> prob = InverseProblem(operator=GaussianBlur((10, 10), 1.0), y=torch.zeros(10, 10), noise_sigma=0.1)
    >>> round(discrepancy_target(prob), 12)
    1.0
    """
    if not isinstance(problem, InverseProblem):
        raise TypeError(f"problem must be an InverseProblem, got {type(problem).__name__}")
    check_positive("tau", tau)
    sigma = problem.noise_sigma
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not sigma > 0 or not math.isfinite(sigma):
        raise ValueError(
            f"noise_sigma must be known and > 0 for the discrepancy principle (the problem has noise_sigma="
            f"{sigma!r}); estimate it, or choose lam on held-out data"
        )
    m = problem.y.numel() * (2 if problem.y.is_complex() else 1)
    return float(tau) * math.sqrt(m) * float(sigma)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DiscrepancyPrinciple(Algorithm):
    """Choose the regularisation weight by Morozov's discrepancy principle and return that reconstruction.

    Morozov, "On the solution of functional equations by the method of regularization", Soviet Math. Dokl. 7
    (1966): pick ``lam`` with ``||A x_lam - y|| = tau sqrt(m) sigma`` (:func:`discrepancy_target`). For a convex
    regulariser the residual ``lam -> ||A x_lam - y||`` is nondecreasing, so the equation is solved by bisection on
    ``log lam``: the bracket ``[lo, hi]`` is widened by factors of 10 (at most ``expand`` times on each side)
    until ``r(lo) <= target <= r(hi)``, then halved geometrically until ``|r - target| <= rtol * target``
    (``Success``) or ``maxiters`` bisection steps (``MaxIters``). No bracket: ``Failure`` (the data cannot be fit
    to the noise level, or ``tau`` is too large), with the closest ``lam``. Each ``x_lam`` is a full
    ``solve(problem, replace(algorithm, lam=...))``.

    Needs ``problem.noise_sigma > 0``; without it ``solve`` raises a ``ValueError`` naming ``noise_sigma``.

    Parameters
    ----------
    algorithm : Algorithm
        A reconstruction algorithm with a weight field (``TVPrimalDual``, ``FISTA``, ``ChambollePock``, ``RED``).
    parameter : str
        Name of the weight field of ``algorithm``.
    tau : float
        Safety factor of the target.
    bracket : tuple of float
        Initial ``(lo, hi)``, ``0 < lo < hi``.
    rtol : float
        Relative tolerance on the discrepancy.
    expand : int
        Maximal widenings of the bracket on each side.
    inner_maxiters : int, optional
        ``maxiters`` of each inner solve (the algorithm's default when None).

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_imaging import GaussianBlur, TVPrimalDual, camera
    >>> x = camera(24)
    >>> prob = InverseProblem.simulate(GaussianBlur((24, 24), sigma=1.0), x, noise_sigma=0.03, seed=0)
    >>> sol = solve(prob, DiscrepancyPrinciple(algorithm=TVPrimalDual(tol=1e-3), rtol=0.05))
    >>> sol.retcode.name, abs(sol.stats["residual"] / sol.stats["target"] - 1) <= 0.05
    ('Success', True)
    """

    algorithm: Algorithm
    parameter: str = "lam"
    tau: float = 1.0
    bracket: tuple[float, float] = (1e-4, 1e-1)
    rtol: float = 0.01
    expand: int = 4
    inner_maxiters: int | None = None

    problem_types: ClassVar[tuple[type, ...]] = (InverseProblem,)
    supported_options: ClassVar[frozenset[str]] = _SUPPORTED

    def validate(self) -> None:
        if not isinstance(self.algorithm, Algorithm):
            raise TypeError(f"algorithm must be a remodel_core.Algorithm, got {type(self.algorithm).__name__}")
        fields = {f.name for f in dataclasses.fields(self.algorithm)}
        if not isinstance(self.parameter, str) or self.parameter not in fields:
            raise ValueError(
                f"parameter must name a field of {type(self.algorithm).__name__} ({sorted(fields)}), "
                f"got {self.parameter!r}"
            )
        check_positive("tau", self.tau)
        check_positive("rtol", self.rtol)
        check_positive("expand", self.expand, integer=True, allow_zero=True)
        if self.inner_maxiters is not None:
            check_positive("inner_maxiters", self.inner_maxiters, integer=True)
        b = self.bracket
        ok = (
            isinstance(b, tuple)
            and len(b) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in b)
        )
        if not ok or not (0 < b[0] < b[1] < math.inf):
            raise ValueError(f"bracket must be a tuple (lo, hi) with 0 < lo < hi < inf, got {b!r}")
        self.algorithm.validate()

    def _solve(self, problem: InverseProblem, ctx: SolveContext) -> Solution:
        from remodel_core import solve

        target = discrepancy_target(problem, self.tau)
        y = problem.y
        cache: dict[float, tuple[float, Solution]] = {}

        def residual(lam: float) -> float:
            inner_opts: dict[str, Any] = {}
            if self.inner_maxiters is not None:
                inner_opts["maxiters"] = self.inner_maxiters
            sol = solve(problem, dataclasses.replace(self.algorithm, **{self.parameter: lam}), **inner_opts)
            with torch.no_grad():
                r = problem.operator.apply(sol.u.to(y.device)) - y
                value = float(torch.linalg.vector_norm(r.to(torch.complex128 if r.is_complex() else torch.float64)))
            cache[lam] = (value, sol)
            ctx.stats["inner_solves"] += 1
            ctx.log(lam=lam, residual=value, target=target, time=ctx.elapsed())
            return value

        ctx.stats.update(target=target, inner_solves=0)
        lo, hi = (float(v) for v in self.bracket)
        r_lo, r_hi = residual(lo), residual(hi)
        for _ in range(self.expand):
            if r_hi >= target:
                break
            lo, r_lo, hi = hi, r_hi, hi * 10.0
            r_hi = residual(hi)
        for _ in range(self.expand):
            if r_lo <= target:
                break
            hi, r_hi, lo = lo, r_lo, lo / 10.0
            r_lo = residual(lo)
        maxiters = ctx.options.maxiters if ctx.options.maxiters is not None else 40
        retcode: ReturnCode | None = None
        if not r_lo <= target <= r_hi:
            retcode = ReturnCode.Failure
            ctx.stats["message"] = (
                f"no bracket: residual {r_lo:.4g} at lam={lo:.3g} and {r_hi:.4g} at lam={hi:.3g}, target {target:.4g}"
            )
        steps = 0
        while retcode is None:
            best = min(cache, key=lambda k: abs(cache[k][0] - target))
            if abs(cache[best][0] - target) <= self.rtol * target:
                retcode = ReturnCode.Success
            elif steps >= maxiters:
                retcode = ReturnCode.MaxIters
            else:
                mid = math.sqrt(lo * hi)
                r_mid = residual(mid)
                if r_mid < target:
                    lo, r_lo = mid, r_mid
                else:
                    hi, r_hi = mid, r_mid
                steps += 1
                ctx.stats["iterations"] = steps
                reason = ctx.stop_reason(iteration=steps)
                if reason is not None and reason is not ReturnCode.MaxIters:  # maxiters: checked above
                    retcode = reason
        best = min(cache, key=lambda k: abs(cache[k][0] - target))
        value, sol = cache[best]
        ctx.stats.update(lam=best, residual=value, inner_retcode=sol.retcode.name, wall_s=ctx.elapsed())
        return Solution(u=sol.u, retcode=retcode, stats=dict(ctx.stats), history=ctx.history)
