"""Schwarz-preconditioned quasi-Newton methods (SPQN): additive (ASPQN) and multiplicative (MSPQN)
nonlinear preconditioning of L-BFGS by layer-wise parameter subdomains, with an optional coarse level.

References
----------
A. Kopaničáková, H. Kothari, G. E. Karniadakis, R. Krause, "Enhancing training of physics-informed neural
networks using domain-decomposition based preconditioning strategies", SIAM J. Sci. Comput. 46 (2024).
Y. Lee, A. Kopaničáková, G. E. Karniadakis, "Two-level overlapping additive Schwarz preconditioner for
training scientific machine learning applications", arXiv:2406.10997 (2024).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from .._algorithm import check_positive
from .._training import OptimizerAlgorithm
from ._block import BlockInverseHessian, decompose
from ._decomposition import BALANCES, ParameterDecomposition
from ._lbfgs import LBFGSMemory, check_trial_step, flat_params, lbfgs_iteration, set_flat_params
from ._linesearch import strong_wolfe
from ._robust_lbfgs import CachedPoint, FlatClosure, check_line_search_options, group_params
from ._ssbroyden import check_hessian, make_memory

__all__ = ["ASPQN", "MSPQN", "SPQNOptimizer"]

METHODS = ("additive", "multiplicative")


class SPQNOptimizer(CachedPoint, torch.optim.Optimizer):
    """Schwarz-preconditioned quasi-Newton optimizer (Kopaničáková, Kothari, Karniadakis & Krause 2024).

    One :meth:`step` is one outer iteration ``theta_k -> theta_{k+1}``:

    1. *Nonlinear Schwarz preconditioning.* On each subdomain ``s`` (a group of consecutive layers) run
       ``local_iters`` robust L-BFGS iterations on the loss as a function of that subdomain's parameters
       only, the others frozen; each subdomain keeps its own L-BFGS memory across outer iterations.
       *Additive*: every subdomain starts from ``theta_k``; the corrections ``c_s`` are combined,
       ``c = sum_s R_s^T c_s`` averaged where subdomains overlap, and the combined step is globalised by a
       strong Wolfe line search along ``c`` (falling back to the best single subdomain's point if ``c`` is
       not a descent direction). The subdomain solves are independent. *Multiplicative*: the subdomains
       are visited in sequence, each from the iterate updated by the previous ones.
    2. *Coarse correction* (``coarse=True``, two-level variant after Lee, Kopaničáková & Karniadakis 2024):
       a few L-BFGS iterations on ``beta -> L(theta_{k+1/2} + V beta)`` where ``V`` spans the subdomain
       corrections (orthonormalised), which re-weights the subdomains' contributions globally.
    3. *Global quasi-Newton step(s)*: ``global_iters`` L-BFGS steps ``-H_k grad L`` from the preconditioned
       iterate with a strong Wolfe line search; the global memory stores the secant pair of the whole outer
       iteration, ``s_k = theta_{k+1} - theta_k``, ``y_k = grad L(theta_{k+1}) - grad L(theta_k)``.

    With a single subdomain, ``global_iters=0`` and no coarse level, the iterates are those of
    :class:`~remodel_core.optim.RobustLBFGSOptimizer` with ``max_iter=local_iters``.

    Parameters
    ----------
    params : iterable of tensors
        The parameters, in the order the decomposition indexes them (``model.parameters()``).
    decomposition : ParameterDecomposition
        The subdomains (see :func:`~remodel_core.optim.decompose_layers`).
    method : {"additive", "multiplicative"}
    local_iters : int
        L-BFGS iterations per subdomain per outer iteration (0: no local solves; with
        ``global_hessian="block"`` the step is then one global step with the decomposed curvature).
    local_history, history_size : int
        Memory of the local and of the global L-BFGS.
    hessian : str
        ``"lbfgs"`` (limited memory) or a dense ``"bfgs"``, ``"ssbfgs"``, ``"ssbroyden"`` inverse Hessian
        (:class:`~remodel_core.optim.DenseInverseHessian`) for the global and the local quasi-Newton steps.
    local_hessian : str, optional
        The curvature each subdomain keeps for its local steps (default ``hessian``). A dense update here
        is the decomposed curvature: ``sum_i n_i^2`` numbers instead of ``n^2``.
    global_hessian : str, optional
        The curvature of the global steps (default ``hessian``): one of those of ``hessian``, or ``"block"``,
        the block-diagonal assembly of the subdomains' own dense matrices
        (:class:`~remodel_core.optim.BlockInverseHessian`; shared with the local steps when
        ``local_hessian`` is dense, so every global pair also updates each subdomain's curvature).
    global_iters : int
        Global L-BFGS steps per outer iteration (>= 0).
    coarse : bool
        Add the coarse correction.
    coarse_iters : int
        L-BFGS iterations of the coarse problem.
    lr, c1, c2, max_ls, tolerance_grad, curvature_eps
        As in :class:`~remodel_core.optim.RobustLBFGSOptimizer`.
    trial_step : {"unit", "quadratic"}
        First trial step of the global line search: 1, or the minimiser of the quadratic through the last
        outer iteration's decrease (Nocedal & Wright eq. 3.60, :func:`~remodel_core.optim.lbfgs_iteration`'s
        ``previous_f``), for dense matrices whose directions are not well scaled: :class:`~remodel_core.optim.Auto`'s
        dense SSBroyden matrix took 1.6 evaluations per step with the unit step, 1.03 with this one.
    distributed : bool
        Additive only: share the subdomain solves out over the ranks of the initialised
        ``torch.distributed`` process group (gloo on CPU, launched with ``torchrun``; every rank runs the
        same training script on its own copy of the model and data). Results equal the single-process run.

    Examples
    --------
    >>> from remodel_core.optim import decompose_layers
    >>> net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    >>> x = torch.linspace(-1, 1, 32, dtype=torch.float64).unsqueeze(1)
    >>> opt = SPQNOptimizer(net.parameters(), decompose_layers(net, 2), method="additive")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = ((net(x) - x.sin()) ** 2).mean()
    ...     loss.backward()
    ...     return loss
    >>> first = float(opt.step(closure))
    >>> for _ in range(10):
    ...     last = float(opt.step(closure))
    >>> last < 0.1 * first
    True
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        decomposition: ParameterDecomposition,
        *,
        method: str = "additive",
        local_iters: int = 3,
        local_history: int = 10,
        history_size: int = 50,
        global_iters: int = 1,
        coarse: bool = False,
        coarse_iters: int = 2,
        lr: float = 1.0,
        c1: float = 1e-4,
        c2: float = 0.9,
        max_ls: int = 25,
        tolerance_grad: float = 1e-9,
        curvature_eps: float = 1e-10,
        distributed: bool = False,
        hessian: str = "lbfgs",
        local_hessian: str | None = None,
        global_hessian: str | None = None,
        trial_step: str = "unit",
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if not isinstance(decomposition, ParameterDecomposition):
            raise TypeError(f"decomposition must be a ParameterDecomposition, got {type(decomposition).__name__}")
        check_positive("local_iters", local_iters, integer=True, allow_zero=True)
        check_positive("local_history", local_history, integer=True)
        check_positive("history_size", history_size, integer=True)
        check_positive("global_iters", global_iters, integer=True, allow_zero=True)
        check_positive("coarse_iters", coarse_iters, integer=True)
        check_positive("lr", lr)
        check_line_search_options(c1, c2, max_ls)
        check_positive("tolerance_grad", tolerance_grad, allow_zero=True)
        check_positive("curvature_eps", curvature_eps, allow_zero=True)
        check_hessian(hessian)
        check_trial_step(trial_step)
        local_hessian = hessian if local_hessian is None else local_hessian
        global_hessian = hessian if global_hessian is None else global_hessian
        check_hessian(local_hessian, name="local_hessian")
        check_hessian(global_hessian, name="global_hessian", block=True)
        if not isinstance(distributed, bool):
            raise TypeError(f"distributed must be a bool, got {distributed!r}")
        if distributed:
            if method != "additive":
                raise ValueError("distributed=True needs method='additive' (the multiplicative sweep is sequential)")
            if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
                raise ValueError(
                    "distributed=True needs an initialised torch.distributed process group "
                    "(launch with torchrun and call torch.distributed.init_process_group('gloo'))"
                )
        self.distributed = distributed
        defaults = dict(
            method=method,
            local_iters=local_iters,
            local_history=local_history,
            history_size=history_size,
            global_iters=global_iters,
            coarse=bool(coarse),
            coarse_iters=coarse_iters,
            lr=lr,
            c1=c1,
            c2=c2,
            max_ls=max_ls,
            tolerance_grad=tolerance_grad,
            curvature_eps=curvature_eps,
            hessian=hessian,
            local_hessian=local_hessian,
            global_hessian=global_hessian,
            trial_step=trial_step,
        )
        super().__init__(params, defaults)
        self._params: list[torch.Tensor] = group_params(self)
        n = sum(p.numel() for p in self._params)
        if decomposition.size != n:
            raise ValueError(f"decomposition covers {decomposition.size} parameters, the optimizer has {n}")
        self.decomposition = decomposition
        self.local_memories = [make_memory(local_hessian, local_history, curvature_eps) for _ in decomposition.indices]
        if global_hessian == "block":
            # the subdomains' own dense matrices, assembled block-diagonally: sum n_i^2 numbers, shared
            shared = self.local_memories if local_hessian != "lbfgs" else None
            self.memory = BlockInverseHessian(
                decomposition,
                "ssbroyden" if shared is None else local_hessian,
                curvature_eps=curvature_eps,
                blocks=shared,
            )  # type: ignore[arg-type]
        else:
            self.memory = make_memory(global_hessian, history_size, curvature_eps)
        self.converged = False
        self.failed = False
        self.n_iter = 0
        self._x: torch.Tensor | None = None
        self._f: float | None = None
        self._g: torch.Tensor | None = None
        self._f_prev: float | None = None  # the value at the previous global iterate (quadratic trial step)

    # pieces -------------------------------------------------------------------------------------------
    def _local_solve(
        self, fc: FlatClosure, s: int, x: torch.Tensor, f: float, g: torch.Tensor
    ) -> tuple[torch.Tensor, float, torch.Tensor]:
        """Local L-BFGS on subdomain ``s`` from the full point ``(x, f, g)``; returns the new full point."""
        group = self.param_groups[0]
        idx = self.decomposition.indices[s]
        base = x.clone()

        def evaluate(z: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor]:
            full = base.clone()
            full[idx] = z
            fz, gz = fc(full)
            return fz, gz[idx], gz

        z, fz, gz, aux = x[idx], f, g[idx], g
        for _ in range(group["local_iters"]):
            if float(gz.abs().max()) <= group["tolerance_grad"]:
                break
            st = lbfgs_iteration(
                evaluate,
                z,
                fz,
                gz,
                self.local_memories[s],
                lr=group["lr"],
                c1=group["c1"],
                c2=group["c2"],
                max_ls=group["max_ls"],
                aux=aux,
            )
            z, fz, gz, aux = st.x, st.f, st.g, st.aux
            if st.stalled:
                break
        out = base.clone()
        out[idx] = z
        return out, fz, aux

    def _additive(
        self, fc: FlatClosure, x0: torch.Tensor, f0: float, g0: torch.Tensor
    ) -> tuple[torch.Tensor, float, torch.Tensor, list[torch.Tensor]]:
        group = self.param_groups[0]
        dec = self.decomposition
        if self.distributed and torch.distributed.get_world_size() > 1:
            results = self._distributed_local_solves(fc, x0, f0, g0)
        else:
            results = [self._local_solve(fc, s, x0, f0, g0) for s in range(len(dec))]
        corrections = [(xs - x0)[idx] for (xs, _, _), idx in zip(results, dec.indices)]
        if len(dec) == 1 and bool((dec.multiplicity == 1).all()):
            xs, fs, gs = results[0]
            return xs, fs, gs, [xs - x0]
        c = dec.combine(corrections)
        best = min(range(len(results)), key=lambda s: results[s][1])
        gtd = float(g0.dot(c))
        if math.isfinite(gtd) and gtd < 0:

            def phi(alpha: float) -> tuple[float, float, torch.Tensor]:
                fa, ga = fc(x0 + alpha * c)
                return fa, float(ga.dot(c)), ga

            res = strong_wolfe(
                phi, f0, gtd, 1.0, c1=group["c1"], c2=group["c2"], max_evals=group["max_ls"], extra0=(g0,)
            )
            if res.alpha > 0 and res.f <= results[best][1]:
                return x0 + res.alpha * c, res.f, res.extra[0], [dec.prolong(s, cs) for s, cs in enumerate(corrections)]
        xs, fs, gs = results[best]
        return xs, fs, gs, [xs - x0]

    def _distributed_local_solves(
        self, fc: FlatClosure, x0: torch.Tensor, f0: float, g0: torch.Tensor
    ) -> list[tuple[torch.Tensor, float, torch.Tensor]]:
        """The independent subdomain solves shared out over the ranks (subdomain ``s`` on rank
        ``s % world``); one all-reduce gives every rank all local results, so all ranks continue with
        identical iterates."""
        dist = torch.distributed
        world, rank = dist.get_world_size(), dist.get_rank()
        n, size = len(self.decomposition), x0.numel()
        buf = torch.zeros(n, 2 * size + 1, dtype=torch.float64)
        for s in range(n):
            if s % world == rank:
                xs, fs, gs = self._local_solve(fc, s, x0, f0, g0)
                buf[s, :size] = xs
                buf[s, size : 2 * size] = gs
                buf[s, -1] = fs
        dist.all_reduce(buf, op=dist.ReduceOp.SUM)  # each row has one contributor: the sum is exact
        return [(buf[s, :size].clone(), float(buf[s, -1]), buf[s, size : 2 * size].clone()) for s in range(n)]

    def _multiplicative(
        self, fc: FlatClosure, x0: torch.Tensor, f0: float, g0: torch.Tensor
    ) -> tuple[torch.Tensor, float, torch.Tensor, list[torch.Tensor]]:
        x, f, g = x0, f0, g0
        steps = []
        for s in range(len(self.decomposition)):
            xn, f, g = self._local_solve(fc, s, x, f, g)
            steps.append(xn - x)
            x = xn
        return x, f, g, steps

    def _coarse(
        self, fc: FlatClosure, x: torch.Tensor, f: float, g: torch.Tensor, directions: list[torch.Tensor]
    ) -> tuple[torch.Tensor, float, torch.Tensor]:
        group = self.param_groups[0]
        cols = [d for d in directions if float(d.norm()) > 0]
        if not cols:
            return x, f, g
        V = torch.stack(cols, dim=1)
        Q, R = torch.linalg.qr(V)
        keep = R.diagonal().abs() > 1e-12 * float(R.diagonal().abs().max())
        Q = Q[:, keep]
        if Q.shape[1] == 0:
            return x, f, g

        def evaluate(beta: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor]:
            fb, gb = fc(x + Q @ beta)
            return fb, Q.T @ gb, gb

        memory = LBFGSMemory(group["coarse_iters"] + 1, curvature_eps=group["curvature_eps"])
        beta = torch.zeros(Q.shape[1], dtype=torch.float64)
        fb, gbeta, aux = f, Q.T @ g, g
        for _ in range(group["coarse_iters"]):
            st = lbfgs_iteration(
                evaluate,
                beta,
                fb,
                gbeta,
                memory,
                lr=group["lr"],
                c1=group["c1"],
                c2=group["c2"],
                max_ls=group["max_ls"],
                aux=aux,
            )
            beta, fb, gbeta, aux = st.x, st.f, st.g, st.aux
            if st.stalled:
                break
        return x + Q @ beta, fb, aux

    # the outer iteration ------------------------------------------------------------------------------

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        """One outer SPQN iteration; returns the loss at the start of the step (torch's closure contract), or
        NaN when the loss became NaN/Inf."""
        if closure is None:
            raise ValueError("SPQNOptimizer.step needs a closure that re-evaluates the loss")
        group = self.param_groups[0]
        fc = FlatClosure(self._params, closure)
        if self._x is None or not torch.equal(self._x, flat_params(self._params)):
            self._f_prev = None  # moved from outside (or a fresh start): no last decrease to follow
        x0, f0, g0 = self._start(fc)
        if not math.isfinite(f0) or not bool(torch.isfinite(g0).all()):
            self.forget()
            return torch.tensor(math.nan)
        if float(g0.abs().max()) <= group["tolerance_grad"]:
            self.converged = True
            set_flat_params(self._params, x0)
            return torch.tensor(f0, dtype=torch.float64)
        if group["method"] == "additive":
            x, f, g, directions = self._additive(fc, x0, f0, g0)
        else:
            x, f, g, directions = self._multiplicative(fc, x0, f0, g0)
        if group["coarse"] and len(self.decomposition) > 1:
            x, f, g = self._coarse(fc, x, f, g, directions)
        nonfinite = False
        for _ in range(group["global_iters"]):
            if float(g.abs().max()) <= group["tolerance_grad"]:
                break
            st = lbfgs_iteration(
                fc,
                x,
                f,
                g,
                self.memory,
                lr=group["lr"],
                c1=group["c1"],
                c2=group["c2"],
                max_ls=group["max_ls"],
                push=False,
                previous_f=self._f_prev if group["trial_step"] == "quadratic" else None,
            )
            self._f_prev = f
            x, f, g = st.x, st.f, st.g
            nonfinite = st.nonfinite and not st.line_search_ok
            if st.stalled:
                break
        self.n_iter += 1
        if not math.isfinite(f) or nonfinite and f >= f0:
            self.forget()
            set_flat_params(self._params, x0)
            self.memory.reset()
            return torch.tensor(math.nan)
        if f < f0:
            self.memory.push(x - x0, g - g0)
        else:
            # no progress anywhere: restart the memories once, fail the second time
            if len(self.memory) == 0 and all(len(m) == 0 for m in self.local_memories):
                self.failed = True
            self.memory.reset()
            for m in self.local_memories:
                m.reset()
            x, f, g = x0, f0, g0
        set_flat_params(self._params, x)
        if float(g.abs().max()) <= group["tolerance_grad"]:
            self.converged = True
        self._remember(f, g)
        return torch.tensor(f0, dtype=torch.float64)

    # persistence --------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return {
            "param_groups": [group],
            "memory": self.memory.state_dict(),
            "local_memories": [m.state_dict() for m in self.local_memories],
            "x": self._x,
            "f": self._f,
            "g": self._g,
            "n_iter": self.n_iter,
            "f_prev": self._f_prev,
            "converged": self.converged,
            "failed": self.failed,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        try:
            group = dict(state_dict["param_groups"][0])
            memory, local = state_dict["memory"], list(state_dict["local_memories"])
        except (KeyError, IndexError, TypeError) as err:
            raise ValueError(f"not an SPQNOptimizer state: {err}") from err
        if len(local) != len(self.local_memories):
            raise ValueError(f"state has {len(local)} subdomains, the optimizer {len(self.local_memories)}")
        for own in self.param_groups:
            own.update({k: v for k, v in group.items() if k != "params"})
        self.memory.load_state_dict(memory)
        for m, st in zip(self.local_memories, local):
            m.load_state_dict(st)
        x, g = state_dict.get("x"), state_dict.get("g")
        self._x = None if x is None else x.to(torch.float64)
        self._g = None if g is None else g.to(torch.float64)
        self._f = None if state_dict.get("f") is None else float(state_dict["f"])
        self.n_iter = int(state_dict.get("n_iter", 0))
        self._f_prev = state_dict.get("f_prev")
        self.converged = bool(state_dict.get("converged", False))
        self.failed = bool(state_dict.get("failed", False))


