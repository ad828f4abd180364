"""RMTR: the recursive multilevel trust-region method (Gratton, Sartenaer & Toint, SIAM J. Optim. 19, 2008),
for residual networks as in Kopaničáková & Krause, "Globally convergent multilevel training of deep residual
networks", SIAM J. Sci. Comput. 45 (2023)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from .._algorithm import check_positive
from ._levels import LevelHierarchy, coherent_model
from ._multilevel import Closure, Model, MultilevelAlgorithm, MultilevelOptimizer, _dual_norm, _norm

__all__ = ["RMTR", "RMTROptimizer"]


@dataclasses.dataclass
class _Iterate:
    x: torch.Tensor
    f: float
    g: torch.Tensor
    delta: float


def _finite(f: float, g: torch.Tensor) -> bool:
    return math.isfinite(f) and bool(torch.isfinite(g).all())


def _check_tr(
    *,
    delta0: float,
    delta_max: float,
    eta1: float,
    eta2: float,
    gamma_dec: float,
    gamma_inc: float,
    kappa_g: float,
    eps_delta: float,
    pre_smooth: int,
    post_smooth: int,
    coarse_iters: int,
) -> None:
    check_positive("delta0", delta0)
    check_positive("delta_max", delta_max)
    if delta0 > delta_max:
        raise ValueError(f"delta0 must be <= delta_max, got {delta0} > {delta_max}")
    if not 0 < eta1 <= eta2 < 1:
        raise ValueError(f"need 0 < eta1 <= eta2 < 1, got eta1={eta1}, eta2={eta2}")
    if not 0 < gamma_dec < 1:
        raise ValueError(f"gamma_dec must lie in (0, 1), got {gamma_dec}")
    if not gamma_inc >= 1:
        raise ValueError(f"gamma_inc must be >= 1, got {gamma_inc}")
    if not 0 <= kappa_g < 1:
        raise ValueError(f"kappa_g must lie in [0, 1), got {kappa_g}")
    if not 0 < eps_delta < 1:
        raise ValueError(f"eps_delta must lie in (0, 1), got {eps_delta}")
    check_positive("pre_smooth", pre_smooth, integer=True, allow_zero=True)
    check_positive("post_smooth", post_smooth, integer=True, allow_zero=True)
    check_positive("coarse_iters", coarse_iters, integer=True)


class RMTROptimizer(MultilevelOptimizer):
    """Recursive multilevel trust region (RMTR) with L-BFGS models on every level; one ``step`` = one V-cycle.

    On each level the smoother takes trust-region steps on the quasi-Newton model
    ``m(s) = g's + s'Bs/2`` (``B^{-1} = H`` the level's L-BFGS matrix): the step ``s = -a H g`` truncated
    to the radius, with predicted reduction ``a g'Hg (1 - a/2)``, accepted when the ratio ``rho`` of actual
    to predicted reduction is at least ``eta1``. Between pre- and post-smoothing the cycle descends to the
    next coarser level, where it minimises the first-order coherent model
    ``psi(y) = f_H(y) + <P^T g - grad f_H(R x), y - R x>`` inside the fine radius: coarse steps are measured
    in the norm ``||e||_w >= ||P e||`` and confined so the prolongated correction stays in the fine trust
    region (Gratton et al. 2008, Alg. RMTR). The correction ``P (y - R x)`` is accepted by the same ratio
    test with the coarse model's decrease as prediction, and the radius is updated. The coarse level is
    only visited when ``||P^T g|| >= kappa_g ||g||`` (dual norms), and a coarse cycle stops when its
    iterate reaches ``(1 - eps_delta)`` of the radius handed down.

    Parameters
    ----------
    params : nn.Module or iterable of tensors
        A residual network (layer coarsening is built from ``levels``, ``restriction``, ``prolongation``) or
        the parameters of ``hierarchy``.
    hierarchy : LevelHierarchy, optional
        A ready hierarchy, e.g. :class:`CollocationHierarchy` for point coarsening.
    pre_smooth, post_smooth : int
        Trust-region steps before and after the coarse correction on every level but the coarsest.
    coarse_iters : int
        Trust-region steps on the coarsest level.
    delta0, delta_max : float
        Initial and largest fine radius.
    eta1, eta2, gamma_dec, gamma_inc : float
        Acceptance and expansion thresholds on ``rho``; radius shrink and growth factors.
    kappa_g, eps_delta : float
        Coarse-visit and coarse-stop thresholds (see above).
    history_size : int
        L-BFGS pairs kept per level.
    hessian : str
        ``"lbfgs"`` or a dense ``"bfgs"``, ``"ssbfgs"``, ``"ssbroyden"`` memory per level.
    coarse_hessian : str, optional
        The memory of the coarse levels (default ``hessian``): ``coarse_hessian="ssbroyden"`` with
        ``hessian="lbfgs"`` is dense curvature where it is affordable (the small coarse levels) only.
    gtol : float
        ``converged`` is set when the fine gradient's largest entry is at most ``gtol``, or when no step can
        decrease the loss any more (a trust radius at the rounding level of the parameters); a stall at NaN/Inf
        losses is reported as divergence (``step`` returns NaN).

    Examples
    --------
    >>> from remodel_core.nn import ResNetMLP
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = ResNetMLP(1, 1, width=8, depth=4).double()
    >>> x = torch.linspace(-1, 1, 32, dtype=torch.float64).unsqueeze(1)
    >>> opt = RMTROptimizer(net, levels=2)
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
        delta0: float = 0.5,
        delta_max: float = 100.0,
        eta1: float = 0.1,
        eta2: float = 0.75,
        gamma_dec: float = 0.5,
        gamma_inc: float = 2.0,
        kappa_g: float = 0.05,
        eps_delta: float = 0.05,
        history_size: int = 10,
        gtol: float = 1e-12,
        hessian: str = "lbfgs",
        coarse_hessian: str | None = None,
    ) -> None:
        _check_tr(
            delta0=delta0,
            delta_max=delta_max,
            eta1=eta1,
            eta2=eta2,
            gamma_dec=gamma_dec,
            gamma_inc=gamma_inc,
            kappa_g=kappa_g,
            eps_delta=eps_delta,
            pre_smooth=pre_smooth,
            post_smooth=post_smooth,
            coarse_iters=coarse_iters,
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
        self.delta, self.delta_max = float(delta0), float(delta_max)
        self.eta1, self.eta2, self.gamma_dec, self.gamma_inc = eta1, eta2, gamma_dec, gamma_inc
        self.kappa_g, self.eps_delta = kappa_g, eps_delta
        self.accepted = [0] * self.n_levels
        self.rejected = [0] * self.n_levels
        self.coarse_accepted = [0] * self.n_levels

    # persistence --------------------------------------------------------------------------------------
    def _extra_state(self) -> dict[str, Any]:
        return {
            "delta": self.delta,
            "accepted": list(self.accepted),
            "rejected": list(self.rejected),
            "coarse_accepted": list(self.coarse_accepted),
        }

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.delta = float(state["delta"])
        self.accepted = [int(n) for n in state["accepted"]]
        self.rejected = [int(n) for n in state["rejected"]]
        self.coarse_accepted = [int(n) for n in state["coarse_accepted"]]

    def monitor_values(self) -> dict[str, float]:
        return {**super().monitor_values(), "radius": self.delta}

    # the method ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor:  # type: ignore[override]
        """One V-cycle; returns the fine loss at the start of the cycle (torch's closure contract).
        ``closure`` is required."""
        if closure is None:
            raise ValueError("RMTROptimizer.step needs a closure that returns the loss after backward()")
        x, f, g = self._fine_start(closure)
        if not _finite(f, g):
            return torch.tensor(math.nan, dtype=torch.float64)
        if float(g.abs().max()) > self.gtol:
            psi = self._fine_model(closure)

            it = self._cycle(0, _Iterate(x, f, g, self.delta), psi, closure, None)
            self.delta = it.delta
            if not it.f < f and self._broken(x, closure):
                return torch.tensor(math.nan, dtype=torch.float64)
            x, f, g = it.x, it.f, it.g
            # a radius at the rounding level of x: no step can be resolved any more; unless the cycle met NaN/Inf:
            # then the radius shrank at a wall of non-finite losses, not at a minimum (as RobustLBFGS)
            if self.delta <= 1e-14 * max(1.0, float(x.norm())):
                if self._nonfinite:
                    return torch.tensor(math.nan, dtype=torch.float64)
                self.converged = True
        return self._finish(x, f, g)

    def _cycle(self, level: int, it: _Iterate, psi: Model, closure: Closure, outer: float | None) -> _Iterate:
        x0 = it.x
        w = self._weights(level)
        last = level == self.n_levels - 1

        def room() -> float:
            if outer is None:
                return it.delta
            return min(it.delta, outer - _norm(it.x - x0, w))

        def stop() -> bool:
            if float(it.g.abs().max()) <= self.gtol:
                return True
            return outer is not None and _norm(it.x - x0, w) >= (1.0 - self.eps_delta) * outer

        self._smooth(level, it, psi, room, stop, self.coarse_iters if last else self.pre_smooth)
        if not last and not stop():
            gr = self.hierarchy.restrict_gradient(level, it.g)
            wc = self._weights(level + 1)
            if _dual_norm(gr, wc) >= self.kappa_g * _dual_norm(it.g, w):
                y0, fc0, gc0, psic = coherent_model(self.hierarchy, level, it.x, it.g, closure)
                if _finite(fc0, gc0):
                    r = room()
                    coarse = self._cycle(level + 1, _Iterate(y0, fc0, gc0, r), psic, closure, r)
                    pred = fc0 - coarse.f
                    if pred > 0:
                        e = self.hierarchy.prolongate(level, coarse.x - y0)
                        if self._trial(level, it, e, pred, psi, w):
                            self.coarse_accepted[level] += 1
        self._smooth(level, it, psi, room, stop, 0 if last else self.post_smooth)
        return it

    def _smooth(
        self, level: int, it: _Iterate, psi: Model, room: Callable[[], float], stop: Callable[[], bool], n: int
    ) -> None:
        mem, w = self.memories[level], self._weights(level)
        for _ in range(n):
            if stop():
                return
            r = room()
            if not r > 0:
                return
            d = mem.direction(it.g)
            gd = float(it.g.dot(d))
            if not (math.isfinite(gd) and gd < 0):
                mem.reset()
                d = -it.g
                gd = -float(it.g.dot(it.g))
            a = min(1.0, r / _norm(d, w))
            self._trial(level, it, a * d, -a * gd * (1.0 - 0.5 * a), psi, w)

    def _trial(self, level: int, it: _Iterate, s: torch.Tensor, pred: float, psi: Model, w: torch.Tensor) -> bool:
        """Evaluate ``x + s``, store the curvature pair, accept by the ratio test and update the radius."""
        ft, gt = psi(it.x + s)
        ok = _finite(ft, gt)
        if ok:
            self.memories[level].push(s, gt - it.g)
        rho = (it.f - ft) / pred if ok and pred > 0 else -math.inf
        ns = _norm(s, w)
        accept = rho >= self.eta1 and ft < it.f
        if accept:
            it.x, it.f, it.g = it.x + s, ft, gt
            self.accepted[level] += 1
        else:
            self.rejected[level] += 1
        if rho < self.eta1:
            it.delta = self.gamma_dec * min(it.delta, ns)
        elif rho >= self.eta2:
            it.delta = min(max(it.delta, self.gamma_inc * ns), self.delta_max)
        return accept


@dataclasses.dataclass(frozen=True, kw_only=True)
class RMTR(MultilevelAlgorithm):
    """Recursive multilevel trust region (Gratton, Sartenaer & Toint 2008; Kopaničáková & Krause 2023).

    Trains a :class:`~remodel_core.TrainingProblem` with :class:`RMTROptimizer`, coarsening a residual
    network in depth (``coarsen="layers"``) or the collocation points (``coarsen="points"``, any full-batch
    problem with data); ``"auto"`` picks layers for models with residual ``blocks``. One iteration is one
    V-cycle. ``Solution.stats["work"]`` counts evaluations in fine units (a coarse one by its
    parameter or point fraction); ``stats["evals"]`` counts closure calls.

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
        can decrease the loss any more (a trust radius at the rounding level of the parameters); a stall at
        NaN/Inf losses ends with ``Diverged``.
    hessian : {"lbfgs", "bfgs", "ssbfgs", "ssbroyden"}, default "lbfgs"
        The quasi-Newton memory of every level (dense ones: :class:`DenseInverseHessian`).
    coarse_hessian : str, optional
        The memory of the levels below the finest (default ``hessian``), e.g. ``"ssbroyden"`` with
        ``hessian="lbfgs"``: dense curvature only where it is affordable.
    pre_smooth, post_smooth : int, default 1
        Trust-region steps before and after the coarse correction on every level but the coarsest.
    coarse_iters : int, default 3
        Trust-region steps on the coarsest level.
    delta0, delta_max : float, default 0.5, 100.0
        Initial and largest fine trust-region radius.
    eta1, eta2 : float, default 0.1, 0.75
        A step is accepted when the ratio ``rho`` of actual to predicted decrease is at least ``eta1``; the
        radius grows when ``rho >= eta2``.
    gamma_dec, gamma_inc : float, default 0.5, 2.0
        Radius shrink and growth factors.
    kappa_g : float, default 0.05
        The coarse level is visited only when ``||P^T g|| >= kappa_g ||g||``.
    eps_delta : float, default 0.05
        A coarse cycle stops when its iterate reaches ``(1 - eps_delta)`` of the radius handed down.

    Examples
    --------
    >>> import torch
    >>> from remodel_core import TrainingProblem, solve
    >>> x = torch.linspace(-1, 1, 64).unsqueeze(1)
    >>> prob = TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m, x, y: ((m(x) - y) ** 2).mean(),
    ...                        data=(x, 3 * x + 1))
    >>> sol = solve(prob, RMTR(levels=2, coarsen="points"), maxiters=30, dtype=torch.float64)
    >>> round(sol.u.weight.item(), 6), round(sol.u.bias.item(), 6)
    (3.0, 1.0)
    """

    pre_smooth: int = 1
    post_smooth: int = 1
    coarse_iters: int = 3
    delta0: float = 0.5
    delta_max: float = 100.0
    eta1: float = 0.1
    eta2: float = 0.75
    gamma_dec: float = 0.5
    gamma_inc: float = 2.0
    kappa_g: float = 0.05
    eps_delta: float = 0.05

    def validate(self) -> None:
        super().validate()
        _check_tr(
            delta0=self.delta0,
            delta_max=self.delta_max,
            eta1=self.eta1,
            eta2=self.eta2,
            gamma_dec=self.gamma_dec,
            gamma_inc=self.gamma_inc,
            kappa_g=self.kappa_g,
            eps_delta=self.eps_delta,
            pre_smooth=self.pre_smooth,
            post_smooth=self.post_smooth,
            coarse_iters=self.coarse_iters,
        )

    def _build(self, params: nn.Module | Iterable[torch.Tensor], hierarchy: LevelHierarchy | None) -> RMTROptimizer:
        return RMTROptimizer(
            params,
            hierarchy=hierarchy,
            levels=self.levels,
            restriction=self.restriction,
            prolongation=self.prolongation,
            pre_smooth=self.pre_smooth,
            post_smooth=self.post_smooth,
            coarse_iters=self.coarse_iters,
            delta0=self.delta0,
            delta_max=self.delta_max,
            eta1=self.eta1,
            eta2=self.eta2,
            gamma_dec=self.gamma_dec,
            gamma_inc=self.gamma_inc,
            kappa_g=self.kappa_g,
            eps_delta=self.eps_delta,
            history_size=self.history_size,
            gtol=self.gtol,
            hessian=self.hessian,
            coarse_hessian=self.coarse_hessian,
        )
