"""The :class:`PINNProblem`: a PDE on a box with its conditions and reference solution."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .._problem import Problem
from .._training import TrainingProblem
from ._conditions import GROUPS, Dirichlet, Given, Periodic, Robin
from ._derivatives import Derivatives, check_route, derivatives
from ._domain import Geometry

Residual = Callable[[torch.Tensor, Derivatives], torch.Tensor]


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _model_dtype(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    p = next(iter(model.parameters()), None)
    if p is None:
        return torch.float64, torch.device("cpu")
    return p.dtype, p.device


def _check_takes_points(network: nn.Module, domain: Geometry) -> None:
    """A clear error when ``network`` cannot take points of ``domain``: its first layer with ``in_features`` must
    take the domain's dimension, unless a feature map before it (Fourier features, an embedding) makes a forward
    pass on two domain points work."""
    first = next((m for m in network.modules() if isinstance(getattr(m, "in_features", None), int)), None)
    if first is None or first.in_features == domain.dim:
        return
    dtype, device = _model_dtype(network)
    try:
        with torch.no_grad():
            network(domain.sample(2, seed=0, dtype=dtype).to(device))
    except RuntimeError as err:
        raise ValueError(
            f"network takes {first.in_features} input features (its first {type(first).__name__}) but the "
            f"domain has dimension {domain.dim}: build it with in_features={domain.dim} ({err})"
        ) from err


@dataclasses.dataclass(frozen=True, eq=False)
class PINNProblem(Problem):
    """A PDE ``pde(x, D) = 0`` on a geometry (box, CSG domain, space-time product), with conditions and a
    reference solution, for physics-informed networks.

    A PINN (Raissi, Perdikaris & Karniadakis, J. Comput. Phys. 378, 2019) is trained on the mean squared PDE
    residual at interior collocation points plus the mean squared mismatch of the initial and boundary
    conditions. :meth:`discretize` turns the problem plus a network into a
    :class:`~remodel_core.TrainingProblem` that any core optimizer solves.

    Parameters
    ----------
    name : str
        A label (``"burgers"``).
    domain : Geometry
        The space(-time) domain (a :class:`Box`, or any :class:`~remodel_core.pde.Geometry`); for
        time-dependent problems the last coordinate is time.
    pde : callable
        ``pde(x, D) -> [n]``, the residual from the points and their :class:`Derivatives`.
    second : tuple of int
        Inputs whose second derivative ``pde`` uses.
    conditions : tuple of Dirichlet/Periodic/Robin
        Initial and boundary conditions (:func:`~remodel_core.pde.Neumann` is a Robin condition).
    solution : callable, optional
        ``solution(x) -> [n]`` float64 reference solution.
    evaluation : callable, optional
        ``evaluation() -> (points, values)``, the fixed evaluation set of :meth:`relative_l2` (cached by the
        benchmark modules); defaults to ``solution`` on a 101-point tensor grid.
    parameters : mapping, optional
        Physical parameters, for reports.

    Examples
    --------
    >>> import math
    >>> from remodel_core.nn import ResNetMLP
    >>> from remodel_core.pde import burgers
    >>> prob = burgers(nu=0.01 / math.pi)
    >>> train = prob.discretize(ResNetMLP(2, 1, width=8, depth=2).double(), points=64, boundary_points=16, seed=0)
    >>> train.data[0].shape, float(train.loss(train.model, *train.data)) > 0
    (torch.Size([64, 2]), True)
    """

    name: str
    domain: Geometry
    pde: Residual
    second: tuple[int, ...] = ()
    conditions: tuple[Dirichlet | Periodic, ...] = ()
    solution: Callable[[torch.Tensor], torch.Tensor] | None = None
    evaluation: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None
    parameters: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        if not isinstance(self.domain, Geometry):
            raise TypeError(
                f"domain must be a Geometry (Box, Ball, Polygon, CSG, SpaceTime), got {type(self.domain).__name__}"
            )
        if not callable(self.pde):
            raise TypeError(f"pde must be callable, got {type(self.pde).__name__}")
        for i in self.second:
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.domain.dim:
                raise ValueError(f"second must hold input indices in [0, {self.domain.dim}), got {self.second}")
        for c in self.conditions:
            if not isinstance(c, (Dirichlet, Periodic, Robin)):
                raise TypeError(f"conditions must be Dirichlet, Periodic or Robin, got {type(c).__name__}")
        if self.solution is not None and not callable(self.solution):
            raise TypeError("solution must be callable or None")

    def summary(self) -> dict[str, Any]:
        return {"problem": type(self).__name__, "name": self.name, "dim": self.domain.dim, **dict(self.parameters)}

    # -- reference -------------------------------------------------------------------------------------
    def reference(self, x: torch.Tensor) -> torch.Tensor:
        """The reference solution at the rows of ``x`` (shape ``[n, d]``), as a float64 tensor ``[n]``."""
        if self.solution is None:
            raise ValueError(f"problem {self.name!r} has no reference solution")
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.domain.dim:
            raise ValueError(
                f"x must be a tensor of shape [n, {self.domain.dim}], got {getattr(x, 'shape', type(x).__name__)}"
            )
        return self.solution(x.detach().to(device="cpu", dtype=torch.float64))

    def evaluation_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The fixed points and reference values (float64, CPU) of :meth:`relative_l2`."""
        if self.evaluation is not None:
            return self.evaluation()
        pts = self.domain.grid(*([101] * self.domain.dim))  # a Box's grid, or the grid points inside
        return pts, self.reference(pts)

    def relative_l2(self, model: nn.Module) -> float:
        """``||u_theta - u_ref|| / ||u_ref||`` on the fixed evaluation set.

        Examples
        --------
        >>> from remodel_core.pde import poisson2d
        >>> prob = poisson2d()
        >>> exact = lambda x: (torch.sin(torch.pi * x[:, :1]) * torch.sin(torch.pi * x[:, 1:]))
        >>> class Exact(torch.nn.Module):
        ...     def forward(self, x): return exact(x)
        >>> prob.relative_l2(Exact()) < 1e-15
        True
        """
        pts, ref = self.evaluation_set()
        dtype, device = _model_dtype(model)
        with torch.no_grad():
            out = torch.cat([model(chunk.to(device=device, dtype=dtype)).reshape(-1) for chunk in pts.split(65536)])
        err = out.detach().to(device="cpu", dtype=torch.float64) - ref
        return float(err.norm() / ref.norm())

    # -- residuals ---------------------------------------------------------------------------------------
    def residual(
        self, model: nn.Module, x: torch.Tensor, *, derivatives_route: str = "auto", create_graph: bool = True
    ) -> torch.Tensor:
        """PDE residual of ``model`` at the rows of ``x`` (shape ``[n]``), differentiable in the parameters."""
        d = derivatives(model, x, second=self.second, route=derivatives_route, create_graph=create_graph)
        return self.pde(x, d)

    def condition_points(
        self,
        boundary_points: int | Mapping[str, int] | Sequence[Any],
        *,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
    ) -> list[torch.Tensor]:
        """The fixed points of each condition (``boundary_points`` per condition, or per group, or one entry
        per condition: a count or a tensor of points)."""
        pts = []
        if isinstance(boundary_points, Sequence) and not isinstance(boundary_points, str):
            if len(boundary_points) != len(self.conditions):
                raise ValueError(
                    f"boundary_points must give one entry per condition ({len(self.conditions)}), got "
                    f"{len(boundary_points)}"
                )
        for k, c in enumerate(self.conditions):
            if isinstance(boundary_points, Sequence) and not isinstance(boundary_points, str):
                entry = boundary_points[k]
                if isinstance(entry, tuple):
                    entry = entry[0]
                if isinstance(entry, torch.Tensor):
                    pts.append(self._check_condition_points(k, c, entry).to(dtype=dtype))
                    continue
                n = entry
            elif isinstance(boundary_points, Mapping):
                if c.group not in boundary_points:
                    raise ValueError(
                        f"boundary_points must give a count for the {c.group!r} conditions, got keys "
                        f"{sorted(boundary_points)}"
                    )
                n = boundary_points[c.group]
            else:
                n = boundary_points
            _check_count("boundary_points", n)
            pts.append(c.sample(self.domain, n, seed=seed + 1 + k, dtype=dtype))
        return pts

    def _check_condition_points(self, k: int, cond: Any, x: torch.Tensor) -> torch.Tensor:
        d = self.domain.dim
        width = 2 * d if isinstance(cond, Robin) else d
        if x.ndim != 2 or x.shape[1] != width or x.shape[0] == 0 or (isinstance(cond, Periodic) and x.shape[0] % 2):
            what = "points and outward normals" if width == 2 * d else "points"
            raise ValueError(
                f"boundary_points[{k}] must be a tensor of shape [n, {width}] ({what}), got {tuple(x.shape)}"
            )
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"boundary_points[{k}] must be finite")
        return x.detach()

    def _given_conditions(self, boundary_points: Any) -> tuple[Any, ...]:
        """The conditions, with those given ``(points, values)`` replaced by :class:`Given` ones."""
        if not (isinstance(boundary_points, Sequence) and not isinstance(boundary_points, str)):
            return self.conditions
        out = []
        for k, (c, entry) in enumerate(zip(self.conditions, boundary_points)):
            if isinstance(entry, tuple):
                if len(entry) != 2 or not all(isinstance(t, torch.Tensor) for t in entry):
                    raise ValueError(
                        f"boundary_points[{k}] must be a count, a tensor of points or a (points, "
                        "values) pair of tensors"
                    )
                if isinstance(c, Periodic):
                    raise ValueError(f"boundary_points[{k}]: a Periodic condition takes points, not values")
                x, v = entry
                if v.reshape(-1).shape[0] != x.shape[0]:
                    raise ValueError(
                        f"boundary_points[{k}] values must have one entry per point ({x.shape[0]}), "
                        f"got {tuple(v.shape)}"
                    )
                out.append(Given(c, v.detach().reshape(-1).to(torch.float64)))
            else:
                out.append(c)
        return tuple(out)

    def discretize(
        self,
        network: nn.Module,
        points: int | torch.Tensor = 10_000,
        boundary_points: int | Mapping[str, int] | Sequence[Any] = 256,
        *,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
        weights: Mapping[str, float] | None = None,
        derivatives: str = "auto",
    ) -> TrainingProblem:
        """The training problem of a PINN: ``network`` plus a penalty loss on collocation points.

        Parameters
        ----------
        network : torch.nn.Module
            Maps ``[n, d]`` points to ``[n, 1]``.
        points : int or torch.Tensor
            Number of scrambled Sobol interior collocation points (seeded by ``seed``), or the points
            (inside the domain).
        boundary_points : int, mapping or sequence
            Points per condition (or per group ``{"initial": ..., "boundary": ...}``), fixed in the loss; or one
            entry per condition: a count, a tensor of points (``[n, 2 d]`` points and outward normals for a
            Robin/Neumann condition), or a ``(points, values)`` pair that replaces the condition's target.
        seed : int
            Seed of the Sobol scrambling.
        dtype : torch.dtype
            Dtype of the points (the network is not converted; ``solve(..., dtype=...)`` does that).
        weights : mapping, optional
            Loss weights of ``"residual"``, ``"initial"`` and ``"boundary"`` (default 1 each).
        derivatives : {"auto", "autograd", "func", "taylor"}
            Route of the residual derivatives (see :mod:`remodel_core.pde`).

        Returns
        -------
        TrainingProblem
            ``loss(model, x_interior)``, ``data=(x_interior,)`` (the multilevel optimizers coarsen the
            collocation set by subsampling ``data``), ``metrics={"rel_l2": self.relative_l2}``.
        """
        self.validate()
        if not isinstance(network, nn.Module):
            raise TypeError(f"network must be a torch.nn.Module, got {type(network).__name__}")
        _check_takes_points(network, self.domain)
        check_route(derivatives)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        if isinstance(points, torch.Tensor):
            if points.ndim != 2 or points.shape[1] != self.domain.dim or points.shape[0] == 0:
                raise ValueError(f"points must be a tensor of shape [n, {self.domain.dim}], got {tuple(points.shape)}")
            outside = int((~self.domain.contains(points.detach().to(torch.float64), tol=1e-9)).sum())
            if outside:
                raise ValueError(f"points must lie inside the domain; {outside} of {points.shape[0]} do not")
            x_interior = points.detach().to(dtype=dtype)
        else:
            _check_count("points", points)
            x_interior = self.domain.sample(points, seed=seed, dtype=dtype)
        w = {"residual": 1.0, **{g: 1.0 for g in GROUPS}}
        if weights is not None:
            unknown = set(weights) - set(w)
            if unknown:
                raise ValueError(f"weights keys must be among {sorted(w)}, got {sorted(unknown)}")
            for key, value in weights.items():
                if (
                    isinstance(value, bool)
                    or not isinstance(value, (int, float))
                    or not math.isfinite(value)
                    or value < 0
                ):
                    raise ValueError(f"weights[{key!r}] must be a finite number >= 0, got {value!r}")
                w[key] = float(value)
        conditions = self._given_conditions(boundary_points)
        fixed = self.condition_points(boundary_points, seed=seed, dtype=dtype)
        loss = _PINNLoss(self, tuple(fixed), w, derivatives, conditions)
        metrics = {"rel_l2": self.relative_l2} if (self.solution is not None or self.evaluation is not None) else {}
        return TrainingProblem(model=network, loss=loss, data=(x_interior,), metrics=metrics, name=self.name)


