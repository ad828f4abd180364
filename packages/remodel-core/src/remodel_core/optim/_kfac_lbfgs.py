"""L-BFGS preconditioned by KFAC: the two-loop recursion of limited-memory BFGS whose initial inverse Hessian is
the damped Kronecker-factored Gauss–Newton inverse of the layers, not a multiple of the identity.

The two-loop recursion admits any symmetric positive definite initial matrix ``H0_k``, changed from iteration to
iteration (Nocedal & Wright, *Numerical Optimization*, Alg. 7.4 and §7.2). Here ``H0_k = c_k K_k``: ``K_k`` is the
damped KFAC inverse of the layers (Martens & Grosse 2015; for PINN losses Dangel, Müller & Zeinhofer, NeurIPS 2024,
:class:`~remodel_core.optim.KFACOptimizer`), ``c_k = s'y / y'K_k y`` of the newest pair (the Shanno–Phua scaling
with ``K_k`` in place of the identity, Nocedal & Wright eq. 7.20). KFAC supplies the curvature inside each layer,
at ``sum (in + 1)^2 + out^2`` numbers; the secant pairs add what KFAC leaves out (the coupling across layers and
the non-Gauss–Newton part of the Hessian) at ``2 m n`` numbers. This is the limited-memory counterpart of the dense
self-scaled matrix started from the KFAC inverse that :class:`~remodel_core.optim.Auto` uses where one dense matrix
fits: the same split of work (structure in the start, secant updates for the rest) at any size. An iteration
costs the evaluations of a strong Wolfe line search (about one, as L-BFGS) plus one product with ``K``; the
factors are formed afresh every ``refresh`` iterations (one extra evaluation with its backward pass). With no
pair yet the step is ``-K g`` with a unit trial step (a damped KFAC step), not steepest descent.

Unlike plain L-BFGS, whose ``(s'y / y'y) I`` start makes the unit step acceptable almost always, ``c K`` gives
directions that are too long in the directions the pairs have not seen (where the damped KFAC inverse is large):
on a 40k-parameter Burgers PINN the accepted step had median length 0.14 and the line search took 2.3
evaluations per iteration. The first trial step is therefore the minimiser of the quadratic through the last
decrease (``trial_step="quadratic"``, Nocedal & Wright eq. 3.60, :func:`~remodel_core.optim.lbfgs_iteration`'s
``previous_f``): about 1.1 evaluations per iteration there, and the same error in about 60 % of the CPU time
(docs/BENCHMARKS.md).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from .._algorithm import check_positive
from ._gauss_newton import ResidualAlgorithm, ResidualBlock
from ._kfac import KFACOptimizer
from ._lbfgs import LBFGSMemory, check_trial_step, flat_params, lbfgs_iteration, set_flat_params

__all__ = ["KFACLBFGS", "KFACLBFGSOptimizer", "PreconditionedMemory"]


class PreconditionedMemory(LBFGSMemory):
    """An :class:`~remodel_core.optim.LBFGSMemory` whose initial inverse Hessian is ``c M`` for a symmetric
    positive definite operator ``M`` (a callable), with ``c = s'y / y'My`` of the newest pair (1 while the memory is
    empty); ``M = None`` gives the plain ``(s'y / y'y) I``.

    Parameters
    ----------
    history_size : int
        Most pairs kept (> 0).
    operator : callable, optional
        ``operator(v) -> M v`` on flat float64 vectors; may be replaced between iterations.
    curvature_eps : float
        Relative curvature threshold for skipping a pair (>= 0).

    Examples
    --------
    >>> A = torch.diag(torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64))
    >>> mem = PreconditionedMemory(5, operator=lambda v: v / torch.diagonal(A))  # M = A^{-1}
    >>> s = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64); mem.push(s, A @ s)
    True
    >>> g = torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64)
    >>> mem.direction(g)  # the exact Newton direction from one pair: M already is the inverse Hessian
    tensor([-1., -1., -1.], dtype=torch.float64)
    """

    def __init__(
        self,
        history_size: int = 50,
        operator: Callable[[torch.Tensor], torch.Tensor] | None = None,
        *,
        curvature_eps: float = 1e-10,
    ) -> None:
        super().__init__(history_size, curvature_eps=curvature_eps)
        if operator is not None and not callable(operator):
            raise TypeError(f"operator must be callable or None, got {type(operator).__name__}")
        self.operator = operator

    def initial(self, q: torch.Tensor) -> torch.Tensor:
        if self.operator is None:
            return super().initial(q)
        Mq = self.operator(q)
        if self.s:
            y = self.y[-1]
            yMy = float(y.dot(self.operator(y)))
            if yMy > 0 and math.isfinite(yMy):
                return Mq.mul_(1.0 / (self.rho[-1] * yMy))
        return Mq


class KFACLBFGSOptimizer(torch.optim.Optimizer):
    """L-BFGS with the damped KFAC inverse as its initial matrix (see the module docstring), on a least-squares
    loss ``f = sum(r^2)`` given by its residual blocks; a strong Wolfe line search
    (:func:`~remodel_core.optim.lbfgs_iteration`) picks each step.

    Parameters
    ----------
    params : iterable of tensors
        The model's trainable parameters, in ``model.parameters()`` order (one group).
    model : torch.nn.Module
        Built of ``nn.Linear`` layers (see :class:`~remodel_core.optim.KFACOptimizer`).
    residual_blocks : callable
        ``residual_blocks() -> [(fn, rows), ...]`` with ``f = sum over blocks of sum(fn(model, rows)^2)``.
    history_size : int
        Secant pairs kept (> 0).
    refresh : int
        Iterations between two formations of the Kronecker factors (> 0).
    factor_damping : float
        Tikhonov damping of the factors, relative to their scale at the first formation (> 0).
    seed : int
        Seed of the random signs of the factors' backward pass.
    trial_step : {"quadratic", "unit"}
        First trial step of each line search: Nocedal & Wright's eq. 3.60 from the last decrease, or 1.

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).double()
    >>> x = torch.rand(64, 2, dtype=torch.float64)
    >>> y = torch.sin(3 * x[:, 0]) * x[:, 1]
    >>> blocks = lambda: [(lambda m, z: m(z)[:, 0] - y, x)]
    >>> opt = KFACLBFGSOptimizer(net.parameters(), net, blocks)
    >>> f = [float(opt.step()) for _ in range(60)]
    >>> f[-1] < 1e-3 * f[0]
    True
    """

    def __init__(
        self,
        params: Any,
        model: nn.Module,
        residual_blocks: Callable[[], Sequence[ResidualBlock]],
        *,
        history_size: int = 50,
        refresh: int = 10,
        factor_damping: float = 1e-3,
        seed: int = 0,
        trial_step: str = "quadratic",
    ) -> None:
        options = dict(
            history_size=history_size, refresh=refresh, factor_damping=factor_damping, seed=seed, trial_step=trial_step
        )
        _check_options(**options)
        defaults = options
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("KFACLBFGSOptimizer supports a single parameter group")
        self._params: list[torch.Tensor] = list(self.param_groups[0]["params"])
        # the factor machinery (layers, Taylor-mode records, Kronecker products) is KFAC's
        self.kfac = KFACOptimizer(self._params, model, residual_blocks, factor_damping=factor_damping, seed=seed)
        self.memory = PreconditionedMemory(history_size)
        self._eig: list | None = None
        self._f: float | None = None
        self._g: torch.Tensor | None = None
        self._x: torch.Tensor | None = None
        self._f_prev: float | None = None  # the value at the previous iterate (the quadratic trial step)
        self.converged = False
        self.failed = False
        self.stats: dict[str, Any] = {"steps": 0, "refreshes": 0, "line_search_evals": 0, "restarts": 0}

    def seed_pairs(self, pairs: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Start the memory from curvature pairs ``(s, y)``, oldest first (e.g. a warm-up L-BFGS's)."""
        for s, y in pairs:
            self.memory.push(s, y)

    def _refresh(self, x: torch.Tensor) -> tuple[float, torch.Tensor]:
        """Form the Kronecker factors at ``x`` (and the value and gradient there, from the same evaluation)."""
        kf = self.kfac
        blocks = kf.residual_blocks()
        ev = kf._evaluate(x.to(self._params[0].dtype), blocks)
        with torch.enable_grad():
            f = ev.r @ ev.r
            (g,) = torch.autograd.grad(f, ev.x, retain_graph=True, materialize_grads=True)
            if not (math.isfinite(float(f.detach())) and bool(torch.isfinite(g).all())):
                return float(f.detach()), g.detach().to(torch.float64)  # the step fails; no factors from NaNs
            kf._A, kf._B = kf._factors(ev.r, ev.taylor, ev.plain)
        self._set_operator()
        self.stats["refreshes"] += 1
        return float(f.detach()), g.detach().to(torch.float64)

    def _set_operator(self) -> None:
        kf = self.kfac
        eig = [(torch.linalg.eigh(2.0 * a), torch.linalg.eigh(b)) for a, b in zip(kf._A, kf._B)]
        self._eig = eig = [((da.clamp_min(0.0), qa), (db.clamp_min(0.0), qb)) for (da, qa), (db, qb) in eig]
        if kf.lam is None:  # the damping's scale is fixed at the first formation
            scale = max(float(da.mean()) * float(db.mean()) for (da, _), (db, _) in eig)
            kf.gamma = math.sqrt(self.param_groups[0]["factor_damping"] * (scale if scale > 0 else 1.0))
            kf.lam = 0.0
        dtype = self._params[0].dtype

        def K(v: torch.Tensor) -> torch.Tensor:
            return kf._precondition(kf._unflatten(v.to(dtype)), eig, kf.gamma).neg_().to(torch.float64)

        self.memory.operator = K

    def _evaluate(self, x: torch.Tensor) -> tuple[float, torch.Tensor]:
        kf = self.kfac
        leaf = x.to(self._params[0].dtype).detach().clone().requires_grad_(True)
        with torch.enable_grad(), kf._at(leaf):
            r = kf._residuals()
            f = r @ r
            (g,) = torch.autograd.grad(f, leaf, materialize_grads=True)
        return float(f.detach()), g.detach().to(torch.float64)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor:  # type: ignore[override]
        """One preconditioned L-BFGS iteration; returns ``sum(r^2)`` at its start (the closure is not needed)."""
        group = self.param_groups[0]
        x = flat_params(self._params).to(torch.float64)
        moved = self._x is None or not torch.equal(self._x, x)
        if moved:
            self._f_prev = None
        if moved or self._eig is None or self.stats["steps"] % group["refresh"] == 0:
            self._f, self._g = self._refresh(x)
        f, g = self._f, self._g
        assert f is not None and g is not None
        if not (math.isfinite(f) and bool(torch.isfinite(g).all())):
            self.failed = True
            return torch.tensor(f)
        if float(g.norm()) == 0.0:
            self.converged = True
            return torch.tensor(f)
        fresh = not len(self.memory)  # the direction is -K g
        previous = self._f_prev if group["trial_step"] == "quadratic" else None
        out = lbfgs_iteration(self._evaluate, x, f, g, self.memory, previous_f=previous)
        self.stats["line_search_evals"] += out.evals
        self.stats["restarts"] += int(out.restarted)
        if out.alpha == 0.0:
            # no decrease: with pairs, the memory was reset and the next step (factors formed afresh) takes -K g;
            # along -K g or -g itself, no progress is possible from here
            self.failed = fresh or out.stalled or out.nonfinite
            self._eig = None
            return torch.tensor(f)
        set_flat_params(self._params, out.x)
        # the point as the parameters hold it (rounded to their dtype), so the next step knows no one moved it
        self._x, self._f, self._g = flat_params(self._params).to(torch.float64), out.f, out.g
        self._f_prev = f
        self.stats["steps"] += 1
        return torch.tensor(f)

    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        here = None
        if self._x is not None and self._g is not None:
            here = {"x": self._x.clone(), "f": self._f, "g": self._g.clone(), "f_prev": self._f_prev}
        return {
            "memory": self.memory.state_dict(),
            "kfac": self.kfac.state_dict(),
            "here": here,  # the current point's value and gradient: a resumed run refreshes where this one would
            "stats": dict(self.stats),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        try:
            self.memory.load_state_dict(state_dict["memory"])
            self.kfac.load_state_dict(state_dict["kfac"])
            self.stats = dict(state_dict["stats"])
            here = state_dict["here"]
            self._x, self._f, self._g = (None, None, None) if here is None else (here["x"], here["f"], here["g"])
            self._f_prev = None if here is None else here.get("f_prev")  # absent from states before trial_step
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"not a KFACLBFGSOptimizer state: {err}") from err
        self._eig = None
        if self.kfac._A:
            self._set_operator()


