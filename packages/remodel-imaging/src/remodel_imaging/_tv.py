"""Total variation by the diagonally preconditioned primal–dual algorithm (FISTA is in ``_fista.py``, the choice of
``lam`` in ``_lambda.py``)."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import torch
from remodel_core import Algorithm, ReturnCode, Solution, SolveContext, check_positive

from ._checks import check_box
from ._metrics import psnr
from ._operator import LinearOperator, inner
from ._operators import Gradient
from ._pnp import cg_solve
from ._problem import InverseProblem

DEFAULT_MAXITERS = 2000
_SUPPORTED = frozenset({"maxiters", "maxtime", "callback", "device", "dtype", "monitor_every"})


def _tv(x: torch.Tensor, grad: Gradient) -> float:
    return float(grad.apply(x).pow(2).sum(-3).sqrt().sum())


def _abs_sums(A: LinearOperator, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Row and column sums of ``|A|`` for an operator with nonnegative entries (``A 1`` and ``A^T 1``), else None."""
    if not getattr(A, "nonnegative", False):
        return None
    ones_in = torch.ones(A.in_shape, dtype=dtype, device=device)
    ones_out = torch.ones(A.out_shape, dtype=dtype, device=device)
    return A.apply(ones_in).to(dtype), A.apply_adjoint(ones_out).to(dtype)


def tikhonov_start(A: LinearOperator, y: torch.Tensor, mu: float, *, iters: int = 50) -> torch.Tensor:
    """The smooth (H1-regularised) reconstruction ``argmin 1/2||Ax - y||^2 + mu/2 ||∇x||^2`` by conjugate
    gradients from ``A^* y``: a cheap starting point close to a TV solution (the warm start of
    :class:`TVPrimalDual`).

    Parameters
    ----------
    A : LinearOperator
        The forward operator (2-D images).
    y : torch.Tensor
        The measurements.
    mu : float
        Weight of the H1 term ``mu/2 ||∇x||^2``, ``>= 0``.
    iters : int, default 50
        Most conjugate-gradient iterations (relative residual 1e-6).

    Returns
    -------
    torch.Tensor
        The reconstruction, of shape ``A.in_shape``.

    Examples
    --------
    >>> from remodel_imaging import GaussianBlur
    >>> A = GaussianBlur((8, 8), sigma=1.0)
    >>> tikhonov_start(A, torch.ones(8, 8, dtype=torch.float64), 0.1).shape
    torch.Size([8, 8])
    """
    if isinstance(mu, bool) or not isinstance(mu, int | float) or not math.isfinite(mu) or mu < 0:
        raise ValueError(f"mu must be a finite number >= 0, got {mu!r}")
    grad = Gradient(A.in_shape)
    dtype = y.real.dtype
    b = A.apply_adjoint(y).to(dtype)
    x, _ = cg_solve(
        lambda u: A.apply_adjoint(A.apply(u)).to(dtype) + mu * grad.apply_adjoint(grad.apply(u)),
        b,
        b,
        tol=1e-6,
        maxiter=iters,
    )
    return x


def _fft_prox_available(A: LinearOperator) -> bool:
    transfer = getattr(A, "transfer", None)
    return isinstance(transfer, torch.Tensor) and A.in_shape == A.out_shape and tuple(transfer.shape) == A.in_shape


def tv_gap(
    x: torch.Tensor, q: torch.Tensor, A: LinearOperator, y: torch.Tensor, lam: float, box: tuple[float, float]
) -> tuple[float, float]:
    """Primal value and primal–dual gap of ``min_{x ∈ box} 1/2||Ax - y||^2 + lam ||∇x||_{2,1}``.

    The dual point is ``(p, q)`` with ``p = A x - y`` and ``q`` (``|q| <= lam`` pointwise); the dual function of
    the box-constrained problem is ``-(1/2||p||^2 + <p, y>) - sum max(v lo, v hi)`` with ``v = -(A^* p + ∇^* q)``,
    so the gap bounds ``P(x) - min P`` from above (weak duality). ``x`` is clamped to the box first.

    Examples
    --------
    >>> from remodel_imaging import Mask
    >>> A = Mask(torch.ones(4, 4, dtype=torch.bool)); y = torch.full((4, 4), 0.5, dtype=torch.float64)
    >>> primal, gap = tv_gap(y, torch.zeros(2, 4, 4, dtype=torch.float64), A, y, 0.1, (0.0, 1.0))
    >>> primal, gap
    (0.0, 0.0)
    """
    grad = Gradient(A.in_shape)
    lo, hi = box
    x = x.clamp(lo, hi)
    p = A.apply(x) - y
    primal = 0.5 * float(inner(p, p)) + lam * _tv(x, grad)
    v = -(A.apply_adjoint(p).to(x.dtype) + grad.apply_adjoint(q))
    dual = -(0.5 * float(inner(p, p)) + float(inner(p, y))) - float(torch.maximum(v * lo, v * hi).sum())
    return primal, primal - dual


