"""Additive Schwarz-preconditioned quasi-Newton (ASPQN) across ``torch.distributed`` ranks: every rank owns
some of the parameter subdomains and runs their local quasi-Newton solves at the same time as the others;
the combination of the corrections, the line search along the combined step and the global quasi-Newton
steps evaluate the loss data-parallel (each rank its share of the rows, one all-reduce per evaluation).

References
----------
A. Kopaničáková, H. Kothari, G. E. Karniadakis, R. Krause, "Enhancing training of physics-informed neural
networks using domain-decomposition based preconditioning strategies", SIAM J. Sci. Comput. 46 (2024).
S. Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel Training", VLDB 2020.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import torch
from torch import nn

from .._algorithm import Algorithm, check_positive
from .._checkpoint import load_checkpoint, save_checkpoint
from .._context import SolveContext
from .._problem import Problem
from .._progress import ProgressBar, want_progress
from .._retcode import ReturnCode
from .._solution import Solution
from .._training import TRAIN_OPTIONS, TrainingProblem
from ..optim import (
    decompose_layers,
    flat_grad,
    flat_params,
    lbfgs_iteration,
    make_memory,
    set_flat_params,
    strong_wolfe,
)
from ..optim._decomposition import BALANCES, ParameterDecomposition
from ._group import DEFAULT_TIMEOUT_S, check_timeout, is_distributed, set_collective_timeout
from ._health import Heartbeat

__all__ = ["DistributedASPQN", "SchwarzRanks"]

# the order in which ranks agree on a stop: the largest code of any rank wins
_STOP_CODES: tuple[ReturnCode | None, ...] = (
    None,
    ReturnCode.MaxTime,
    ReturnCode.MaxIters,
    ReturnCode.Terminated,
    ReturnCode.Success,
    ReturnCode.Failure,
    ReturnCode.Diverged,
)


class _Evaluator:
    """The loss as a function of the flat float64 parameters: ``local`` on all the rows (the subdomain
    solves of this rank), ``shared`` data-parallel over the ranks: the rows are cut into ``shards``
    contiguous chunks, chunk ``c`` is evaluated by rank ``c % world``, and one all-reduce sums the
    ``(loss, gradient)`` of the chunks weighted by their share ``n_c / N`` of the rows (the scheme of
    DistributedDataParallel). The arithmetic depends on ``shards`` only, not on where the chunks run, so one
    process and ``shards`` ranks give bitwise the same values."""

    def __init__(
        self,
        model: nn.Module,
        params: list[torch.Tensor],
        loss: Any,
        data: tuple[torch.Tensor, ...],
        world: int,
        rank: int,
        group: Any,
        health: Heartbeat,
        shards: int,
    ) -> None:
        self.model, self.params, self.loss, self.data = model, params, loss, data
        self.world, self.group, self.health = world, group, health
        self.local_evals = 0
        self.shared_evals = 0
        self.chunks: list[tuple[tuple[torch.Tensor, ...], float]] = []
        if data:
            n = int(data[0].shape[0])
            base, extra = divmod(n, shards)
            for c in range(shards):
                start = c * base + min(c, extra)
                rows = base + (1 if c < extra else 0)
                if c % world == rank and rows:
                    self.chunks.append((tuple(t[start : start + rows] for t in data), rows / n))

    def _evaluate(self, x: torch.Tensor, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        set_flat_params(self.params, x)
        for p in self.params:
            p.grad = None
        with torch.enable_grad():
            value = self.loss(self.model, *batch)
            if not isinstance(value, torch.Tensor) or value.numel() != 1:
                raise TypeError("loss must return a scalar tensor")
            value.backward()
        return value.detach().reshape(()).to(torch.float64), flat_grad(self.params)

    def local(self, x: torch.Tensor) -> tuple[float, torch.Tensor]:
        self.local_evals += 1
        f, g = self._evaluate(x, self.data)
        return float(f), g

    def shared(self, x: torch.Tensor) -> tuple[float, torch.Tensor]:
        self.shared_evals += 1
        if not self.data:  # nothing to split: every rank evaluates the same loss
            f, g = self._evaluate(x, ())
            return float(f), g
        flat = None
        for batch, weight in self.chunks:
            f, g = self._evaluate(x, batch)
            part = torch.cat([f.reshape(1), g]).mul_(weight)
            flat = part if flat is None else flat.add_(part)
        if flat is None:  # no chunk on this rank (more ranks than shards or rows)
            set_flat_params(self.params, x)
            flat = torch.zeros(x.numel() + 1, dtype=torch.float64, device=x.device)
        if self.world > 1:
            with self.health.guard("the all-reduce of a data-parallel loss evaluation"):
                torch.distributed.all_reduce(flat, group=self.group)
        return float(flat[0]), flat[1:]


class SchwarzRanks:
    """The state and the outer iteration of :class:`DistributedASPQN` on one rank.

    Subdomain ``s`` belongs to rank ``s % world``; each rank keeps the local quasi-Newton memories of its
    own subdomains. One :meth:`step` is one outer iteration of the additive method of Kopaničáková et al.
    (2024), arithmetically the one of :class:`~remodel_core.optim.SPQNOptimizer` (``method="additive"``,
    no coarse level): local solves from ``theta_k``; one all-reduce gives every rank all subdomain results
    (each row has one contributor, so the sum is exact and identical everywhere); the combined correction,
    averaged on overlaps, is globalised by a strong Wolfe line search, with the best subdomain's point as the
    fallback; then ``global_iters`` global quasi-Newton steps. Every rank takes the same decisions, so the
    ranks run the same collectives in the same order.

    Parameters
    ----------
    evaluator : _Evaluator
        Local and data-parallel loss evaluations.
    decomposition : ParameterDecomposition
        The parameter subdomains.
    options : dict
        The method options of :class:`DistributedASPQN`.

    Examples
    --------
    >>> SchwarzRanks.owned(5, world=2, rank=1)
    [1, 3]
    """

    def __init__(self, evaluator: _Evaluator, decomposition: ParameterDecomposition, options: dict[str, Any]) -> None:
        self.ev, self.dec, self.o = evaluator, decomposition, options
        self.world = evaluator.world
        self.rank = 0 if self.world == 1 else torch.distributed.get_rank()
        self.mine = self.owned(len(decomposition), self.world, self.rank)
        self.memory = make_memory(options["hessian"], options["history_size"], options["curvature_eps"])
        self.local_memories = {
            s: make_memory(options["hessian"], options["local_history"], options["curvature_eps"]) for s in self.mine
        }
        self.converged = self.failed = False
        self.n_iter = 0
        self._x: torch.Tensor | None = None
        self._f: float | None = None
        self._g: torch.Tensor | None = None

    @staticmethod
    def owned(n_subdomains: int, world: int, rank: int) -> list[int]:
        """The subdomains of ``rank``: ``s % world == rank``."""
        return [s for s in range(n_subdomains) if s % world == rank]

    def forget(self) -> None:
        self._x = self._f = self._g = None

    # pieces -------------------------------------------------------------------------------------------
    def _local_solve(
        self, s: int, x0: torch.Tensor, f0: float, g0: torch.Tensor
    ) -> tuple[torch.Tensor, float, torch.Tensor]:
        o = self.o
        idx = self.dec.indices[s].to(x0.device)
        base = x0.clone()

        def evaluate(z: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor]:
            full = base.clone()
            full[idx] = z
            fz, gz = self.ev.local(full)
            return fz, gz[idx], gz

        z, fz, gz, aux = x0[idx], f0, g0[idx], g0
        for _ in range(o["local_iters"]):
            if float(gz.abs().max()) <= o["tolerance_grad"]:
                break
            st = lbfgs_iteration(
                evaluate,
                z,
                fz,
                gz,
                self.local_memories[s],
                lr=o["lr"],
                c1=o["c1"],
                c2=o["c2"],
                max_ls=o["max_ls"],
                aux=aux,
            )
            z, fz, gz, aux = st.x, st.f, st.g, st.aux
            if st.stalled:
                break
        return z, fz, aux

    def _local_solves(
        self, x0: torch.Tensor, f0: float, g0: torch.Tensor
    ) -> tuple[list[tuple[torch.Tensor, float, torch.Tensor]], int]:
        """All subdomain results on every rank, and how many local memories hold pairs (all ranks)."""
        n, size = len(self.dec), x0.numel()
        if self.world == 1:
            out = [self._local_solve(s, x0, f0, g0) for s in range(n)]
            return out, sum(len(m) > 0 for m in self.local_memories.values())
        lengths = [int(i.numel()) + size + 1 for i in self.dec.indices]
        offsets = [0]
        for k in lengths:
            offsets.append(offsets[-1] + k)
        buf = torch.zeros(offsets[-1] + 1, dtype=torch.float64, device=x0.device)
        for s in self.mine:
            z, fz, gz = self._local_solve(s, x0, f0, g0)
            row = buf[offsets[s] : offsets[s + 1]]
            row[: z.numel()] = z
            row[z.numel() : z.numel() + size] = gz
            row[-1] = fz
        buf[-1] = sum(len(m) > 0 for m in self.local_memories.values())
        with self.ev.health.guard("the all-reduce of the subdomain solves"):
            torch.distributed.all_reduce(buf, group=self.ev.group)
        out = []
        for s in range(n):
            row = buf[offsets[s] : offsets[s + 1]]
            k = int(self.dec.indices[s].numel())
            out.append((row[:k].clone(), float(row[-1]), row[k : k + size].clone()))
        return out, int(buf[-1])

    def _combine(self, corrections: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(self.dec.size, dtype=torch.float64, device=like.device)
        for idx, c in zip(self.dec.indices, corrections):
            out.index_add_(0, idx.to(like.device), c)
        return out / self.dec.multiplicity.to(like.device)

    def _point(self, x0: torch.Tensor, s: int, z: torch.Tensor) -> torch.Tensor:
        xs = x0.clone()
        xs[self.dec.indices[s].to(x0.device)] = z
        return xs

    def _additive(self, x0: torch.Tensor, f0: float, g0: torch.Tensor) -> tuple[torch.Tensor, float, torch.Tensor, int]:
        o, dec = self.o, self.dec
        results, nonempty = self._local_solves(x0, f0, g0)
        if len(dec) == 1 and bool((dec.multiplicity == 1).all()):
            z, fs, gs = results[0]
            return self._point(x0, 0, z), fs, gs, nonempty
        corrections = [z - x0[idx.to(x0.device)] for (z, _, _), idx in zip(results, dec.indices)]
        c = self._combine(corrections, x0)
        best = min(range(len(results)), key=lambda s: results[s][1])
        gtd = float(g0.dot(c))
        if math.isfinite(gtd) and gtd < 0:

            def phi(alpha: float) -> tuple[float, float, torch.Tensor]:
                fa, ga = self.ev.shared(x0 + alpha * c)
                return fa, float(ga.dot(c)), ga

            res = strong_wolfe(phi, f0, gtd, 1.0, c1=o["c1"], c2=o["c2"], max_evals=o["max_ls"], extra0=(g0,))
            if res.alpha > 0 and res.f <= results[best][1]:
                return x0 + res.alpha * c, res.f, res.extra[0], nonempty
        z, fs, gs = results[best]
        return self._point(x0, best, z), fs, gs, nonempty

    # the outer iteration ------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self) -> tuple[float, float]:
        """One outer iteration on every rank (collective); returns the losses at the start and at the new
        iterate (the second NaN when the step failed on non-finite values: the parameters are then left
        at the start)."""
        o = self.o
        params = self.ev.params
        x0 = flat_params(params)
        if self._x is not None and self._x.shape == x0.shape and torch.equal(self._x, x0):
            f0, g0 = self._f, self._g
            assert f0 is not None and g0 is not None
        else:
            f0, g0 = self.ev.shared(x0)
        if not math.isfinite(f0) or not bool(torch.isfinite(g0).all()):
            self.forget()
            return math.nan, math.nan
        if float(g0.abs().max()) <= o["tolerance_grad"]:
            self.converged = True
            set_flat_params(params, x0)
            return f0, f0
        x, f, g, nonempty = self._additive(x0, f0, g0)
        nonfinite = False
        for _ in range(o["global_iters"]):
            if float(g.abs().max()) <= o["tolerance_grad"]:
                break
            st = lbfgs_iteration(
                self.ev.shared, x, f, g, self.memory, lr=o["lr"], c1=o["c1"], c2=o["c2"], max_ls=o["max_ls"], push=False
            )
            x, f, g = st.x, st.f, st.g
            nonfinite = st.nonfinite and not st.line_search_ok
            if st.stalled:
                break
        self.n_iter += 1
        if not math.isfinite(f) or nonfinite and f >= f0:
            self.forget()
            set_flat_params(params, x0)
            self.memory.reset()
            return f0, math.nan
        if f < f0:
            self.memory.push(x - x0, g - g0)
        else:  # no progress anywhere: restart the memories once, fail the second time
            if len(self.memory) == 0 and nonempty == 0:
                self.failed = True
            self.memory.reset()
            for m in self.local_memories.values():
                m.reset()
            x, f, g = x0, f0, g0
        set_flat_params(params, x)
        if float(g.abs().max()) <= o["tolerance_grad"]:
            self.converged = True
        self._x, self._f, self._g = x.clone(), f, g.clone()
        return f0, f

    # persistence (independent of the number of ranks) -------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The whole method state, all subdomains' memories gathered from their ranks (collective)."""
        mine = {s: m.state_dict() for s, m in self.local_memories.items()}
        if self.world > 1:
            gathered: list[Any] = [None] * self.world
            with self.ev.health.guard("the gather of the subdomain memories for a checkpoint"):
                torch.distributed.all_gather_object(gathered, mine, group=self.ev.group)
            for part in gathered:
                mine.update(part)
        return {
            "memory": self.memory.state_dict(),
            "local_memories": [mine[s] for s in range(len(self.dec))],
            "x": self._x,
            "f": self._f,
            "g": self._g,
            "n_iter": self.n_iter,
            "converged": self.converged,
            "failed": self.failed,
            "ranks": self.world,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load a state written with any number of ranks: this rank takes its own subdomains' memories."""
        local = list(state["local_memories"])
        if len(local) != len(self.dec):
            raise ValueError(f"the checkpoint has {len(local)} subdomains, this run {len(self.dec)}")
        self.memory.load_state_dict(state["memory"])
        for s, m in self.local_memories.items():
            m.load_state_dict(local[s])
        dev = self.ev.params[0].device
        self._x = None if state["x"] is None else state["x"].to(device=dev, dtype=torch.float64)
        self._g = None if state["g"] is None else state["g"].to(device=dev, dtype=torch.float64)
        self._f = None if state["f"] is None else float(state["f"])
        self.n_iter = int(state["n_iter"])
        self.converged, self.failed = bool(state["converged"]), bool(state["failed"])


@dataclasses.dataclass(frozen=True, kw_only=True)
class DistributedASPQN(Algorithm):
    """Additive Schwarz-preconditioned quasi-Newton across ``torch.distributed`` ranks (Kopaničáková,
    Kothari, Karniadakis & Krause, SISC 2024), the parameter decomposition of
    :func:`~remodel_core.optim.decompose_layers` shared out over the ranks (see :class:`SchwarzRanks`).

    Launch the same script on every rank (``torchrun``, ``remodel train --nproc N CONFIG``); without a
    process group it runs in one process. With ``shards=1`` (one process) the iterates are those of
    :class:`~remodel_core.optim.ASPQN` (one level, ``coarse=False``); other ``shards`` change only the
    rounding of the data-parallel sums. Loss values must be a mean over the data rows plus terms that do
    not depend on them (as for ``data_parallel=True``). Collectives run on a group of their own; a rank
    that dies or stalls makes the others raise :class:`~remodel_core.distributed.RankLostError` naming it
    and its iteration within ``timeout`` seconds (the collectives get
    :func:`~remodel_core.distributed.collective_timeout`, the rest is the heartbeat diagnosis). Checkpoints hold every
    subdomain's memory and resume on any number of ranks.

    Parameters
    ----------
    subdomains : int
        Layer-wise parameter subdomains (at least the number of ranks for all ranks to work).
    overlap : int
        Layers shared by neighbouring subdomains (corrections averaged there).
    decomposition : {"parameters", "layers"}
        Balance of the layer-wise split.
    local_iters, local_history, history_size, global_iters, hessian
        As in :class:`~remodel_core.optim.SPQNOptimizer`.
    lr, c1, c2, max_ls, tolerance_grad, curvature_eps
        As in :class:`~remodel_core.optim.RobustLBFGS`.
    shards : int, optional
        Chunks of the rows in the data-parallel evaluations (default: the number of ranks). The arithmetic
        depends on ``shards`` only: runs with the same ``shards`` on one process or on ``shards`` ranks
        give bitwise the same iterates (and a checkpoint resumes bitwise on another rank count).
    timeout : float
        Seconds within which a lost rank is named (default 60).

    Examples
    --------
    >>> import torch
    >>> from remodel_core import TrainingProblem, solve
    >>> torch.manual_seed(0) and None
    >>> net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    >>> x = torch.linspace(-1, 1, 32, dtype=torch.float64).unsqueeze(1)
    >>> prob = TrainingProblem(model=net, loss=lambda m, x: ((m(x) - x.sin()) ** 2).mean(), data=(x,))
    >>> sol = solve(prob, DistributedASPQN(subdomains=2), maxiters=15)
    >>> sol.history["loss"][-1] < 1e-4, sol.stats["ranks"]
    (True, 1)
    """

    subdomains: int = 2
    overlap: int = 0
    decomposition: str = "parameters"
    local_iters: int = 3
    local_history: int = 10
    history_size: int = 50
    global_iters: int = 1
    lr: float = 1.0
    c1: float = 1e-4
    c2: float = 0.9
    max_ls: int = 25
    tolerance_grad: float = 1e-9
    curvature_eps: float = 1e-10
    hessian: str = "lbfgs"
    shards: int | None = None
    timeout: float = DEFAULT_TIMEOUT_S

    problem_types = (TrainingProblem,)
    supported_options = TRAIN_OPTIONS

    def validate(self) -> None:
        from ..optim._robust_lbfgs import check_line_search_options
        from ..optim._ssbroyden import check_hessian

        if isinstance(self.subdomains, bool) or not isinstance(self.subdomains, int):
            raise TypeError(f"subdomains must be an integer, got {self.subdomains!r}")
        if self.subdomains < 1:
            raise ValueError(f"subdomains must be >= 1, got {self.subdomains}")
        check_positive("overlap", self.overlap, integer=True, allow_zero=True)
        if self.decomposition not in BALANCES:
            raise ValueError(f"decomposition must be one of {BALANCES}, got {self.decomposition!r}")
        check_positive("local_iters", self.local_iters, integer=True)
        check_positive("local_history", self.local_history, integer=True)
        check_positive("history_size", self.history_size, integer=True)
        check_positive("global_iters", self.global_iters, integer=True, allow_zero=True)
        check_positive("lr", self.lr)
        check_line_search_options(self.c1, self.c2, self.max_ls)
        check_positive("tolerance_grad", self.tolerance_grad, allow_zero=True)
        check_positive("curvature_eps", self.curvature_eps, allow_zero=True)
        check_hessian(self.hessian)
        if self.shards is not None:
            check_positive("shards", self.shards, integer=True)
        check_timeout(self.timeout)

    def _solve(self, problem: Problem, ctx: SolveContext) -> Solution:
        assert isinstance(problem, TrainingProblem)
        if problem.batch_size is not None:
            raise ValueError(
                "DistributedASPQN is a full-batch method: batch_size must be None "
                f"(got {problem.batch_size}); use Adam with data_parallel=True for minibatches"
            )
        world, rank, group = 1, 0, None
        if is_distributed():
            dist = torch.distributed
            world, rank = dist.get_world_size(), dist.get_rank()
            if world > 1:
                import datetime

                group = dist.new_group(timeout=datetime.timedelta(seconds=self.timeout))
                set_collective_timeout(self.timeout, group)
        health = Heartbeat(rank, world, timeout=self.timeout)
        try:
            return self._run(problem, ctx, world, rank, group, health)
        finally:
            health.close()
            if group is not None:
                torch.distributed.destroy_process_group(group)

    def _run(
        self, problem: TrainingProblem, ctx: SolveContext, world: int, rank: int, group: Any, health: Heartbeat
    ) -> Solution:
        opts = ctx.options
        model = copy.deepcopy(problem.model).to(device=opts.device)
        if opts.dtype is not None:
            model = model.to(dtype=opts.dtype)
        data: tuple[torch.Tensor, ...] = ()
        if problem.data is not None:
            data = tuple(
                t.to(device=opts.device, dtype=opts.dtype if (opts.dtype and t.is_floating_point()) else t.dtype)
                for t in problem.data
            )
        params = [p for p in model.parameters() if p.requires_grad]
        dec = decompose_layers(model, self.subdomains, overlap=self.overlap, balance=self.decomposition)
        ev = _Evaluator(model, params, problem.loss, data, world, rank, group, health, self.shards or world)
        method = SchwarzRanks(ev, dec, self.options())
        ctx.stats.update(ranks=world, subdomains=len(dec), local_evals=0, shared_evals=0)
        iteration = 0
        base_local = base_shared = 0  # evaluations of the run a resume continues (rank 0's counts)
        if opts.resume and opts.checkpoint is not None and opts.checkpoint.exists():
            state = load_checkpoint(opts.checkpoint, map_location=opts.device)
            try:
                model.load_state_dict(state["model"])
                method.load_state_dict(state["optimizer"])
            except (RuntimeError, ValueError, KeyError) as err:
                raise ValueError(
                    f"checkpoint {str(opts.checkpoint)!r} does not match this problem/algorithm: {err}"
                ) from err
            iteration = int(state["iteration"])
            ctx.restore_history(state["history"])
            ctx.stats.update({k: v for k, v in state["stats"].items() if k != "ranks"})
            base_local = int(state["stats"].get("local_evals", 0))
            base_shared = int(state["stats"].get("shared_evals", 0))
            ctx.restore_clock(state["stats"]["wall_s"])
        if world > 1:  # every rank starts from rank 0's parameters
            with health.guard("the broadcast of the initial parameters"), torch.no_grad():
                for t in model.state_dict().values():
                    torch.distributed.broadcast(t, src=0, group=group)
        maxiters = opts.maxiters
        if maxiters is None and opts.maxtime is None and opts.abstol is None:
            maxiters = 1000
            ctx.options = dataclasses.replace(opts, maxiters=maxiters)

        def checkpoint() -> None:
            if opts.checkpoint is None:
                return
            with ctx.excluded_time():
                state = method.state_dict()  # collective: every rank takes part
                if rank == 0:
                    ctx.stats["wall_s"] = ctx.elapsed()
                    save_checkpoint(
                        opts.checkpoint,
                        {
                            "iteration": iteration,
                            "model": model.state_dict(),
                            "optimizer": state,
                            "history": ctx.history,
                            "stats": dict(ctx.stats),
                        },
                    )

        retcode: ReturnCode | None = None
        if iteration and maxiters is not None and iteration >= maxiters:
            retcode = ReturnCode.MaxIters
        with ProgressBar(problem.name, maxiters, enabled=want_progress(opts.progress) and rank == 0) as bar:
            while retcode is None:
                health.iteration = iteration + 1  # the iteration in progress, as reported by the heartbeat
                # the history holds the loss where each step started (torch's closure contract, as ``train``)
                loss, end = method.step()
                iteration += 1
                ctx.stats.update(
                    iterations=iteration,
                    local_evals=base_local + ev.local_evals,
                    shared_evals=base_shared + ev.shared_evals,
                    evals=base_local + base_shared + ev.local_evals + ev.shared_evals,
                )
                row: dict[str, float] = {
                    "iteration": iteration,
                    "loss": loss,
                    "time": ctx.elapsed(),
                    "evals": ctx.stats["evals"],
                }
                if problem.metrics and iteration % opts.monitor_every == 0:
                    with ctx.excluded_time():
                        for name, metric in problem.metrics.items():
                            row[name] = float(metric(model))
                ctx.log(**row)
                bar.advance(status=f"loss={loss:.3e}")
                if not (math.isfinite(loss) and math.isfinite(end)):
                    retcode = ReturnCode.Diverged  # the model is left at the last point with a finite loss
                elif method.failed:
                    retcode = ReturnCode.Failure
                elif method.converged:
                    retcode = ReturnCode.Success
                else:
                    retcode = ctx.stop_reason(iteration=iteration, loss=loss, state=model)
                if world > 1:  # clocks and callbacks differ between ranks: the largest stop code wins
                    code = torch.tensor([_STOP_CODES.index(retcode)], dtype=torch.int64, device=x_device(params))
                    with health.guard("the agreement on stopping"):
                        torch.distributed.all_reduce(code, op=torch.distributed.ReduceOp.MAX, group=group)
                    retcode = _STOP_CODES[int(code.item())]
                if retcode is not None or iteration % opts.checkpoint_every == 0:
                    checkpoint()
        ctx.stats["wall_s"] = ctx.elapsed()
        assert retcode is not None
        return Solution(u=model, retcode=retcode, stats=dict(ctx.stats), history=ctx.history)


def x_device(params: list[torch.Tensor]) -> torch.device:
    """The device of the parameters (where the collectives' buffers live: CUDA with nccl)."""
    return params[0].device