def _check_options(*, history_size: Any, refresh: Any, factor_damping: Any, seed: Any, trial_step: Any) -> None:
    """The options of :class:`KFACLBFGSOptimizer` and :class:`KFACLBFGS`, each refused with an error naming it."""
    check_positive("history_size", history_size, integer=True)
    check_positive("refresh", refresh, integer=True)
    check_positive("factor_damping", factor_damping)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    check_trial_step(trial_step)


@dataclasses.dataclass(frozen=True, kw_only=True)
class KFACLBFGS(ResidualAlgorithm):
    """L-BFGS preconditioned by KFAC for a least-squares loss (see :class:`KFACLBFGSOptimizer`).

    The problem's loss must expose ``residual_blocks(*data, route=...)`` (the loss of
    :meth:`remodel_core.pde.PINNProblem.discretize` does) and the network must be built of ``nn.Linear`` layers;
    training is full batch. Memory: ``2 m n`` for the pairs plus ``sum (in + 1)^2 + out^2`` for the factors.

    Parameters
    ----------
    history_size, refresh, factor_damping, seed, trial_step
        See :class:`KFACLBFGSOptimizer`.

    Examples
    --------
    >>> from remodel_core import solve, pde
    >>> from remodel_core.nn import MLP
    >>> torch.manual_seed(0) and None
    >>> prob = pde.poisson2d().discretize(MLP(2, 1, width=8, depth=2), points=64, boundary_points=32)
    >>> sol = solve(prob, KFACLBFGS(), maxiters=30, dtype=torch.float64)
    >>> sol.history["loss"][-1] < 1e-2 * sol.history["loss"][0]
    True
    """

    history_size: int = 50
    refresh: int = 10
    factor_damping: float = 1e-3
    seed: int = 0
    trial_step: str = "quadratic"

    optimizer_class = KFACLBFGSOptimizer
    stats_prefix = "kfac_lbfgs"
    taylor_route = True

    def validate(self) -> None:
        _check_options(**self._options())
