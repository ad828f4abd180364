"""Conditional flow matching (Lipman et al. 2023; Tong et al. 2024) and rectified flow (Liu et al. 2023)
as an algorithm of ``solve``."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from remodel_core import (
    TRAIN_OPTIONS,
    Algorithm,
    OptimizerAlgorithm,
    ReturnCode,
    Solution,
    SolveContext,
    TrainingProblem,
    check_positive,
)
from remodel_core.optim import Adam
from torch import nn

from ._coupling import ot_pairing, sample_plan, sinkhorn_plan
from ._metrics import energy_distance
from ._model import FlowModel, MLPField, call_field, draw_source
from ._optim import train_averaged
from ._paths import MAX_TIME_SCALE, TIME_SAMPLINGS, Path, make_path, sample_times
from ._problem import GenerativeProblem

COUPLINGS = ("independent", "ot", "sinkhorn")
REFLOW_METHODS = ("dopri5", "rk4", "heun", "euler")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FlowMatching(Algorithm):
    """Train a :class:`FlowModel` on a :class:`GenerativeProblem` by conditional flow matching.

    The loss ``E_{t, (x0, x1), eps} |v_θ(t, x_t) - u_t(x_t | x0, x1)|^2`` with ``t ~ U(0, 1)``, ``(x0, x1)``
    from a coupling of the source and the data, and ``x_t`` on a conditional probability path regresses
    the marginal velocity field that transports the source to the data (Lipman, Chen, Ben-Hamu, Nickel & Le,
    "Flow matching for generative modeling", ICLR 2023; Tong, Malkin, Huguet, Zhang, Rector-Brooks, Fatras,
    Wolf & Bengio, "Improving and generalizing flow-based generative models with minibatch optimal
    transport", TMLR 2024). Methods as combinations of ``path`` and ``coupling``:

    - I-CFM: ``path="linear", coupling="independent"``;
    - OT-CFM: ``coupling="ot"``, exact minibatch OT (an assignment, :func:`ot_pairing`);
    - Schrödinger-bridge CFM: ``path="brownian_bridge", sigma=s, coupling="sinkhorn"`` (entropic OT of
      regularisation ``2 s^2``, :func:`sinkhorn_plan`, with the Brownian-bridge path noise);
    - rectified flow (Liu, Gong & Liu, "Flow straight and fast", ICLR 2023): ``reflow=k`` retrains ``k``
      times on the pairs ``(x0, ODE(x0))`` of the previous model (the "k-rectified flow", initialised from
      it), which straightens the paths so that few Euler steps suffice. The pairs come from an accurate ODE
      solve of the previous flow (adaptive Dormand–Prince by default, ``reflow_method``) started at fresh
      source draws: by default one new pair for every sample the stage trains on (``reflow_pairs``), so
      the reflow regresses the previous flow's map, not a small fixed set of its samples. Any ``coupling``
      may be the first stage (reflow on top of OT-CFM is rectified flow with the OT coupling as its
      initial one). The iteration budget ``maxiters`` (and ``maxtime``) is the total over the ``k + 1``
      stages: split equally by default, or ``reflow_iters`` per reflow stage and the rest to the first,
      so a rectified flow gets the same number of gradient steps as any other method.
    - class-conditional generation with classifier-free guidance (Ho & Salimans 2021): labelled data; the
      label is replaced by "no class" with probability ``p_uncond`` during training.

    Parameters
    ----------
    path : str or Path
        ``"linear"`` (alias ``"icfm"``), ``"lipman"``, ``"vp"``, ``"brownian_bridge"``, or a :class:`Path`.
    sigma : float
        Noise level of the path (``sigma_min`` for ``"lipman"``).
    coupling : str
        ``"independent"``, ``"ot"`` or ``"sinkhorn"``.
    reg : float, optional
        Entropic regularisation of ``coupling="sinkhorn"`` (default ``2 sigma^2``, or 0.1 if ``sigma = 0``).
    network : torch.nn.Module, optional
        Any velocity field ``network(t, x)`` (``network(t, x, y)`` for labelled data); it is copied, not
        modified. Default: :class:`MLPField` of ``width``, ``depth``, ``activation``, ``time_features``.
    width, depth, activation, time_features
        Of the default network.
    batch_size : int
        Minibatch size (the coupling is computed within a minibatch).
    n_train : int
        Size of the pool drawn from a sampler target (array data are used as given).
    optimizer : OptimizerAlgorithm
        Any ``remodel_core`` optimizer; one iteration is one minibatch step. With an :class:`EMA` optimizer
        the trained field (and the teacher of a reflow stage) carries the averaged weights.
    reflow : int
        Number of reflow stages (rectified flow); 0 for plain flow matching.
    reflow_pairs : int, optional
        Number of ``(x0, ODE(x0))`` pairs per reflow. Default: ``batch_size`` times the stage's iterations
        (a fresh pair for every training sample), at least the pool size ``n_train`` and at most
        ``2**22 / prod(shape)`` (memory).
    reflow_method : str
        Integrator of the ODE solves that generate the pairs: ``"dopri5"`` (adaptive, tolerance
        ``reflow_tol``), ``"rk4"``, ``"heun"`` or ``"euler"`` (``reflow_steps`` fixed steps).
    reflow_steps : int
        Steps of a fixed-step ``reflow_method``.
    reflow_tol : float
        ``rtol = atol`` of ``reflow_method="dopri5"``.
    reflow_iters : int, optional
        Iterations of each reflow stage (the first stage gets ``maxiters - reflow * reflow_iters``; when
        that is 0 the first stage is skipped and ``network`` itself is the flow to rectify);
        default: ``maxiters`` split equally between the ``reflow + 1`` stages.
    reflow_optimizer : OptimizerAlgorithm, optional
        Optimizer of the reflow stages (default ``optimizer``); each stage starts a fresh optimizer state.
    time_sampling : str
        Distribution of the training times ``t``: ``"uniform"`` or ``"u_shaped"`` (density
        ``∝ cosh(time_scale (2 t - 1))``, Lee, Lin & Fanti 2024; see :func:`sample_times`).
    time_scale : float
        Steepness of ``"u_shaped"`` (positive, at most 700).
    reflow_time_sampling : str, optional
        ``time_sampling`` of the reflow stages (default: ``time_sampling``); Lee et al. train the reflow with
        the U-shaped distribution, whose weight near ``t = 0`` is where a one-step sampler reads the field.
    p_uncond : float
        Probability of dropping the label during training (classifier-free guidance).
    eval_samples : int
        Samples for the energy distance reported in ``stats`` (0 skips it).
    eval_steps : int
        RK4 steps of that evaluation.

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_gen import GenerativeProblem, eight_gaussians
    >>> prob = GenerativeProblem(eight_gaussians, dim=2)
    >>> sol = solve(prob, FlowMatching(coupling="ot", width=32, depth=2, n_train=2000, eval_samples=200),
    ...             maxiters=20)
    >>> x, stats = sol.u.sample(4, seed=1, steps=2, method="euler", return_stats=True)
    >>> x.shape, stats["nfe"]
    (torch.Size([4, 2]), 2)
    """

    path: str | Path = "linear"
    sigma: float = 0.0
    coupling: str = "independent"
    reg: float | None = None
    network: nn.Module | None = None
    width: int = 64
    depth: int = 3
    activation: str = "silu"
    time_features: int = 0
    batch_size: int = 256
    n_train: int = 20_000
    optimizer: OptimizerAlgorithm = dataclasses.field(default_factory=lambda: Adam(lr=2e-3))
    reflow: int = 0
    reflow_pairs: int | None = None
    reflow_method: str = "dopri5"
    reflow_steps: int = 100
    reflow_tol: float = 1e-5
    reflow_iters: int | None = None
    reflow_optimizer: OptimizerAlgorithm | None = None
    time_sampling: str = "uniform"
    time_scale: float = 4.0
    reflow_time_sampling: str | None = None
    p_uncond: float = 0.1
    eval_samples: int = 1000
    eval_steps: int = 50

    problem_types = (GenerativeProblem,)
    supported_options: ClassVar[frozenset[str]] = TRAIN_OPTIONS

    def validate(self) -> None:
        make_path("linear" if self.path == "icfm" else self.path, self.sigma)
        if self.coupling not in COUPLINGS:
            raise ValueError(f"coupling must be one of {list(COUPLINGS)}, got {self.coupling!r}")
        if self.reg is not None:
            check_positive("reg", self.reg)
        if self.network is not None and not isinstance(self.network, nn.Module):
            raise TypeError(
                f"network must be a torch.nn.Module velocity field v(t, x), got {type(self.network).__name__}"
            )
        for name in ("width", "depth", "batch_size", "n_train", "reflow_steps"):
            check_positive(name, getattr(self, name), integer=True)
        for name in ("reflow", "eval_samples", "time_features"):
            check_positive(name, getattr(self, name), integer=True, allow_zero=True)
        if self.reflow_pairs is not None:
            check_positive("reflow_pairs", self.reflow_pairs, integer=True)
        if self.reflow_iters is not None:
            check_positive("reflow_iters", self.reflow_iters, integer=True)
        if self.reflow_method not in REFLOW_METHODS:
            raise ValueError(f"reflow_method must be one of {list(REFLOW_METHODS)}, got {self.reflow_method!r}")
        check_positive("reflow_tol", self.reflow_tol)
        if self.reflow_optimizer is not None:
            if not isinstance(self.reflow_optimizer, OptimizerAlgorithm):
                raise TypeError(
                    "reflow_optimizer must be a remodel_core OptimizerAlgorithm, got "
                    f"{type(self.reflow_optimizer).__name__}"
                )
            self.reflow_optimizer.validate()
        for name in ("time_sampling", "reflow_time_sampling"):
            kind = getattr(self, name)
            if (kind is not None or name == "time_sampling") and kind not in TIME_SAMPLINGS:
                raise ValueError(f"{name} must be one of {list(TIME_SAMPLINGS)}, got {kind!r}")
        check_positive("time_scale", self.time_scale)
        if self.time_scale > MAX_TIME_SCALE:  # an OverflowError of math.sinh at the first loss evaluation
            raise ValueError(f"time_scale must be <= {MAX_TIME_SCALE}, got {self.time_scale!r}")
        check_positive("p_uncond", self.p_uncond, allow_zero=True)
        if not self.p_uncond < 1:
            raise ValueError(f"p_uncond must be < 1, got {self.p_uncond!r}")
        if self.eval_samples == 1:
            raise ValueError("eval_samples must be 0 (no evaluation) or >= 2")
        check_positive("eval_steps", self.eval_steps, integer=True)
        if not isinstance(self.optimizer, OptimizerAlgorithm):
            raise TypeError(f"optimizer must be a remodel_core OptimizerAlgorithm, got {type(self.optimizer).__name__}")
        self.optimizer.validate()

    # ------------------------------------------------------------------------------------------ loss
    def make_path(self) -> Path:
        """The conditional probability path of this configuration."""
        return make_path("linear" if self.path == "icfm" else self.path, self.sigma)

    def loss_fn(
        self,
        shape: tuple[int, ...],
        generator: Callable[[], torch.Generator],
        *,
        source: Callable[..., Any] | None = None,
        num_classes: int | None = None,
        paired: bool = False,
    ) -> Callable[..., torch.Tensor]:
        """The conditional flow matching loss ``loss(model, x1[, y])`` (or ``loss(model, x1, x0[, y])`` on
        fixed pairs when ``paired``), drawing ``x0``, ``t``, the path noise and the label drop from
        ``generator()``, which is called once per evaluation."""
        path = self.make_path()
        times = self.time_sampling if not paired or self.reflow_time_sampling is None else self.reflow_time_sampling
        reg = self.reg if self.reg is not None else (2 * self.sigma**2 if self.sigma > 0 else 0.1)

        def loss(model: nn.Module, x1: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
            n = x1.shape[0]
            gen = generator()
            if paired:
                x0, rest = rest[0], rest[1:]
            else:
                x0 = draw_source(source, n, shape, gen, x1.dtype, x1.device)
            y = rest[0] if rest else None
            t = sample_times(n, gen, kind=times, scale=self.time_scale, dtype=x1.dtype).to(x1.device)
            eps = torch.randn(x1.shape, generator=gen, dtype=x1.dtype).to(x1.device) if path.stochastic else None
            if not paired and self.coupling == "ot":
                x0 = x0[ot_pairing(x0, x1)]
            elif not paired and self.coupling == "sinkhorn":
                i, j = sample_plan(sinkhorn_plan(x0, x1, reg), n, gen)
                x0, x1 = x0[i.to(x1.device)], x1[j.to(x1.device)]
                y = None if y is None else y[j.to(y.device)]
            if y is not None and self.p_uncond > 0:
                drop = torch.rand(n, generator=gen).to(y.device) < self.p_uncond
                y = torch.where(drop, torch.full_like(y, num_classes), y)
            xt = path.sample(x0, x1, t, eps)
            ut = path.velocity(x0, x1, t, xt)
            return (call_field(model, t, xt, y) - ut).pow(2).reshape(n, -1).sum(1).mean()

        return loss

    # ------------------------------------------------------------------------------------------ solve
    def _network(self, problem: GenerativeProblem, seed: int) -> nn.Module:
        if self.network is not None:
            return copy.deepcopy(self.network)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return MLPField(
                problem.shape,
                width=self.width,
                depth=self.depth,
                activation=self.activation,
                num_classes=problem.classes,
                time_features=self.time_features,
            )

    def _solve(self, problem: GenerativeProblem, ctx: SolveContext) -> Solution:
        opts = ctx.options
        dtype = opts.dtype or torch.float32
        shape, classes, source = problem.shape, problem.classes, problem.source_sampler()
        if self.reflow and (opts.checkpoint is not None):
            raise ValueError("checkpoint is not supported with reflow > 0 (the stages are separate trainings)")
        field = self._network(problem, opts.seed).to(dtype)
        if problem.is_array:
            x, y = problem.tensors()
            pool: tuple[torch.Tensor, ...] = (x.to(dtype),) if y is None else (x.to(dtype), y)
        else:
            out = problem.target_sampler()(self.n_train, ctx.generator)
            pool = (out[0].to(dtype), out[1].long()) if isinstance(out, tuple) else (out.to(dtype),)
        n_pool = pool[0].shape[0]

        def noise() -> torch.Generator:
            # keyed by (seed, evaluation count): the count is checkpointed, so a resumed run draws the same noise
            return torch.Generator().manual_seed((opts.seed * 1_000_003 + 7_919 * ctx.stats["evals"] + 1) % 2**62)

        stages = self.reflow + 1
        total_iters = (
            opts.maxiters
            if opts.maxiters is not None
            else (None if opts.maxtime is not None or opts.abstol is not None else 1000)
        )
        stage_iters = self._stage_iters(total_iters)
        stats_extra: dict[str, Any] = {"reflow_nfe": 0, "reflow_pairs": 0, "stage_iters": stage_iters}
        sol: Solution | None = None
        history: dict[str, list[float]] = {}
        iterations = 0
        for stage in range(stages):
            if stage == 0 and stage_iters is not None and stage_iters[0] == 0:
                continue  # no first stage: ``network`` is the flow to rectify
            stage_opts: dict[str, Any] = {}
            if stage_iters is not None:
                stage_opts["maxiters"] = stage_iters[stage]
            if opts.maxtime is not None:
                left = opts.maxtime - ctx.elapsed()
                stage_opts["maxtime"] = ctx.elapsed() + max(left, 0.0) / (stages - stage)
            ctx.options = dataclasses.replace(opts, **stage_opts)
            if stage == 0:
                data, paired = pool, False
            else:
                model = FlowModel(field, shape, source=source, num_classes=classes)
                n_pairs = self._n_pairs(n_pool, shape, None if stage_iters is None else stage_iters[stage])
                with ctx.excluded_time():
                    data, nfe = self._reflow_pairs(model, pool, n_pairs, opts.seed + 100 * stage)
                stats_extra["reflow_nfe"] += nfe
                stats_extra["reflow_pairs"] += n_pairs
                paired = True
            training = TrainingProblem(
                model=field,
                loss=self.loss_fn(shape, noise, source=source, num_classes=classes, paired=paired),
                data=data,
                batch_size=min(self.batch_size, data[0].shape[0]),
                name=f"flow matching {problem.name}" + (f" (reflow {stage})" if stage else ""),
            )
            training.validate()
            optimizer = self.optimizer if stage == 0 or self.reflow_optimizer is None else self.reflow_optimizer
            sol = train_averaged(training, optimizer, ctx)
            field = sol.u
            iterations += sol.stats["iterations"]
            for k, v in sol.history.items():
                history.setdefault(k, []).extend(v)
            ctx.history = {}
            if sol.retcode in (ReturnCode.Diverged, ReturnCode.Failure, ReturnCode.Terminated):
                break
        assert sol is not None
        ctx.options = opts
        model = FlowModel(field, shape, source=source, num_classes=classes)
        sol = Solution(
            u=model,
            retcode=sol.retcode,
            stats={**sol.stats, **stats_extra, "stages": stage + 1, "iterations": iterations, "train_samples": n_pool},
            history=history,
        )
        if self.eval_samples:
            with ctx.excluded_time():
                sol.stats.update(self._evaluate(problem, model, field, opts.seed, dtype, opts.device))
        return sol

    def _stage_iters(self, total: int | None) -> list[int] | None:
        """Iterations of each stage (first, then each reflow) for a total budget ``total``."""
        if total is None:
            return None
        stages = self.reflow + 1
        if self.reflow_iters is None or not self.reflow:
            if total < stages:  # one iteration per stage would exceed the budget (maxiters=2, reflow=2 ran 4)
                raise ValueError(
                    f"maxiters={total} is smaller than the {stages} stages of reflow={self.reflow} (one iteration each)"
                )
            return [total // stages + (total % stages if s == stages - 1 else 0) for s in range(stages)]
        first = total - self.reflow * self.reflow_iters
        if first < 0:
            raise ValueError(f"reflow_iters={self.reflow_iters} times reflow={self.reflow} exceeds maxiters={total}")
        return [first] + [self.reflow_iters] * self.reflow

    def _n_pairs(self, n_pool: int, shape: tuple[int, ...], iters: int | None) -> int:
        """Reflow pairs of a stage: ``reflow_pairs``, or one per training sample within the memory cap."""
        if self.reflow_pairs is not None:
            return self.reflow_pairs
        if iters is None:
            return n_pool
        cap = max(n_pool, 2**22 // math.prod(shape))
        return min(max(n_pool, self.batch_size * iters), cap)

    @torch.no_grad()
    def _reflow_pairs(
        self, model: FlowModel, pool: tuple[torch.Tensor, ...], n: int, seed: int
    ) -> tuple[tuple[torch.Tensor, ...], int]:
        """``n`` pairs ``(ODE(x0), x0[, y])`` of the current model from fresh source draws ``x0``, solved by
        ``reflow_method``: the coupling of the next rectified flow."""
        gen = torch.Generator().manual_seed(seed)
        x0 = draw_source(model.source, n, model.shape, gen, pool[0].dtype)
        y = None
        if len(pool) > 1:  # labels: draw them with the data's class frequencies
            y = pool[1][torch.randint(0, pool[1].shape[0], (n,), generator=gen)]
        chunks, nfe = [], 0
        fixed = self.reflow_method != "dopri5"
        chunk = 8192
        for start in range(0, n, chunk):
            sl = slice(start, start + chunk)
            x1, stats = model.sample(
                x0=x0[sl],
                y=None if y is None else y[sl],
                steps=self.reflow_steps if fixed else 1,
                method=self.reflow_method,
                rtol=self.reflow_tol,
                atol=self.reflow_tol,
                return_stats=True,
            )
            chunks.append(x1)
            nfe += stats["nfe"]
        x1 = torch.cat(chunks)
        return ((x1, x0) if y is None else (x1, x0, y)), nfe

    def _evaluate(
        self,
        problem: GenerativeProblem,
        model: FlowModel,
        untrained_field: nn.Module,
        seed: int,
        dtype: torch.dtype,
        device: torch.device,
    ) -> dict[str, float]:
        held_out = problem.draw(self.eval_samples, seed=seed + 2).to(dtype).reshape(self.eval_samples, -1)
        out = {}
        untrained = FlowModel(
            self._network(problem, seed).to(dtype), problem.shape, source=model.source, num_classes=model.num_classes
        )
        for name, m in (("energy_distance", model), ("energy_distance_untrained", untrained)):
            m = m.to(device=device)
            gen = m.sample(self.eval_samples, seed=seed + 3, steps=self.eval_steps).cpu()
            out[name] = energy_distance(gen.reshape(self.eval_samples, -1), held_out)
        return out
