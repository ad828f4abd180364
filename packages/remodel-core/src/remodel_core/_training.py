"""Training problems and the optimisation loop shared by every optimizer algorithm."""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from ._algorithm import Algorithm
from ._checkpoint import load_checkpoint, save_checkpoint
from ._context import SolveContext
from ._problem import Problem
from ._progress import ProgressBar, want_progress
from ._retcode import ReturnCode
from ._solution import Solution
from ._validation import check_positive

DEFAULT_MAXITERS = 1000


#: The shared ``solve`` options that :func:`train` honours; algorithms that train through it declare these as
#: their ``supported_options`` (plus their own, e.g. ``data_parallel``).
TRAIN_OPTIONS: frozenset[str] = frozenset(
    {
        "maxiters",
        "maxtime",
        "abstol",
        "reltol",
        "callback",
        "progress",
        "seed",
        "device",
        "dtype",
        "checkpoint",
        "checkpoint_every",
        "resume",
        "monitor_every",
        "verbose",
    }
)


@dataclasses.dataclass(frozen=True)
class TrainingProblem(Problem):
    """Minimise a loss over the parameters of a torch model.

    Parameters
    ----------
    model : torch.nn.Module
        The model; ``solve`` trains a copy and returns it as ``Solution.u`` (the problem keeps the
        initialisation, so several algorithms can start from the same one).
    loss : callable
        ``loss(model)`` when ``data`` is None, else ``loss(model, *batch)``; returns a scalar tensor.
    data : tuple of tensors, optional
        Tensors sharing their first dimension (inputs, targets, ...). Moved to the solve's device;
        floating tensors are cast to its dtype.
    batch_size : int, optional
        Minibatch size (shuffled each epoch with the solve's seed); ``None`` uses the full batch.
    metrics : mapping of name to callable, optional
        ``metric(model) -> float`` evaluated every ``monitor_every`` iterations into the history
        (for example a PINN's relative L2 error against its reference solution).
    name : str
        A label for reports.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(32, 2)
    >>> prob = TrainingProblem(model=torch.nn.Linear(2, 1), loss=lambda m, x, y: ((m(x) - y) ** 2).mean(),
    ...                        data=(x, x.sum(1, keepdim=True)), batch_size=8)
    >>> prob.n_samples
    32
    """

    model: nn.Module
    loss: Callable[..., torch.Tensor]
    data: tuple[torch.Tensor, ...] | None = None
    batch_size: int | None = None
    metrics: Mapping[str, Callable[[nn.Module], float]] = dataclasses.field(default_factory=dict)
    name: str = "training"

    @property
    def n_samples(self) -> int | None:
        return None if self.data is None else int(self.data[0].shape[0])

    def validate(self) -> None:
        if not isinstance(self.model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(self.model).__name__}")
        if not any(p.requires_grad for p in self.model.parameters()):
            raise ValueError("model has no trainable parameters")
        if not callable(self.loss):
            raise TypeError(f"loss must be callable, got {type(self.loss).__name__}")
        if self.data is not None:
            if not isinstance(self.data, tuple) or not all(isinstance(t, torch.Tensor) for t in self.data):
                raise TypeError("data must be a tuple of tensors")
            if not self.data:
                raise ValueError("data must hold at least one tensor (or be None)")
            if any(t.ndim == 0 for t in self.data):
                raise ValueError("data tensors must have a first (sample) dimension, got a 0-d tensor")
            sizes = {int(t.shape[0]) for t in self.data}
            if len(sizes) != 1:
                raise ValueError(f"data tensors must share their first dimension, got sizes {sorted(sizes)}")
            if sizes == {0}:
                raise ValueError("data has 0 rows: a training problem needs at least one sample")
        if self.batch_size is not None:
            if self.data is None:
                raise ValueError("batch_size needs data")
            check_positive("batch_size", self.batch_size, integer=True)
        if not isinstance(self.metrics, Mapping) or not all(callable(f) for f in self.metrics.values()):
            raise TypeError("metrics must map names to callables metric(model) -> float")

    def summary(self) -> dict[str, Any]:
        n_params = sum(p.numel() for p in self.model.parameters())
        return {"problem": type(self).__name__, "name": self.name, "parameters": n_params, "samples": self.n_samples}


