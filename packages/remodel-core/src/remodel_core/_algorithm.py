"""The :class:`Algorithm` base class: how to solve a problem."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ._context import SolveContext
    from ._problem import Problem
    from ._solution import Solution


@dataclasses.dataclass(frozen=True, kw_only=True)
class Algorithm:
    """Base class of every algorithm: a keyword-only configuration with no logic in ``__init__``.

    Subclasses are ``@dataclasses.dataclass(frozen=True, kw_only=True)``, list the problem classes they
    solve in ``problem_types``, check their own options in :meth:`validate` and implement :meth:`_solve`.
    Options shared by every algorithm (maxiters, maxtime, tolerances, callback, progress, seed, device,
    dtype, checkpoint) are keywords of :func:`remodel_core.solve` and reach ``_solve`` through the
    :class:`~remodel_core.SolveContext`.

    Examples
    --------
    >>> from remodel_core.optim import Adam
    >>> Adam(lr=1e-3)
    Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0)
    """

    problem_types: ClassVar[tuple[type, ...]] = ()

    def validate(self) -> None:
        """Raise ``ValueError``/``TypeError`` naming the option when the configuration is invalid."""

    def _solve(self, problem: Problem, ctx: SolveContext) -> Solution:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement _solve")

    def options(self) -> dict[str, Any]:
        """The configuration as a plain dictionary (for reports and checkpoints)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def check_positive(name: str, value: float, *, allow_zero: bool = False, integer: bool = False) -> None:
    """Raise a clear error unless ``value`` is a positive (or non-negative) number.

    Examples
    --------
    >>> check_positive("lr", 0.1)
    >>> check_positive("lr", -1.0)
    Traceback (most recent call last):
    ...
    ValueError: lr must be > 0, got -1.0
    """
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = "an integer" if integer else "a number"
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}")
    if value != value:  # NaN
        raise ValueError(f"{name} must be a number, got NaN")
    if (value < 0) if allow_zero else (value <= 0):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