class _PINNLoss:
    """``w_r mean(r^2) + sum_c w_c mean(c^2)``, with the condition points fixed (moved to the data's device)."""

    def __init__(
        self,
        problem: PINNProblem,
        fixed: tuple[torch.Tensor, ...],
        weights: dict[str, float],
        route: str,
        conditions: tuple[Any, ...] | None = None,
    ) -> None:
        self.problem, self.fixed, self.weights, self.route = problem, fixed, weights, route
        self.conditions = problem.conditions if conditions is None else conditions
        self._cache: dict[tuple[torch.dtype, torch.device], tuple[torch.Tensor, ...]] = {}

    def points(self, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
        key = (like.dtype, like.device)
        if key not in self._cache:
            self._cache[key] = tuple(p.to(dtype=like.dtype, device=like.device) for p in self.fixed)
        return self._cache[key]

    def terms(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The unweighted mean squared residual of the PDE and of each condition group."""
        out = {"residual": self.problem.residual(model, x, derivatives_route=self.route).pow(2).mean()}
        for cond, pts in zip(self.conditions, self.points(x)):
            term = cond.residual(model, pts, self.route).pow(2).mean()
            out[cond.group] = out[cond.group] + term if cond.group in out else term
        return out

    def residual_blocks(self, x: torch.Tensor, route: str = "func") -> list[tuple[Any, torch.Tensor]]:
        """The loss as a sum of squares, block by block, for Gauss–Newton methods
        (:class:`~remodel_core.optim.GaussNewton`, :class:`~remodel_core.optim.KFAC`): ``(fn, rows)`` pairs with
        ``loss(model, x)`` equal to the sum over blocks of ``(fn(model, rows) ** 2).sum()``; each row's residuals
        depend on that row only. The derivatives take ``route``: ``"func"`` (default) so that :mod:`torch.func`
        can vectorise over rows, ``"taylor"`` for KFAC, which reads its factors from the Taylor propagation.
        """
        problem = self.problem
        check_route(route)
        scale = (self.weights["residual"] / len(x)) ** 0.5
        blocks: list[tuple[Any, torch.Tensor]] = [
            (lambda m, z: problem.residual(m, z, derivatives_route=route) * scale, x)
        ]
        for cond, pts in zip(self.conditions, self.points(x)):
            c = (self.weights[cond.group] / len(pts)) ** 0.5
            if isinstance(cond, Periodic):  # a row is a pair (lower face point, upper face point)
                m = pts.shape[0] // 2
                rows = pts.reshape(2, m, -1).transpose(0, 1).reshape(m, -1)

                def fn(model: nn.Module, z: torch.Tensor, cond: Any = cond, c: float = c) -> torch.Tensor:
                    b = z.shape[0]
                    pairs = z.reshape(b, 2, -1).transpose(0, 1).reshape(2 * b, -1)
                    return cond.residual(model, pairs, route).reshape(-1, b).T * c
            elif isinstance(cond, Given):  # the row's value travels with it as a last column
                rows = torch.cat([pts, cond.values.to(pts)[:, None]], 1)

                def fn(model: nn.Module, z: torch.Tensor, cond: Any = cond, c: float = c) -> torch.Tensor:
                    given = dataclasses.replace(cond.base, target=lambda _x, v=z[:, -1]: v)
                    return given.residual(model, z[:, :-1], route) * c
            else:
                rows = pts

                def fn(model: nn.Module, z: torch.Tensor, cond: Any = cond, c: float = c) -> torch.Tensor:
                    return cond.residual(model, z, route) * c

            blocks.append((fn, rows))
        return blocks

    def __call__(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        terms = self.terms(model, x)
        total = terms["residual"] * self.weights["residual"]
        for key, value in terms.items():
            if key != "residual":
                total = total + self.weights[key] * value
        return total

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state