@dataclasses.dataclass(frozen=True, kw_only=True)
class OptimizerAlgorithm(Algorithm):
    """Base class of the algorithms that train a :class:`TrainingProblem` with a ``torch.optim.Optimizer``.

    A subclass implements :meth:`make_optimizer`; one iteration of ``solve`` is one ``optimizer.step(closure)``.
    Without ``maxiters``, ``maxtime`` or ``abstol``, training stops after 1000 iterations. An optimizer that
    sets ``converged = True`` ends the run with ``Success`` (on the full batch;
    a minibatch run goes on); one that sets ``failed = True`` with ``Failure``.
    """

    problem_types = (TrainingProblem,)
    supported_options = TRAIN_OPTIONS | {"data_parallel"}

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:  # pragma: no cover - abstract
        raise NotImplementedError

    def _solve(self, problem: Problem, ctx: SolveContext) -> Solution:
        assert isinstance(problem, TrainingProblem)
        return train(problem, self.make_optimizer, ctx)


class _Batches:
    """Epoch-wise shuffled minibatches whose position is part of the checkpoint."""

    def __init__(self, n: int | None, batch_size: int | None, generator: torch.Generator) -> None:
        self.n, self.batch_size, self.generator = n, batch_size, generator
        self.perm: torch.Tensor | None = None
        self.pos = 0

    def next(self) -> torch.Tensor | None:
        if self.n is None or self.batch_size is None or self.batch_size >= self.n:
            return None
        if self.perm is None or self.pos + self.batch_size > self.n:
            self.perm = torch.randperm(self.n, generator=self.generator)
            self.pos = 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def state(self) -> dict[str, Any]:
        return {"perm": self.perm, "pos": self.pos, "generator": self.generator.get_state()}

    def load(self, state: dict[str, Any]) -> None:
        self.perm, self.pos = state["perm"], int(state["pos"])
        self.generator.set_state(state["generator"])


class _BufferSnapshot:
    """Copies of the model's buffers (BatchNorm statistics, power-iteration vectors, ...) at one moment, so that
    a diverged run returns them as they were at its last good iterate, with its parameters. (Every buffer is
    copied: torch's batch norm updates its running statistics without moving their version counters.)"""

    def __init__(self, model: nn.Module) -> None:
        self.saved = {name: buf.detach().clone() for name, buf in model.named_buffers()}

    def restore(self, model: nn.Module) -> None:
        with torch.no_grad():
            for name, value in self.saved.items():
                prefix, _, attr = name.rpartition(".")
                module = model.get_submodule(prefix)
                current = getattr(module, attr, None)
                if isinstance(current, torch.Tensor) and current.shape == value.shape and current.dtype == value.dtype:
                    current.copy_(value)
                else:  # the buffer was replaced by one of another shape (a power vector resized, say)
                    setattr(module, attr, value.clone())