@dataclasses.dataclass(frozen=True, kw_only=True)
class _SPQN(OptimizerAlgorithm):
    subdomains: int = 2
    overlap: int = 0
    decomposition: str = "parameters"
    local_iters: int = 3
    local_history: int = 10
    history_size: int = 50
    global_iters: int = 1
    coarse: bool = False
    coarse_iters: int = 2
    lr: float = 1.0
    c1: float = 1e-4
    c2: float = 0.9
    max_ls: int = 25
    tolerance_grad: float = 1e-9
    curvature_eps: float = 1e-10
    distributed: bool = False
    hessian: str = "lbfgs"
    local_hessian: str | None = None
    global_hessian: str | None = None
    max_dense: int | None = None

    method = "additive"

    def validate(self) -> None:
        if isinstance(self.subdomains, bool) or not isinstance(self.subdomains, int):
            raise TypeError(f"subdomains must be an integer, got {self.subdomains!r}")
        if self.subdomains < 1:
            raise ValueError(f"subdomains must be >= 1, got {self.subdomains}")
        check_positive("overlap", self.overlap, integer=True, allow_zero=True)
        if self.decomposition not in (*BALANCES, "neurons"):
            raise ValueError(
                f"decomposition must be one of {(*BALANCES, 'neurons')} (layer-wise, balanced by "
                f"parameters or by layers, or groups of neurons), got {self.decomposition!r}"
            )
        if self.max_dense is not None:
            check_positive("max_dense", self.max_dense, integer=True)
        if self.local_hessian is not None:
            check_hessian(self.local_hessian, name="local_hessian")
        if self.global_hessian is not None:
            check_hessian(self.global_hessian, name="global_hessian", block=True)
        check_positive("local_iters", self.local_iters, integer=True, allow_zero=True)
        check_positive("local_history", self.local_history, integer=True)
        check_positive("history_size", self.history_size, integer=True)
        check_positive("global_iters", self.global_iters, integer=True, allow_zero=True)
        if not isinstance(self.coarse, bool):
            raise TypeError(f"coarse must be a bool, got {self.coarse!r}")
        check_positive("coarse_iters", self.coarse_iters, integer=True)
        check_positive("lr", self.lr)
        check_line_search_options(self.c1, self.c2, self.max_ls)
        check_positive("tolerance_grad", self.tolerance_grad, allow_zero=True)
        check_positive("curvature_eps", self.curvature_eps, allow_zero=True)
        check_hessian(self.hessian)
        if not isinstance(self.distributed, bool):
            raise TypeError(f"distributed must be a bool, got {self.distributed!r}")
        if self.distributed and self.method != "additive":
            raise ValueError("distributed=True needs the additive method (ASPQN)")

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        self.validate()
        dec = self.decompose(model)
        return SPQNOptimizer(
            [p for p in model.parameters() if p.requires_grad],
            dec,
            method=self.method,
            local_iters=self.local_iters,
            local_history=self.local_history,
            history_size=self.history_size,
            global_iters=self.global_iters,
            coarse=self.coarse,
            coarse_iters=self.coarse_iters,
            lr=self.lr,
            c1=self.c1,
            c2=self.c2,
            max_ls=self.max_ls,
            tolerance_grad=self.tolerance_grad,
            curvature_eps=self.curvature_eps,
            distributed=self.distributed,
            hessian=self.hessian,
            local_hessian=self.local_hessian,
            global_hessian=self.global_hessian,
        )

    def decompose(self, model: nn.Module) -> ParameterDecomposition:
        """The subdomains of ``model``: ``subdomains`` of them, or (``max_dense`` given) the fewest whose
        largest holds at most ``max_dense`` parameters (:func:`~remodel_core.optim.decompose`)."""
        by = "neurons" if self.decomposition == "neurons" else "layers"
        balance = "parameters" if by == "neurons" else self.decomposition
        if self.max_dense is not None:
            return decompose(model, by=by, max_dense=self.max_dense, overlap=self.overlap, balance=balance)
        return decompose(model, by=by, subdomains=self.subdomains, overlap=self.overlap, balance=balance)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ASPQN(_SPQN):
    """Additively Schwarz-preconditioned quasi-Newton (Kopaničáková, Kothari, Karniadakis & Krause,
    SISC 2024), as an algorithm for :func:`remodel_core.solve`; see :class:`SPQNOptimizer`.

    Parameters
    ----------
    subdomains : int
        Number of parameter subdomains (layer-wise: 1 .. number of layers).
    overlap : int
        Layers (or neurons) shared by neighbouring subdomains (corrections are averaged there).
    decomposition : {"parameters", "layers", "neurons"}
        Layer-wise split balanced by parameters or by layers, or groups of neurons across all layers
        (:func:`~remodel_core.optim.decompose_neurons`).
    max_dense : int, optional
        Size the decomposition automatically: the fewest subdomains with at most ``max_dense`` parameters
        each (a layer-wise split falls back to neuron groups when one layer is larger); ``subdomains`` is
        then ignored. With a dense ``local_hessian`` the curvature costs at most ``n * max_dense`` numbers.
    local_iters, local_history, history_size, global_iters, coarse, coarse_iters, hessian
        See :class:`SPQNOptimizer`; ``coarse=True`` is the two-level variant.
    local_hessian, global_hessian : str, optional
        Decomposed curvature (see :class:`SPQNOptimizer`): e.g. ``local_hessian="ssbroyden",
        global_hessian="block"`` keeps one dense self-scaled Broyden matrix per subdomain and no ``n x n``
        matrix; ``global_hessian="lbfgs"`` a limited-memory global step.
    lr, c1, c2, max_ls, tolerance_grad, curvature_eps
        As in :class:`~remodel_core.optim.RobustLBFGS`.
    distributed : bool
        Run the subdomain solves in parallel over the ranks of a ``torch.distributed`` group (torchrun).

    Examples
    --------
    >>> import torch
    >>> from remodel_core import TrainingProblem, solve
    >>> from remodel_core.nn import MLP
    >>> torch.manual_seed(0) and None
    >>> x = torch.linspace(-1, 1, 32).unsqueeze(1)
    >>> prob = TrainingProblem(model=MLP(1, 1, width=8, depth=2), loss=lambda m, x: ((m(x) - x.sin()) ** 2).mean(),
    ...                        data=(x,))
    >>> sol = solve(prob, ASPQN(subdomains=3, overlap=1), maxiters=20, dtype=torch.float64)
    >>> sol.history["loss"][-1] < 1e-4
    True
    """

    method = "additive"


