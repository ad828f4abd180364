"""Conformance checks that any package's problem or algorithm can be run through in its tests.

Examples
--------
>>> import torch
>>> from remodel_core import TrainingProblem
>>> from remodel_core.optim import Adam
>>> prob = TrainingProblem(model=torch.nn.Linear(2, 1), loss=lambda m: m.weight.pow(2).sum())
>>> check_problem(prob)
>>> check_algorithm(Adam(lr=1e-2), prob).retcode.name
'MaxIters'
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from ._algorithm import Algorithm
from ._problem import Problem
from ._retcode import ReturnCode
from ._solution import Solution
from ._solve import solve


def check_problem(problem: Problem) -> None:
    """Assert that ``problem`` follows the interface: a frozen dataclass that validates and cannot be mutated."""
    assert isinstance(problem, Problem), f"{type(problem).__name__} is not a remodel_core.Problem"
    assert dataclasses.is_dataclass(problem), f"{type(problem).__name__} is not a dataclass"
    params = getattr(type(problem), "__dataclass_params__", None)
    assert params is not None and params.frozen, f"{type(problem).__name__} must be a frozen dataclass"
    problem.validate()
    fields = dataclasses.fields(problem)
    if fields:
        try:
            setattr(problem, fields[0].name, None)
        except dataclasses.FrozenInstanceError:
            pass
        else:  # pragma: no cover - only reached by a broken problem class
            raise AssertionError(f"{type(problem).__name__} could be mutated")
    assert isinstance(problem.summary(), dict)


def _fingerprint(u: Any) -> list[float]:
    if isinstance(u, torch.nn.Module):
        return [float(p.detach().double().sum()) for p in u.parameters()]
    if isinstance(u, torch.Tensor):
        return [float(u.detach().double().sum())]
    return []


def check_algorithm(algorithm: Algorithm, problem: Problem, **options: Any) -> Solution:
    """Assert that ``algorithm`` follows the interface on ``problem`` and return a short solve's solution.

    Checks: a frozen keyword-only dataclass that validates; a wrong problem type, a negative ``maxiters`` and an
    unknown option are rejected with clear errors; ``solve`` returns a :class:`Solution` with a return code,
    ``stats`` and equally long ``history`` lists; two runs with the same seed give the same result.
    ``options`` are passed to ``solve`` (default ``maxiters=3``).
    """
    cls = type(algorithm)
    assert isinstance(algorithm, Algorithm), f"{cls.__name__} is not a remodel_core.Algorithm"
    params = getattr(cls, "__dataclass_params__", None)
    assert params is not None and params.frozen, f"{cls.__name__} must be a frozen dataclass"
    assert all(f.kw_only for f in dataclasses.fields(algorithm) if f.init), f"{cls.__name__} must be keyword-only"
    assert cls.problem_types, f"{cls.__name__}.problem_types is empty"
    algorithm.validate()

    @dataclasses.dataclass(frozen=True)
    class _Other(Problem):
        pass

    for bad, exc in (((_Other(), algorithm), {}), ((problem, algorithm), {"maxiters": -1}),
                     ((problem, algorithm), {"no_such_option": 1})):
        args, kwargs = bad, exc
        try:
            solve(*args, **kwargs)
        except (TypeError, ValueError) as err:
            assert str(err), "errors must carry a message"
        else:  # pragma: no cover - only reached by a broken algorithm
            raise AssertionError(f"solve{(type(args[0]).__name__, kwargs)} was not rejected")

    options = {"maxiters": 3, "seed": 0, "progress": False, **options}
    first = solve(problem, algorithm, **options)
    assert isinstance(first, Solution)
    assert isinstance(first.retcode, ReturnCode)
    assert {"wall_s"} <= set(first.stats), "stats must hold wall_s"
    lengths = {len(v) for v in first.history.values()}
    assert len(lengths) <= 1, f"history lists must have equal length, got {lengths}"
    second = solve(problem, algorithm, **options)
    a, b = _fingerprint(first.u), _fingerprint(second.u)
    assert all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b)), "same seed, different result"
    return first
