"""What RMTR and MG/OPT share: the optimizer base (hierarchy, per-level L-BFGS memories, state) and the
algorithm base (level options, building the hierarchy from a :class:`~remodel_core.TrainingProblem`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from .._algorithm import check_positive
from .._context import SolveContext
from .._problem import Problem
from .._solution import Solution
from .._training import OptimizerAlgorithm, TrainingProblem, placed, train
from ._levels import CollocationHierarchy, LayerHierarchy, LevelHierarchy, _check_levels
from ._ssbroyden import check_hessian, make_memory
from ._width import WidthHierarchy

Closure = Callable[[], torch.Tensor]
Model = Callable[[torch.Tensor], tuple[float, torch.Tensor]]  # a coarse model: x -> (value, gradient)


def _dual_norm(g: torch.Tensor, w: torch.Tensor) -> float:
    return float(torch.sqrt((g * g / w).sum()))


def _norm(s: torch.Tensor, w: torch.Tensor) -> float:
    return float(torch.sqrt((s * s * w).sum()))


class MultilevelOptimizer(torch.optim.Optimizer):
    """Base of the multilevel optimizers: one ``step(closure)`` is one V-cycle over a :class:`LevelHierarchy`.

    ``params`` is either a residual network (then a :class:`LayerHierarchy` with ``levels``, ``restriction``
    and ``prolongation`` is built) or the parameters of a given ``hierarchy``. Each level keeps its own
    quasi-Newton memory (``hessian``: ``"lbfgs"``, or a dense ``"bfgs"``/``"ssbfgs"``/``"ssbroyden"``,
    see :class:`~remodel_core.optim.DenseInverseHessian`; ``coarse_hessian``, default ``hessian``, for the
    levels below the finest, e.g. dense matrices on small coarse levels and L-BFGS on the fine one);
    ``work`` counts evaluations in fine-evaluation units (coarse ones by their cost fraction, the parameter
    ratio for layer coarsening, the point ratio for point coarsening).

    Parameters
    ----------
    params : nn.Module or iterable of tensors
        A residual network (for layer coarsening) or exactly the trainable parameters of ``hierarchy``.
    hierarchy : LevelHierarchy or None
        A ready hierarchy (e.g. :class:`CollocationHierarchy`), or ``None`` to build a :class:`LayerHierarchy`.
    levels : int
        Number of levels of the built hierarchy.
    restriction : {"average", "inject"}
        Parameter restriction of the built hierarchy.
    prolongation : {"constant", "linear"}
        Correction prolongation of the built hierarchy.
    history_size : int
        Curvature pairs kept per level.
    gtol : float
        ``converged`` is set when the fine gradient's largest entry is at most ``gtol``.
    hessian : str, default "lbfgs"
        ``"lbfgs"`` or a dense ``"bfgs"``, ``"ssbfgs"``, ``"ssbroyden"`` memory per level.
    coarse_hessian : str, optional
        The memory of the coarse levels (default ``hessian``).
    """

    def __init__(
        self,
        params: nn.Module | Iterable[torch.Tensor],
        *,
        hierarchy: LevelHierarchy | None,
        levels: int,
        restriction: str,
        prolongation: str,
        history_size: int,
        gtol: float,
        hessian: str = "lbfgs",
        coarse_hessian: str | None = None,
    ) -> None:
        check_positive("history_size", history_size, integer=True)
        check_hessian(hessian)
        if coarse_hessian is not None:
            check_hessian(coarse_hessian, name="coarse_hessian")
        check_positive("gtol", gtol, allow_zero=True)
        if hierarchy is None:
            if not isinstance(params, nn.Module):
                raise TypeError(
                    "without a hierarchy, pass the residual network itself (an nn.Module with `blocks`) "
                    f"for layer coarsening, got {type(params).__name__}"
                )
            _check_levels(levels)
            hierarchy = LayerHierarchy(params, levels, restriction=restriction, prolongation=prolongation)
        elif not isinstance(hierarchy, LevelHierarchy):
            raise TypeError(f"hierarchy must be a LevelHierarchy, got {type(hierarchy).__name__}")
        plist = list(params.parameters() if isinstance(params, nn.Module) else params)
        plist = [p for p in plist if p.requires_grad]
        if {id(p) for p in plist} != {id(p) for p in hierarchy.params}:
            raise ValueError("the optimizer's parameters must be exactly the hierarchy's trainable parameters")
        super().__init__(plist, {})
        self.hierarchy = hierarchy
        self.n_levels = hierarchy.n_levels
        self.history_size, self.gtol = int(history_size), float(gtol)
        self.hessian = hessian
        self.coarse_hessian = hessian if coarse_hessian is None else coarse_hessian
        # dense curvature on the (small) coarse levels only, limited memory on the fine level, if asked
        self.memories = [
            make_memory(hessian if level == 0 else self.coarse_hessian, history_size) for level in range(self.n_levels)
        ]
        self.converged = False
        self.cycles = 0
        self._cache: tuple[torch.Tensor, float, torch.Tensor] | None = None
        self._nonfinite = False
        self._f_start = math.nan
        #: the closure's loss is unchanged since the previous step (full batch, set by ``train``): reuse the
        #: previous cycle's end point instead of evaluating at the start (torch's closure contract otherwise)
        self.reuse_evaluation = False

    # evaluations --------------------------------------------------------------------------------------
    @property
    def work(self) -> float:
        """Evaluations so far in fine-evaluation units."""
        return self.hierarchy.work

    def monitor_values(self) -> dict[str, float]:
        """Figures for the training history: fine-equivalent evaluations and cycles."""
        return {"work": self.work, "cycles": float(self.cycles)}

    def _fine_start(self, closure: Closure) -> tuple[torch.Tensor, float, torch.Tensor]:
        x = self.hierarchy.get_fine()
        if self.reuse_evaluation and self._cache is not None and torch.equal(self._cache[0], x):
            self._f_start = self._cache[1]
            return self._cache
        f, g = self.hierarchy.evaluate(0, x, closure)
        self._f_start = f
        return x, f, g

    def _fine_model(self, closure: Closure) -> Callable[[torch.Tensor], tuple[float, torch.Tensor]]:
        """The fine objective; remembers whether an evaluation of this cycle was not finite."""
        self._nonfinite = False

        def psi(y: torch.Tensor) -> tuple[float, torch.Tensor]:
            f, g = self.hierarchy.evaluate(0, y, closure)
            if not (math.isfinite(f) and bool(torch.isfinite(g).all())):
                self._nonfinite = True
            return f, g

        return psi

    def _broken(self, x: torch.Tensor, closure: Closure) -> bool:
        """After a cycle without decrease that met non-finite values: is the loss at ``x`` itself not finite?"""
        if not self._nonfinite:
            return False
        f, g = self.hierarchy.evaluate(0, x, closure)
        self.hierarchy.set_fine(x)
        self._cache = None
        return not (math.isfinite(f) and bool(torch.isfinite(g).all()))

    def _finish(self, x: torch.Tensor, f: float, g: torch.Tensor) -> torch.Tensor:
        """End a cycle at ``x``; returns the loss at the cycle's start (torch's closure contract)."""
        self.hierarchy.set_fine(x)
        self._cache = (self.hierarchy.get_fine(), f, g.clone())
        self.cycles += 1
        if math.isfinite(f) and float(g.abs().max()) <= self.gtol:
            self.converged = True
        return torch.tensor(self._f_start, dtype=torch.float64)

    def _weights(self, level: int) -> torch.Tensor:
        return self.hierarchy.weights(level)

    # persistence --------------------------------------------------------------------------------------
    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        """The torch state plus a ``multilevel`` entry of tensors and plain values (``weights_only`` safe)."""
        out = super().state_dict()
        out["multilevel"] = {
            "memories": [m.state_dict() for m in self.memories],
            "evals": list(self.hierarchy.evals),
            "cycles": self.cycles,
            "converged": self.converged,
            "cache": list(self._cache) if self._cache is not None else [],
            **self._extra_state(),
        }
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        ml = state_dict.pop("multilevel", None)
        if ml is None:
            raise ValueError("state_dict has no 'multilevel' entry: not saved by a multilevel optimizer")
        if len(ml["memories"]) != self.n_levels:
            raise ValueError(f"state_dict has {len(ml['memories'])} levels, this optimizer {self.n_levels}")
        super().load_state_dict(state_dict)
        for m, s in zip(self.memories, ml["memories"]):
            m.load_state_dict(s)
        self.hierarchy.evals = [int(n) for n in ml["evals"]]
        self.cycles = int(ml["cycles"])
        self.converged = bool(ml["converged"])
        cache = ml.get("cache") or []
        self._cache = (cache[0].clone(), float(cache[1]), cache[2].clone()) if len(cache) == 3 else None
        self._load_extra_state(ml)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MultilevelAlgorithm(OptimizerAlgorithm):
    """Options shared by :class:`RMTR` and :class:`MGOPT`: the hierarchy.

    ``coarsen="layers"`` coarsens a residual network in depth; ``"width"`` halves the hidden widths of a
    plain MLP per level (:class:`~remodel_core.optim.WidthHierarchy`, neuron prolongation/restriction);
    ``"points"`` keeps the network and
    coarsens the problem's data (nested subsets, ``factor`` times fewer points per level, full batch);
    ``"auto"`` picks layers when the model has residual ``blocks`` and points otherwise.

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
        can decrease the loss any more (its rounding floor); a stall at NaN/Inf losses ends with ``Diverged``.
    hessian : {"lbfgs", "bfgs", "ssbfgs", "ssbroyden"}, default "lbfgs"
        The quasi-Newton memory of every level (dense ones: :class:`DenseInverseHessian`).
    coarse_hessian : str, optional
        The memory of the levels below the finest (default ``hessian``), e.g. ``"ssbroyden"`` with
        ``hessian="lbfgs"``: dense curvature only where it is affordable.
    """

    levels: int = 3
    coarsen: str = "auto"
    restriction: str = "average"
    prolongation: str = "constant"
    factor: int = 2
    history_size: int = 10
    gtol: float = 1e-12
    hessian: str = "lbfgs"
    coarse_hessian: str | None = None

    def validate(self) -> None:
        _check_levels(self.levels)
        check_hessian(self.hessian)
        if self.coarse_hessian is not None:
            check_hessian(self.coarse_hessian, name="coarse_hessian")
        if self.coarsen not in ("auto", "layers", "points", "width"):
            raise ValueError(f"coarsen must be 'auto', 'layers', 'points' or 'width', got {self.coarsen!r}")
        if self.restriction not in ("average", "inject"):
            raise ValueError(f"restriction must be 'average' or 'inject', got {self.restriction!r}")
        if self.prolongation not in ("constant", "linear"):
            raise ValueError(f"prolongation must be 'constant' or 'linear', got {self.prolongation!r}")
        if isinstance(self.factor, bool) or not isinstance(self.factor, int) or self.factor < 2:
            raise ValueError(f"factor must be an integer >= 2, got {self.factor!r}")
        check_positive("history_size", self.history_size, integer=True)
        check_positive("gtol", self.gtol, allow_zero=True)

    def _build(
        self, params: nn.Module | Iterable[torch.Tensor], hierarchy: LevelHierarchy | None
    ) -> torch.optim.Optimizer:  # pragma: no cover - abstract
        raise NotImplementedError

    def _mode(self, model: nn.Module) -> str:
        if self.coarsen != "auto":
            return self.coarsen
        return "layers" if isinstance(getattr(model, "blocks", None), nn.ModuleList) else "points"

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """The optimizer with layer coarsening of ``model`` (point coarsening needs the problem: use ``solve``)."""
        if self._mode(model) == "points":
            raise ValueError(
                "coarsen='points' needs the problem's data; use solve(problem, algorithm) or build a "
                "CollocationHierarchy and pass it as hierarchy="
            )
        if self._mode(model) == "width":
            return self._build(model.parameters(), WidthHierarchy(model, self.levels))
        return self._build(model, None)

    def _solve(self, problem: Problem, ctx: SolveContext) -> Solution:
        assert isinstance(problem, TrainingProblem)
        if problem.batch_size is not None and problem.n_samples is not None and problem.batch_size < problem.n_samples:
            raise ValueError(
                f"{type(self).__name__} needs a deterministic full-batch objective; got batch_size="
                f"{problem.batch_size} for {problem.n_samples} samples (use batch_size=None)"
            )
        mode = self._mode(problem.model)
        if mode == "points" and problem.data is None:
            raise ValueError("coarsen='points' needs a TrainingProblem with data (the collocation points)")
        opts = ctx.options
        made: list[MultilevelOptimizer] = []

        def make(model: nn.Module) -> torch.optim.Optimizer:
            if mode == "layers":
                opt = self._build(model, None)
            elif mode == "width":
                opt = self._build(model.parameters(), WidthHierarchy(model, self.levels))
            else:
                assert problem.data is not None
                data = placed(problem.data, opts)
                gen = torch.Generator().manual_seed(opts.seed)
                H = CollocationHierarchy.from_data(
                    model, problem.loss, data, self.levels, factor=self.factor, generator=gen
                )
                opt = self._build(model.parameters(), H)
            assert isinstance(opt, MultilevelOptimizer)
            made.append(opt)
            return opt

        sol = train(problem, make, ctx)
        if made:
            sol.stats["work"] = made[-1].work
            sol.stats["evals_per_level"] = list(made[-1].hierarchy.evals)
        return sol
