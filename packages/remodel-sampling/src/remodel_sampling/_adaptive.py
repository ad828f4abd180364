"""Adaptive collocation inside ``solve``: the points change between rounds, the optimizer goes on."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from remodel_core import Algorithm, Problem, Solution, SolveContext, TrainingProblem
from remodel_core._training import TRAIN_OPTIONS, OptimizerAlgorithm, _algorithm_signature
from remodel_core.pde import Geometry
from torch import nn

from ._samplers import Sampler, get_sampler
from ._strategies import RAD, ImportanceSampling, Strategy

MEMORY_RULES = ("auto", "keep", "reset")
_LBFGS_HISTORY = ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss")


def _memories(optimizer: torch.optim.Optimizer) -> list[Any]:
    """The quasi-Newton memories of the core optimizers (L-BFGS pairs or dense inverse Hessians)."""
    out = []
    for name in ("memory",):
        if hasattr(optimizer, name):
            out.append(getattr(optimizer, name))
    for name in ("memories", "local_memories"):
        out.extend(getattr(optimizer, name, []))
    return [m for m in out if hasattr(m, "reset")]


def adapt_optimizer(
    optimizer: torch.optim.Optimizer, *, reset_memory: bool, rebuild: Callable[[Any], None] | None = None
) -> str:
    """Prepare ``optimizer`` for a new loss (new collocation points) without restarting it.

    Always: the cached loss and gradient of the last point are dropped (``forget()``; a multilevel
    optimizer's fine cache), since they belong to the old points. ``reset_memory``: the quasi-Newton
    memories (RobustLBFGS, SSBroyden, the Schwarz methods' global and local ones, one per level of RMTR and
    MG/OPT) are emptied; otherwise they are kept. ``torch.optim.LBFGS`` always loses its curvature history
    (its stored last gradient would pair with a gradient of the new loss into a false secant pair): its
    iteration counter restarts, its evaluation count stays. Adam's and SGD's moments and step counts are
    always kept. ``rebuild(optimizer)`` is called for a multilevel optimizer on a collocation hierarchy
    (the coarse levels subsample the new points).

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        The optimizer to prepare: a core optimizer of ``remodel_core.optim`` or a torch one.
    reset_memory : bool
        Empty the quasi-Newton memories (``True``) or keep them (``False``); ``torch.optim.LBFGS`` loses its
        curvature history either way.
    rebuild : callable, optional
        ``rebuild(optimizer)``, called for an optimizer with a ``hierarchy`` (a multilevel optimizer) to rebuild
        its levels on the new points.

    Returns
    -------
    str
        ``"reset"`` when a curvature history was emptied, ``"kept"`` otherwise.

    Examples
    --------
    >>> w = torch.zeros(2, requires_grad=True)
    >>> opt = torch.optim.Adam([w])
    >>> adapt_optimizer(opt, reset_memory=True)
    'kept'
    """
    if hasattr(optimizer, "forget"):
        optimizer.forget()
    if hasattr(optimizer, "_cache"):
        optimizer._cache = None
    if rebuild is not None and hasattr(optimizer, "hierarchy"):
        rebuild(optimizer)
    if isinstance(optimizer, torch.optim.LBFGS):
        for state in optimizer.state.values():
            for key in _LBFGS_HISTORY:
                state.pop(key, None)
            if "n_iter" in state:
                state["n_iter"] = 0  # torch starts a fresh history at n_iter == 1
        return "reset"
    memories = _memories(optimizer)
    if reset_memory and memories:
        for m in memories:
            m.reset()
        return "reset"
    return "kept"


class _WeightedLoss:
    """The PINN loss with per-point weights in the last data column: ``w_r mean(w_i r_i^2) + conditions``."""

    def __init__(self, base: Any) -> None:
        self.base = base

    def __call__(self, model: nn.Module, xw: torch.Tensor) -> torch.Tensor:
        base = self.base
        x, w = xw[:, :-1], xw[:, -1]
        r = base.problem.residual(model, x, derivatives_route=base.route)
        total = base.weights["residual"] * (w * r.pow(2)).mean()
        for cond, pts in zip(base.conditions, base.points(x)):
            total = total + base.weights[cond.group] * cond.residual(model, pts, base.route).pow(2).mean()
        return total


def _count(cond: Any, points: torch.Tensor) -> int:
    """Points per draw of a condition (a periodic one stores pairs)."""
    from remodel_core.pde import Periodic

    return points.shape[0] // 2 if isinstance(cond, Periodic) else points.shape[0]


def _pinn_of(problem: TrainingProblem) -> Any:
    return getattr(problem.loss, "problem", None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdaptiveSampling(Algorithm):
    """Train with ``inner`` and move the collocation points by ``strategy`` every ``every`` iterations, inside
    one ``solve``: the model and the optimizer (moments, step counts, quasi-Newton memory by the rule below)
    carry on from round to round.

    After iteration ``every``, ``2 every``, ... (at most ``rounds`` times) the absolute PDE residual is
    evaluated on ``candidates`` fresh points of the problem's geometry (``candidate_sampler``, seeded by the
    solve's seed and the round) and ``strategy`` (:class:`RAD`, :class:`RARG`, :class:`RARD`,
    :class:`ImportanceSampling`, :class:`Static`) gives the next points (Wu, Zhu, Tan, Kartha & Lu, CMAME
    403, 2023). The optimizer is adapted by :func:`adapt_optimizer`; quasi-Newton memory rule ``memory``:
    ``"auto"`` resets it when at least half of the points are new (RAD replaces all: the old curvature pairs
    describe another loss) and keeps it when fewer changed (RAR-G/RAR-D add a few points: the loss and its
    curvature barely move); ``"keep"`` and ``"reset"`` force one or the other. A multilevel optimizer on
    collocation levels gets its hierarchy rebuilt on the new points.

    Balance of the loss terms (``balance=True``, the default): a residual-weighted point set (RAD, RAR-G,
    RAR-D) raises the mean squared PDE residual on the points above its mean over the domain, by the factor
    ``E_p[r^2] / E[r^2]`` (large where the residual is concentrated), and so lowers the weight of the boundary
    and initial condition terms relative to the PDE term: the soft conditions then fit worse than with the
    uniform points the weights were chosen for. Each round therefore rescales the PDE term of a discretised
    PINN loss by ``mean(r^2 on the candidates) / mean(r^2 on the new points)`` (the candidates are uniform:
    their mean estimates the domain's), so at the round the term equals its value on uniform points and the
    condition weights keep their meaning; the points stay where the strategy put them, and their relative
    weights are untouched (unlike :class:`ImportanceSampling`, which reweights point by point). A loss with no
    condition terms (conditions built into the network, as in Wu et al.) is left unscaled: with one term there
    is no balance to keep. The ``"auto"`` memory rule also resets the quasi-Newton memory when the scale
    changes by more than a factor 2 (the pairs describe a loss of another scale). Each round's scale is in
    ``stats["rounds"][i]["residual_weight"]``.

    ``Solution.stats["rounds"]`` lists one record per resampling (iteration, points, mean and max candidate
    residual, memory kept/reset), ``history["round"]`` and ``history["points"]`` tag every iteration, and
    ``stats["data"]`` holds the final points (to continue with another schedule phase).

    Checkpoints (``checkpoint=``, ``resume=True`` of ``solve``) hold, next to the model and the optimizer, the
    current points (and condition points with ``boundary=True``), the rounds so far (the candidates and the draws
    are seeded by the solve's seed and the round number, so the count is the generators' state) and the options
    of this algorithm: a resumed run gives the iterates, points and rounds of an uninterrupted one; a resume
    with other options, or of a checkpoint written without adaptive sampling, is refused.

    Parameters
    ----------
    inner : OptimizerAlgorithm
        Any core optimizer algorithm (Adam, LBFGS, RobustLBFGS, SSBroyden, ASPQN/MSPQN, RMTR, MG/OPT, ...).
    strategy : Strategy
        How the points move.
    every : int
        Iterations of ``inner`` per round.
    rounds : int, optional
        Most resamplings (default: until the run stops).
    candidates : int
        Size of the dense candidate set ``S_0``.
    candidate_sampler : str or Sampler
        How the candidates are drawn on the geometry (``"uniform"`` as in the paper).
    memory : {"auto", "keep", "reset"}
        The quasi-Newton memory rule.
    geometry : Geometry, optional
        Where the candidates live (default: the PINN problem's domain).
    residual : callable, optional
        ``residual(model, x) -> [n]`` for a training problem that is not a discretised PINN.
    chunk : int
        Candidates per residual evaluation (memory bound).
    balance : bool
        Rescale the PDE term each round so that the condition terms keep their weight (see above).
    boundary : bool
        Also redraw the fixed points of the problem's boundary and initial conditions every round (fresh
        uniform points on the same pieces, same counts; DeepXDE issue #2073); conditions given as explicit
        ``(points, values)`` stay. The final sets are in ``stats["boundary_data"]``.
    on_round : callable, optional
        ``on_round(record, model, candidates, residual, points)`` after each resampling (plots, logging);
        its return value is ignored and it must not change its arguments.

    Examples
    --------
    >>> import math
    >>> from remodel_core import solve
    >>> from remodel_core.nn import ResNetMLP
    >>> from remodel_core.optim import Adam
    >>> from remodel_core.pde import burgers
    >>> from remodel_sampling import RAD
    >>> train = burgers().discretize(ResNetMLP(2, 1, width=8, depth=2), points=64, boundary_points=16, seed=0)
    >>> sol = solve(train, AdaptiveSampling(inner=Adam(lr=1e-3), strategy=RAD(), every=2, candidates=500),
    ...             maxiters=5, seed=0, dtype=torch.float64)
    >>> [r["iteration"] for r in sol.stats["rounds"]], sol.stats["data"][0].shape
    ([2, 4], torch.Size([64, 2]))
    """

    inner: Algorithm
    strategy: Strategy
    every: int = 100
    rounds: int | None = None
    candidates: int = 100_000
    candidate_sampler: str | Sampler = "uniform"
    memory: str = "auto"
    geometry: Geometry | None = None
    residual: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None
    chunk: int = 20_000
    balance: bool = True
    boundary: bool = False
    on_round: Callable[..., Any] | None = None

    problem_types: ClassVar[tuple[type, ...]] = (TrainingProblem,)
    supported_options: ClassVar[frozenset[str]] = TRAIN_OPTIONS

    def validate(self) -> None:
        if not isinstance(self.inner, OptimizerAlgorithm):
            raise TypeError(
                f"inner must be a core optimizer algorithm (an OptimizerAlgorithm such as Adam, LBFGS, "
                f"RMTR), got {type(self.inner).__name__}"
            )
        self.inner.validate()
        if not isinstance(self.strategy, Strategy):
            raise TypeError(
                f"strategy must be a Strategy (RAD, RARG, RARD, ImportanceSampling, Static), got "
                f"{type(self.strategy).__name__}"
            )
        for name in ("every", "candidates", "chunk"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.rounds is not None and (
            isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or self.rounds < 0
        ):
            raise ValueError(f"rounds must be a non-negative integer or None, got {self.rounds!r}")
        if self.memory not in MEMORY_RULES:
            raise ValueError(f"memory must be one of {MEMORY_RULES}, got {self.memory!r}")
        get_sampler(self.candidate_sampler)
        if self.geometry is not None and not isinstance(self.geometry, Geometry):
            raise TypeError(f"geometry must be a Geometry, got {type(self.geometry).__name__}")
        if self.residual is not None and not callable(self.residual):
            raise TypeError(f"residual must be callable, got {type(self.residual).__name__}")
        for name in ("balance", "boundary"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.on_round is not None and not callable(self.on_round):
            raise TypeError(f"on_round must be callable, got {type(self.on_round).__name__}")

    def _solve(self, problem: Problem, ctx: SolveContext) -> Solution:
        assert isinstance(problem, TrainingProblem)
        pinn = _pinn_of(problem)
        if problem.data is None or not problem.data:
            raise ValueError("AdaptiveSampling needs a TrainingProblem with data (the collocation points)")
        if self.residual is None and pinn is None:
            raise ValueError("AdaptiveSampling needs a discretised PINNProblem (problem.discretize(...)) or residual=")
        geometry = self.geometry if self.geometry is not None else getattr(pinn, "domain", None)
        if geometry is None:
            raise ValueError("AdaptiveSampling needs geometry= where the training problem has no PINN domain")
        x_first = problem.data[0]
        if x_first.dim() != 2 or x_first.shape[1] != geometry.dim:  # else a shape error of the model at round 1
            raise ValueError(
                f"geometry has dimension {geometry.dim} but the collocation points (problem.data[0]) have shape "
                f"{list(x_first.shape)}; expected [n, {geometry.dim}]"
            )
        if isinstance(self.strategy, RAD) and self.candidates < x_first.shape[0]:
            # RAD draws the points without replacement from the candidates: refuse now, not after `every` steps
            raise ValueError(
                f"candidates must be at least the number of collocation points ({x_first.shape[0]}) for "
                f"RAD, got {self.candidates}"
            )
        weighted = isinstance(self.strategy, ImportanceSampling)
        if weighted:
            if pinn is None:
                raise ValueError("ImportanceSampling reweights a discretised PINN loss; residual= is not enough")
            x0 = problem.data[0]
            ones = torch.ones(x0.shape[0], 1, dtype=x0.dtype, device=x0.device)
            problem = dataclasses.replace(problem, loss=_WeightedLoss(problem.loss), data=(torch.cat([x0, ones], 1),))
        boundary_loss = None
        if self.boundary and pinn is None:
            raise ValueError("boundary=True redraws the condition points of a discretised PINN problem")
        base_loss = problem.loss if not weighted else problem.loss.base
        # balance: a PINN loss with condition terms of positive weight, points placed by the residual
        balanced = bool(
            self.balance
            and self.strategy.adaptive
            and not weighted
            and pinn is not None
            and isinstance(getattr(base_loss, "weights", None), dict)
            and any(base_loss.weights.get(cond.group, 0.0) > 0 for cond in getattr(base_loss, "conditions", ()))
        )
        if self.boundary or balanced:
            import copy

            boundary_loss = copy.copy(base_loss)
            boundary_loss._cache = {}  # a private copy: the user's problem keeps its points and weights
            boundary_loss.weights = dict(base_loss.weights)
            if weighted:
                problem = dataclasses.replace(problem, loss=_WeightedLoss(boundary_loss))
            else:
                problem = dataclasses.replace(problem, loss=boundary_loss)
        weight0 = float(base_loss.weights["residual"]) if balanced else 1.0
        if self.residual is not None:
            residual_fn = self.residual
        else:
            route = getattr(problem.loss, "route", "auto") if not weighted else problem.loss.base.route

            def residual_fn(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
                return pinn.residual(model, x, derivatives_route=route, create_graph=False)

        sampler = get_sampler(self.candidate_sampler)
        opts = ctx.options
        records: list[dict[str, Any]] = []
        ctx.stats["candidate_evaluations"] = 0
        inner = self.inner
        latest = [problem.data]
        rebuilt: list[int | None] = [None]  # the seed of the last hierarchy rebuild (for a resume)
        signature = _algorithm_signature(self)

        def rebuild(opt: Any, model: nn.Module, new_data: tuple[torch.Tensor, ...], seed: int) -> None:
            from remodel_core.optim import CollocationHierarchy

            if isinstance(opt.hierarchy, CollocationHierarchy):
                fresh = CollocationHierarchy.from_data(
                    model,
                    problem.loss,
                    new_data,
                    opt.n_levels,
                    factor=getattr(inner, "factor", 2),
                    generator=torch.Generator().manual_seed(seed),
                )
                opt.hierarchy.losses, opt.hierarchy._costs = fresh.losses, fresh._costs

        def between(
            iteration: int, model: nn.Module, optimizer: torch.optim.Optimizer, data: tuple[torch.Tensor, ...]
        ) -> tuple[torch.Tensor, ...] | None:
            if iteration % self.every or (self.rounds is not None and len(records) >= self.rounds):
                return None
            k = len(records) + 1
            seed = (opts.seed * 1_000_003 + k) % 2**32
            x = data[0]
            if self.boundary and boundary_loss is not None:
                from remodel_core.pde import Given

                boundary_loss.fixed = tuple(
                    old
                    if isinstance(cond, Given)
                    else cond.sample(pinn.domain, _count(cond, old), seed=seed + 1 + j, dtype=old.dtype)
                    for j, (cond, old) in enumerate(zip(boundary_loss.conditions, boundary_loss.fixed))
                )
                boundary_loss._cache = {}
            if not self.strategy.adaptive:  # a fixed set: nothing to evaluate, the round is only recorded
                records.append({"round": k, "iteration": iteration, "points": int(x.shape[0]), "memory": "kept"})
                return None
            cand = sampler.sample(self.candidates, geometry, seed=seed, dtype=x.dtype, device=x.device)
            values = torch.cat([residual_fn(model, c).detach().abs().reshape(-1) for c in cand.split(self.chunk)])
            if values.numel() != cand.shape[0]:
                raise ValueError(f"residual must return one value per point ({cand.shape[0]}), got {values.numel()}")
            ctx.stats["candidate_evaluations"] += int(cand.shape[0])
            if not bool(torch.isfinite(values).all()):
                return None  # a diverging model: leave the points, the divergence guard of train acts
            points = x[:, :-1] if weighted else x
            rng = np.random.default_rng([seed, 1])  # a stream apart from the candidates' (same seed)
            new = self.strategy.update(points, cand, values, rng)
            record = {
                "round": k,
                "iteration": iteration,
                "points": int(points.shape[0]),
                "residual_mean": float(values.mean()),
                "residual_max": float(values.max()),
                "memory": "kept",
            }
            if new is None:
                records.append(record)
                return None
            n_new = int(new.shape[0])
            changed = n_new if self.strategy.replaces else n_new - int(points.shape[0])
            rescaled = False
            if balanced and boundary_loss is not None:
                on_new = torch.cat([residual_fn(model, c).detach().reshape(-1) for c in new.split(self.chunk)])
                mean_new = float(on_new.double().pow(2).mean())
                scale = float(values.double().pow(2).mean()) / mean_new if mean_new > 0 else 1.0
                if math.isfinite(scale) and scale > 0:
                    old_weight = boundary_loss.weights["residual"]
                    boundary_loss.weights["residual"] = weight0 * scale
                    ratio = boundary_loss.weights["residual"] / old_weight if old_weight > 0 else math.inf
                    rescaled = not 0.5 <= ratio <= 2.0
                record["residual_weight"] = boundary_loss.weights["residual"]
            reset = self.memory == "reset" or (self.memory == "auto" and (changed >= 0.5 * n_new or rescaled))
            new_data = (new,)

            record["memory"] = adapt_optimizer(
                optimizer, reset_memory=reset, rebuild=lambda opt: rebuild(opt, model, new_data, seed)
            )
            rebuilt[0] = seed
            record["points"] = n_new
            records.append(record)
            if self.on_round is not None:
                self.on_round(dict(record), model, cand, values, new)
            latest[0] = new_data
            return new_data

        def state_dict() -> dict[str, Any]:
            """What a checkpoint needs to go on exactly: the rounds so far (the candidates' and the draw's
            generators are seeded by the solve's seed and the round number, so the count is their state), the
            current points and condition points, the seed of the last hierarchy rebuild, this algorithm's
            options (a resume with others is refused)."""
            return {
                "algorithm": signature,
                "records": [dict(r) for r in records],
                "data": tuple(latest[0]),
                "boundary": tuple(boundary_loss.fixed) if self.boundary and boundary_loss is not None else None,
                "residual_weight": boundary_loss.weights["residual"] if balanced and boundary_loss else None,
                "rebuild_seed": rebuilt[0],
            }

        def load_state_dict(
            state: Any, model: nn.Module, optimizer: torch.optim.Optimizer
        ) -> tuple[torch.Tensor, ...] | None:
            path = repr(str(opts.checkpoint))
            if not isinstance(state, dict) or "records" not in state:
                raise ValueError(
                    f"checkpoint {path} holds no adaptive sampling state (written without AdaptiveSampling): "
                    "resume with the algorithm that wrote it, or start a new run"
                )
            if state["algorithm"] != signature:
                differ = sorted(
                    k for k in set(signature) | set(state["algorithm"]) if signature.get(k) != state["algorithm"].get(k)
                )
                raise ValueError(
                    f"checkpoint {path} was written with other options of AdaptiveSampling ({', '.join(differ)}): "
                    "resume with the same options, or start a new run"
                )
            records[:] = [dict(r) for r in state["records"]]
            latest[0] = tuple(state["data"])
            if self.boundary and boundary_loss is not None:
                boundary_loss.fixed = tuple(state["boundary"])
                boundary_loss._cache = {}
            if balanced and boundary_loss is not None and state.get("residual_weight") is not None:
                boundary_loss.weights["residual"] = float(state["residual_weight"])
            rebuilt[0] = state["rebuild_seed"]
            if rebuilt[0] is not None and hasattr(optimizer, "hierarchy"):
                x = latest[0][0]
                dtype = opts.dtype if opts.dtype is not None and x.is_floating_point() else x.dtype
                rebuild(optimizer, model, tuple(t.to(device=opts.device, dtype=dtype) for t in latest[0]), rebuilt[0])
            return latest[0]

        between.state_dict = state_dict  # type: ignore[attr-defined]
        between.load_state_dict = load_state_dict  # type: ignore[attr-defined]
        ctx.between_iterations = between  # type: ignore[attr-defined]
        try:
            sol = inner._solve(problem, ctx)
        finally:
            ctx.between_iterations = None  # type: ignore[attr-defined]
        iters = sol.history.get("iteration", [])
        n0 = int(problem.data[0].shape[0])
        rnd, pts, j, current = [], [], 0, n0
        for it in iters:
            while j < len(records) and records[j]["iteration"] < it:
                current = records[j]["points"]
                j += 1
            rnd.append(float(j))
            pts.append(float(current))
        if iters:
            sol.history["round"], sol.history["points"] = rnd, pts
        sol.stats["rounds"] = records
        sol.stats["data"] = latest[0]
        if self.boundary and boundary_loss is not None:
            sol.stats["boundary_data"] = boundary_loss.fixed
        return sol
