"""Plug-and-play and RED algorithms with fixed-point residual monitoring."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from remodel_core import Algorithm, ReturnCode, Solution, SolveContext, check_positive
from torch import nn

from ._checks import check_finite_positive
from ._metrics import psnr
from ._operator import LinearOperator, inner
from ._problem import InverseProblem

DEFAULT_MAXITERS = 300
_SUPPORTED = frozenset({"maxiters", "maxtime", "callback", "device", "dtype", "monitor_every"})


def _denoise(denoiser: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Apply an image denoiser ``(1, 1, H, W) -> (1, 1, H, W)`` to the 2-D image ``x`` in the denoiser's dtype."""
    dtype = x.dtype
    if isinstance(denoiser, nn.Module):
        p = next(iter(denoiser.parameters()), None)
        if p is not None:
            x = x.to(p.dtype)
    with torch.no_grad():
        out = denoiser(x[None, None])
    return out[0, 0].to(dtype)


def cg_solve(
    apply: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    x0: torch.Tensor,
    *,
    tol: float = 1e-10,
    maxiter: int = 200,
) -> tuple[torch.Tensor, int]:
    """Conjugate gradients for ``M x = b`` with ``M`` symmetric positive definite (Hestenes & Stiefel 1952).

    Parameters
    ----------
    apply : callable
        ``apply(x)`` returns ``M x``; ``M`` symmetric positive definite for the real inner product.
    b : torch.Tensor
        The right-hand side.
    x0 : torch.Tensor
        The starting point, shaped like ``b``.
    tol : float, default 1e-10
        Stop when the residual norm is at most ``tol ||b||``.
    maxiter : int, default 200
        Most iterations (one ``apply`` each).

    Returns
    -------
    x : torch.Tensor
        The approximate solution.
    iterations : int
        The number of iterations done.

    Examples
    --------
    >>> M = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    >>> b = torch.tensor([1.0, 2.0], dtype=torch.float64)
    >>> x, _ = cg_solve(lambda v: M @ v, b, torch.zeros(2, dtype=torch.float64))
    >>> torch.allclose(M @ x, torch.tensor([1.0, 2.0], dtype=torch.float64))
    True
    """
    x = x0.clone()
    r = b - apply(x)
    p = r.clone()
    rr = float(inner(r, r))
    bn = math.sqrt(float(inner(b, b))) or 1.0
    k = 0
    while k < maxiter and math.sqrt(rr) > tol * bn:
        mp = apply(p)
        alpha = rr / float(inner(p, mp))
        x = x + alpha * p
        r = r - alpha * mp
        rr_new = float(inner(r, r))
        p = r + (rr_new / rr) * p
        rr = rr_new
        k += 1
    return x, k


def data_prox(A: LinearOperator, y: torch.Tensor, v: torch.Tensor, gamma: float, x0: torch.Tensor) -> torch.Tensor:
    """``prox_{γ f}(v) = argmin_x 1/2 ||A x - y||^2 + 1/(2γ) ||x - v||^2 = (A^*A + I/γ)^{-1}(A^* y + v/γ)``.

    Exact by the Fourier multiplier for a periodic convolution (an operator with a ``transfer`` function), else by
    conjugate gradients to relative residual 1e-10 started at ``x0``.

    Parameters
    ----------
    A : LinearOperator
        The forward operator.
    y : torch.Tensor
        The measurements, of shape ``A.out_shape``.
    v : torch.Tensor
        The point whose prox is taken, of shape ``A.in_shape``.
    gamma : float
        The step ``γ > 0``.
    x0 : torch.Tensor
        The starting point of conjugate gradients (unused with the Fourier formula).

    Returns
    -------
    torch.Tensor
        ``prox_{γ f}(v)``, shaped and typed like ``v``.

    Examples
    --------
    >>> from remodel_imaging import GaussianBlur
    >>> A, v = GaussianBlur((8, 8), sigma=1.0), torch.rand(8, 8, dtype=torch.float64)
    >>> x = data_prox(A, A(v), v, 0.5, v)
    >>> bool(torch.allclose(x, v))      # v already fits the data: the prox leaves it
    True
    """
    check_finite_positive("gamma", gamma)
    rhs = A.apply_adjoint(y).to(v.dtype) + v / gamma
    transfer = getattr(A, "transfer", None)
    if isinstance(transfer, torch.Tensor) and transfer.shape == v.shape[-2:] and A.in_shape == A.out_shape:
        h2 = transfer.abs().pow(2).to(device=v.device, dtype=v.dtype)
        return torch.fft.ifft2(torch.fft.fft2(rhs) / (h2 + 1.0 / gamma)).real.to(v.dtype)
    x, _ = cg_solve(lambda u: A.apply_adjoint(A.apply(u)).to(v.dtype) + u / gamma, rhs, x0)
    return x


