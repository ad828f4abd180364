"""``Auto``: a quasi-Newton method chosen for the user from the size of the network, the memory and the
measured cost of one evaluation, which starts as torch's L-BFGS and keeps the structured method only when it
measurably does better."""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from .._algorithm import check_positive
from .._context import SolveContext
from .._problem import Problem
from .._solution import Solution
from .._training import OptimizerAlgorithm, TrainingProblem, placed, train
from ._block import decompose
from ._gauss_newton import (
    GaussNewtonOptimizer,
    ResidualBlock,
    counted_blocks,
    offers_routes,
    residuals_per_row,
    taylor_blocks,
)
from ._kfac import KFACOptimizer
from ._kfac_lbfgs import KFACLBFGSOptimizer
from ._lbfgs import flat_grad, flat_params
from ._schwarz import SPQNOptimizer

__all__ = ["Auto", "AutoOptimizer", "dense_block_size", "gemm_rate", "matvec_rate", "memory_budget_mb"]

#: floating-point operations of one dense quasi-Newton iteration per stored matrix entry, counted at the
#: matrix-vector rate: one product ``H g`` (2 flops per entry; :class:`~remodel_core.optim.DenseInverseHessian`
#: forms ``Hy`` from
#: it) and the flush of 8 pending rank-2 corrections every 8 iterations (measured 2.3 products at 7.9k, 0.3 per
#: iteration)
FLOPS_PER_ENTRY = 2.6
#: size of the matrix whose matrix-vector rate is measured: larger than the caches of a CPU core, as the
#: dense inverse Hessians Auto weighs are (the rate of a 2,048 matrix was 1.8x that of a 6,000 one here)
RATE_SIZE = 4096
#: trials of the structured method (the first after the warm-up, the others each at twice the CPU time of the
#: previous one)
MAX_TRIALS = 3
#: the steps :class:`Auto` takes with the KFAC curvature: L-BFGS with KFAC as its initial matrix, or KFAC's own
KFAC_STEPS = ("lbfgs", "gauss-newton")


def matvec_rate(n: int = 2048, repeats: int = 5) -> float:
    """Measured float64 ``matrix @ vector`` rate of this process (flop per CPU second).

    Parameters
    ----------
    n : int
        Size of the square matrix.
    repeats : int
        Products timed (after one untimed warm-up product).

    Returns
    -------
    float
        Flop per CPU second.

    Examples
    --------
    >>> matvec_rate(256, 2) > 1e6
    True
    """
    v = torch.rand(n, dtype=torch.float64)
    return _rate(lambda A: A @ v, 2.0 * n * n, n, repeats)


def gemm_rate(n: int = 768, repeats: int = 3) -> float:
    """Measured float64 ``matrix @ matrix`` rate of this process (flop per CPU second).

    Parameters
    ----------
    n : int
        Size of the square matrices.
    repeats : int
        Products timed (after one untimed warm-up product).

    Returns
    -------
    float
        Flop per CPU second.

    Examples
    --------
    >>> gemm_rate(128, 2) > 1e6
    True
    """
    return _rate(lambda A: A @ A, 2.0 * n**3, n, repeats)


def _rate(product: Callable[[torch.Tensor], Any], flops: float, n: int, repeats: int) -> float:
    """Flop per CPU second of ``product`` on a random ``n x n`` float64 matrix (after one untimed call), from the
    fastest of ``repeats`` calls: on a loaded machine the mean swings by half (other processes share the memory
    bandwidth), the fastest call much less."""
    A = torch.rand(n, n, dtype=torch.float64)
    product(A)
    best = math.inf
    for _ in range(repeats):
        t = time.process_time()
        product(A)
        best = min(best, time.process_time() - t)
    return flops / max(best, 1e-9)