@dataclasses.dataclass(frozen=True, kw_only=True)
class MSPQN(_SPQN):
    """Multiplicatively Schwarz-preconditioned quasi-Newton (Kopaničáková, Kothari, Karniadakis & Krause,
    SISC 2024): the subdomains are visited in sequence; ``coarse=True`` adds the coarse correction
    (two-level). Options as :class:`ASPQN`.

    Parameters
    ----------
    subdomains : int, default 2
        Number of parameter subdomains (layer-wise: 1 .. number of layers).
    overlap : int, default 0
        Layers (or neurons) shared by neighbouring subdomains.
    decomposition : {"parameters", "layers", "neurons"}, default "parameters"
        Layer-wise split balanced by parameters or by layers, or groups of neurons across all layers.
    max_dense : int, optional
        The fewest subdomains with at most ``max_dense`` parameters each; ``subdomains`` is then ignored.
    local_iters, local_history, history_size, global_iters, coarse, coarse_iters, hessian
        See :class:`SPQNOptimizer`; ``coarse=True`` is the two-level variant.
    local_hessian, global_hessian : str, optional
        Decomposed curvature, as for :class:`ASPQN`.
    lr, c1, c2, max_ls, tolerance_grad, curvature_eps
        As in :class:`~remodel_core.optim.RobustLBFGS`.
    distributed : bool, default False
        Must stay False: the sequential sweep does not run in parallel (use :class:`ASPQN`).

    Examples
    --------
    >>> MSPQN(subdomains=4, coarse=True).method
    'multiplicative'
    """

    method = "multiplicative"