@dataclasses.dataclass(frozen=True, kw_only=True)
class _PnPBase(Algorithm):
    denoiser: nn.Module | Callable[[torch.Tensor], torch.Tensor]
    tol: float = 1e-5
    problem_types: ClassVar[tuple[type, ...]] = (InverseProblem,)
    supported_options: ClassVar[frozenset[str]] = _SUPPORTED

    def validate(self) -> None:
        if not callable(self.denoiser):
            raise TypeError(f"denoiser must be a callable (an nn.Module), got {type(self.denoiser).__name__}")
        check_positive("tol", self.tol, allow_zero=True)

    # one iteration: state -> (new state, the image it stands for); subclasses implement
    def _init(
        self, problem: InverseProblem, y: torch.Tensor, x0: torch.Tensor, norm_a: float
    ) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _step(self, state: dict[str, Any], A: LinearOperator, y: torch.Tensor) -> dict[str, Any]:
        raise NotImplementedError  # pragma: no cover - abstract

    def _solve(self, problem: InverseProblem, ctx: SolveContext) -> Solution:
        opts = ctx.options
        A = problem.operator
        if len(A.in_shape) != 2:
            raise ValueError(f"{type(self).__name__} needs an operator on 2-D images, got in_shape {list(A.in_shape)}")
        dtype = opts.dtype or torch.float64
        device = opts.device
        cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        y = problem.y.to(device=device, dtype=cdtype if problem.y.is_complex() else dtype)
        if isinstance(self.denoiser, nn.Module):
            self.denoiser.to(device)
        with ctx.excluded_time():
            norm_a = A.norm(dtype=torch.float64)
        ctx.stats["norm_A"] = norm_a
        x0 = A.apply_adjoint(y).to(dtype)
        state = self._init(problem, y, x0, norm_a)
        maxiters = opts.maxiters if opts.maxiters is not None or opts.maxtime is not None else DEFAULT_MAXITERS
        x_true = problem.x_true.to(device=device, dtype=dtype) if problem.x_true is not None else None
        iteration = 0
        retcode: ReturnCode | None = None
        while retcode is None:
            new = self._step(state, A, y)
            x_old, x_new = state["x"], new["x"]
            residual = float((x_new - x_old).norm() / x_old.norm().clamp_min(1e-300))
            state = new
            iteration += 1
            ctx.stats["iterations"] = iteration
            ctx.stats["denoiser_evals"] = ctx.stats.get("denoiser_evals", 0) + 1
            row = {"iteration": iteration, "fp_residual": residual, "time": ctx.elapsed()}
            if x_true is not None and iteration % opts.monitor_every == 0 and math.isfinite(residual):
                with ctx.excluded_time():
                    row["psnr"] = psnr(x_new, x_true)
            ctx.log(**row)
            if not bool(torch.isfinite(x_new).all()) or not math.isfinite(residual):
                retcode = ReturnCode.Diverged
            elif residual <= self.tol:
                retcode = ReturnCode.Success
            else:
                retcode = ctx.stop_reason(iteration=iteration, state=x_new)
                if retcode is None and maxiters is not None and iteration >= maxiters:
                    retcode = ReturnCode.MaxIters
        ctx.stats["fp_residual"] = ctx.history["fp_residual"][-1]
        ctx.stats["wall_s"] = ctx.elapsed()
        return Solution(u=state["x"], retcode=retcode, stats=dict(ctx.stats), history=ctx.history)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PnPPGD(_PnPBase):
    """Plug-and-play proximal gradient descent with Krasnoselskii–Mann relaxation.

    ``x⁺ = (1 - α) x + α D(x - γ A^*(A x - y))`` (Venkatakrishnan, Bouman & Wohlberg 2013; the proximal-gradient
    form of Ryu et al., ICML 2019). With ``γ < 2 / ||A||^2`` the gradient step is averaged; if ``D`` is
    nonexpansive (e.g. :class:`LipschitzDenoiser`), ``T = D ∘ (I - γ∇f)`` is nonexpansive and for ``α < 1`` the
    Krasnoselskii–Mann iteration converges to a fixed point of ``T`` whenever one exists (Bauschke & Combettes,
    Thm. 5.15), with ``||x_{k+1} - x_k|| = o(1/√k)``. The fixed-point residual ``||x_{k+1} - x_k|| / ||x_k||``
    is logged each iteration (``history["fp_residual"]``); the run ends with ``Success`` when it reaches ``tol``.
    Starts from ``A^* y``.

    Parameters
    ----------
    denoiser : nn.Module
        Maps ``(1, 1, H, W)`` to ``(1, 1, H, W)``.
    step : float
        ``γ ||A||^2`` (so ``γ = step / ||A||^2``), in ``(0, 2)``.
    relaxation : float
        ``α`` in ``(0, 1]`` (``1``: plain PnP-PGD, convergent for averaged ``D``).
    tol : float
        Fixed-point residual for ``Success``.

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_imaging import GaussianBlur, InverseProblem, LipschitzDenoiser, camera
    >>> x = camera(16)
    >>> prob = InverseProblem.simulate(GaussianBlur((16, 16), sigma=1.0), x, noise_sigma=0.01, seed=0)
    >>> sol = solve(prob, PnPPGD(denoiser=LipschitzDenoiser(channels=2, hidden=4, depth=1)), maxiters=5)
    >>> len(sol.history["fp_residual"])
    5
    """

    step: float = 1.0
    relaxation: float = 0.5

    def validate(self) -> None:
        super().validate()
        check_positive("step", self.step)
        if not self.step < 2:
            raise ValueError(
                f"step must be in (0, 2) (γ ||A||^2 < 2 makes the gradient step averaged), got {self.step}"
            )
        check_positive("relaxation", self.relaxation)
        if self.relaxation > 1:
            raise ValueError(f"relaxation must be in (0, 1], got {self.relaxation}")

    def _init(self, problem, y, x0, norm_a):
        return {"x": x0, "gamma": self.step / max(norm_a**2, 1e-300)}

    def _step(self, state, A, y):
        x = state["x"]
        grad = A.apply_adjoint(A.apply(x) - y).to(x.dtype)
        tx = _denoise(self.denoiser, x - state["gamma"] * grad)
        return {**state, "x": (1 - self.relaxation) * x + self.relaxation * tx}


