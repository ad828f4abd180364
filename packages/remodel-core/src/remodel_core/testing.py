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

from ._algorithm import ALWAYS_SUPPORTED, Algorithm
from ._options import SolveOptions
from ._problem import Problem
from ._retcode import ReturnCode
from ._solution import Solution
from ._solve import solve

__all__ = ["check_algorithm", "check_problem"]


def check_problem(problem: Problem) -> None:
    """Assert that ``problem`` follows the interface: a frozen dataclass that validates and cannot be mutated.

    Parameters
    ----------
    problem : Problem
        The problem instance to check; its ``summary()`` must return a dict.

    Raises
    ------
    AssertionError
        Naming the first broken rule.
    """
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

    Checks: a frozen keyword-only dataclass that validates; ``supported_options`` names shared options only, and
    each shared option it does not name is refused by ``solve`` (never silently ignored); a wrong problem type, a
    negative ``maxiters`` and an unknown option are rejected with clear errors; ``solve`` returns a
    :class:`Solution` with a return code, ``stats`` and equally long ``history`` lists; two runs with the same seed
    give the same result. ``options`` are passed to ``solve`` (default ``maxiters=3`` when the algorithm
    supports ``maxiters``).

    Parameters
    ----------
    algorithm : Algorithm
        The configured algorithm.
    problem : Problem
        A small problem it solves.
    **options
        Shared options of the short solves.
    """
    cls = type(algorithm)
    assert isinstance(algorithm, Algorithm), f"{cls.__name__} is not a remodel_core.Algorithm"
    params = getattr(cls, "__dataclass_params__", None)
    assert params is not None and params.frozen, f"{cls.__name__} must be a frozen dataclass"
    assert all(f.kw_only for f in dataclasses.fields(algorithm) if f.init), f"{cls.__name__} must be keyword-only"
    assert cls.problem_types, f"{cls.__name__}.problem_types is empty"
    shared = {f.name for f in dataclasses.fields(SolveOptions)}
    supported = algorithm.supported_options  # a class attribute, or a property of a wrapper
    assert isinstance(supported, frozenset), f"{cls.__name__}.supported_options must be a frozenset"
    assert supported <= shared, f"not shared options: {sorted(supported - shared)}"
    algorithm.validate()
    probes = {
        "maxiters": 2,
        "maxtime": 1e6,
        "abstol": 1e-300,
        "reltol": 1e-300,
        "callback": lambda state: None,
        "seed": 1,
        "dtype": torch.float64,
        "checkpoint": "unused.pt",
        "monitor_every": 2,
    }
    for name, value in probes.items():
        if name in supported or name in ALWAYS_SUPPORTED:
            continue
        try:
            solve(problem, algorithm, **{name: value})
        except ValueError as err:
            assert name in str(err) and cls.__name__ in str(err), f"unclear refusal of {name}: {err}"
        else:  # pragma: no cover - only reached by a broken algorithm
            raise AssertionError(f"{cls.__name__} accepted the shared option {name} it does not support")

    @dataclasses.dataclass(frozen=True)
    class _Other(Problem):
        pass

    for bad, exc in (
        ((_Other(), algorithm), {}),
        ((problem, algorithm), {"maxiters": -1}),
        ((problem, algorithm), {"no_such_option": 1}),
    ):
        args, kwargs = bad, exc
        try:
            solve(*args, **kwargs)
        except (TypeError, ValueError) as err:
            assert str(err), "errors must carry a message"
        else:  # pragma: no cover - only reached by a broken algorithm
            raise AssertionError(f"solve{(type(args[0]).__name__, kwargs)} was not rejected")

    default = {"maxiters": 3} if "maxiters" in supported else {}
    options = {**default, "progress": False, **options}
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
