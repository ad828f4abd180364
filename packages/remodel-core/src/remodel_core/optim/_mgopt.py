"""MG/OPT: the multigrid optimisation method of Nash, "A multigrid approach to discretized optimization
problems", Optim. Methods Softw. 14 (2000), with L-BFGS smoothers and strong Wolfe line searches."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from .._algorithm import check_positive
from ._lbfgs import initial_step
from ._levels import LevelHierarchy, coherent_model
from ._linesearch import strong_wolfe
from ._multilevel import Closure, Model, MultilevelAlgorithm, MultilevelOptimizer

__all__ = ["MGOPT", "MGOPTOptimizer"]


@dataclasses.dataclass
class _Point:
    x: torch.Tensor
    f: float
    g: torch.Tensor


def _check_mg(*, pre_smooth: int, post_smooth: int, coarse_iters: int, max_ls_evals: int, c1: float, c2: float) -> None:
    check_positive("pre_smooth", pre_smooth, integer=True, allow_zero=True)
    check_positive("post_smooth", post_smooth, integer=True, allow_zero=True)
    check_positive("coarse_iters", coarse_iters, integer=True)
    check_positive("max_ls_evals", max_ls_evals, integer=True)
    if not 0 < c1 < c2 < 1:
        raise ValueError(f"need 0 < c1 < c2 < 1, got c1={c1}, c2={c2}")


class MGOPTOptimizer(MultilevelOptimizer):
    """MG/OPT (Nash 2000): a V-cycle of L-BFGS smoothing and line-searched coarse corrections.

    On level ``l`` with model ``psi_l`` (the loss on the finest level), the cycle takes ``pre_smooth``
    L-BFGS iterations with a strong Wolfe line search, then solves the coarse model
    ``psi_{l+1}(y) = f_{l+1}(y) + <P^T g - grad f_{l+1}(R x), y - R x>`` recursively (``coarse_iters``
    iterations on the coarsest level), searches along the prolongated correction ``e = P (y - R x)``
    starting from the full step ``alpha = 1`` when ``e`` is a descent direction, and ends with
    ``post_smooth`` iterations. First-order coherence makes ``grad psi_{l+1}(R x) = P^T g``, so the coarse
    problem starts with the restricted fine gradient.

    Parameters
    ----------
    params : nn.Module or iterable of tensors
        A residual network (for layer coarsening) or the parameters of ``hierarchy``.
    hierarchy : LevelHierarchy, optional
        A ready hierarchy, e.g. :class:`CollocationHierarchy` for point coarsening.
    pre_smooth, post_smooth, coarse_iters : int
        L-BFGS iterations before/after the coarse correction and on the coarsest level.
    max_ls_evals : int
        Most evaluations per line search.
    c1, c2 : float
        Strong Wolfe constants.
    history_size : int
        L-BFGS pairs kept per level.
    hessian : str
        ``"lbfgs"`` or a dense ``"bfgs"``, ``"ssbfgs"``, ``"ssbroyden"`` smoother memory per level.
    coarse_hessian : str, optional
        The smoother memory of the coarse levels (default ``hessian``): ``coarse_hessian="ssbroyden"`` with
        ``hessian="lbfgs"`` is dense curvature where it is affordable (the small coarse levels) only.
    gtol : float
        ``converged`` is set when the fine gradient's largest entry is at most ``gtol``, or when no step can
        decrease the loss any more (two cycles in a row without a decrease: its rounding floor); a stall at
        NaN/Inf losses is reported as divergence (``step`` returns NaN).

    Examples
    --------
    >>> from remodel_core.nn import ResNetMLP
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = ResNetMLP(1, 1, width=8, depth=4).double()
    >>> x = torch.linspace(-1, 1, 32, dtype=torch.float64).unsqueeze(1)
    >>> opt = MGOPTOptimizer(net, levels=2)
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = (net(x) - x.sin()).pow(2).mean()
    ...     loss.backward()
    ...     return loss
    >>> first = closure().item()
    >>> last = [float(opt.step(closure)) for _ in range(20)][-1]
    >>> last < 0.01 * first
    True
    """

    def __init__(
        self,
        params: nn.Module | Iterable[torch.Tensor],
        *,
        hierarchy: LevelHierarchy | None = None,
        levels: int = 3,
        restriction: str = "average",
        prolongation: str = "constant",
        pre_smooth: int = 1,
        post_smooth: int = 1,
        coarse_iters: int = 3,
        max_ls_evals: int = 20,
        c1: float = 1e-4,
        c2: float = 0.9,
        history_size: int = 10,
        gtol: float = 1e-12,
        hessian: str = "lbfgs",
        coarse_hessian: str | None = None,
    ) -> None:
        _check_mg(
            pre_smooth=pre_smooth,
            post_smooth=post_smooth,
            coarse_iters=coarse_iters,
            max_ls_evals=max_ls_evals,
            c1=c1,
            c2=c2,
        )
        super().__init__(
            params,
            hierarchy=hierarchy,
            levels=levels,
            restriction=restriction,
            prolongation=prolongation,
            history_size=history_size,
            gtol=gtol,
            hessian=hessian,
            coarse_hessian=coarse_hessian,
        )
        self.pre_smooth, self.post_smooth, self.coarse_iters = pre_smooth, post_smooth, coarse_iters
        self.max_ls_evals, self.c1, self.c2 = max_ls_evals, c1, c2
        self.coarse_accepted = [0] * self.n_levels
        self.stalled = 0

    def _extra_state(self) -> dict[str, Any]:
        return {"coarse_accepted": list(self.coarse_accepted), "stalled": self.stalled}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.coarse_accepted = [int(n) for n in state["coarse_accepted"]]
        self.stalled = int(state["stalled"])

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor:  # type: ignore[override]
        """One V-cycle; returns the fine loss at the start of the cycle (torch's closure contract).
        ``closure`` is required."""
        if closure is None:
            raise ValueError("MGOPTOptimizer.step needs a closure that returns the loss after backward()")
        x, f, g = self._fine_start(closure)
        if not (math.isfinite(f) and bool(torch.isfinite(g).all())):
            return torch.tensor(math.nan, dtype=torch.float64)
        if float(g.abs().max()) > self.gtol:
            psi = self._fine_model(closure)

            pt = self._cycle(0, _Point(x, f, g), psi, closure)
            if not pt.f < f and self._broken(x, closure):
                return torch.tensor(math.nan, dtype=torch.float64)
            # two cycles in a row without any decrease (the second from a restarted memory): converged, unless
            # the cycle met NaN/Inf: then a wall of non-finite losses stops it, not a minimum (as RobustLBFGS)
            self.stalled = self.stalled + 1 if not pt.f < f else 0
            if self.stalled >= 2:
                if self._nonfinite:
                    return torch.tensor(math.nan, dtype=torch.float64)
                self.converged = True
            x, f, g = pt.x, pt.f, pt.g
        return self._finish(x, f, g)

    def _small(self, pt: _Point) -> bool:
        return float(pt.g.abs().max()) <= self.gtol

    def _cycle(self, level: int, pt: _Point, psi: Model, closure: Closure) -> _Point:
        last = level == self.n_levels - 1
        self._smooth(level, pt, psi, self.coarse_iters if last else self.pre_smooth)
        if not last and not self._small(pt):
            y0, fc0, gc0, psic = coherent_model(self.hierarchy, level, pt.x, pt.g, closure)
            if math.isfinite(fc0) and bool(torch.isfinite(gc0).all()):
                coarse = self._cycle(level + 1, _Point(y0, fc0, gc0), psic, closure)
                if coarse.f < fc0:
                    e = self.hierarchy.prolongate(level, coarse.x - y0)
                    if self._search(level, pt, e, psi, 1.0):
                        self.coarse_accepted[level] += 1
        self._smooth(level, pt, psi, 0 if last else self.post_smooth)
        return pt

    def _smooth(self, level: int, pt: _Point, psi: Model, n: int) -> None:
        mem = self.memories[level]
        for _ in range(n):
            if self._small(pt):
                return
            d = mem.direction(pt.g)
            if not (float(pt.g.dot(d)) < 0):
                mem.reset()
                d = -pt.g
            if not self._search(level, pt, d, psi, initial_step(pt.g, empty=not len(mem))):
                mem.reset()
                return

    def _search(self, level: int, pt: _Point, d: torch.Tensor, psi: Model, alpha0: float) -> bool:
        """Strong Wolfe line search along ``d``; on success moves ``pt`` and stores the curvature pair."""
        dphi0 = float(pt.g.dot(d))
        if not (math.isfinite(dphi0) and dphi0 < 0):
            return False

        def phi(a: float) -> tuple[float, float, torch.Tensor]:
            fa, ga = psi(pt.x + a * d)
            return fa, float(ga.dot(d)), ga

        res = strong_wolfe(
            phi, pt.f, dphi0, alpha0, c1=self.c1, c2=self.c2, max_evals=self.max_ls_evals, extra0=(pt.g,)
        )
        if not (res.alpha > 0 and res.f < pt.f):
            return False
        s = res.alpha * d
        g_new = res.extra[0]
        self.memories[level].push(s, g_new - pt.g)
        pt.x, pt.f, pt.g = pt.x + s, res.f, g_new
        return True


@dataclasses.dataclass(frozen=True, kw_only=True)
class MGOPT(MultilevelAlgorithm):
    """MG/OPT (Nash 2000) with L-BFGS smoothers, as an algorithm for :func:`remodel_core.solve`.

    Coarsens a residual network in depth (``coarsen="layers"``) or the collocation points
    (``coarsen="points"``); one iteration is one V-cycle. ``Solution.stats["work"]`` counts evaluations
    in fine units. ``hessian="ssbroyden"`` smooths with dense self-scaled Broyden steps
    (:class:`~remodel_core.optim.DenseInverseHessian`) instead of L-BFGS: on PINNs of a few thousand
    parameters this is the variant that reaches errors far below L-BFGS's (docs/BENCHMARKS.md).

    Parameters
    ----------
    levels : int, default 3
        Number of levels, ``>= 1`` (for layer coarsening the depth must be divisible by ``2 ** (levels - 1)``).
    coarsen : {"auto", "layers", "width", "points"}, default "auto"
        What is coarsened: the depth of a residual network, the hidden widths of an MLP, or the problem's
        data points; ``"auto"`` picks ``"layers"`` for a model with residual ``blocks``, else ``"points"``.
    restriction : {"average", "inject"}, default "average"
        Restriction of the block parameters for layer coarsening (see :class:`LayerHierarchy`).
    prolongation : {"constant", "linear"}, default "constant"
        Prolongation of the block corrections for layer coarsening.
    factor : int, default 2
        For point coarsening: each level keeps ``1 / factor`` of the points of the level above (``>= 2``).
    history_size : int, default 10
        Curvature pairs kept per level by the L-BFGS memories.
    gtol : float, default 1e-12
        The run succeeds when the fine gradient's largest entry is at most ``gtol`` (``>= 0``), or when no step
        can decrease the loss any more (two cycles in a row without a decrease: its rounding floor); a stall at NaN/Inf
        losses ends with ``Diverged``.
    hessian : {"lbfgs", "bfgs", "ssbfgs", "ssbroyden"}, default "lbfgs"
        The quasi-Newton memory of every level (dense ones: :class:`DenseInverseHessian`).
    coarse_hessian : str, optional
        The memory of the levels below the finest (default ``hessian``), e.g. ``"ssbroyden"`` with
        ``hessian="lbfgs"``: dense curvature only where it is affordable.
    pre_smooth, post_smooth : int, default 1
        Smoothing iterations before and after the coarse correction (``>= 0``).
    coarse_iters : int, default 3
        Iterations on the coarsest level (``>= 1``).
    max_ls_evals : int, default 20
        Most evaluations per line search.
    c1, c2 : float, default 1e-4, 0.9
        Strong Wolfe constants, ``0 < c1 < c2 < 1``.

    Examples
    --------
    >>> import torch
    >>> from remodel_core import TrainingProblem, solve
    >>> x = torch.linspace(-1, 1, 64).unsqueeze(1)
    >>> prob = TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m, x, y: ((m(x) - y) ** 2).mean(),
    ...                        data=(x, 3 * x + 1))
    >>> sol = solve(prob, MGOPT(levels=2, coarsen="points"), maxiters=20, dtype=torch.float64)
    >>> round(sol.u.weight.item(), 6), round(sol.u.bias.item(), 6)
    (3.0, 1.0)
    """

    pre_smooth: int = 1
    post_smooth: int = 1
    coarse_iters: int = 3
    max_ls_evals: int = 20
    c1: float = 1e-4
    c2: float = 0.9

    def validate(self) -> None:
        super().validate()
        _check_mg(
            pre_smooth=self.pre_smooth,
            post_smooth=self.post_smooth,
            coarse_iters=self.coarse_iters,
            max_ls_evals=self.max_ls_evals,
            c1=self.c1,
            c2=self.c2,
        )

    def _build(self, params: nn.Module | Iterable[torch.Tensor], hierarchy: LevelHierarchy | None) -> MGOPTOptimizer:
        return MGOPTOptimizer(
            params,
            hierarchy=hierarchy,
            levels=self.levels,
            restriction=self.restriction,
            prolongation=self.prolongation,
            pre_smooth=self.pre_smooth,
            post_smooth=self.post_smooth,
            coarse_iters=self.coarse_iters,
            max_ls_evals=self.max_ls_evals,
            c1=self.c1,
            c2=self.c2,
            history_size=self.history_size,
            gtol=self.gtol,
            hessian=self.hessian,
            coarse_hessian=self.coarse_hessian,
        )
