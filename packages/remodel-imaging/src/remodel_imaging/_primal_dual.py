"""Total-variation reconstruction by the primal-dual hybrid gradient method (Chambolle & Pock 2011)."""

from __future__ import annotations

import dataclasses
import math

import torch
from remodel_core import Algorithm, ReturnCode, Solution, SolveContext, check_positive

from ._metrics import psnr
from ._operator import inner
from ._operators import Gradient
from ._problem import InverseProblem

DEFAULT_MAXITERS = 500


def tv_objective(x: torch.Tensor, problem: InverseProblem, lam: float) -> float:
    """``1/2 ||A x - y||^2 + lam * TV(x)`` with the isotropic total variation ``TV(x) = sum |∇x|_2``.

    Parameters
    ----------
    x : torch.Tensor
        The image ``(H, W)``.
    problem : InverseProblem
        Gives the operator ``A`` and the measurements ``y``.
    lam : float
        The weight of the total variation.

    Returns
    -------
    float
        The objective value (the ``objective`` entry of :class:`ChambollePock`'s history).

    Examples
    --------
    >>> from remodel_imaging import InverseProblem, Mask
    >>> A = Mask(torch.ones(4, 4, dtype=torch.bool))
    >>> x = torch.zeros(4, 4, dtype=torch.float64); x[:, 2:] = 1.0
    >>> tv_objective(x, InverseProblem(operator=A, y=x), lam=0.5)    # 4 unit jumps, no misfit
    2.0
    """
    r = problem.operator.apply(x) - problem.y
    g = Gradient(x.shape[-2:]).apply(x)
    return 0.5 * float(inner(r, r)) + lam * float(g.pow(2).sum(-3).sqrt().sum())


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChambollePock(Algorithm):
    """Isotropic-TV regularised least squares by the primal-dual hybrid gradient method.

    Solves ``min_x 1/2 ||A x - y||^2 + lam * ||∇x||_{2,1}`` (optionally with ``x >= 0``) written as
    ``min_x F(K x) + G(x)`` with ``K = [A; ∇]``, using Algorithm 1 of Chambolle & Pock, "A first-order
    primal-dual algorithm for convex problems with applications to imaging", J. Math. Imaging Vis. 40 (2011):

    ``p <- prox_{σF*}(p + σ K x̄)``, ``x⁺ <- prox_{τG}(x - τ K^* p)``, ``x̄ <- x⁺ + θ (x⁺ - x)``,

    with ``prox_{σF_1*}(p) = (p - σ y) / (1 + σ)`` for the data term and a pointwise projection onto the
    ``lam``-ball for the TV term. The steps satisfy ``σ τ ||K||^2 < 1`` with ``||K||^2 <= ||A||^2 + ||∇||^2``
    (``||A||`` by power iteration), which guarantees convergence to a minimiser. One iteration of ``solve``
    is one primal-dual step; the run ends with ``Success`` when the relative change of ``x`` falls below
    ``tol``, else at ``maxiters`` (default 500). The history holds the objective and, when the problem knows
    ``x_true``, the PSNR.

    Parameters
    ----------
    lam : float
        Weight of the total variation.
    theta : float
        Extrapolation parameter in [0, 1] (1 in the paper's convergence theorem).
    step_ratio : float
        ``σ / τ``; ``τ = 0.99 / (sqrt(step_ratio) ||K||)``, ``σ = step_ratio τ``.
    nonneg : bool
        Constrain ``x >= 0``.
    tol : float
        Relative change ``||x⁺ - x|| / ||x⁺||`` below which the iteration stops with ``Success``.

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_imaging import GaussianBlur, InverseProblem, camera, psnr
    >>> x = camera(32)
    >>> prob = InverseProblem.simulate(GaussianBlur((32, 32), sigma=1.0), x, noise_sigma=0.02, seed=0)
    >>> sol = solve(prob, ChambollePock(lam=0.01), maxiters=200)
    >>> psnr(sol.u, x) > psnr(prob.y, x)
    True
    """

    lam: float = 0.01
    theta: float = 1.0
    step_ratio: float = 1.0
    nonneg: bool = False
    tol: float = 1e-6

    problem_types = (InverseProblem,)
    supported_options = frozenset(
        {"maxiters", "maxtime", "abstol", "reltol", "callback", "seed", "device", "dtype", "monitor_every"}
    )

    def validate(self) -> None:
        check_positive("lam", self.lam, allow_zero=True)
        check_positive("step_ratio", self.step_ratio)
        check_positive("tol", self.tol, allow_zero=True)
        if isinstance(self.theta, bool) or not isinstance(self.theta, int | float) or not 0 <= self.theta <= 1:
            raise ValueError(f"theta must be a number in [0, 1], got {self.theta!r}")

    def _solve(self, problem: InverseProblem, ctx: SolveContext) -> Solution:
        opts = ctx.options
        A = problem.operator
        if len(A.in_shape) != 2:
            raise ValueError(f"ChambollePock needs an operator on 2-D images, got in_shape {list(A.in_shape)}")
        dtype = opts.dtype or torch.float64
        device = opts.device
        y = problem.y.to(
            device=device,
            dtype=(torch.complex128 if dtype == torch.float64 else torch.complex64)
            if problem.y.is_complex()
            else dtype,
        )
        grad = Gradient(A.in_shape)
        with ctx.excluded_time():
            norm_a = A.norm(dtype=torch.float64)
        L = math.sqrt(norm_a**2 + grad.exact_norm() ** 2)
        tau = 0.99 / (math.sqrt(self.step_ratio) * L)
        sigma = self.step_ratio * tau
        ctx.stats.update(norm_A=norm_a, tau=tau, sigma=sigma)
        x = A.apply_adjoint(y).to(dtype).clone()  # back-projection as the starting point
        if self.nonneg:
            x.clamp_(min=0)
        xbar = x.clone()
        p = torch.zeros_like(y)
        q = torch.zeros((2, *A.in_shape), dtype=dtype, device=device)
        maxiters = opts.maxiters if opts.maxiters is not None or opts.maxtime is not None else DEFAULT_MAXITERS
        x_true = problem.x_true.to(device=device, dtype=dtype) if problem.x_true is not None else None
        iteration = 0
        retcode: ReturnCode | None = None
        while retcode is None:
            p = (p + sigma * (A.apply(xbar) - y)) / (1.0 + sigma)
            q = q + sigma * grad.apply(xbar)
            if self.lam > 0:
                q = q / torch.clamp(q.pow(2).sum(0, keepdim=True).sqrt() / self.lam, min=1.0)
            else:
                q = torch.zeros_like(q)
            x_new = x - tau * (A.apply_adjoint(p).to(dtype) + grad.apply_adjoint(q))
            if self.nonneg:
                x_new.clamp_(min=0)
            change = float((x_new - x).norm() / x_new.norm().clamp_min(1e-300))
            xbar = x_new + self.theta * (x_new - x)
            x = x_new
            iteration += 1
            ctx.stats["iterations"] = iteration
            ctx.stats["evals"] += 2  # one A and one A^* application
            objective = tv_objective(x, problem, self.lam) if iteration % opts.monitor_every == 0 else math.nan
            row = {"iteration": iteration, "objective": objective, "rel_change": change, "time": ctx.elapsed()}
            if x_true is not None:
                with ctx.excluded_time():
                    row["psnr"] = psnr(x, x_true)
            ctx.log(**row)
            if not bool(torch.isfinite(x).all()):
                retcode = ReturnCode.Diverged
            elif change <= self.tol:
                retcode = ReturnCode.Success
            else:
                retcode = ctx.stop_reason(
                    iteration=iteration, loss=None if math.isnan(objective) else objective, state=x
                )
                if retcode is None and maxiters is not None and iteration >= maxiters:
                    retcode = ReturnCode.MaxIters
        ctx.stats["wall_s"] = ctx.elapsed()
        return Solution(u=x, retcode=retcode, stats=dict(ctx.stats), history=ctx.history)