def _finite(params: list[torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in params)


def _explain_dtype_mismatch(err: RuntimeError, params: list[torch.Tensor], data: tuple[Any, ...]) -> None:
    """Re-raise a loss's error as a ``TypeError`` naming the dtypes when the model's floating-point parameters and
    the floating-point data differ (torch says only "mat1 and mat2 must have the same dtype")."""
    model_dtypes = {p.dtype for p in params if p.is_floating_point()}
    data_dtypes = {t.dtype for t in data if isinstance(t, torch.Tensor) and t.is_floating_point()}
    if model_dtypes and data_dtypes and model_dtypes != data_dtypes:
        names = lambda dts: "/".join(sorted(str(d).removeprefix("torch.") for d in dts))  # noqa: E731
        raise TypeError(
            f"the model's parameters are {names(model_dtypes)} but the data is {names(data_dtypes)}: pass "
            f"solve(..., dtype=...) to convert both, or convert one of them ({err})"
        ) from err


def placed(tensors: tuple[torch.Tensor, ...], opts: Any) -> tuple[torch.Tensor, ...]:
    """``tensors`` on the solve's device, floating ones in its dtype (when the solve sets one)."""
    return tuple(
        t.to(device=opts.device, dtype=opts.dtype if opts.dtype and t.is_floating_point() else t.dtype) for t in tensors
    )


def check_data_parallel(problem: Problem, algorithm: Algorithm) -> None:
    """Reject ``data_parallel=True`` where it cannot apply (called by ``solve``)."""
    if not isinstance(problem, TrainingProblem):
        raise ValueError(f"data_parallel=True applies to a TrainingProblem only, got a {type(problem).__name__}")
    _check_data_parallel_with(problem, algorithm)


def _check_data_parallel_with(problem: TrainingProblem, user: object) -> None:
    """The data must be splittable, and ``user`` (algorithm or optimizer) must not use the process group itself."""
    if problem.data is None:
        raise ValueError("data_parallel=True needs a TrainingProblem with data (its rows are split over the ranks)")
    if getattr(user, "distributed", False):
        raise ValueError(
            f"data_parallel=True cannot be combined with {type(user).__name__}(distributed=True): that "
            "optimizer already uses the torch.distributed process group itself; use one or the other"
        )


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


class _DataParallel:
    """Data-parallel gradient averaging over the ranks of the initialised ``torch.distributed`` group.

    This is the scheme of PyTorch's DistributedDataParallel (Li et al., "PyTorch Distributed: Experiences
    on Accelerating Data Parallel Training", VLDB 2020) for full-batch and minibatch optimizers alike: every
    rank draws the same batch (same seeded generator), evaluates the loss on its contiguous slice of
    ``n_r`` of the batch's ``N`` rows, and one all-reduce of the packed ``(loss, gradient)`` weighted by
    ``n_r / N`` gives every rank the global loss and gradient. For a loss that is a mean over the rows plus
    terms that do not depend on them (a PINN's fixed boundary points) the result is exactly the global loss.
    """

    def __init__(self, params: list[torch.Tensor]) -> None:
        import torch.distributed as dist

        self.dist = dist
        self.world, self.rank = dist.get_world_size(), dist.get_rank()
        self.params = params
        self.device = params[0].device
        dtype = params[0].dtype
        for p in params[1:]:
            dtype = torch.promote_types(dtype, p.dtype)
        self.dtype = dtype

    def broadcast(self, model: nn.Module) -> None:
        """Start every rank from rank 0's parameters and buffers (as DDP does at construction)."""
        with torch.no_grad():
            for t in model.state_dict().values():
                if isinstance(t, torch.Tensor):
                    self.dist.broadcast(t, src=0)

    def shard(self, batch: tuple[torch.Tensor, ...]) -> tuple[tuple[torch.Tensor, ...], int, float]:
        """This rank's contiguous rows of ``batch``, their number and weight ``n_r / N``."""
        n = int(batch[0].shape[0])
        base, extra = divmod(n, self.world)
        start = self.rank * base + min(self.rank, extra)
        rows = base + (1 if self.rank < extra else 0)
        return tuple(t[start : start + rows] for t in batch), rows, rows / n

    def reduce(self, value: torch.Tensor | None, weight: float) -> torch.Tensor:
        """All-reduce ``weight * (loss, gradient)`` in one flat tensor; writes the global gradient into
        ``p.grad`` and returns the global loss. ``value`` is None for a rank with an empty slice."""
        parts = [
            torch.zeros(1, dtype=self.dtype, device=self.device)
            if value is None
            else value.detach().reshape(1).to(device=self.device, dtype=self.dtype)
        ]
        for p in self.params:
            g = p.grad
            parts.append(
                torch.zeros(p.numel(), dtype=self.dtype, device=self.device)
                if g is None
                else g.detach().reshape(-1).to(self.dtype)
            )
        flat = torch.cat(parts)
        flat.mul_(weight)
        self.dist.all_reduce(flat, op=self.dist.ReduceOp.SUM)
        offset = 1
        for p in self.params:
            g = flat[offset : offset + p.numel()].view_as(p).to(p.dtype)
            offset += p.numel()
            if p.grad is None:
                p.grad = g.clone()
            else:
                p.grad.copy_(g)
        return flat[0].to(value.dtype if value is not None else self.dtype)

    def agree(self, retcode: ReturnCode | None) -> ReturnCode | None:
        """The stop decision of all ranks (their clocks and callbacks may differ): the largest code wins,
        so no rank goes on into a collective the others have left."""
        code = torch.tensor([_STOP_CODES.index(retcode)], dtype=torch.int64, device=self.device)
        self.dist.all_reduce(code, op=self.dist.ReduceOp.MAX)
        return _STOP_CODES[int(code.item())]


def _algorithm_signature(algorithm: Any) -> dict[str, str]:
    """The class and options of the algorithm as strings (a checkpoint holds plain values only)."""
    if algorithm is None:
        return {}
    sig = {"class": f"{type(algorithm).__module__}.{type(algorithm).__qualname__}"}
    options = algorithm.options() if isinstance(algorithm, Algorithm) else {}
    for name, value in options.items():
        text = repr(value)
        if " at 0x" not in text:  # an object without a stable repr (a function, a model) cannot be compared
            sig[name] = text
    return sig


def _check_same_algorithm(path: Any, stored: dict[str, str], current: dict[str, str]) -> None:
    if not stored or not current:
        return
    if stored.get("class") != current.get("class"):
        raise ValueError(
            f"checkpoint {str(path)!r} was written by {stored.get('class')}, not by {current.get('class')}: "
            "resume with the algorithm that wrote it, or start a new run (resume=False or another checkpoint)"
        )
    differ = sorted(k for k in set(stored) | set(current) if k != "class" and stored.get(k) != current.get(k))
    if differ:
        detail = ", ".join(
            f"{k}={stored.get(k, '<absent>')} in the checkpoint but {current.get(k, '<absent>')} now" for k in differ
        )
        raise ValueError(
            f"checkpoint {str(path)!r} was written with other options of {current['class'].rsplit('.', 1)[-1]}: "
            f"{detail}; resume with the same options, or start a new run"
        )


#: seconds between fsyncs of frequent checkpoints (every checkpoint is atomic; the last one is always synced)
DURABLE_EVERY_S = 5.0


def train(
    problem: TrainingProblem,
    make_optimizer: Callable[[nn.Module], torch.optim.Optimizer],
    ctx: SolveContext,
    *,
    algorithm: Algorithm | None = None,
) -> Solution:
    """The optimisation loop: steps, history, divergence guard, checkpoints, progress and stopping rules.

    Every optimizer algorithm runs through this one loop, so the shared options behave the same for all.
    With ``data_parallel=True`` the loop trains data-parallel over the ``torch.distributed`` ranks (see
    :class:`_DataParallel`): every evaluation returns the global loss and gradient, the ranks agree on when
    to stop, only rank 0 writes checkpoints and shows progress, and every rank can resume from the same file.

    ``history["loss"][k-1]`` is what step ``k`` returned: the loss at the parameters the step started from
    (torch's closure contract, followed by every optimizer here); the metric columns are evaluated on the model
    after the step. When a loss becomes NaN/Inf the run ends with ``Diverged`` and the model returned is the
    last iterate whose loss was finite, so its loss is the last finite entry of ``history["loss"]``.

    Data that change during training (adaptive collocation): when ``ctx.between_iterations`` is set, it is
    called as ``between_iterations(iteration, model, optimizer, data)`` after every iteration that does not
    stop the run; a tuple of tensors it returns replaces the data from the next iteration on (moved to the
    solve's device and dtype, minibatches restarted), while the model and the optimizer, with its state,
    go on. The hook adapts the optimizer to the new loss itself (see ``remodel_sampling.AdaptiveSampling``).
    A hook with ``state_dict()`` and ``load_state_dict(state, model, optimizer) -> data or None`` has its state
    in the checkpoints and restored on resume (after the model and optimizer), so the resumed run trains on
    the points the interrupted one had reached.

    Checkpoints hold the class and options of ``algorithm`` (by default the algorithm whose bound
    ``make_optimizer`` was passed); resuming with another class or other options is refused, naming them.
    An optimizer's ``converged`` ends the run with ``Success`` only on the full batch (the gradient of one
    minibatch at zero says nothing about the objective's). A run that ended with ``Failure``, ``Diverged`` or a
    converged optimizer is not continued by a resume: it
    returns at once with that code. Checkpoints are atomic; ``fsync`` runs at most every
    ``DURABLE_EVERY_S`` seconds and at the end, so ``checkpoint_every=1`` stays cheap.

    Parameters
    ----------
    problem : TrainingProblem
        The model, loss and data to train on.
    make_optimizer : callable
        ``make_optimizer(model) -> torch.optim.Optimizer``, called once on the model being trained.
    ctx : SolveContext
        The solve's shared options, clocks, counters, history and generators.
    algorithm : Algorithm, optional
        The algorithm recorded in checkpoints (its class and options); by default the object that
        ``make_optimizer`` is a bound method of.

    Returns
    -------
    Solution
        The trained model as ``u``, the return code, ``stats`` and ``history``.
    """
    opts = ctx.options
    between = getattr(ctx, "between_iterations", None)
    streamed = bool(getattr(ctx, "streamed_minibatches", False))  # the hook hands out minibatches (Streamed)
    if algorithm is None:
        algorithm = getattr(make_optimizer, "__self__", None)
    signature = _algorithm_signature(algorithm)
    model = copy.deepcopy(problem.model).to(device=opts.device)
    if opts.dtype is not None:
        model = model.to(dtype=opts.dtype)
    data = placed(problem.data or (), opts)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(model)
    dp: _DataParallel | None = None
    if opts.data_parallel:
        _check_data_parallel_with(problem, optimizer)  # the optimizer built, as a backstop
        dp = _DataParallel(params)
        ctx.stats["ranks"] = dp.world
    batches = _Batches(problem.n_samples, problem.batch_size, ctx.generator)
    iteration = 0
    finished: ReturnCode | None = None
    data_changed = False
    between_pending = False  # the run stopped before the hook's call of its last iteration (resume: call it)

    if opts.resume and opts.checkpoint is not None and opts.checkpoint.exists():
        state = load_checkpoint(opts.checkpoint, map_location=opts.device)
        _check_same_algorithm(opts.checkpoint, state.get("algorithm", {}), signature)
        saved = {k: v.dtype for k, v in state.get("model", {}).items() if torch.is_tensor(v) and v.is_floating_point()}
        here = {k: v.dtype for k, v in model.state_dict().items() if v.is_floating_point()}
        changed = sorted({(str(saved[k]), str(here[k])) for k in saved.keys() & here.keys() if saved[k] != here[k]})
        if changed:  # load_state_dict would cast silently: the resumed run would not be the interrupted one
            was, now = changed[0]
            raise ValueError(
                f"checkpoint {str(opts.checkpoint)!r} holds a {was.removeprefix('torch.')} model but this run is "
                f"{now.removeprefix('torch.')}: resume with the dtype it was written with (solve(..., dtype=...))"
            )
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise ValueError(
                f"checkpoint {str(opts.checkpoint)!r} does not match this problem/algorithm: {err}"
            ) from err
        batches.load(state["batches"])
        if state.get("between") is not None and not hasattr(between, "load_state_dict"):
            raise ValueError(
                f"checkpoint {str(opts.checkpoint)!r} holds data that changed during training (adaptive "
                "sampling): resume it with the algorithm that wrote it"
            )
        if hasattr(between, "load_state_dict"):  # the hook's own state: the current data, its counters
            restored = between.load_state_dict(state.get("between"), model, optimizer)
            if restored is not None:
                data = placed(restored, opts)
                batches.n = int(data[0].shape[0])
                data_changed = bool(state.get("data_changed", False))
            between_pending = bool(state.get("between_pending", False))
        stored = state.get("samples")  # absent from checkpoints of earlier versions
        if stored is not None and batches.n is not None and int(stored) != batches.n:
            raise ValueError(
                f"checkpoint {str(opts.checkpoint)!r} was written for {int(stored)} samples, the problem has "
                f"{batches.n}: resume with the data it was trained on, or start a new run"
            )
        iteration = int(state["iteration"])
        ctx.restore_history(state["history"])
        ctx.stats.update(state["stats"])
        ctx.restore_clock(state["stats"]["wall_s"])
        if state.get("retcode") in ("Failure", "Diverged") or (
            state.get("retcode") == "Success" and getattr(optimizer, "converged", False)
        ):
            finished = ReturnCode(state["retcode"])  # the method's own end: a resume does not go on
    if dp is not None:
        dp.broadcast(model)
    maxiters = opts.maxiters
    if maxiters is None and opts.maxtime is None and opts.abstol is None:
        maxiters = DEFAULT_MAXITERS
    if maxiters != opts.maxiters:
        ctx.options = dataclasses.replace(opts, maxiters=maxiters)

    batch: tuple[torch.Tensor, ...] = data
    rows, weight = 1, 1.0  # this rank's rows of the batch and their share n_r / N (data-parallel)

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=False)
        value = None
        if rows:
            try:
                value = problem.loss(model, *batch)
            except RuntimeError as err:
                _explain_dtype_mismatch(err, params, batch)
                raise
            if not isinstance(value, torch.Tensor) or value.numel() != 1:
                raise TypeError("loss must return a scalar tensor")
            value.backward()
        ctx.stats["evals"] += 1
        if dp is not None:
            return dp.reduce(value, weight)
        assert value is not None
        return value

    last_sync = [-math.inf]

    def checkpoint(final: bool) -> None:
        if opts.checkpoint is None or (dp is not None and dp.rank != 0):
            return
        with ctx.excluded_time():
            ctx.stats["wall_s"] = ctx.elapsed()
            now = time.monotonic()
            durable = final or now - last_sync[0] >= DURABLE_EVERY_S
            save_checkpoint(
                opts.checkpoint,
                {
                    "iteration": iteration,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "batches": batches.state(),
                    # one float64 tensor per column: pickling stays cheap however long the history
                    "history": {k: torch.tensor(v, dtype=torch.float64) for k, v in ctx.history.items()},
                    "stats": dict(ctx.stats),
                    "algorithm": signature,
                    "retcode": None if retcode is None else retcode.name,
                    "between": between.state_dict() if hasattr(between, "state_dict") else None,
                    "data_changed": data_changed,
                    "samples": batches.n,
                    "between_pending": between is not None and retcode is not None,
                },
                durable=durable,
            )
            if durable:
                last_sync[0] = now

    def monitor(loss: float) -> None:
        row: dict[str, float] = {
            "iteration": iteration,
            "loss": loss,
            "time": ctx.elapsed(),
            "evals": ctx.stats["evals"],
        }
        if problem.metrics and (iteration % opts.monitor_every == 0):
            with ctx.excluded_time():
                for name, metric in problem.metrics.items():
                    row[name] = float(metric(model))
        ctx.log(**row)

    def hook() -> None:
        nonlocal data, data_changed
        new = between(iteration, model, optimizer, data)
        if new is not None:  # new data, same model and optimizer
            data = placed(new, opts)
            batches.n, batches.perm, batches.pos = int(data[0].shape[0]), None, 0
            data_changed = True

    good = [p.detach().clone() for p in params]
    good_buffers = _BufferSnapshot(model)
    reuse = hasattr(optimizer, "reuse_evaluation")
    retcode: ReturnCode | None = None
    total = maxiters if maxiters is not None else None
    show = want_progress(opts.progress) and (dp is None or dp.rank == 0)
    with ProgressBar(problem.name, total, enabled=show) as bar:
        if finished is not None:
            retcode = finished
        elif iteration and maxiters is not None and iteration >= maxiters:
            retcode = ReturnCode.MaxIters
        if retcode is None and between_pending:
            hook()
        while retcode is None:
            idx = batches.next()
            batch = data if idx is None else tuple(t[idx] for t in data)
            if dp is not None:
                batch, rows, weight = dp.shard(batch)
            pending = [p.detach().clone() for p in params]
            pending_buffers = _BufferSnapshot(model)
            if reuse:  # full batch, same data: the loss is unchanged, the end point of the last step may be reused
                optimizer.reuse_evaluation = idx is None and not data_changed  # type: ignore[attr-defined]
            data_changed = False
            out = optimizer.step(closure)
            iteration += 1
            # ``out`` is the loss at ``pending`` (torch's closure contract: the loss where the step started)
            loss = math.nan if out is None else float(out.detach() if isinstance(out, torch.Tensor) else out)
            if not math.isfinite(loss):
                # keep the last iterate whose loss was finite: the start of the last step with a finite loss
                with torch.no_grad():
                    for p, g in zip(params, good):
                        p.copy_(g)
                good_buffers.restore(model)
                loss = math.nan
                retcode = ReturnCode.Diverged
            elif not _finite(params):
                # the step left non-finite parameters, its start had the (finite) loss ``loss``: keep that
                with torch.no_grad():
                    for p, g in zip(params, pending):
                        p.copy_(g)
                pending_buffers.restore(model)
                retcode = ReturnCode.Diverged
            else:
                good, good_buffers = pending, pending_buffers
            ctx.stats["iterations"] = iteration
            monitor(loss)
            bar.advance(status=f"loss={loss:.3e}")
            if retcode is None:
                if getattr(optimizer, "failed", False):
                    retcode = ReturnCode.Failure
                elif getattr(optimizer, "converged", False) and idx is None and not streamed:
                    # a minibatch's gradient at zero is no stationary point of the objective: go on
                    retcode = ReturnCode.Success
                else:
                    retcode = ctx.stop_reason(iteration=iteration, loss=loss, state=model)
            if dp is not None:
                retcode = dp.agree(retcode)
            if retcode is None and between is not None:
                hook()
            if retcode is not None or iteration % opts.checkpoint_every == 0:
                checkpoint(final=retcode is not None)
    ctx.stats["wall_s"] = ctx.elapsed()
    plan = getattr(optimizer, "plan", None)  # what an optimizer that chooses its method chose (Auto)
    if isinstance(plan, dict):
        ctx.stats["plan"] = dict(plan)
    assert retcode is not None
    return Solution(u=model, retcode=retcode, stats=dict(ctx.stats), history=ctx.history)