def memory_budget_mb() -> float:
    """The default memory budget of :class:`Auto`'s curvature: an eighth of the machine's physical memory (MB),
    or 1024 where the operating system does not tell it. On the 24 GB machine of ``tools/bench/pinn_suite.py``
    this is 3 GB: one dense matrix up to about 19k parameters.

    Examples
    --------
    >>> memory_budget_mb() > 0
    True
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 1024.0
    return total / 8.0 / 1e6 if total > 0 else 1024.0


def dense_block_size(n: int, eval_s: float, rate: float, *, memory_mb: float = 1024.0, dense_cost: float = 1.0) -> int:
    """The largest block size ``m`` for dense curvature on ``n`` parameters (``n / m`` blocks of ``m``).

    Dense blocks of size ``m`` hold ``n m`` float64 numbers and cost about ``2.6 n m`` flops per iteration
    (:data:`FLOPS_PER_ENTRY`). ``m`` is the largest size with ``8 n m`` bytes within ``memory_mb`` and
    ``2.6 n m / rate`` seconds within
    ``dense_cost`` evaluations (``eval_s`` seconds each), at most ``n`` (one dense matrix).

    Parameters
    ----------
    n : int
        Parameters.
    eval_s : float
        Seconds of one loss-and-gradient evaluation.
    rate : float
        Flop per second of a dense matrix-vector product (:func:`matvec_rate`).
    memory_mb : float
        Memory budget of the curvature (MB).
    dense_cost : float
        Largest curvature work per iteration, in evaluations.

    Examples
    --------
    One dense matrix for a small network whose evaluation is expensive; blocks for a large one:

    >>> dense_block_size(3441, eval_s=0.1, rate=8e9)
    3441
    >>> dense_block_size(40_000, eval_s=0.5, rate=3e9)
    3200
    """
    by_memory = memory_mb * 1e6 / (8.0 * n)
    by_time = dense_cost * eval_s * rate / (FLOPS_PER_ENTRY * n)
    return int(max(0, min(n, by_memory, by_time)))


def check_kfac_step(kfac_step: Any) -> None:
    """``kfac_step`` of :class:`Auto` is ``"lbfgs"`` or ``"gauss-newton"``."""
    if kfac_step not in KFAC_STEPS:
        raise ValueError(f"kfac_step must be one of {KFAC_STEPS}, got {kfac_step!r}")


#: the structured optimizers that evaluate the residuals themselves
SECOND_ORDER = (GaussNewtonOptimizer, KFACOptimizer, KFACLBFGSOptimizer)


class AutoOptimizer(torch.optim.Optimizer):
    """The optimizer of :class:`Auto`: torch's L-BFGS, then decomposed dense curvature where it pays.

    The rule, applied once, from measurements of this run:

    1. *Warm-up*: ``torch.optim.LBFGS`` (history 50, strong Wolfe, 20 iterations per step), the iterates of
       the baseline users have, until its memory is full (50 curvature pairs: the seed of the dense
       matrices) or the loss has fallen ``1 / warmup_decrease``-fold (default 100-fold), and ``warmup_s``
       CPU seconds (default 0) have passed; or until ``warmup_max_s`` CPU seconds have passed. The first
       steps of a large-residual start, where a self-scaled or Gauss–Newton step fails, are left to L-BFGS.
    2. *Choice* (:func:`dense_block_size`): from the parameter count ``n``, the median CPU time of one evaluation
       measured during the warm-up, the measured matrix-vector rate and the memory budget, the largest dense block
       ``m``. **One dense matrix first**: ``m = n`` gives one dense self-scaled Broyden matrix (``"dense"``; SSBroyden,
       Urbán et al. 2025), which reached 76x below L-BFGS's error on the 3.4k Burgers ResNet; when ``kfac_blocks`` are
       given the matrix starts from the damped KFAC inverse (the Kronecker-factored Gauss–Newton blocks of the layers,
       scaled to the last warm-up pair), not from a multiple of the identity, so that its secant updates only have to
       add the coupling across layers: on the Burgers ResNet the dense phase then reached L-BFGS's 300-s error after 36
       s instead of 111 s (a 150-s probe; in the merged 300-s suite 46 s, 6.4x sooner and 129x lower than L-BFGS).
       Otherwise **KFAC's curvature** when ``kfac_blocks`` are given (:class:`Auto` gives them for the PINN loss of a
       MLP or ResNetMLP with tanh, sin, softplus, SiLU or GELU activations, whose Taylor-mode channels KFAC reads;
       Dangel, Müller & Zeinhofer 2024): with
       ``kfac_step="lbfgs"`` (default) L-BFGS whose initial matrix is the damped KFAC inverse
       (:class:`~remodel_core.optim.KFACLBFGSOptimizer`, ``"kfac-lbfgs"``), its memory started from the warm-up's pairs;
       with ``"gauss-newton"`` KFAC's own steps (:class:`~remodel_core.optim.KFACOptimizer`, ``"kfac"``). Memory ``sum
       (in + 1)^2 + out^2`` for the factors. Otherwise **Gauss–Newton**: when the loss is a sum of squares
       (``residual_blocks`` given, as :class:`Auto` does for the loss of
       :meth:`~remodel_core.pde.PINNProblem.discretize`), its Jacobian (``N`` residuals by ``n`` parameters) and the
       smaller Gram matrix fit ``memory_mb`` and one step's Gram-and-Cholesky flops at the measured :func:`gemm_rate`
       take at most ``gauss_newton_max_s`` CPU seconds, Levenberg–Marquardt steps
       (:class:`~remodel_core.optim.GaussNewtonOptimizer`, ``"gauss-newton"``). Otherwise, with ``blocks=True`` and
       ``min_block <= m``, the additive Schwarz method with one dense SSBroyden matrix per subdomain, subdomains sized
       to ``max_dense = m`` (``"block"``, :class:`~remodel_core.optim.SPQNOptimizer` with ``local_hessian="ssbroyden",
       global_hessian="block"``, memory ``n m``); else L-BFGS to the end (``"lbfgs"``). The dense memory starts from the
       L-BFGS pairs of the warm-up.
    3. *Trial*: the structured method runs for as much CPU time as the last quarter of the warm-up and at least
       ``trial_steps`` steps; it is kept only if it lowered ``log(loss)`` per CPU second at least as fast as
       L-BFGS did in that last quarter of its warm-up, otherwise
       L-BFGS resumes with its memory (``choice`` then ends in ``"->lbfgs"``). A structured step that fails
       or diverges later also hands back to L-BFGS. A Gauss–Newton trial needs 3 steps (not ``trial_steps``).
       A trial that loses is tried again, up to 3 trials in all, each when the CPU time has doubled since the
       previous switch: L-BFGS slows down as the residual shrinks, and a structured step from a large residual
       (a Gauss–Newton step, or a dense matrix still far from the curvature) can lose where it wins later.

    Parameters
    ----------
    params : iterable of tensors
        The model's parameters (one group).
    model : torch.nn.Module
        The model (its layers define the subdomains).
    memory_mb, dense_cost, min_block, warmup_decrease, warmup_s, warmup_max_s, local_iters, trial_steps
        See :class:`Auto`.
    gauss_newton_max_s, blocks
        See :class:`Auto`.
    residual_blocks : callable, optional
        ``residual_blocks() -> [(fn, rows), ...]`` of a sum-of-squares loss
        (:data:`~remodel_core.optim.ResidualBlock`); enables the Gauss–Newton choice.
    kfac_blocks : callable, optional
        The same blocks on the Taylor-mode derivative route; enables the KFAC choice.

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    >>> x = torch.linspace(-1, 1, 32, dtype=torch.float64).unsqueeze(1)
    >>> opt = AutoOptimizer(net.parameters(), net, warmup_s=0.0, warmup_max_s=0.0)
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = ((net(x) - x.sin()) ** 2).mean()
    ...     loss.backward()
    ...     return loss
    >>> losses = [float(opt.step(closure)) for _ in range(10)]
    >>> losses[-1] < 1e-3 * losses[0], opt.plan["n"]
    (True, 25)
    """

    def __init__(
        self,
        params: Any,
        model: nn.Module,
        *,
        memory_mb: float | None = None,
        dense_cost: float = 1.0,
        min_block: int = 256,
        warmup_decrease: float = 1e-2,
        warmup_s: float = 0.0,
        warmup_max_s: float = 30.0,
        local_iters: int = 0,
        trial_steps: int = 10,
        gauss_newton_max_s: float = 10.0,
        blocks: bool = False,
        residual_blocks: Callable[[], Sequence[ResidualBlock]] | None = None,
        kfac_blocks: Callable[[], Sequence[ResidualBlock]] | None = None,
        kfac_step: str = "lbfgs",
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if memory_mb is None:
            memory_mb = memory_budget_mb()
        check_positive("memory_mb", memory_mb)
        check_positive("dense_cost", dense_cost)
        check_positive("min_block", min_block, integer=True)
        check_positive("warmup_decrease", warmup_decrease)
        if not warmup_decrease < 1:
            raise ValueError(f"warmup_decrease must be < 1, got {warmup_decrease!r}")
        check_positive("warmup_s", warmup_s, allow_zero=True)
        check_positive("warmup_max_s", warmup_max_s, allow_zero=True)
        check_positive("local_iters", local_iters, integer=True, allow_zero=True)
        check_positive("trial_steps", trial_steps, integer=True)
        check_positive("gauss_newton_max_s", gauss_newton_max_s, allow_zero=True)
        if not isinstance(blocks, bool):
            raise TypeError(f"blocks must be a bool, got {blocks!r}")
        check_kfac_step(kfac_step)
        defaults = dict(
            kfac_step=kfac_step,
            blocks=blocks,
            gauss_newton_max_s=gauss_newton_max_s,
            memory_mb=memory_mb,
            dense_cost=dense_cost,
            min_block=min_block,
            warmup_decrease=warmup_decrease,
            warmup_s=warmup_s,
            warmup_max_s=warmup_max_s,
            local_iters=local_iters,
            trial_steps=trial_steps,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("AutoOptimizer supports a single parameter group")
        self._params: list[torch.Tensor] = list(self.param_groups[0]["params"])
        self.model = model
        self.residual_blocks = residual_blocks
        self.kfac_blocks = kfac_blocks
        self.lbfgs = torch.optim.LBFGS(self._params, history_size=50, line_search_fn="strong_wolfe")
        self.structured: SPQNOptimizer | GaussNewtonOptimizer | KFACOptimizer | KFACLBFGSOptimizer | None = None
        self.phase = "warmup"  # -> "trial" -> "structured" | "lbfgs"
        self.choice = "lbfgs"
        self.plan: dict[str, Any] = {"n": sum(p.numel() for p in self._params)}
        self.eval_times: list[float] = []
        self.trace: list[tuple[float, float]] = []  # (CPU seconds, loss) after each step
        self.cpu = 0.0
        self.f0: float | None = None
        self._switch: tuple[float, float, int] | None = None  # (cpu, loss, trace index) at the switch
        self._x_switch: torch.Tensor | None = None
        self._g_switch: torch.Tensor | None = None
        self.converged = False
        self.failed = False
        self.reuse_evaluation = False

    # measurement ----------------------------------------------------------------------------------------
    def _timed(self, closure: Callable[[], Any]) -> Callable[[], Any]:
        def timed() -> Any:
            t = time.process_time()
            out = closure()
            self.eval_times.append(time.process_time() - t)
            return out

        return timed

    def _decide(self) -> None:
        group = self.param_groups[0]
        n = self.plan["n"]
        eval_s = statistics.median(self.eval_times) if self.eval_times else 0.0
        rate = matvec_rate(RATE_SIZE)
        m = dense_block_size(n, eval_s, rate, memory_mb=group["memory_mb"], dense_cost=group["dense_cost"])
        kind = "dense" if m >= n else "block" if group["blocks"] and m >= group["min_block"] else "lbfgs"
        self.plan.update(eval_s=eval_s, matvec_rate=rate, max_dense=m, kind=kind)
        if self.kfac_blocks is not None and kind != "dense":  # Kronecker-factored curvature of the layers
            if group["kfac_step"] == "lbfgs":  # L-BFGS from the warm-up's pairs, KFAC as its initial matrix
                self.plan["kind"] = self.choice = "kfac-lbfgs"
                self.structured = KFACLBFGSOptimizer(self._params, self.model, self.kfac_blocks)
                self.structured.seed_pairs(self._warmup_pairs())
            else:
                self.plan["kind"] = self.choice = "kfac"
                self.structured = KFACOptimizer(self._params, self.model, self.kfac_blocks)
            self.phase = "trial"
            return
        if self.residual_blocks is not None and kind != "dense":  # one cheap dense matrix comes first
            rows = sum(int(z.shape[0]) * residuals_per_row(fn, z, self.model) for fn, z in self.residual_blocks())
            small, large = min(rows, n), max(rows, n)
            gemm = gemm_rate()
            step_s = (small * small * large * 9.0 / 16.0 + small**3 / 3.0) / gemm  # gram() and Cholesky flops
            memory = 8.0 * (rows * n + small * small) / 1e6  # J and the Gram matrix
            self.plan.update(residuals=rows, gauss_newton_mb=memory, gemm_rate=gemm, gauss_newton_step_s=step_s)
            if memory <= group["memory_mb"] and step_s <= group["gauss_newton_max_s"]:
                self.plan["kind"] = self.choice = "gauss-newton"
                self.structured = GaussNewtonOptimizer(self._params, self.model, self.residual_blocks)
                self.phase = "trial"
                return
        dec = None
        if kind != "lbfgs":
            try:
                dec = decompose(self.model, by="layers", max_dense=min(m, n))
            except ValueError as err:  # blocks of m cannot be cut from this network (too narrow for m)
                self.plan.update(kind="lbfgs", no_blocks=str(err))
                kind = "lbfgs"
        self.choice = kind
        if dec is None:
            self.phase = "lbfgs"
            return
        self.plan["subdomains"] = len(dec)
        self.plan["largest"] = max(int(i.numel()) for i in dec.indices)
        opt = SPQNOptimizer(
            self._params,
            dec,
            method="additive",
            local_iters=group["local_iters"],
            global_iters=1,
            local_hessian="ssbroyden",
            global_hessian="block",
            trial_step="quadratic",  # the dense matrix's directions are about twice too long (docs/BENCHMARKS.md)
        )
        pairs = self._warmup_pairs()  # start from the warm-up's curvature
        if self.kfac_blocks is not None and pairs:
            self._seed_from_kfac(opt, dec, pairs[-1])
        for s, y in pairs:
            opt.memory.push(s, y)
        self.structured = opt
        self.phase = "trial"

    def _warmup_pairs(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The curvature pairs ``(s, y)`` of the warm-up's torch L-BFGS, oldest first."""
        state = self.lbfgs.state[self._params[0]]
        return list(zip(state.get("old_stps", []), state.get("old_dirs", [])))

    def _seed_from_kfac(self, opt: SPQNOptimizer, dec: Any, pair: tuple[torch.Tensor, torch.Tensor]) -> None:
        """The dense matrix starts from the damped KFAC inverse ``K`` at the switch point
        (:meth:`~remodel_core.optim.KFACOptimizer.dense_inverse`), scaled by ``c = s'y / y'Ky`` of the last
        warm-up pair (the scaling of Nocedal & Wright's eq. 6.20 with ``K`` in place of the identity)."""
        assert self.kfac_blocks is not None
        Ks = KFACOptimizer(self._params, self.model, self.kfac_blocks).dense_inverse(index=list(dec.indices))
        s, y = (t.reshape(-1).to(torch.float64) for t in pair)
        yKy = sum(float(y[idx] @ (K @ y[idx])) for K, idx in zip(Ks, dec.indices))
        if not (yKy > 0 and float(s @ y) > 0):
            return
        for block, K in zip(opt.memory.blocks, Ks):
            block.H = K.mul_(float(s @ y) / yKy)
        self.plan["dense_start"] = "kfac"

    def _trial_steps(self) -> int:
        """Fewest structured steps of the trial: ``trial_steps``, or 3 Gauss–Newton steps (each costs many
        evaluations)."""
        if isinstance(self.structured, GaussNewtonOptimizer):
            return min(3, self.param_groups[0]["trial_steps"])
        return self.param_groups[0]["trial_steps"]

    def _lbfgs_rate(self) -> float:
        """log-decrease of the loss per CPU second over the last quarter of the warm-up (at least its last
        step): the most recent, so the least favourable to the structured method, L-BFGS rate."""
        assert self._switch is not None
        t1, f1, k = self._switch
        start = min(next((i for i, (t, _) in enumerate(self.trace[: k + 1]) if t >= 0.75 * t1), k), k - 1)
        if start < 0:
            return 0.0
        t0, f0 = self.trace[start]
        return (math.log(max(f0, 1e-300)) - math.log(f1)) / max(t1 - t0, 1e-9)

    def _back_to_lbfgs(self, why: str) -> None:
        """Resume torch's L-BFGS; its next pair spans the structured phase (``s = x - x_switch``)."""
        state = self.lbfgs.state[self._params[0]]
        if self._x_switch is not None and "prev_flat_grad" in state and self.structured is not None:
            x = flat_params(self._params)
            if self._g_switch is not None:
                state["d"] = (x - self._x_switch).to(state["prev_flat_grad"].dtype)
                state["t"] = 1.0
                state["prev_flat_grad"] = self._g_switch.to(state["prev_flat_grad"].dtype).clone()
        self.structured = None
        self.phase = "lbfgs"
        self.choice = f"{self.choice}->lbfgs"
        self.plan["reverted"] = why

    # the step ---------------------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        """One step of the current phase; returns the loss at its start (torch's closure contract)."""
        if closure is None:
            raise ValueError("AutoOptimizer.step needs a closure that re-evaluates the loss")
        group = self.param_groups[0]
        t = time.process_time()
        if self.structured is None:
            out = self.lbfgs.step(self._timed(closure))
            out = out.detach() if isinstance(out, torch.Tensor) else torch.tensor(float(out))
            if self.f0 is None:
                self.f0 = float(out)
        elif isinstance(self.structured, SECOND_ORDER):
            if self._x_switch is None:
                self._x_switch = flat_params(self._params)
                self._g_switch = self.lbfgs.state[self._params[0]].get("prev_flat_grad")
            out = self.structured.step(closure)
        else:
            if self._g_switch is None:
                # first structured step: evaluate at the switch point (the step reuses it), keep its gradient
                # for the secant pair of a later return to L-BFGS
                with torch.enable_grad():
                    f = float(closure().detach())
                self._x_switch, self._g_switch = flat_params(self._params), flat_grad(self._params)
                self.structured._x, self.structured._f = self._x_switch.clone(), f
                self.structured._g = self._g_switch.clone()
                self.structured.reuse_evaluation = True
            else:
                self.structured.reuse_evaluation = self.reuse_evaluation
            out = self.structured.step(closure)
        self.cpu += time.process_time() - t
        f_start = float(out)
        self.trace.append((self.cpu, f_start))
        if not math.isfinite(f_start):
            if self.structured is not None:
                self._back_to_lbfgs("non-finite loss")
            return torch.as_tensor(out)
        if self.phase == "warmup":
            assert self.f0 is not None
            fell = f_start <= group["warmup_decrease"] * self.f0
            pairs = len(self.lbfgs.state[self._params[0]].get("old_dirs", []))
            formed = fell or pairs >= self.lbfgs.param_groups[0]["history_size"]
            if (formed and self.cpu >= group["warmup_s"]) or self.cpu >= group["warmup_max_s"]:
                self._switch = (self.cpu, max(f_start, 1e-300), len(self.trace) - 1)
                self._decide()
        elif self.phase == "trial":
            assert self._switch is not None
            t1, f1, _ = self._switch
            if self.structured is not None and self.structured.failed:
                self._back_to_lbfgs("the structured step failed")
            elif self.cpu - t1 >= t1 / 4.0 and len(self.trace) - 1 - self._switch[2] >= self._trial_steps():
                r_structured = (math.log(f1) - math.log(max(f_start, 1e-300))) / (self.cpu - t1)
                r_lbfgs = self._lbfgs_rate()
                self.plan.update(rate_lbfgs=r_lbfgs, rate_structured=r_structured)
                if r_structured >= r_lbfgs:
                    self.phase = "structured"
                else:
                    self._back_to_lbfgs("slower than L-BFGS in the trial")
                    tries = self.plan.get("trials", 0) + 1
                    self.plan["trials"] = tries
                    if tries < MAX_TRIALS:  # L-BFGS slows down as it goes: try again later
                        self.plan["retry_at"] = 2.0 * t1
        elif self.phase == "lbfgs" and self.cpu >= self.plan.get("retry_at", math.inf):
            del self.plan["retry_at"]
            self.plan.pop("reverted", None)  # this trial's verdict replaces the last one's
            self._switch = (self.cpu, max(f_start, 1e-300), len(self.trace) - 1)
            self._x_switch = self._g_switch = None
            self.choice = "lbfgs"
            self._decide()
        elif self.phase == "structured" and self.structured is not None and self.structured.failed:
            self._back_to_lbfgs("the structured step failed")
        if self.structured is not None:
            self.converged = self.structured.converged
        return torch.as_tensor(out)

    # persistence ------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        return {
            "phase": self.phase,
            "choice": self.choice,
            "plan": dict(self.plan),
            "cpu": self.cpu,
            "f0": self.f0,
            "trace": list(self.trace),
            "eval_times": list(self.eval_times),
            "switch": self._switch,
            "x_switch": self._x_switch,
            "g_switch": self._g_switch,
            "lbfgs": self.lbfgs.state_dict(),
            "structured": None if self.structured is None else self.structured.state_dict(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        try:
            self.lbfgs.load_state_dict(state_dict["lbfgs"])
            self.phase, self.choice = str(state_dict["phase"]), str(state_dict["choice"])
        except (KeyError, TypeError) as err:
            raise ValueError(f"not an AutoOptimizer state: {err}") from err
        self.plan = dict(state_dict["plan"])
        self.cpu, self.f0 = float(state_dict["cpu"]), state_dict["f0"]
        self.trace = [tuple(r) for r in state_dict["trace"]]  # type: ignore[misc]
        self.eval_times = list(state_dict["eval_times"])
        self._switch = None if state_dict["switch"] is None else tuple(state_dict["switch"])  # type: ignore[assignment]
        self._x_switch, self._g_switch = state_dict["x_switch"], state_dict["g_switch"]
        if state_dict["structured"] is not None and self.choice.startswith("kfac-lbfgs"):
            if self.kfac_blocks is None:
                raise ValueError("this AutoOptimizer state uses KFAC-L-BFGS steps: pass kfac_blocks")
            self.structured = KFACLBFGSOptimizer(self._params, self.model, self.kfac_blocks)
            self.structured.load_state_dict(copy.deepcopy(state_dict["structured"]))
        elif state_dict["structured"] is not None and self.choice.startswith("kfac"):
            if self.kfac_blocks is None:
                raise ValueError("this AutoOptimizer state uses KFAC steps: pass kfac_blocks")
            self.structured = KFACOptimizer(self._params, self.model, self.kfac_blocks)
            self.structured.load_state_dict(copy.deepcopy(state_dict["structured"]))
        elif state_dict["structured"] is not None and self.choice.startswith("gauss-newton"):
            if self.residual_blocks is None:
                raise ValueError("this AutoOptimizer state uses Gauss-Newton steps: pass residual_blocks")
            self.structured = GaussNewtonOptimizer(self._params, self.model, self.residual_blocks)
            self.structured.load_state_dict(copy.deepcopy(state_dict["structured"]))
        elif state_dict["structured"] is not None:
            dec = decompose(self.model, by="layers", max_dense=min(int(self.plan["max_dense"]), self.plan["n"]))
            self.structured = SPQNOptimizer(
                self._params, dec, local_hessian="ssbroyden", global_hessian="block", trial_step="quadratic"
            )
            self.structured.load_state_dict(copy.deepcopy(state_dict["structured"]))
        else:
            self.structured = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Auto(OptimizerAlgorithm):
    """The recommended default: picks the quasi-Newton method by a documented rule (see
    :class:`AutoOptimizer`), never tuned on one benchmark, and falls back to torch's L-BFGS when the
    structured method does not measurably help. With a full-batch sum-of-squares loss (a PINN's,
    ``loss.residual_blocks``) Levenberg–Marquardt steps are among the choices.

    What it chose is in ``solution.stats["plan"]`` (``"kind"``, the measured rates, the trials and whether it
    reverted to L-BFGS). The choice and the moment of each switch come from measured CPU times, so two runs
    with the same seed can take different paths and differ beyond rounding; a run that must be bit-identical
    should use the method the plan names directly (checkpoints still resume Auto's own state: its phase,
    trials and curvature).

    Parameters
    ----------
    memory_mb : float, optional
        Memory budget of the dense curvature (MB; default :func:`memory_budget_mb`, an eighth of the machine's
        memory). Measured in ``tools/bench/pinn_suite.py``: with 3 GB the 12.7k-parameter Klein–Gordon and
        Allen–Cahn MLPs fit one dense matrix (1.3 GB; on Allen–Cahn its cost per iteration rules it out). On
        Klein–Gordon that matrix, started from the KFAC inverse, reached L-BFGS's 300-s error after 82 s (3.3x
        sooner, 140x lower in the merged suite) where KFAC (chosen under a 1 GB budget) took 108 s.
    dense_cost : float
        Largest dense-curvature work per iteration, in loss-and-gradient evaluations (default 1: the dense
        matrix may at most double the cost of an iteration; its trial against L-BFGS decides whether it stays).
        Measured in ``tools/bench/pinn_suite.py`` with the one-product update of
        :class:`~remodel_core.optim.DenseInverseHessian`: on the 3.4k Burgers ResNet (about 0.1 of an
        evaluation) and on the 7.9k Poisson MLP (about 0.5) one dense SSBroyden matrix ends far below L-BFGS
        (docs/BENCHMARKS.md). Earlier, with an update that read the matrix four times per iteration (about 2
        evaluations at 7.9k), it lost there.
    min_block : int
        Smallest dense block worth keeping (with ``blocks=True``; default 256).
    warmup_decrease, warmup_s, warmup_max_s : float
        L-BFGS warm-up: until L-BFGS holds 50 pairs or the loss fell by ``warmup_decrease``, and ``warmup_s``
        CPU seconds passed, or
        ``warmup_max_s`` CPU seconds passed.
    local_iters : int
        Local L-BFGS-type iterations per subdomain and step of the Schwarz method (0: global block-dense
        steps only, one evaluation per step plus the line search).
    trial_steps : int
        Fewest structured steps before the trial's verdict (default 10).
    gauss_newton_max_s : float
        Largest estimated CPU seconds of one Gauss–Newton step (Gram matrix and Cholesky factor, from the
        measured matrix-product rate) for which a sum-of-squares loss gets Levenberg–Marquardt steps
        (default 10; 0 disables them). Measured in ``tools/bench/pinn_suite.py`` (300 CPU s, torch's L-BFGS side
        by side): 2.04x lower error than L-BFGS on Klein-Gordon 4x64 (two lost trials, then L-BFGS from the better
        point); level on Allen-Cahn, where no method learns (the 7.9k Poisson row, 1.55x with Gauss-Newton at
        150 s, now takes one dense matrix first: 141x); at
        40k parameters a step took 22-30 s (``tools/bench/gauss_newton_after_lbfgs.py``) and lost to L-BFGS.
    kfac : bool
        Whether KFAC's curvature is used for a PINN loss of an MLP or ResNetMLP with smooth activations
        (:func:`~remodel_core.pde.taylor_supported`): as the start of the
        dense matrix, and as the choice when one dense matrix does not fit (default True; it then comes before
        Gauss–Newton).
    kfac_step : str
        ``"lbfgs"`` (default): L-BFGS with the KFAC inverse as its initial matrix
        (:class:`~remodel_core.optim.KFACLBFGS`); ``"gauss-newton"``: KFAC's own damped steps
        (:class:`~remodel_core.optim.KFAC`). Measured in ``tools/bench/pinn_suite.py`` (300 CPU s, torch's L-BFGS
        side by side; docs/BENCHMARKS.md), ``"lbfgs"`` against ``"gauss-newton"``: 59.7x against 0.75x below
        L-BFGS's error on the 40.8k Burgers MLP, 9.7x against 3.7x on Allen–Cahn 4x64, 264x against 629x on the
        99.6k Poisson MLP (5.75x and 6.89x sooner; KFAC-L-BFGS then with the unit first trial step). With the
        quadratic first trial step of ``KFACLBFGS(trial_step="quadratic")``, now the default: 71.9x lower and 3.63x
        sooner on the Burgers MLP, 308.6x and 6.62x on the Poisson MLP, 7.9x and 9.8x on Allen–Cahn.
    blocks : bool
        Whether the additive Schwarz method with one dense SSBroyden matrix per subdomain is a choice when one
        dense matrix does not fit (default False). Off by default because it lost where the suite tried it:
        on the 40.8k-parameter Burgers MLP its log-decrease per CPU second was 10x below L-BFGS's, and the trial
        left ``Auto`` 1.4x behind L-BFGS at the end (``tools/bench/pinn_suite.py``, docs/BENCHMARKS.md).

    Examples
    --------
    >>> import torch
    >>> from remodel_core import TrainingProblem, solve
    >>> from remodel_core.nn import MLP
    >>> torch.manual_seed(0) and None
    >>> x = torch.linspace(-1, 1, 32).unsqueeze(1)
    >>> prob = TrainingProblem(model=MLP(1, 1, width=8, depth=2), loss=lambda m, x: ((m(x) - x.sin()) ** 2).mean(),
    ...                        data=(x,))
    >>> sol = solve(prob, Auto(warmup_s=0.0), maxiters=20, dtype=torch.float64)
    >>> sol.history["loss"][-1] < 1e-5
    True
    """

    memory_mb: float | None = None
    dense_cost: float = 1.0
    min_block: int = 256
    warmup_decrease: float = 1e-2
    warmup_s: float = 0.0
    warmup_max_s: float = 30.0
    local_iters: int = 0
    trial_steps: int = 10
    gauss_newton_max_s: float = 10.0
    blocks: bool = False
    kfac: bool = True
    kfac_step: str = "lbfgs"

    def validate(self) -> None:
        if self.memory_mb is not None:
            check_positive("memory_mb", self.memory_mb)
        check_positive("dense_cost", self.dense_cost)
        check_positive("min_block", self.min_block, integer=True)
        check_positive("warmup_decrease", self.warmup_decrease)
        if not self.warmup_decrease < 1:
            raise ValueError(f"warmup_decrease must be < 1, got {self.warmup_decrease!r}")
        check_positive("warmup_s", self.warmup_s, allow_zero=True)
        check_positive("warmup_max_s", self.warmup_max_s, allow_zero=True)
        check_positive("local_iters", self.local_iters, integer=True, allow_zero=True)
        check_positive("trial_steps", self.trial_steps, integer=True)
        check_positive("gauss_newton_max_s", self.gauss_newton_max_s, allow_zero=True)
        if not isinstance(self.blocks, bool):
            raise TypeError(f"blocks must be a bool, got {self.blocks!r}")
        if not isinstance(self.kfac, bool):
            raise TypeError(f"kfac must be a bool, got {self.kfac!r}")
        check_kfac_step(self.kfac_step)

    def make_optimizer(
        self,
        model: nn.Module,
        residual_blocks: Callable[[], Sequence[ResidualBlock]] | None = None,
        kfac_blocks: Callable[[], Sequence[ResidualBlock]] | None = None,
    ) -> torch.optim.Optimizer:
        from ..pde._taylor import taylor_supported

        self.validate()
        return AutoOptimizer(
            [p for p in model.parameters() if p.requires_grad],
            model,
            memory_mb=self.memory_mb,
            dense_cost=self.dense_cost,
            min_block=self.min_block,
            warmup_decrease=self.warmup_decrease,
            warmup_s=self.warmup_s,
            warmup_max_s=self.warmup_max_s,
            local_iters=self.local_iters,
            trial_steps=self.trial_steps,
            gauss_newton_max_s=self.gauss_newton_max_s,
            blocks=self.blocks,
            residual_blocks=residual_blocks,
            kfac_blocks=kfac_blocks if self.kfac and taylor_supported(model) else None,
            kfac_step=self.kfac_step,
        )

    def _solve(self, problem: Problem, ctx: SolveContext) -> Solution:
        assert isinstance(problem, TrainingProblem)
        full_batch = problem.batch_size is None or problem.batch_size >= (problem.n_samples or 0)
        if not (full_batch and callable(getattr(problem.loss, "residual_blocks", None))):
            return train(problem, self.make_optimizer, ctx, algorithm=self)
        data = placed(problem.data or (), ctx.options)
        blocks = counted_blocks(lambda: problem.loss.residual_blocks(*data), ctx.stats, each_pass=False)
        loss_blocks = problem.loss.residual_blocks  # type: ignore[union-attr]
        kfac = (
            counted_blocks(lambda: taylor_blocks(loss_blocks, data), ctx.stats, each_pass=True)
            if offers_routes(loss_blocks)
            else None
        )
        return train(problem, lambda model: self.make_optimizer(model, blocks, kfac), ctx, algorithm=self)
