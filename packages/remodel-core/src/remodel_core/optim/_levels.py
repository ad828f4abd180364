"""Level hierarchies for multilevel training: transfer operators between levels and level objectives.

Two hierarchies share one interface (:class:`LevelHierarchy`), so RMTR and MG/OPT work with either:

* :class:`LayerHierarchy` reads a residual network as the forward-Euler discretisation of an ODE
  (Haber & Ruthotto 2017) and coarsens it in "time": the coarse network keeps every other residual block
  with a doubled step ``h`` and shares the lifting and projection layers (Gratton, Sartenaer & Toint 2008;
  Kopaničáková & Krause, "Globally convergent multilevel training of deep residual networks", SISC 2023).
* :class:`CollocationHierarchy` keeps the network and coarsens the data (collocation points of a PINN, or
  samples of any full-batch loss): level ``l`` evaluates the loss on a nested subset of the points.

Level 0 is the finest. Vectors are flat float64 tensors in the level's own layout.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn

from ._lbfgs import flat_grad, flat_params, set_flat_params

__all__ = ["CollocationHierarchy", "LayerHierarchy", "LevelHierarchy", "coherent_model"]

Closure = Callable[[], torch.Tensor]


def _check_levels(levels: int) -> None:
    if isinstance(levels, bool) or not isinstance(levels, int):
        raise TypeError(f"levels must be an integer, got {type(levels).__name__} {levels!r}")
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")


def _flat(tensors: Sequence[torch.Tensor], *, grad: bool = False) -> torch.Tensor:
    """The parameters (or their gradients) as one float64 vector: the optimizers' one flat-vector helper."""
    return flat_grad(list(tensors)) if grad else flat_params(list(tensors))


_write = set_flat_params


def _call(closure: Closure) -> torch.Tensor:
    with torch.enable_grad():
        value = closure()
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise TypeError("the closure must return a scalar tensor")
    return value


