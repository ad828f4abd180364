"""Robust L-BFGS: strong Wolfe line search, curvature-pair skipping, restarts, NaN guards."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from .._algorithm import check_positive
from .._training import OptimizerAlgorithm
from ._lbfgs import LBFGSMemory, flat_grad, flat_params, lbfgs_iteration, set_flat_params

__all__ = ["RobustLBFGS", "RobustLBFGSOptimizer", "check_line_search_options"]


def check_line_search_options(c1: float, c2: float, max_ls: int) -> None:
    """Raise a clear error unless ``0 < c1 < c2 < 1`` and ``max_ls`` is a positive integer."""
    check_positive("c1", c1)
    check_positive("c2", c2)
    if not c1 < c2 < 1.0:
        raise ValueError(f"the Wolfe constants must satisfy 0 < c1 < c2 < 1, got c1={c1!r}, c2={c2!r}")
    check_positive("max_ls", max_ls, integer=True)


class FlatClosure:
    """The model's loss as a function of one flat float64 parameter vector: ``evaluate(x) -> (f, g)``.

    Shared by the quasi-Newton optimizers; it caches the last evaluated point so that a step can start
    from the previous step's end without calling the closure again.
    """

    def __init__(self, params: list[torch.Tensor], closure: Callable[[], Any]) -> None:
        self.params, self.closure = params, closure
        self.evals = 0
        self.last_loss: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor) -> tuple[float, torch.Tensor]:
        set_flat_params(self.params, x)
        return self.here()

    def here(self) -> tuple[float, torch.Tensor]:
        with torch.enable_grad():
            loss = self.closure()
        self.evals += 1
        if not isinstance(loss, torch.Tensor):
            loss = torch.as_tensor(loss)
        self.last_loss = loss.detach()
        f = float(loss)
        return f, flat_grad(self.params)


def group_params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """All parameters of all groups of a flat-vector optimizer, whose options must agree between groups.

    A quasi-Newton method works on one vector, so several parameter groups (``[{"params": a}, {"params":
    b}]``) are concatenated; a per-group option (another ``lr`` for one group) has no meaning there and is
    refused, naming the option.
    """
    groups = optimizer.param_groups
    for group in groups[1:]:
        for key, value in groups[0].items():
            if key != "params" and group.get(key) != value:
                raise ValueError(
                    f"{type(optimizer).__name__} works on one flat vector: option {key!r} must be the same in "
                    f"every parameter group, got {value!r} and {group.get(key)!r}"
                )
    return [p for group in groups for p in group["params"]]


class CachedPoint:
    """Mixin of the full-batch optimizers, following torch's closure contract.

    ``step(closure)`` evaluates the closure at the start of the step and returns that loss (the loss of the
    parameters the step started from), as ``torch.optim.LBFGS`` does. When the caller guarantees that the
    loss function is unchanged since the previous step (``reuse_evaluation = True``, set by
    :func:`remodel_core.train` for full-batch training), the loss and gradient at the end of the previous
    step are reused, so a step that starts where the last one ended costs no extra evaluation. In an
    ordinary PyTorch loop (``reuse_evaluation`` False, the default) every step re-evaluates, so a new
    minibatch is always seen.
    """

    _params: list[torch.Tensor]
    _x: torch.Tensor | None
    _f: float | None
    _g: torch.Tensor | None
    #: the closure's loss function is the same as at the previous step (full batch): reuse its end point
    reuse_evaluation: bool = False

    def forget(self) -> None:
        """Drop the cached loss/gradient (the next step evaluates the closure at its start)."""
        self._x = self._f = self._g = None

    def _start(self, fc: FlatClosure) -> tuple[torch.Tensor, float, torch.Tensor]:
        x = flat_params(self._params)
        if self.reuse_evaluation and self._x is not None and self._x.shape == x.shape and torch.equal(self._x, x):
            assert self._f is not None and self._g is not None
            return x, self._f, self._g
        f, g = fc.here()
        return x, f, g

    def _remember(self, f: float, g: torch.Tensor) -> None:
        """Cache the loss and gradient at the parameters as stored (read back, so a float32 model hits)."""
        self._x, self._f, self._g = flat_params(self._params), f, g.clone()


class RobustLBFGSOptimizer(CachedPoint, torch.optim.Optimizer):
    """L-BFGS that neither stops early nor blows up (Liu & Nocedal 1989; Nocedal & Wright, Alg. 7.5 with
    the strong Wolfe line search of Alg. 3.5/3.6).

    Each :meth:`step` runs ``max_iter`` iterations. Differences from ``torch.optim.LBFGS``: strong Wolfe
    line search with cubic interpolation that shrinks on NaN/Inf trial values; pairs with too little
    curvature are skipped; the memory is reset (restart with steepest descent) when the
    direction is not a descent direction or the line search finds no decrease; no ``tolerance_change``
    test, so a first tiny step (typical after Adam) never ends the run; ``converged`` is set only when
    ``max|g| <= tolerance_grad``, and ``failed`` only when even steepest descent cannot decrease the loss.
    The loss and gradient at the end of a step are reused by the next step while the parameters are
    unchanged and the caller sets ``reuse_evaluation`` (full-batch training in :func:`remodel_core.train`);
    otherwise every step evaluates at its start, as torch's closure contract asks. Several parameter groups
    are concatenated into one vector (their options must agree).

    Parameters
    ----------
    params : iterable of tensors or of dicts
        The parameters, or parameter groups with the same options.
    lr : float
        Step scale: the first trial step is ``lr * min(1, 1 / ||g||_1)`` while the memory is empty (first
        step, restarts) and ``lr`` otherwise (``initial_step`` of ``optim/_lbfgs.py``, the first step of
        torch's L-BFGS).
    history_size : int
        Curvature pairs kept.
    max_iter : int
        L-BFGS iterations per :meth:`step`.
    tolerance_grad : float
        ``converged`` when the largest gradient entry is at most this.
    c1, c2 : float
        Wolfe constants.
    max_ls : int
        Most function evaluations per line search.
    curvature_eps : float
        Pairs with ``s'y <= curvature_eps ||s|| ||y||`` are skipped.

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    >>> opt = RobustLBFGSOptimizer([w], max_iter=10)
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = ((w - torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)) ** 2).sum()
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure)
    >>> torch.allclose(w, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)), opt.converged
    (True, True)
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1.0,
        history_size: int = 50,
        max_iter: int = 1,
        tolerance_grad: float = 1e-9,
        c1: float = 1e-4,
        c2: float = 0.9,
        max_ls: int = 25,
        curvature_eps: float = 1e-10,
    ) -> None:
        check_positive("lr", lr)
        check_positive("history_size", history_size, integer=True)
        check_positive("max_iter", max_iter, integer=True)
        check_positive("tolerance_grad", tolerance_grad, allow_zero=True)
        check_line_search_options(c1, c2, max_ls)
        check_positive("curvature_eps", curvature_eps, allow_zero=True)
        defaults = dict(
            lr=lr,
            history_size=history_size,
            max_iter=max_iter,
            tolerance_grad=tolerance_grad,
            c1=c1,
            c2=c2,
            max_ls=max_ls,
            curvature_eps=curvature_eps,
        )
        super().__init__(params, defaults)
        self._params: list[torch.Tensor] = group_params(self)
        self.memory = LBFGSMemory(history_size, curvature_eps=curvature_eps)
        self.converged = False
        self.failed = False
        self.n_iter = 0
        self.n_restarts = 0
        self._x: torch.Tensor | None = None
        self._f: float | None = None
        self._g: torch.Tensor | None = None

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        """Run ``max_iter`` iterations; returns the loss at the start of the step (torch's closure contract),
        or NaN when the loss became NaN/Inf (the parameters are then not to be trusted)."""
        if closure is None:
            raise ValueError("RobustLBFGSOptimizer.step needs a closure that re-evaluates the loss")
        group = self.param_groups[0]
        fc = FlatClosure(self._params, closure)
        x, f, g = self._start(fc)
        f_start = f
        if not math.isfinite(f) or not bool(torch.isfinite(g).all()):
            self.forget()
            return torch.tensor(math.nan)
        for _ in range(group["max_iter"]):
            if float(g.abs().max()) <= group["tolerance_grad"]:
                self.converged = True
                break
            st = lbfgs_iteration(
                fc, x, f, g, self.memory, lr=group["lr"], c1=group["c1"], c2=group["c2"], max_ls=group["max_ls"]
            )
            self.n_iter += 1
            self.n_restarts += int(st.restarted or not st.line_search_ok)
            x, f, g = st.x, st.f, st.g
            if st.nonfinite and not st.line_search_ok:
                # the loss is NaN/Inf however short the step: report divergence (the loop keeps the last
                # good state), do not pretend the point is a minimum
                set_flat_params(self._params, x)
                self.forget()
                self.memory.reset()
                return torch.tensor(math.nan)
            if st.stalled:
                self.failed = True
                break
        set_flat_params(self._params, x)
        if float(g.abs().max()) <= group["tolerance_grad"]:
            self.converged = True
        self._remember(f, g)
        return torch.tensor(f_start, dtype=torch.float64)

    # persistence: tensors and plain Python values only ------------------------------------------------
    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return {
            "param_groups": [group],
            "memory": self.memory.state_dict(),
            "x": self._x,
            "f": self._f,
            "g": self._g,
            "n_iter": self.n_iter,
            "n_restarts": self.n_restarts,
            "converged": self.converged,
            "failed": self.failed,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        try:
            group = dict(state_dict["param_groups"][0])
            memory = state_dict["memory"]
        except (KeyError, IndexError, TypeError) as err:
            raise ValueError(f"not a RobustLBFGSOptimizer state: {err}") from err
        for own in self.param_groups:
            own.update({k: v for k, v in group.items() if k != "params"})
        self.memory.load_state_dict(memory)
        x, g = state_dict.get("x"), state_dict.get("g")
        self._x = None if x is None else x.to(torch.float64)
        self._g = None if g is None else g.to(torch.float64)
        self._f = None if state_dict.get("f") is None else float(state_dict["f"])
        self.n_iter = int(state_dict.get("n_iter", 0))
        self.n_restarts = int(state_dict.get("n_restarts", 0))
        self.converged = bool(state_dict.get("converged", False))
        self.failed = bool(state_dict.get("failed", False))


@dataclasses.dataclass(frozen=True, kw_only=True)
class RobustLBFGS(OptimizerAlgorithm):
    """Robust L-BFGS as an algorithm for :func:`remodel_core.solve` (see :class:`RobustLBFGSOptimizer`).

    One iteration of ``solve`` is one ``step`` of ``max_iter`` L-BFGS iterations. Use float64
    (``solve(..., dtype=torch.float64)``) when accuracy matters.

    Parameters
    ----------
    lr : float, default 1.0
        Step scale: the first trial step of a line search is ``lr * min(1, 1 / ||g||_1)`` while the memory is
        empty (first step, restarts) and ``lr`` otherwise.
    history_size : int, default 50
        Curvature pairs kept.
    max_iter : int, default 1
        Quasi-Newton iterations per ``step`` (per iteration of ``solve``).
    tolerance_grad : float, default 1e-9
        The run succeeds when the largest gradient entry is at most this (``>= 0``).
    c1, c2 : float, default 1e-4, 0.9
        Strong Wolfe constants, ``0 < c1 < c2 < 1``.
    max_ls : int, default 25
        Most function evaluations per line search.
    curvature_eps : float, default 1e-10
        Pairs with ``s'y <= curvature_eps ||s|| ||y||`` are skipped (``>= 0``).

    Examples
    --------
    >>> import torch
    >>> from remodel_core import TrainingProblem, solve
    >>> prob = TrainingProblem(model=torch.nn.Linear(2, 1),
    ...                        loss=lambda m: ((m.weight - 1) ** 2).sum() + (m.bias + 2).pow(2).sum())
    >>> sol = solve(prob, RobustLBFGS(history_size=10), maxiters=50, dtype=torch.float64)
    >>> sol.retcode.name, round(float(sol.u.bias), 6)
    ('Success', -2.0)
    """

    lr: float = 1.0
    history_size: int = 50
    max_iter: int = 1
    tolerance_grad: float = 1e-9
    c1: float = 1e-4
    c2: float = 0.9
    max_ls: int = 25
    curvature_eps: float = 1e-10

    def validate(self) -> None:
        check_positive("lr", self.lr)
        check_positive("history_size", self.history_size, integer=True)
        check_positive("max_iter", self.max_iter, integer=True)
        check_positive("tolerance_grad", self.tolerance_grad, allow_zero=True)
        check_line_search_options(self.c1, self.c2, self.max_ls)
        check_positive("curvature_eps", self.curvature_eps, allow_zero=True)

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return RobustLBFGSOptimizer(
            [p for p in model.parameters() if p.requires_grad],
            lr=self.lr,
            history_size=self.history_size,
            max_iter=self.max_iter,
            tolerance_grad=self.tolerance_grad,
            c1=self.c1,
            c2=self.c2,
            max_ls=self.max_ls,
            curvature_eps=self.curvature_eps,
        )