@dataclasses.dataclass(frozen=True, kw_only=True)
class PnPADMM(_PnPBase):
    """Plug-and-play ADMM (Venkatakrishnan, Bouman & Wohlberg, GlobalSIP 2013; Chan, Wang & Elgendy 2017).

    ``x⁺ = prox_{γf}(z - u)``, ``z⁺ = D(x⁺ + u)``, ``u⁺ = u + x⁺ - z⁺`` with the exact data proximal step
    (:func:`data_prox`). For a firmly nonexpansive ``D = (I + N)/2`` this is Douglas–Rachford splitting, which
    converges (Ryu et al., ICML 2019). The fixed-point residual is ``||z⁺ - z|| / ||z||``; the image is ``z``.

    Parameters
    ----------
    denoiser : nn.Module
        The denoiser.
    gamma : float
        Weight of the data term's proximal step (larger: closer to the data).
    tol : float
        Fixed-point residual for ``Success``.

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_imaging import GaussianBlur, InverseProblem, LipschitzDenoiser, camera
    >>> x = camera(16)
    >>> prob = InverseProblem.simulate(GaussianBlur((16, 16), sigma=1.0), x, noise_sigma=0.01, seed=0)
    >>> solve(prob, PnPADMM(denoiser=LipschitzDenoiser(channels=2, hidden=4, depth=1)), maxiters=3).u.shape
    torch.Size([16, 16])
    """

    gamma: float = 1.0

    def validate(self) -> None:
        super().validate()
        check_positive("gamma", self.gamma)

    def _init(self, problem, y, x0, norm_a):
        return {"x": x0, "v": x0, "u": torch.zeros_like(x0)}

    def _step(self, state, A, y):
        z, u = state["x"], state["u"]
        v = data_prox(A, y, z - u, self.gamma, state["v"])
        z_new = _denoise(self.denoiser, v + u)
        return {"x": z_new, "v": v, "u": u + v - z_new}