@dataclasses.dataclass(frozen=True, kw_only=True)
class TVPrimalDual(Algorithm):
    """Isotropic-TV regularised least squares by a diagonally preconditioned primal–dual algorithm.

    Solves ``min_x 1/2 ||A x - y||^2 + lam ||∇x||_{2,1}`` (with ``x`` in ``box`` in the dualised form below) by
    the primal–dual iteration of Chambolle & Pock (J. Math. Imaging Vis. 2011) with the diagonal
    preconditioning of Pock & Chambolle, "Diagonal preconditioning for first order primal-dual algorithms in
    convex optimization", ICCV 2011 (α = 1: ``τ_j = 1 / sum_i |K_ij|``, ``σ_i = 1 / sum_j |K_ij|``, their
    Lemma 2), scaled as ``σ -> c σ``, ``τ -> τ / c`` (which keeps the lemma's bound) with ``c = sqrt(lam / 2)``
    by default: the dual variable of the TV term lives in a ball of radius ``lam`` while the image varies
    on the unit scale, and ``σ / τ = 2 c^2 = lam`` balances the two.

    Two splittings (``data="auto"`` picks the first when it is available and no ``box`` is given):

    - ``"prox"``: ``K = ∇``, the data term stays in the primal function and its proximal map is exact
      (``(A^*A + I/τ)^{-1}`` by the Fourier multiplier of a periodic convolution, :func:`data_prox`);
    - ``"dual"``: ``K = [A; ∇]``, the data term is dualised (``prox_{σF*}(p) = (p - σ y)/(1 + σ)``) and ``G``
      is the indicator of ``box``; an operator with nonnegative entries (flag ``nonnegative``) gets the exact
      row/column sums ``A 1``, ``A^* 1``, any other one the scalar ``||A||`` in its block (still Lemma 2).

    Warm start: ``x_0`` is the H1-regularised reconstruction (:func:`tikhonov_start`, conjugate gradients)
    and the dual starts where it is optimal for ``x_0`` (``q_0 = lam ∇x_0 / |∇x_0|``, ``p_0 = A x_0 - y``).
    Stopping: every ``gap_every`` iterations the primal–dual gap :func:`tv_gap` is evaluated on the box (the
    given ``box``; with ``box=None`` the range of the iterate widened by 1, which certifies the gap as soon as
    the minimiser lies in it); the run ends with ``Success`` when ``gap <= tol * P(x)``.

    Parameters
    ----------
    lam : float
        Weight of the total variation.
    box : tuple of float, optional
        Bounds ``(lo, hi)`` of the pixel values, a constraint (the ``"dual"`` splitting, the only one that can
        impose it: ``data="auto"`` then takes it, ``data="prox"`` refuses a box).
    data : str
        ``"auto"``, ``"prox"`` or ``"dual"``.
    precondition : bool
        Diagonal preconditioning (else scalar steps ``0.99 / ||K||``, ratio ``c^2``).
    step_scale : float, optional
        ``c``; default ``sqrt(lam / 2)`` (``1`` when ``lam = 0``).
    warm_start : bool
        H1 warm start and matching duals (else ``A^* y`` and zero duals).
    tol : float
        Relative gap for ``Success``.
    gap_every : int
        Iterations between gap evaluations (each costs one ``A`` and one ``A^*``).

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_imaging import GaussianBlur, InverseProblem, camera, psnr
    >>> x = camera(32)
    >>> prob = InverseProblem.simulate(GaussianBlur((32, 32), sigma=1.0), x, noise_sigma=0.02, seed=0)
    >>> sol = solve(prob, TVPrimalDual(lam=0.01), maxiters=1000)
    >>> sol.retcode.name, psnr(sol.u, x) > psnr(prob.y, x)
    ('Success', True)
    """

    lam: float = 0.01
    box: tuple[float, float] | None = None
    data: str = "auto"
    precondition: bool = True
    step_scale: float | None = None
    warm_start: bool = True
    tol: float = 1e-4
    gap_every: int = 10

    problem_types: ClassVar[tuple[type, ...]] = (InverseProblem,)
    supported_options: ClassVar[frozenset[str]] = _SUPPORTED

    def validate(self) -> None:
        check_positive("lam", self.lam, allow_zero=True)
        check_positive("tol", self.tol, allow_zero=True)
        check_positive("gap_every", self.gap_every, integer=True)
        if self.step_scale is not None:
            check_positive("step_scale", self.step_scale)
        if self.data not in ("auto", "prox", "dual"):
            raise ValueError(f"data must be 'auto', 'prox' or 'dual', got {self.data!r}")
        check_box(self.box)
        for name in ("precondition", "warm_start"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")

    def _solve(self, problem: InverseProblem, ctx: SolveContext) -> Solution:
        opts = ctx.options
        A = problem.operator
        if len(A.in_shape) != 2:
            raise ValueError(f"TVPrimalDual needs an operator on 2-D images, got in_shape {list(A.in_shape)}")
        split = self.data
        if split == "auto":
            split = "prox" if _fft_prox_available(A) and self.box is None else "dual"
        if split == "prox" and self.box is not None:
            raise ValueError(
                f"box={self.box} needs data='dual' (or 'auto'): the 'prox' splitting cannot keep x in the box"
            )
        if split == "prox" and not _fft_prox_available(A):
            raise ValueError(
                f"data='prox' needs a periodic convolution (an operator with a Fourier 'transfer'), "
                f"got {type(A).__name__}"
            )
        dtype = opts.dtype or torch.float64
        device = opts.device
        cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        y = problem.y.to(device=device, dtype=cdtype if problem.y.is_complex() else dtype)
        grad = Gradient(A.in_shape)
        lam = float(self.lam)
        c = float(self.step_scale) if self.step_scale is not None else (math.sqrt(lam / 2) if lam > 0 else 1.0)
        with ctx.excluded_time():
            norm_a = A.norm(dtype=torch.float64)
        # step sizes (Pock & Chambolle 2011, alpha = 1) -----------------------------------------------------
        col_g = torch.zeros(A.in_shape, dtype=dtype, device=device)  # column sums of |∇|: 2 to 4
        col_g[:-1, :] += 1
        col_g[1:, :] += 1
        col_g[:, :-1] += 1
        col_g[:, 1:] += 1
        sigma_a: torch.Tensor | None = None
        if self.precondition:
            sigma_g = torch.full(grad.out_shape, 0.5, dtype=dtype, device=device)  # rows (-1, 1) or zero rows
            if split == "prox":
                # one step for all pixels (1/4 <= 1 / column sum keeps Lemma 2) so the data prox stays a
                # Fourier multiplier
                tau = torch.full(A.in_shape, 0.25, dtype=dtype, device=device)
            else:
                sums = _abs_sums(A, dtype, device)
                if sums is not None:
                    row_a, col_a = sums
                    sigma_a = torch.where(row_a > 0, 1.0 / row_a.clamp_min(1e-300), torch.ones_like(row_a))
                    tau = 1.0 / (col_a + col_g)
                else:
                    sigma_a = torch.full(A.out_shape, 1.0 / max(norm_a, 1e-300), dtype=dtype, device=device)
                    tau = 1.0 / (norm_a + col_g)
        else:
            L = grad.exact_norm() if split == "prox" else math.sqrt(norm_a**2 + grad.exact_norm() ** 2)
            tau = torch.full(A.in_shape, 0.99 / L, dtype=dtype, device=device)
            sigma_g = torch.full(grad.out_shape, 0.99 / L, dtype=dtype, device=device)
            if split == "dual":
                sigma_a = torch.full(A.out_shape, 0.99 / L, dtype=dtype, device=device)
        tau = tau / c
        sigma_g = sigma_g * (0.99 * c)  # strictly inside Lemma 2's bound
        if sigma_a is not None:
            sigma_a = sigma_a * (0.99 * c)
        lo, hi = self.box if (self.box is not None and split == "dual") else (-math.inf, math.inf)
        # starting point ----------------------------------------------------------------------------------
        if self.warm_start:
            x = tikhonov_start(A, y, mu=max(4.0 * lam, 1e-6)).clamp(lo, hi)
            g = grad.apply(x)
            q = lam * g / g.pow(2).sum(0, keepdim=True).sqrt().clamp_min(1e-12)
            p = A.apply(x) - y
        else:
            x = A.apply_adjoint(y).to(dtype).clamp(lo, hi)
            q = torch.zeros(grad.out_shape, dtype=dtype, device=device)
            p = torch.zeros_like(y)
        aty = A.apply_adjoint(y).to(dtype)
        h2 = A.transfer.abs().pow(2).to(device=device, dtype=dtype) if split == "prox" else None
        xbar = x.clone()
        ctx.stats.update(norm_A=norm_a, splitting=split, preconditioned=self.precondition, step_scale=c)
        maxiters = opts.maxiters if opts.maxiters is not None or opts.maxtime is not None else DEFAULT_MAXITERS
        x_true = problem.x_true.to(device=device, dtype=dtype) if problem.x_true is not None else None
        iteration = 0
        retcode: ReturnCode | None = None
        while retcode is None:
            q = q + sigma_g * grad.apply(xbar)
            q = q / torch.clamp(q.pow(2).sum(0, keepdim=True).sqrt() / lam, min=1.0) if lam > 0 else q * 0
            if split == "prox":
                assert h2 is not None
                v = x - tau * grad.apply_adjoint(q)
                t = float(tau.reshape(-1)[0])  # constant step: the prox of t/2||Ax - y||^2 is a Fourier multiplier
                x_new = torch.fft.ifft2(torch.fft.fft2(v / t + aty) / (h2 + 1.0 / t)).real.to(dtype)
                ctx.stats["evals"] += 1
            else:
                assert sigma_a is not None
                p = (p + sigma_a * (A.apply(xbar) - y)) / (1.0 + sigma_a)
                x_new = (x - tau * (A.apply_adjoint(p).to(dtype) + grad.apply_adjoint(q))).clamp(lo, hi)
                ctx.stats["evals"] += 2
            change = float((x_new - x).norm() / x_new.norm().clamp_min(1e-300))
            xbar = 2 * x_new - x
            x = x_new
            iteration += 1
            ctx.stats["iterations"] = iteration
            row = {"iteration": iteration, "rel_change": change, "time": ctx.elapsed()}
            criterion = math.inf
            if iteration % self.gap_every == 0:
                box = self.box if self.box is not None else (float(x.min()) - 1.0, float(x.max()) + 1.0)
                primal, gap = tv_gap(x, q, A, y, lam, box)
                ctx.stats["evals"] += 2
                row.update(objective=primal, gap=gap)
                criterion = gap / max(abs(primal), 1e-300)
            if x_true is not None and iteration % opts.monitor_every == 0:
                with ctx.excluded_time():
                    row["psnr"] = psnr(x, x_true)
            ctx.log(**row)
            if not bool(torch.isfinite(x).all()):
                retcode = ReturnCode.Diverged
            elif criterion <= self.tol:
                retcode = ReturnCode.Success
            else:
                retcode = ctx.stop_reason(iteration=iteration, state=x)
                if retcode is None and maxiters is not None and iteration >= maxiters:
                    retcode = ReturnCode.MaxIters
        ctx.stats["wall_s"] = ctx.elapsed()
        ctx.stats["gap"] = ctx.history["gap"][-1] if "gap" in ctx.history else math.nan
        return Solution(u=x, retcode=retcode, stats=dict(ctx.stats), history=ctx.history)
