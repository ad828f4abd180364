"""Levenberg–Marquardt (damped Gauss–Newton) training of least-squares losses, the curvature carried by the
Jacobian of the residuals: a direct solve in sample space (Woodbury) or parameter space, whichever is smaller,
or preconditioned conjugate gradients with one dense Gauss–Newton block per subdomain of a parameter
decomposition (additive Schwarz), so the memory of the curvature is ``N P + sum n_i^2`` instead of ``P^2``.

References: Levenberg (1944), Marquardt (1963), the damping update of Nielsen (1999); energy natural gradient
descent for PINNs (Müller & Zeinhofer, ICML 2023) is the Gauss–Newton step of a PINN loss; the sample-space
solve ``J^T (J J^T + lambda I)^{-1} r`` (Woodbury) as in Ren & Goldfarb (2019) and Schraudolph (2002).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from .._algorithm import check_positive
from .._context import SolveContext
from .._problem import Problem
from .._solution import Solution
from .._training import OptimizerAlgorithm, TrainingProblem, placed, train
from ._block import decompose
from ._lbfgs import flat_params, set_flat_params

__all__ = [
    "GaussNewton",
    "GaussNewtonOptimizer",
    "ResidualBlock",
    "SOLVERS",
    "gram",
    "residual_jacobian",
    "residuals_per_row",
]

#: a term of a least-squares loss: ``fn(model, rows) -> [b]`` or ``[b, k]`` residuals of ``b`` rows, each row's
#: residuals depending on that row only; the loss is the sum of the squares of all blocks' residuals
ResidualBlock = tuple[Callable[[nn.Module, torch.Tensor], torch.Tensor], torch.Tensor]
SOLVERS = ("auto", "direct", "cg")


class _Bound(nn.Module):
    """``model`` evaluated at the parameters ``params`` (a dict of name to tensor), for :mod:`torch.func`."""

    def __init__(self, model: nn.Module, params: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.model, self.params = model, params

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(self.model, self.params, (x,))


def residual_jacobian(
    model: nn.Module, blocks: Sequence[ResidualBlock], *, chunk: int = 512
) -> tuple[torch.Tensor, torch.Tensor]:
    """The residual vector ``r`` (``[N]``) and its Jacobian ``J`` (``[N, P]``) in the parameters of ``model``.

    Rows are independent (each block's ``fn`` maps every row on its own), so ``J`` is formed row by row, ``chunk``
    rows at once, by :func:`torch.func.jacrev` vectorised over the rows with :func:`torch.func.vmap`: the
    cost grows as ``N P``, not as ``N^2 P`` as one backward pass per residual would. Columns follow the order of
    ``model``'s trainable parameters (that of ``flat_params``).

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    blocks : sequence of (fn, rows)
        The residual blocks (:data:`ResidualBlock`).
    chunk : int
        Rows per vectorised Jacobian evaluation (memory ``chunk P`` per block).

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        ``r`` and ``J``, detached.

    Examples
    --------
    >>> net = torch.nn.Linear(2, 1).double()
    >>> x = torch.randn(5, 2, dtype=torch.float64)
    >>> r, J = residual_jacobian(net, [(lambda m, z: m(z)[:, 0] - 1.0, x)])
    >>> J.shape, bool(torch.allclose(J[:, :2], x)), bool(torch.allclose(J[:, 2], torch.ones(5, dtype=torch.float64)))
    (torch.Size([5, 3]), True, True)
    """
    check_positive("chunk", chunk, integer=True)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    names = [n for n, _ in named]
    frozen = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
    params = {n: p.detach() for n, p in named}
    rs, Js = [], []
    for fn, rows in blocks:

        def one(p: dict[str, torch.Tensor], row: torch.Tensor, fn: Any = fn) -> tuple[torch.Tensor, torch.Tensor]:
            out = fn(_Bound(model, {**p, **frozen}), row.unsqueeze(0)).reshape(-1)
            return out, out

        jac = torch.func.vmap(torch.func.jacrev(one, has_aux=True), in_dims=(None, 0))
        for a in range(0, rows.shape[0], chunk):
            d, value = jac(params, rows[a : a + chunk])
            b, k = value.shape
            Js.append(torch.cat([d[n].reshape(b * k, -1) for n in names], 1))
            rs.append(value.reshape(-1))
    return torch.cat(rs).detach(), torch.cat(Js).detach()


def residuals_per_row(
    fn: Callable[[nn.Module, torch.Tensor], torch.Tensor], rows: torch.Tensor, model: nn.Module
) -> int:
    """How many residuals a block's ``fn`` gives per row (evaluated on its first row)."""
    with torch.no_grad():
        return int(fn(model, rows[:1]).numel())


def gram(J: torch.Tensor, blocks: int = 8) -> torch.Tensor:
    """``J J^T`` computed block-row by block-row, lower triangle only and mirrored: ``(k + 1) / (2 k)`` of the
    flops of ``J @ J.T`` for ``k`` blocks.

    Examples
    --------
    >>> J = torch.randn(50, 7, dtype=torch.float64)
    >>> bool(torch.allclose(gram(J, 4), J @ J.T))
    True
    """
    N = J.shape[0]
    G = torch.empty(N, N, dtype=J.dtype, device=J.device)
    edges = [round(i * N / blocks) for i in range(blocks + 1)]
    for i in range(blocks):
        a, b = edges[i], edges[i + 1]
        G[a:b, :b] = J[a:b] @ J[:b].T
        G[:a, a:b] = G[a:b, :a].T
    return G


def _cholesky_solve(A: torch.Tensor, lam: float, b: torch.Tensor) -> torch.Tensor:
    M = A.clone()
    M.diagonal().add_(lam)
    L, info = torch.linalg.cholesky_ex(M)
    if int(info) != 0:
        raise torch.linalg.LinAlgError("the damped Gauss-Newton matrix is not positive definite")
    return torch.cholesky_solve(b.unsqueeze(1), L).squeeze(1)


class GaussNewtonOptimizer(torch.optim.Optimizer):
    """Levenberg–Marquardt steps on ``loss = sum(r^2)`` with the residual Jacobian ``J`` formed each step.

    One ``step`` forms ``r`` and ``J`` (:func:`residual_jacobian`), solves ``(J^T J + lambda I) d = -J^T r`` and
    tries ``x + d``: accepted when the loss (``closure``) falls; the gain ratio ``rho`` (actual over predicted
    decrease) updates ``lambda`` by Nielsen's rule (``lambda *= max(1/3, 1 - (2 rho - 1)^3)``). A rejected step
    first backtracks along ``d`` (halving down to ``min_alpha``; accepted at the first decrease, ``lambda``
    doubled), and otherwise multiplies ``lambda`` by ``nu`` (2, doubling after each rejection) and solves again
    with the same ``J``.

        Solvers: ``"direct"`` Cholesky of ``J J^T + lambda I`` (``N x N``, sample space, Woodbury) when ``N <= P``,
        else of ``J^T J + lambda I``; ``"cg"`` conjugate gradients on ``(J^T J + lambda I) d = -J^T r`` (two products
        with the stored ``J`` per iteration) preconditioned by the dense damped Gauss–Newton block
        ``J_i^T J_i + lambda I`` of each subdomain of :func:`~remodel_core.optim.decompose` (``max_dense`` parameters
        per block; additive Schwarz); ``"auto"`` is ``"direct"`` when ``min(N, P) <= direct_max``.

        Parameters
        ----------
        params : iterable of tensors
            The model's trainable parameters, in ``model.parameters()`` order (one group).
        model : torch.nn.Module
            The model the residual blocks evaluate.
        residual_blocks : callable
            ``residual_blocks() -> sequence of (fn, rows)`` (:data:`ResidualBlock`) of the current loss.
        solver : {"auto", "direct", "cg"}
            How the damped system is solved.
        damping : float
            Initial ``lambda`` relative to the largest diagonal entry of ``J^T J`` (default 1e-3).
        direct_max : int
            Largest ``min(N, P)`` solved directly by ``"auto"``.
        max_dense : int
            Largest subdomain of the ``"cg"`` preconditioner (parameters).
        cg_iters : int
            Conjugate-gradient iterations per solve (at most).
        cg_tol : float
            Relative residual at which conjugate gradients stop.
        max_tries : int
            Solves per step before the step is declared failed.
        min_alpha : float
            Shortest fraction of a rejected step tried by backtracking (halving from 1/2) before ``lambda`` grows.
        chunk : int
            Rows per vectorised Jacobian evaluation.

        Examples
        --------
        Exact fit of a linear model in one step:

        >>> net = torch.nn.Linear(3, 1).double()
        >>> x = torch.randn(20, 3, dtype=torch.float64)
        >>> y = x @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) + 0.3
        >>> blocks = lambda: [(lambda m, z: (m(z[:, :3])[:, 0] - z[:, 3]), torch.cat([x, y[:, None]], 1))]
        >>> opt = GaussNewtonOptimizer(net.parameters(), net, blocks, damping=1e-12)
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((net(x)[:, 0] - y) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure); float(closure().detach()) < 1e-16
        True
    """

    def __init__(
        self,
        params: Any,
        model: nn.Module,
        residual_blocks: Callable[[], Sequence[ResidualBlock]],
        *,
        solver: str = "auto",
        damping: float = 1e-3,
        direct_max: int = 6000,
        max_dense: int = 1024,
        cg_iters: int = 200,
        cg_tol: float = 1e-4,
        max_tries: int = 12,
        min_alpha: float = 1.0 / 16.0,
        chunk: int = 512,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not callable(residual_blocks):
            raise TypeError(f"residual_blocks must be callable, got {type(residual_blocks).__name__}")
        if solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
        check_positive("damping", damping)
        for name, value in (
            ("direct_max", direct_max),
            ("max_dense", max_dense),
            ("cg_iters", cg_iters),
            ("max_tries", max_tries),
            ("chunk", chunk),
        ):
            check_positive(name, value, integer=True)
        check_positive("cg_tol", cg_tol)
        check_positive("min_alpha", min_alpha)
        if min_alpha > 0.5:
            raise ValueError(f"min_alpha must be <= 0.5, got {min_alpha!r}")
        defaults = dict(
            solver=solver,
            damping=damping,
            direct_max=direct_max,
            max_dense=max_dense,
            cg_iters=cg_iters,
            cg_tol=cg_tol,
            max_tries=max_tries,
            min_alpha=min_alpha,
            chunk=chunk,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("GaussNewtonOptimizer supports a single parameter group")
        self._params: list[torch.Tensor] = list(self.param_groups[0]["params"])
        trainable = [p for p in model.parameters() if p.requires_grad]
        if len(trainable) != len(self._params) or any(a is not b for a, b in zip(trainable, self._params)):
            raise ValueError("params must be the model's trainable parameters, in model.parameters() order")
        self.model, self.residual_blocks = model, residual_blocks
        self.lam: float | None = None
        self.nu = 2.0
        self.converged = False
        self.failed = False
        self.stats: dict[str, Any] = {"jacobians": 0, "solves": 0, "backtracked": 0, "cg_iters": 0, "solver": None}
        self._dec: Any = None

    # linear algebra ------------------------------------------------------------------------------------
    def _solver(self, N: int, P: int) -> str:
        group = self.param_groups[0]
        if group["solver"] != "auto":
            return group["solver"]
        return "direct" if min(N, P) <= group["direct_max"] else "cg"

    def _direct(self, J: torch.Tensor, r: torch.Tensor, lam: float, cache: dict[str, Any]) -> torch.Tensor:
        N, P = J.shape
        if N <= P:  # sample space: d = -J^T (J J^T + lam I)^{-1} r
            if "G" not in cache:
                cache["G"] = gram(J)
            return -(J.T @ _cholesky_solve(cache["G"], lam, r))
        if "A" not in cache:
            cache["A"] = J.T @ J
        return -_cholesky_solve(cache["A"], lam, J.T @ r)

    def _cg(self, J: torch.Tensor, r: torch.Tensor, lam: float, cache: dict[str, Any]) -> torch.Tensor:
        group = self.param_groups[0]
        if self._dec is None:
            self._dec = decompose(self.model, by="layers", max_dense=min(group["max_dense"], J.shape[1]))
        if "blocks" not in cache:
            cache["blocks"] = [J[:, i].T @ J[:, i] for i in self._dec.indices]
        factors = []
        for A in cache["blocks"]:
            M = A.clone()
            M.diagonal().add_(lam)
            factors.append(torch.linalg.cholesky(M))
        counts = torch.zeros(J.shape[1], dtype=J.dtype, device=J.device)
        for i in self._dec.indices:
            counts[i] += 1

        def precondition(v: torch.Tensor) -> torch.Tensor:
            z = torch.zeros_like(v)
            for i, L in zip(self._dec.indices, factors):
                z[i] += torch.cholesky_solve(v[i].unsqueeze(1), L).squeeze(1)
            return z / counts  # overlapping subdomains: partition of unity

        b = -(J.T @ r)
        d = torch.zeros_like(b)
        res = b.clone()
        z = precondition(res)
        p = z.clone()
        rz = float(res @ z)
        b_norm = float(b.norm())
        for _k in range(group["cg_iters"]):
            Ap = J.T @ (J @ p) + lam * p
            alpha = rz / float(p @ Ap)
            d.add_(p, alpha=alpha)
            res.add_(Ap, alpha=-alpha)
            self.stats["cg_iters"] += 1
            if float(res.norm()) <= group["cg_tol"] * b_norm:
                break
            z = precondition(res)
            rz_new = float(res @ z)
            p.mul_(rz_new / rz).add_(z)
            rz = rz_new
        return d

    # the step ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        """One Levenberg–Marquardt step; returns the loss at its start (torch's closure contract)."""
        if closure is None:
            raise ValueError("GaussNewtonOptimizer.step needs a closure that re-evaluates the loss")
        group = self.param_groups[0]
        with torch.enable_grad():
            r, J = residual_jacobian(self.model, self.residual_blocks(), chunk=group["chunk"])
        self.stats["jacobians"] += 1
        if not bool(torch.isfinite(r).all()) or not bool(torch.isfinite(J).all()):
            self.failed = True
            return torch.tensor(math.inf, dtype=r.dtype)
        f0 = float(r @ r)
        N, P = J.shape
        solver = self._solver(N, P)
        self.stats["solver"] = solver
        if self.lam is None:
            self.lam = group["damping"] * float((J * J).sum(0).max())
        x0 = flat_params(self._params)
        cache: dict[str, Any] = {}
        for _ in range(group["max_tries"]):
            try:
                d = self._direct(J, r, self.lam, cache) if solver == "direct" else self._cg(J, r, self.lam, cache)
            except torch.linalg.LinAlgError:
                self.lam *= self.nu
                self.nu *= 2.0
                continue
            self.stats["solves"] += 1
            Jd = J @ d
            predicted = -float(2.0 * (r @ Jd) + Jd @ Jd)  # f0 - |r + J d|^2
            set_flat_params(self._params, x0 + d)
            with torch.enable_grad():
                f = float(closure().detach())
            rho = (f0 - f) / predicted if predicted > 0 else -1.0
            if math.isfinite(f) and f < f0 and rho > 0:
                self.lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                self.nu = 2.0
                return torch.tensor(f0, dtype=r.dtype)
            # the full step failed: backtrack along d (one evaluation per trial, no new solve) before damping more
            alpha = 0.5
            while alpha >= group["min_alpha"]:
                set_flat_params(self._params, x0 + alpha * d)
                with torch.enable_grad():
                    fa = float(closure().detach())
                if math.isfinite(fa) and fa < f0:
                    self.lam *= 2.0
                    self.stats["backtracked"] += 1
                    return torch.tensor(f0, dtype=r.dtype)
                alpha *= 0.5
            self.lam *= self.nu
            self.nu *= 2.0
        set_flat_params(self._params, x0)
        self.failed = True
        return torch.tensor(f0, dtype=r.dtype)

    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        return {"lam": self.lam, "nu": self.nu, "stats": dict(self.stats)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        try:
            self.lam, self.nu = state_dict["lam"], float(state_dict["nu"])
            self.stats = dict(state_dict["stats"])
        except (KeyError, TypeError) as err:
            raise ValueError(f"not a GaussNewtonOptimizer state: {err}") from err


def residual_blocks_of(
    problem: TrainingProblem, data: tuple[torch.Tensor, ...]
) -> Callable[[], Sequence[ResidualBlock]]:
    """``problem.loss.residual_blocks`` bound to ``data``; a clear error when the loss is not a sum of squares."""
    blocks = getattr(problem.loss, "residual_blocks", None)
    if not callable(blocks):
        raise ValueError(
            "loss must be a sum of squares with a residual_blocks(*data) method (PINNProblem.discretize "
            f"gives one); got {type(problem.loss).__name__}"
        )
    return lambda: blocks(*data)


def counted_blocks(
    blocks: Callable[[], Sequence[ResidualBlock]], stats: dict[str, Any], *, each_pass: bool
) -> Callable[[], Sequence[ResidualBlock]]:
    """``blocks`` that count evaluations in ``stats["evals"]``, for an optimizer that evaluates the residuals
    itself rather than through the solve's closure, so that the solution's ``evals`` counts its evaluations as it
    counts the closure's (the convention of ``tools/bench/pinn_suite.py``).

    ``each_pass``: count each pass over the first block (KFAC and KFAC-L-BFGS evaluate all blocks together,
    several times per taking); otherwise count each taking (Gauss-Newton takes them once per Jacobian, whose
    vectorised passes are not separate evaluations; its trial points go through the closure)."""

    def taken() -> Sequence[ResidualBlock]:
        got = blocks()
        if not each_pass:
            stats["evals"] += 1
            return got
        (fn, rows), *rest = got

        def counted(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
            stats["evals"] += 1
            return fn(model, z)

        return [(counted, rows), *rest]

    return taken


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResidualAlgorithm(OptimizerAlgorithm):
    """Base of the algorithms whose optimizer evaluates the residual blocks of a least-squares loss itself
    (:class:`GaussNewton`, :class:`~remodel_core.optim.KFAC`, :class:`~remodel_core.optim.KFACLBFGS`): full-batch
    training where ``optimizer_class(params, model, blocks, **options)`` is built from the algorithm's fields, with
    the blocks on the Taylor-mode route when ``taylor_route`` (KFAC's factors read its channels) and the loss offers
    routes; the optimizer's ``stats`` join the solution's as ``{stats_prefix}_{key}``. A mini-batch problem or a loss
    without residual blocks is refused before training."""

    optimizer_class: ClassVar[type]
    stats_prefix: ClassVar[str]
    taylor_route: ClassVar[bool] = False

    def _options(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        name = type(self).__name__
        raise ValueError(f"{name} needs the problem's residuals: use solve(problem, {name}())")

    def _solve(self, problem: Problem, ctx: SolveContext) -> Solution:
        assert isinstance(problem, TrainingProblem)
        name = type(self).__name__
        if problem.batch_size is not None and problem.n_samples is not None and problem.batch_size < problem.n_samples:
            raise ValueError(f"{name} trains full batch; got batch_size={problem.batch_size} (use None)")
        data = placed(problem.data or (), ctx.options)
        blocks = residual_blocks_of(problem, data)  # a loss without residuals is refused before training
        if self.taylor_route:
            loss_blocks = problem.loss.residual_blocks  # type: ignore[union-attr]
            blocks = lambda: taylor_blocks(loss_blocks, data)  # noqa: E731
        blocks = counted_blocks(blocks, ctx.stats, each_pass=self.taylor_route)
        made: list[Any] = []

        def make(model: nn.Module) -> torch.optim.Optimizer:
            params = [p for p in model.parameters() if p.requires_grad]
            made.append(self.optimizer_class(params, model, blocks, **self._options()))
            return made[-1]

        sol = train(problem, make, ctx, algorithm=self)
        if made:
            sol.stats.update({f"{self.stats_prefix}_{k}": v for k, v in made[-1].stats.items()})
        return sol


@dataclasses.dataclass(frozen=True, kw_only=True)
class GaussNewton(ResidualAlgorithm):
    """Levenberg–Marquardt training of a least-squares loss (see :class:`GaussNewtonOptimizer`).

    The problem's loss must expose ``residual_blocks(*data)`` (the loss of
    :meth:`remodel_core.pde.PINNProblem.discretize` does); training is full batch. From a large-residual start a
    Gauss–Newton step can stall where L-BFGS does not: :class:`~remodel_core.optim.Auto` warms up with L-BFGS
    first.

    Parameters
    ----------
    solver : {"auto", "direct", "cg"}
        See :class:`GaussNewtonOptimizer`.
    damping, direct_max, max_dense, cg_iters, cg_tol, max_tries, min_alpha, chunk
        See :class:`GaussNewtonOptimizer`.

    Examples
    --------
    >>> from remodel_core import solve, pde
    >>> from remodel_core.nn import MLP
    >>> torch.manual_seed(0) and None
    >>> prob = pde.poisson2d().discretize(MLP(2, 1, width=8, depth=2), points=64, boundary_points=32)
    >>> sol = solve(prob, GaussNewton(), maxiters=30, dtype=torch.float64)
    >>> sol.history["loss"][-1] < 1e-2 * sol.history["loss"][0]
    True
    """

    solver: str = "auto"
    damping: float = 1e-3
    direct_max: int = 6000
    max_dense: int = 1024
    cg_iters: int = 200
    cg_tol: float = 1e-4
    max_tries: int = 12
    min_alpha: float = 1.0 / 16.0
    chunk: int = 512

    optimizer_class = GaussNewtonOptimizer
    stats_prefix = "gn"

    def validate(self) -> None:
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        check_positive("damping", self.damping)
        for name in ("direct_max", "max_dense", "cg_iters", "max_tries", "chunk"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("cg_tol", self.cg_tol)
        check_positive("min_alpha", self.min_alpha)
        if self.min_alpha > 0.5:
            raise ValueError(f"min_alpha must be <= 0.5, got {self.min_alpha!r}")


def taylor_blocks(blocks: Callable[..., Sequence[ResidualBlock]], data: tuple) -> Sequence[ResidualBlock]:
    """The residual blocks on the Taylor-mode route where the loss offers routes (PINN losses), else as given."""
    if offers_routes(blocks):
        return blocks(*data, route="taylor")
    return blocks(*data)


def offers_routes(blocks: Callable[..., Any]) -> bool:
    """Whether ``residual_blocks`` takes a ``route`` keyword (PINN losses, or a wrapper that forwards keywords)."""
    params = inspect.signature(blocks).parameters.values()
    return any(p.name == "route" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
