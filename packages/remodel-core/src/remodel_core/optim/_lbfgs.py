"""Limited-memory BFGS building blocks: the curvature-pair memory and the two-loop recursion
(Nocedal 1980; Liu & Nocedal 1989; Nocedal & Wright, *Numerical Optimization*, Alg. 7.4)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch

from .._algorithm import check_positive
from ._linesearch import strong_wolfe

__all__ = ["LBFGSMemory", "LBFGSStep", "flat_grad", "flat_params", "initial_step", "lbfgs_iteration", "set_flat_params"]


class LBFGSMemory:
    """The last ``history_size`` curvature pairs ``(s, y)`` and the two-loop recursion ``d = -H g``.

    Pairs with too little curvature, ``s'y <= curvature_eps * ||s|| ||y||``, are skipped, so the implicit
    inverse Hessian stays positive definite. The initial matrix is ``gamma I`` with the Shanno–Phua scaling
    ``gamma = s'y / y'y`` of the newest pair. Vectors are kept in float64 whatever the parameters' dtype.

    Parameters
    ----------
    history_size : int
        Most pairs kept (> 0).
    curvature_eps : float
        Relative curvature threshold for skipping a pair (>= 0).

    Examples
    --------
    >>> A = torch.diag(torch.tensor([1.0, 10.0], dtype=torch.float64))
    >>> mem = LBFGSMemory(5)
    >>> s = torch.tensor([1.0, 0.0], dtype=torch.float64); mem.push(s, A @ s)
    True
    >>> s = torch.tensor([0.0, 1.0], dtype=torch.float64); mem.push(s, A @ s)
    True
    >>> g = torch.tensor([2.0, 20.0], dtype=torch.float64)
    >>> mem.direction(g)  # exact Newton direction -A^{-1} g after two independent pairs
    tensor([-2., -2.], dtype=torch.float64)
    """

    def __init__(self, history_size: int = 50, *, curvature_eps: float = 1e-10) -> None:
        check_positive("history_size", history_size, integer=True)
        check_positive("curvature_eps", curvature_eps, allow_zero=True)
        self.history_size = int(history_size)
        self.curvature_eps = float(curvature_eps)
        self.s: list[torch.Tensor] = []
        self.y: list[torch.Tensor] = []
        self.rho: list[float] = []
        self.skipped = 0

    def __len__(self) -> int:
        return len(self.s)

    @property
    def gamma(self) -> float:
        """Scaling ``s'y / y'y`` of the newest pair (1.0 while the memory is empty)."""
        if not self.s:
            return 1.0
        y = self.y[-1]
        return 1.0 / (self.rho[-1] * float(y.dot(y)))

    def reset(self) -> None:
        """Forget every pair (a restart)."""
        self.s.clear()
        self.y.clear()
        self.rho.clear()

    def push(self, s: torch.Tensor, y: torch.Tensor) -> bool:
        """Store the pair ``(s, y)`` unless its curvature is too small or not finite; True when stored."""
        s = s.detach().reshape(-1).to(torch.float64).clone()
        y = y.detach().reshape(-1).to(torch.float64).clone()
        if s.shape != y.shape:
            raise ValueError(f"s and y must have the same size, got {s.numel()} and {y.numel()}")
        sy = float(s.dot(y))
        ns, ny = float(s.norm()), float(y.norm())
        if not (torch.isfinite(torch.tensor([sy, ns, ny])).all()) or ny == 0.0 or sy <= self.curvature_eps * ns * ny:
            self.skipped += 1
            return False
        if len(self.s) == self.history_size:
            self.s.pop(0)
            self.y.pop(0)
            self.rho.pop(0)
        self.s.append(s)
        self.y.append(y)
        self.rho.append(1.0 / sy)
        return True

    def apply(self, g: torch.Tensor) -> torch.Tensor:
        """``H g`` by the two-loop recursion (``gamma g`` when the memory is empty)."""
        q = g.detach().reshape(-1).to(torch.float64).clone()
        k = len(self.s)
        alphas = [0.0] * k
        for i in range(k - 1, -1, -1):
            alphas[i] = self.rho[i] * float(self.s[i].dot(q))
            q.add_(self.y[i], alpha=-alphas[i])
        q = self.initial(q)
        for i in range(k):
            beta = self.rho[i] * float(self.y[i].dot(q))
            q.add_(self.s[i], alpha=alphas[i] - beta)
        return q

    def initial(self, q: torch.Tensor) -> torch.Tensor:
        """The initial inverse Hessian of the two-loop recursion applied to ``q`` (in place): ``gamma q``."""
        return q.mul_(self.gamma)

    def direction(self, g: torch.Tensor) -> torch.Tensor:
        """The quasi-Newton direction ``-H g`` (float64, flat)."""
        return self.apply(g).neg_()

    # persistence -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain Python values only (loadable with ``weights_only=True``)."""
        if self.s:
            S, Y = torch.stack(self.s), torch.stack(self.y)
        else:
            S = Y = torch.zeros(0, 0, dtype=torch.float64)
        return {
            "s": S,
            "y": Y,
            "rho": torch.tensor(self.rho, dtype=torch.float64),
            "history_size": self.history_size,
            "curvature_eps": self.curvature_eps,
            "skipped": self.skipped,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history_size = int(state["history_size"])
        self.curvature_eps = float(state["curvature_eps"])
        self.skipped = int(state.get("skipped", 0))
        self.reset()
        S, Y = state["s"], state["y"]
        rho = state.get("rho")
        for i, (s, y) in enumerate(zip(S, Y)):
            self.s.append(s.to(torch.float64).clone())
            self.y.append(y.to(torch.float64).clone())
            # the stored rho keeps a resumed run bit-identical (a recomputed dot product may round differently)
            self.rho.append(float(rho[i]) if rho is not None else 1.0 / float(self.s[-1].dot(self.y[-1])))


def flat_params(params: list[torch.Tensor]) -> torch.Tensor:
    """The parameters as one flat float64 vector (a copy; empty for no parameters). The one flat-vector
    helper of the optimizers, with :func:`flat_grad` and :func:`set_flat_params`.

    Parameters
    ----------
    params : list of torch.Tensor
        The parameters, in a fixed order (the order of the flat vector).

    Returns
    -------
    torch.Tensor
        float64 vector of ``sum(p.numel())`` entries.

    Examples
    --------
    >>> flat_params([torch.ones(2, 2), torch.zeros(1)]).tolist()
    [1.0, 1.0, 1.0, 1.0, 0.0]
    """
    if not params:
        return torch.zeros(0, dtype=torch.float64)
    return torch.cat([p.detach().reshape(-1).to(torch.float64) for p in params])


def flat_grad(params: list[torch.Tensor]) -> torch.Tensor:
    """The gradients as one flat float64 vector (zeros where ``grad`` is None).

    Parameters
    ----------
    params : list of torch.Tensor
        The parameters, in a fixed order (the order of the flat vector).

    Returns
    -------
    torch.Tensor
        float64 vector of ``sum(p.numel())`` entries.

    Examples
    --------
    >>> w = torch.ones(2, requires_grad=True); (3 * w).sum().backward()
    >>> flat_grad([w, torch.zeros(1, requires_grad=True)]).tolist()
    [3.0, 3.0, 0.0]
    """
    if not params:
        return torch.zeros(0, dtype=torch.float64)
    return torch.cat(
        [
            (p.grad.detach().reshape(-1) if p.grad is not None else torch.zeros(p.numel(), device=p.device)).to(
                torch.float64
            )
            for p in params
        ]
    )


@torch.no_grad()
def set_flat_params(params: list[torch.Tensor], x: torch.Tensor) -> None:
    """Copy the flat vector ``x`` into ``params`` (cast to each parameter's dtype).

    Parameters
    ----------
    params : list of torch.Tensor
        The parameters, in a fixed order (the order of the flat vector).
    x : torch.Tensor
        Flat vector with exactly ``sum(p.numel())`` entries (e.g. from :func:`flat_params`).

    Examples
    --------
    >>> w = torch.zeros(2, 2)
    >>> set_flat_params([w], torch.arange(4.0)); w.tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """
    offset = 0
    for p in params:
        n = p.numel()
        p.copy_(x[offset : offset + n].view_as(p))
        offset += n
    if offset != x.numel():
        raise ValueError(f"x has {x.numel()} entries, the parameters {offset}")


def initial_step(g: torch.Tensor, lr: float = 1.0, *, empty: bool) -> float:
    """The first trial step of a line search along an L-BFGS direction: the one rule of every driver.

    With an empty memory (the very first iteration, and after every reset) the direction is ``-g`` and the
    trial step is ``lr * min(1, 1 / ||g||_1)``, the first step of ``torch.optim.LBFGS`` (and of Nash's MG/OPT
    smoother here); otherwise it is the unit step ``lr``, since the two-loop recursion's initial matrix
    ``(s'y / y'y) I`` (Shanno & Phua; Nocedal & Wright, eq. 7.20) already gives the direction its scale.
    A gradient whose norm is zero or not finite gets ``lr``.

    Parameters
    ----------
    g : torch.Tensor
        The gradient at the current point (flat).
    lr : float
        The step scale (the optimizer's ``lr``).
    empty : bool
        Whether the curvature memory is empty (the direction is steepest descent).

    Examples
    --------
    >>> g = torch.tensor([3.0, -1.0], dtype=torch.float64)
    >>> initial_step(g, empty=True), initial_step(g, 0.5, empty=True), initial_step(g, empty=False)
    (0.25, 0.125, 1.0)
    >>> initial_step(0.01 * g, empty=True)  # a small gradient: the unit step, never a longer one
    1.0
    """
    if not empty:
        return lr
    g1 = float(g.abs().sum())
    alpha = lr * min(1.0, 1.0 / g1) if g1 > 0 else lr
    return alpha if math.isfinite(alpha) and alpha > 0 else lr


#: first trial steps of :func:`lbfgs_iteration`'s callers: 1, or Nocedal & Wright's eq. 3.60 (``previous_f``)
TRIAL_STEPS = ("unit", "quadratic")


def check_trial_step(trial_step: Any) -> None:
    """``trial_step`` is one of :data:`TRIAL_STEPS`, else ``ValueError`` naming it."""
    if trial_step not in TRIAL_STEPS:
        raise ValueError(f"trial_step must be one of {TRIAL_STEPS}, got {trial_step!r}")


@dataclasses.dataclass
class LBFGSStep:
    """Outcome of :func:`lbfgs_iteration`: the new point, its value and gradient, and what happened.

    Parameters
    ----------
    x : torch.Tensor
        The new point (the start when no step was taken).
    f : float
        The value at ``x``.
    g : torch.Tensor
        The gradient at ``x``.
    alpha : float
        The accepted step length (0.0 when none).
    evals : int
        Evaluations of the line search.
    line_search_ok : bool
        Whether the strong Wolfe conditions held at the accepted step.
    restarted : bool
        Whether the memory was reset (no descent direction, or no decrease found).
    stalled : bool
        No decrease along steepest descent: no progress is possible from ``x``.
    nonfinite : bool, default False
        Every trial value of the line search was NaN/Inf.
    aux : object, optional
        The third item ``evaluate`` returned at ``x``, if any.
    """

    x: torch.Tensor
    f: float
    g: torch.Tensor
    alpha: float
    evals: int
    line_search_ok: bool
    restarted: bool
    stalled: bool
    nonfinite: bool = False
    aux: Any = None


def lbfgs_iteration(
    evaluate: Callable[[torch.Tensor], tuple[Any, ...]],
    x: torch.Tensor,
    f: float,
    g: torch.Tensor,
    memory: LBFGSMemory,
    *,
    lr: float = 1.0,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_ls: int = 25,
    push: bool = True,
    aux: Any = None,
    previous_f: float | None = None,
) -> LBFGSStep:
    """One robust L-BFGS iteration from ``(x, f, g)`` on the flat function ``evaluate(x) -> (f, g)``.

    The direction is ``-H g`` from ``memory`` (steepest descent while it is empty, unless its initial matrix is
    an operator, as :class:`~remodel_core.optim.PreconditionedMemory`'s); when it is not a descent direction (or not
    finite) the memory is reset and steepest descent is used. The first trial step is :func:`initial_step`'s:
    ``lr * min(1, 1 / ||g||_1)`` while the memory is empty (first step, after a reset), ``lr`` otherwise.
    The step is chosen by :func:`~remodel_core.optim.strong_wolfe` (cubic
    interpolation, NaN-safe). A successful or merely decreasing step is accepted and its pair pushed
    (curvature-checked); when no decrease is found the memory is reset and ``x`` is kept, and when that
    happens on a steepest-descent step ``stalled`` is True (no progress possible); ``nonfinite`` is True
    when every trial value of the line search was NaN/Inf.

    ``evaluate`` may return a third item (``aux``, e.g. the full gradient when ``x`` is a subdomain's
    parameters); the accepted point's ``aux`` is returned (``aux`` of the start when no step is taken).
    With ``push=False`` the pair is not stored (the caller forms its own pairs).

    With ``previous_f`` (the value at the previous iterate), a direction from the memory gets the first trial
    step ``min(lr, 1.01 * 2 (f - previous_f) / g'd)`` instead of ``lr``: the minimiser of the quadratic through
    ``f``, ``g'd`` and the last decrease (Nocedal & Wright, *Numerical Optimization*, eq. 3.60), the rule for
    directions that are not well scaled (see :class:`~remodel_core.optim.KFACLBFGSOptimizer`). A previous value
    not above ``f`` leaves ``lr``.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(x) -> (f, g)`` or ``(f, g, aux)`` on flat float64 vectors.
    x : torch.Tensor
        The current point (flat).
    f : float
        The value at ``x``.
    g : torch.Tensor
        The gradient at ``x``.
    memory : LBFGSMemory
        The curvature memory (or a :class:`DenseInverseHessian`), updated in place.
    lr : float, default 1.0
        Step scale of :func:`initial_step`.
    c1, c2 : float, default 1e-4, 0.9
        Strong Wolfe constants.
    max_ls : int, default 25
        Most evaluations of the line search.
    push : bool, default True
        Store the new pair ``(s, y)`` in ``memory``.
    aux : object, optional
        ``aux`` of the starting point, returned when no step is taken.
    previous_f : float, optional
        The value at the previous iterate: the first trial step is then Nocedal & Wright's eq. 3.60 (above).

    Returns
    -------
    LBFGSStep
        The new point and what happened.

    Examples
    --------
    >>> A = torch.diag(torch.tensor([1.0, 100.0], dtype=torch.float64))
    >>> evaluate = lambda x: (float(0.5 * x @ A @ x), A @ x)
    >>> x = torch.tensor([1.0, 1.0], dtype=torch.float64); mem = LBFGSMemory(10)
    >>> f, g = evaluate(x)
    >>> for _ in range(20):
    ...     st = lbfgs_iteration(evaluate, x, f, g, mem); x, f, g = st.x, st.f, st.g
    >>> f < 1e-20
    True
    """
    preconditioned = getattr(memory, "operator", None) is not None  # its initial matrix is not a multiple of I
    d = memory.direction(g) if len(memory) or preconditioned else -g
    gtd = float(g.dot(d))
    restarted = False
    if not math.isfinite(gtd) or gtd >= 0 or not bool(torch.isfinite(d).all()):
        memory.reset()
        d, gtd, restarted = -g, -float(g.dot(g)), True
    steepest = restarted or not (len(memory) or preconditioned)
    if gtd == 0.0:
        return LBFGSStep(x, f, g, 0.0, 0, True, restarted, False, aux=aux)
    alpha0 = initial_step(g, lr, empty=steepest)
    if previous_f is not None and not steepest and previous_f > f:
        alpha0 = min(alpha0, 1.01 * 2.0 * (f - previous_f) / gtd)

    finite_seen = [False]

    def phi(alpha: float) -> tuple[float, float, torch.Tensor, Any]:
        out = evaluate(x + alpha * d)
        fa, ga = float(out[0]), out[1]
        dphi = float(ga.dot(d))
        finite_seen[0] |= math.isfinite(fa) and math.isfinite(dphi)
        return fa, dphi, ga, (out[2] if len(out) > 2 else None)

    res = strong_wolfe(phi, f, gtd, alpha0, c1=c1, c2=c2, max_evals=max_ls, extra0=(g, aux))
    if res.alpha > 0.0:
        x_new = x + res.alpha * d
        g_new = res.extra[0]
        if push:
            memory.push(x_new - x, g_new - g)
        return LBFGSStep(x_new, res.f, g_new, res.alpha, res.evals, res.success, restarted, False, aux=res.extra[1])
    memory.reset()
    return LBFGSStep(x, f, g, 0.0, res.evals, False, restarted, stalled=steepest, nonfinite=not finite_seen[0], aux=aux)