class LevelHierarchy:
    """Interface of a level hierarchy used by :class:`RMTROptimizer` and :class:`MGOPTOptimizer`.

    A hierarchy owns the fine parameters ``params`` and defines, for levels ``0`` (finest) to
    ``n_levels - 1``:

    * ``size(l)``: the number of unknowns of level ``l``;
    * ``restrict(l, x)``: parameters of level ``l`` -> level ``l + 1`` (the coarse starting point);
    * ``prolongate(l, e)``: a correction of level ``l + 1`` -> level ``l`` (the operator ``P``);
    * ``restrict_gradient(l, g)``: ``P^T g``, which makes the coarse model first-order coherent;
    * ``evaluate(l, x, closure)``: the level-``l`` objective and its gradient (``closure`` is the fine one);
    * ``weights(l)``: diagonal weights ``w`` with ``||P_{0<-l} e||_2 <= ||e||_w = sqrt(sum w e^2)``, so a
      trust region of level ``l`` in the ``w`` norm confines the prolongated step to the fine radius;
    * ``cost(l)``: the cost of one level-``l`` evaluation as a fraction of a fine one.

    Evaluations are counted per level in ``evals``; ``work`` is their cost in fine evaluations.
    """

    n_levels: int
    params: list[torch.Tensor]

    def __init__(self) -> None:
        self.evals = [0] * self.n_levels
        self._weights: dict[int, torch.Tensor] = {}

    # to be provided -----------------------------------------------------------------------------------
    def size(self, level: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def cost(self, level: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def restrict(self, level: int, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def prolongate(self, level: int, e: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def restrict_gradient(self, level: int, g: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _evaluate(self, level: int, x: torch.Tensor, closure: Closure) -> tuple[float, torch.Tensor]:
        raise NotImplementedError  # pragma: no cover - abstract

    def get_fine(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def set_fine(self, x: torch.Tensor) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # shared -------------------------------------------------------------------------------------------
    def _check_level(self, level: int, *, coarse: bool = False) -> None:
        top = self.n_levels - (2 if coarse else 1)
        if not (0 <= level <= top):
            raise ValueError(f"level must be in [0, {top}], got {level}")

    def evaluate(self, level: int, x: torch.Tensor, closure: Closure) -> tuple[float, torch.Tensor]:
        """Objective value (float) and gradient (flat float64) of level ``level`` at ``x``."""
        self._check_level(level)
        if x.numel() != self.size(level):
            raise ValueError(f"x has {x.numel()} entries, level {level} has {self.size(level)}")
        self.evals[level] += 1
        return self._evaluate(level, x, closure)

    @property
    def work(self) -> float:
        """Evaluations so far, counted in fine-level evaluations (coarse ones by their cost fraction)."""
        return float(sum(n * self.cost(level) for level, n in enumerate(self.evals)))

    def weights(self, level: int) -> torch.Tensor:
        """Norm weights of level ``level``: the row sums of ``P^T P`` for the composite prolongation to level 0.

        With non-negative ``P`` the diagonal matrix of row sums dominates ``P^T P``, hence
        ``||P e|| <= ||e||_w``; for piecewise-constant prolongation it is exact.
        """
        self._check_level(level)
        if level not in self._weights:
            v = torch.ones(self.size(level), dtype=torch.float64)
            for k in range(level - 1, -1, -1):
                v = self.prolongate(k, v)
            for k in range(level):
                v = self.restrict_gradient(k, v)
            self._weights[level] = v
        return self._weights[level]


class LayerHierarchy(LevelHierarchy):
    """Layer-wise coarsening of a residual network viewed as an ODE discretisation.

    Level ``l`` keeps the blocks ``0, 2^l, 2 * 2^l, ...`` of the fine network with step ``2^l h`` and the
    shared (non-block) layers. Transfer operators act block-wise on the blocks' parameters and as the
    identity on the shared ones:

    * restriction of parameters: ``"average"`` (mean of each pair of blocks) or ``"inject"`` (every other
      block);
    * prolongation of corrections: ``"constant"`` (each coarse block's correction to both fine blocks it
      covers) or ``"linear"`` (interpolation in time; the last block extrapolated constantly);
    * gradients are restricted by ``P^T``.

    Both restrictions are right inverses of constant prolongation (``R P = I``); injection also of linear.

    Parameters
    ----------
    model : torch.nn.Module
        A residual network with a ``blocks`` :class:`torch.nn.ModuleList` of blocks that have a step ``h``
        and equal parameter shapes (e.g. :class:`remodel_core.nn.ResNetMLP`); its forward must run over
        ``model.blocks``.
    levels : int
        Number of levels (>= 1); the depth must be divisible by ``2 ** (levels - 1)``.
    restriction : {"average", "inject"}
    prolongation : {"constant", "linear"}

    Examples
    --------
    >>> from remodel_core.nn import ResNetMLP
    >>> H = LayerHierarchy(ResNetMLP(2, 1, width=4, depth=8), levels=3)
    >>> [H.size(level) for level in range(3)], round(H.cost(2), 3)
    ([177, 97, 57], 0.322)
    """

    def __init__(
        self, model: nn.Module, levels: int = 2, *, restriction: str = "average", prolongation: str = "constant"
    ) -> None:
        _check_levels(levels)
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        blocks = getattr(model, "blocks", None)
        if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
            raise TypeError(
                f"layer coarsening needs a residual network with a non-empty `blocks` ModuleList "
                f"(e.g. remodel_core.nn.ResNetMLP); {type(model).__name__} has none"
            )
        if not all(isinstance(getattr(b, "h", None), float | int) for b in blocks):
            raise TypeError("every residual block must have a step attribute `h` (x + h * f(x))")
        depth = len(blocks)
        if depth % 2 ** (levels - 1):
            raise ValueError(
                f"depth {depth} is not divisible by 2**(levels-1) = {2 ** (levels - 1)}; "
                f"use at most {int(math.log2(depth & -depth)) + 1} levels for this network"
            )
        if restriction not in ("average", "inject"):
            raise ValueError(f"restriction must be 'average' or 'inject', got {restriction!r}")
        if prolongation not in ("constant", "linear"):
            raise ValueError(f"prolongation must be 'constant' or 'linear', got {prolongation!r}")
        self.model, self.n_levels = model, levels
        self.restriction, self.prolongation = restriction, prolongation
        self.block_params = [[p for p in b.parameters() if p.requires_grad] for b in blocks]
        shapes = {tuple(tuple(p.shape) for p in ps) for ps in self.block_params}
        if len(shapes) != 1:
            raise ValueError("all residual blocks must have the same trainable parameter shapes")
        in_blocks = {id(p) for ps in self.block_params for p in ps}
        self.shared = [p for p in model.parameters() if p.requires_grad and id(p) not in in_blocks]
        self.params = self.shared + [p for ps in self.block_params for p in ps]
        self.n_shared = sum(p.numel() for p in self.shared)
        self.block_size = sum(p.numel() for p in self.block_params[0])
        self.depth = depth
        super().__init__()

    def depth_at(self, level: int) -> int:
        """Number of residual blocks of level ``level``."""
        return self.depth // 2**level

    def size(self, level: int) -> int:
        return self.n_shared + self.depth_at(level) * self.block_size

    def cost(self, level: int) -> float:
        """Parameter count of level ``level`` over the fine one (the evaluation cost ratio)."""
        return self.size(level) / self.size(0)

    def _split(self, level: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.numel() != self.size(level):
            raise ValueError(f"vector has {x.numel()} entries, level {level} has {self.size(level)}")
        return x[: self.n_shared], x[self.n_shared :].view(self.depth_at(level), self.block_size)

    def restrict(self, level: int, x: torch.Tensor) -> torch.Tensor:
        self._check_level(level, coarse=True)
        shared, B = self._split(level, x)
        coarse = B[0::2] if self.restriction == "inject" else 0.5 * (B[0::2] + B[1::2])
        return torch.cat([shared, coarse.reshape(-1)])

    def prolongate(self, level: int, e: torch.Tensor) -> torch.Tensor:
        self._check_level(level, coarse=True)
        shared, E = self._split(level + 1, e)
        if self.prolongation == "constant":
            F = E.repeat_interleave(2, dim=0)
        else:
            F = torch.empty(2 * E.shape[0], E.shape[1], dtype=E.dtype, device=E.device)
            F[0::2] = E
            F[1:-1:2] = 0.5 * (E[:-1] + E[1:])
            F[-1] = E[-1]
        return torch.cat([shared, F.reshape(-1)])

    def restrict_gradient(self, level: int, g: torch.Tensor) -> torch.Tensor:
        self._check_level(level, coarse=True)
        shared, G = self._split(level, g)
        if self.prolongation == "constant":
            C = G[0::2] + G[1::2]
        else:
            odd = G[1::2]
            C = G[0::2].clone()
            C[:-1] += 0.5 * odd[:-1]
            C[1:] += 0.5 * odd[:-1]
            C[-1] += odd[-1]
        return torch.cat([shared, C.reshape(-1)])

    def _level_params(self, level: int) -> list[torch.Tensor]:
        step = 2**level
        return self.shared + [p for k in range(0, self.depth, step) for p in self.block_params[k]]

    @contextlib.contextmanager
    def coarse_network(self, level: int) -> Iterator[list[torch.Tensor]]:
        """Temporarily turn ``model`` into the level-``level`` network; yields that network's parameters.

        The kept blocks' steps are multiplied by ``2**level`` and ``model.blocks`` holds only them; the
        parameter values, the original blocks and the steps are restored on exit.
        """
        self._check_level(level)
        params = self._level_params(level)
        if level == 0:
            yield params
            return
        step = 2**level
        blocks = self.model.blocks
        kept = [blocks[k] for k in range(0, self.depth, step)]
        saved = [p.detach().clone() for p in params]
        hs = [b.h for b in kept]
        try:
            for b in kept:
                b.h = b.h * step
            self.model.blocks = nn.ModuleList(kept)
            yield params
        finally:
            self.model.blocks = blocks
            for b, h in zip(kept, hs):
                b.h = h
            with torch.no_grad():
                for p, s in zip(params, saved):
                    p.copy_(s)

    def _evaluate(self, level: int, x: torch.Tensor, closure: Closure) -> tuple[float, torch.Tensor]:
        with self.coarse_network(level) as params:
            _write(params, x)
            for p in self.params:
                p.grad = None
            value = _call(closure)
            return float(value.detach()), _flat(params, grad=True)

    def get_fine(self) -> torch.Tensor:
        return _flat(self.params)

    def set_fine(self, x: torch.Tensor) -> None:
        _write(self.params, x)


class CollocationHierarchy(LevelHierarchy):
    """Coarsening of the data: every level trains the same parameters on fewer points.

    Level 0 evaluates the fine closure; level ``l >= 1`` calls ``losses[l - 1]()``, typically the same loss
    on a nested subset of the collocation points (see :meth:`from_data`). Transfer operators are the
    identity, so ``R = P = P^T = I``; first-order coherence then corrects the subsampled gradient with the
    full one, as in multilevel methods on sample hierarchies.

    Parameters
    ----------
    params : iterable of tensors
        The trained parameters.
    losses : sequence of callables
        ``losses[l - 1]() -> scalar tensor`` for levels ``1 .. len(losses)``.
    costs : sequence of float
        Cost of one evaluation of each coarse level as a fraction of a fine one (e.g. the point ratio).

    Examples
    --------
    >>> net = torch.nn.Linear(1, 1)
    >>> x = torch.linspace(0, 1, 64).unsqueeze(1)
    >>> H = CollocationHierarchy.from_data(net, lambda m, x: m(x).pow(2).mean(), (x,), levels=3)
    >>> H.n_levels, [round(H.cost(level), 3) for level in range(3)]
    (3, [1.0, 0.5, 0.25])
    """

    def __init__(
        self, params: Sequence[torch.Tensor] | Iterator[torch.Tensor], losses: Sequence[Closure], costs: Sequence[float]
    ) -> None:
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("params must hold at least one trainable tensor")
        if len(losses) != len(costs):
            raise ValueError(f"losses and costs must have the same length, got {len(losses)} and {len(costs)}")
        if not all(callable(f) for f in losses):
            raise TypeError("losses must be callables returning a scalar tensor")
        for c in costs:
            if not (isinstance(c, float | int) and 0 < c <= 1):
                raise ValueError(f"costs must lie in (0, 1], got {c!r}")
        self.losses, self._costs = list(losses), [1.0, *map(float, costs)]
        self.n_levels = len(losses) + 1
        self._size = sum(p.numel() for p in self.params)
        super().__init__()

    @classmethod
    def from_data(
        cls,
        model: nn.Module,
        loss: Callable[..., torch.Tensor],
        data: tuple[torch.Tensor, ...],
        levels: int = 2,
        *,
        factor: int = 2,
        min_points: int = 1,
        generator: torch.Generator | None = None,
    ) -> CollocationHierarchy:
        """Nested random subsets: level ``l`` uses the first ``ceil(n / factor**l)`` points of one permutation.

        ``loss(model, *batch)`` is the full-batch loss of a :class:`~remodel_core.TrainingProblem`.
        """
        _check_levels(levels)
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 2:
            raise ValueError(f"factor must be an integer >= 2, got {factor!r}")
        if not isinstance(data, tuple) or not data or not all(isinstance(t, torch.Tensor) for t in data):
            raise TypeError("point coarsening needs data: a non-empty tuple of tensors")
        n = int(data[0].shape[0])
        sizes = [math.ceil(n / factor**level) for level in range(1, levels)]
        if sizes and sizes[-1] < min_points:
            raise ValueError(
                f"{levels} levels with factor {factor} leave {sizes[-1]} of {n} points on the coarsest level "
                f"(at least {min_points} needed); use fewer levels"
            )
        perm = torch.randperm(n, generator=generator).to(data[0].device)
        losses = []
        for m in sizes:
            subset = tuple(t[perm[:m]] for t in data)
            losses.append(lambda subset=subset: loss(model, *subset))
        return cls(model.parameters(), losses, [m / n for m in sizes])

    def size(self, level: int) -> int:
        return self._size

    def cost(self, level: int) -> float:
        return self._costs[level]

    def restrict(self, level: int, x: torch.Tensor) -> torch.Tensor:
        self._check_level(level, coarse=True)
        return x.clone()

    def prolongate(self, level: int, e: torch.Tensor) -> torch.Tensor:
        self._check_level(level, coarse=True)
        return e.clone()

    def restrict_gradient(self, level: int, g: torch.Tensor) -> torch.Tensor:
        self._check_level(level, coarse=True)
        return g.clone()

    def _evaluate(self, level: int, x: torch.Tensor, closure: Closure) -> tuple[float, torch.Tensor]:
        _write(self.params, x)
        for p in self.params:
            p.grad = None
        value = _call(closure if level == 0 else self.losses[level - 1])
        if level > 0:
            with torch.enable_grad():
                value.backward()
        return float(value.detach()), _flat(self.params, grad=True)

    def get_fine(self) -> torch.Tensor:
        return _flat(self.params)

    def set_fine(self, x: torch.Tensor) -> None:
        _write(self.params, x)


def coherent_model(
    hierarchy: LevelHierarchy, level: int, x: torch.Tensor, g: torch.Tensor, closure: Closure
) -> tuple[torch.Tensor, float, torch.Tensor, Callable[[torch.Tensor], tuple[float, torch.Tensor]]]:
    """The first-order coherent coarse model of level ``level + 1`` around the level-``level`` point ``x``.

    ``psi(y) = f_{l+1}(y) + <v, y - y0>`` with ``y0 = R x`` and ``v = P^T g - grad f_{l+1}(y0)``, so that
    ``grad psi(y0) = P^T g`` (Nash 2000; Gratton, Sartenaer & Toint 2008). ``g`` is the gradient of the
    level-``level`` model at ``x``.

    Parameters
    ----------
    hierarchy : LevelHierarchy
        The levels and their transfer operators.
    level : int
        The current (finer) level; the model lives on ``level + 1``.
    x : torch.Tensor
        The current point on level ``level`` (flat).
    g : torch.Tensor
        The gradient of the level-``level`` model at ``x``.
    closure : callable
        The training closure (evaluates the loss and its gradient).

    Returns
    -------
    y0, psi(y0), grad psi(y0), psi
        The coarse starting point, value and gradient there (one coarse evaluation), and the model
        ``psi(y) -> (value, gradient)``.
    """
    y0 = hierarchy.restrict(level, x)
    f0, g0 = hierarchy.evaluate(level + 1, y0, closure)
    gr = hierarchy.restrict_gradient(level, g)
    v = gr - g0

    def psi(y: torch.Tensor) -> tuple[float, torch.Tensor]:
        f, gy = hierarchy.evaluate(level + 1, y, closure)
        return f + float(v.dot(y - y0)), gy + v

    return y0, f0, gr, psi