@dataclasses.dataclass(frozen=True, kw_only=True)
class PnPHQS(_PnPBase):
    """Plug-and-play half-quadratic splitting (Geman & Yang 1995; Zhang et al., "Learning deep CNN denoiser
    prior for image restoration", CVPR 2017): ``x⁺ = prox_{γf}(z)``, ``z⁺ = D(x⁺)``.

    ``z ↦ D(prox_{γf}(z))`` is nonexpansive for a nonexpansive ``D`` (the proximal map is firmly nonexpansive) and
    averaged for an averaged ``D``; the fixed-point residual is ``||z⁺ - z|| / ||z||``.

    Parameters
    ----------
    denoiser : nn.Module
        The denoiser.
    gamma : float
        Weight of the data term's proximal step.
    tol : float
        Fixed-point residual for ``Success``.

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_imaging import GaussianBlur, InverseProblem, LipschitzDenoiser, camera
    >>> x = camera(16)
    >>> prob = InverseProblem.simulate(GaussianBlur((16, 16), sigma=1.0), x, noise_sigma=0.01, seed=0)
    >>> solve(prob, PnPHQS(denoiser=LipschitzDenoiser(channels=2, hidden=4, depth=1)), maxiters=3).stats["iterations"]
    3
    """

    gamma: float = 1.0

    def validate(self) -> None:
        super().validate()
        check_positive("gamma", self.gamma)

    def _init(self, problem, y, x0, norm_a):
        return {"x": x0, "v": x0}

    def _step(self, state, A, y):
        v = data_prox(A, y, state["x"], self.gamma, state["v"])
        return {"x": _denoise(self.denoiser, v), "v": v}


@dataclasses.dataclass(frozen=True, kw_only=True)
class RED(_PnPBase):
    """Regularisation by denoising (Romano, Elad & Milanfar, SIAM J. Imaging Sci. 2017), gradient form:
    ``x⁺ = x - μ (A^*(A x - y) + λ (x - D(x)))`` with ``μ = step / (||A||^2 + 2λ)``.

    For a nonexpansive ``D`` the map ``F(x) = A^*(Ax - y) + λ(x - D(x))`` is monotone (so is ``I - D``) and
    ``(||A||^2 + 2λ)``-Lipschitz, and the iteration is a forward step on it, which need not converge for a merely
    monotone ``F``. For a firmly nonexpansive ``D`` (e.g. :class:`AveragedDenoiser` with ``alpha=1/2``) ``I - D`` is
    firmly nonexpansive, ``F`` is ``1/(||A||^2 + λ)``-cocoercive, and since ``μ < 2/(||A||^2 + λ)`` the steps
    converge to a zero of ``F`` when one exists (Bauschke & Combettes, Convex Analysis and Monotone Operator
    Theory). The fixed-point residual ``||x⁺ - x|| / ||x||`` is logged.

    Parameters
    ----------
    denoiser : nn.Module
        The denoiser.
    lam : float
        Weight ``λ`` of the regulariser.
    step : float
        ``μ (||A||^2 + 2λ)``, in ``(0, 2)``.
    tol : float
        Fixed-point residual for ``Success``.

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_imaging import GaussianBlur, InverseProblem, LipschitzDenoiser, camera
    >>> x = camera(16)
    >>> prob = InverseProblem.simulate(GaussianBlur((16, 16), sigma=1.0), x, noise_sigma=0.01, seed=0)
    >>> solve(prob, RED(denoiser=LipschitzDenoiser(channels=2, hidden=4, depth=1)), maxiters=3).u.shape
    torch.Size([16, 16])
    """

    lam: float = 0.5
    step: float = 1.0

    def validate(self) -> None:
        super().validate()
        check_positive("lam", self.lam)
        check_positive("step", self.step)
        if not self.step < 2:
            raise ValueError(f"step must be in (0, 2), got {self.step}")

    def _init(self, problem, y, x0, norm_a):
        return {"x": x0, "mu": self.step / (norm_a**2 + 2 * self.lam)}

    def _step(self, state, A, y):
        x = state["x"]
        grad = A.apply_adjoint(A.apply(x) - y).to(x.dtype) + self.lam * (x - _denoise(self.denoiser, x))
        return {**state, "x": x - state["mu"] * grad}
