"""The entry point :func:`solve`."""

from __future__ import annotations

import dataclasses
from typing import Any

from ._algorithm import Algorithm
from ._context import SolveContext
from ._options import SolveOptions
from ._problem import Problem
from ._solution import Solution
from ._training import check_data_parallel


def solve(problem: Problem, algorithm: Algorithm, **options: Any) -> Solution:
    """Solve ``problem`` with ``algorithm``.

    Parameters
    ----------
    problem : Problem
        What to solve (data only).
    algorithm : Algorithm
        How to solve it; it must list the problem's type in ``problem_types``.
    **options
        Shared options, see :class:`SolveOptions`: ``maxiters``, ``maxtime``, ``abstol``, ``reltol``,
        ``callback``, ``progress``, ``seed``, ``device``, ``dtype``, ``checkpoint``, ``checkpoint_every``,
        ``resume``, ``monitor_every``, ``verbose``, ``data_parallel``. An option the algorithm does not
        list in ``supported_options`` may only keep its default value (else ``ValueError``).

    Returns
    -------
    Solution
        ``u`` (the result), ``retcode``, ``stats`` and ``history``.

    Examples
    --------
    >>> import torch
    >>> from remodel_core import TrainingProblem, solve
    >>> from remodel_core.optim import Adam
    >>> x = torch.linspace(-1, 1, 64).unsqueeze(1)
    >>> prob = TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m, x, y: ((m(x) - y) ** 2).mean(),
    ...                        data=(x, 3 * x + 1))
    >>> sol = solve(prob, Adam(lr=0.1), maxiters=300)
    >>> sol.retcode.name, round(float(sol.u.bias.detach()), 2)
    ('MaxIters', 1.0)
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a remodel_core.Problem, got {type(problem).__name__}")
    if not isinstance(algorithm, Algorithm):
        raise TypeError(f"algorithm must be a remodel_core.Algorithm, got {type(algorithm).__name__}")
    if not isinstance(problem, algorithm.problem_types):
        solvable = ", ".join(t.__name__ for t in algorithm.problem_types) or "nothing"
        raise TypeError(
            f"algorithm {type(algorithm).__name__} cannot solve a {type(problem).__name__}; it solves: {solvable}"
        )
    opts = SolveOptions.from_kwargs(**options)
    unsupported = algorithm.unsupported_options(opts)
    if unsupported:
        name = type(algorithm).__name__
        given = ", ".join(f"{n}={getattr(opts, n)!r}" for n in unsupported)
        honoured = ", ".join(sorted(algorithm.supported_options)) or "none besides verbose and progress"
        raise ValueError(
            f"{name} does not support the shared solve option(s) {given}: it would ignore "
            f"{'it' if len(unsupported) == 1 else 'them'}. {name} honours: {honoured}"
        )
    problem.validate()
    algorithm.validate()
    if opts.data_parallel:
        check_data_parallel(problem, algorithm)
    ctx = SolveContext(opts)
    sol = algorithm._solve(problem, ctx)
    sol.stats.setdefault("wall_s", ctx.elapsed())
    sol.problem = problem
    sol.algorithm = algorithm
    if opts.verbose:
        print(sol)
    return sol


def remake(obj: Any, **changes: Any) -> Any:
    """A copy of a problem or algorithm with some fields changed (``dataclasses.replace``).

    Parameters
    ----------
    obj : dataclass instance
        A problem or an algorithm.
    **changes
        New values of fields of ``obj``.

    Returns
    -------
    same type as ``obj``
        A new object; ``obj`` is unchanged.

    Examples
    --------
    >>> from remodel_core.optim import Adam
    >>> remake(Adam(lr=1e-3), lr=1e-2).lr
    0.01
    """
    return dataclasses.replace(obj, **changes)
