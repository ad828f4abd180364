"""The pipeline as the data of a training problem solved by :func:`remodel_core.solve`."""

from __future__ import annotations

import dataclasses
from typing import Any

from .._algorithm import Algorithm
from .._context import SolveContext
from .._problem import Problem
from .._solution import Solution
from .._training import OptimizerAlgorithm, TrainingProblem
from ._pipeline import DataPipeline

__all__ = ["PipelineProblem", "Streamed"]


@dataclasses.dataclass(frozen=True)
class PipelineProblem(TrainingProblem):
    """A :class:`~remodel_core.TrainingProblem` whose data are the batches of a :class:`DataPipeline`: every
    iteration of the optimizer sees the pipeline's next batch (``loss(model, *batch)``). Solve it with
    :class:`Streamed`.

    Parameters
    ----------
    model, loss, metrics, name
        As in :class:`~remodel_core.TrainingProblem` (``data`` and ``batch_size`` stay None: the pipeline
        holds the data and its batch size).
    pipeline : DataPipeline
        The source of the batches.

    Examples
    --------
    >>> import numpy as np, torch
    >>> pipe = DataPipeline(np.zeros((8, 1), np.float32), batch_size=4)
    >>> PipelineProblem(model=torch.nn.Linear(1, 1), loss=lambda m, x: m(x).pow(2).mean(), pipeline=pipe).n_samples
    8
    """

    pipeline: DataPipeline | None = None

    @property
    def n_samples(self) -> int | None:
        return None if self.pipeline is None else self.pipeline.n_samples

    def validate(self) -> None:
        if not isinstance(self.pipeline, DataPipeline):
            raise TypeError(f"pipeline must be a remodel_core.data.DataPipeline, got {type(self.pipeline).__name__}")
        if self.data is not None or self.batch_size is not None:
            raise ValueError("data and batch_size must be None: the pipeline holds the data and the batch size")
        super().validate()


@dataclasses.dataclass(frozen=True, kw_only=True)
class Streamed(Algorithm):
    """Train a :class:`PipelineProblem` with an optimizer algorithm, one pipeline batch per iteration.

    The batches reach :func:`~remodel_core._training.train` (the loop every optimizer shares: history, NaN
    guard, stopping rules, progress) through its ``between_iterations`` hook, which replaces the data after
    every iteration while the model and the optimizer state go on. Checkpoints are not offered (the
    pipeline's position is not part of train's checkpoint), nor ``data_parallel``. An optimizer's own
    convergence test (a zero gradient of one batch) does not end the run; the multilevel methods (``MGOPT``,
    ``RMTR``), which need a deterministic full-batch objective, are refused.

    Parameters
    ----------
    inner : OptimizerAlgorithm
        The optimizer (Adam, SGD, L-BFGS ...).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from remodel_core import solve
    >>> from remodel_core.optim import Adam
    >>> x = np.linspace(-1, 1, 64, dtype=np.float32)[:, None]
    >>> pipe = DataPipeline(x, 2 * x + 1, batch_size=16, seed=0)
    >>> prob = PipelineProblem(model=torch.nn.Linear(1, 1), loss=lambda m, x, y: ((m(x) - y) ** 2).mean(),
    ...                        pipeline=pipe)
    >>> sol = solve(prob, Streamed(inner=Adam(lr=0.1)), maxiters=200)
    >>> round(float(sol.u.bias.detach()), 1), pipe.epoch
    (1.0, 49)
    """

    inner: OptimizerAlgorithm

    problem_types = (PipelineProblem,)

    @property
    def supported_options(self) -> frozenset[str]:  # type: ignore[override]
        self.validate()  # solve asks for the options before validating: name a wrong inner here
        return frozenset(self.inner.supported_options) - {"checkpoint", "checkpoint_every", "resume", "data_parallel"}

    def validate(self) -> None:
        if not isinstance(self.inner, OptimizerAlgorithm):
            raise TypeError(f"inner must be an optimizer algorithm (Adam, LBFGS, ...), got {type(self.inner).__name__}")
        self.inner.validate()

    def _solve(self, problem: Problem, ctx: SolveContext) -> Solution:
        assert isinstance(problem, PipelineProblem) and problem.pipeline is not None
        from ..optim._multilevel import MultilevelAlgorithm  # lazy: the optimizers are not needed otherwise

        if isinstance(self.inner, MultilevelAlgorithm):  # refused on minibatches of a TrainingProblem, too
            raise ValueError(
                f"inner={type(self.inner).__name__} needs a deterministic full-batch objective, and a pipeline "
                "hands out a new batch every iteration: solve a TrainingProblem with data=(...) instead"
            )
        pipe = problem.pipeline
        first = pipe.next_batch()

        def between(iteration: int, model: Any, optimizer: Any, data: Any) -> tuple[Any, ...]:
            return pipe.next_batch()

        ctx.between_iterations = between  # type: ignore[attr-defined]
        # an optimizer's ``converged`` on one batch is no stationary point of the objective: train goes on
        ctx.streamed_minibatches = True  # type: ignore[attr-defined]
        try:
            return self.inner._solve(dataclasses.replace(problem, data=tuple(first)), ctx)
        finally:
            ctx.between_iterations = None  # type: ignore[attr-defined]
            ctx.streamed_minibatches = False  # type: ignore[attr-defined]
