"""The :class:`Problem` base class: what to solve, data only."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Problem:
    """Base class of every problem: a frozen dataclass holding data only.

    Subclasses are declared with ``@dataclasses.dataclass(frozen=True)`` and check their fields in
    :meth:`validate`, which :func:`remodel_core.solve` calls before dispatching. A problem may transform
    into another problem (``PINNProblem.discretize(...) -> TrainingProblem``) but never holds solver state.

    Examples
    --------
    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class Quadratic(Problem):
    ...     a: float = 1.0
    >>> Quadratic(a=2.0).a
    2.0
    """

    def validate(self) -> None:
        """Raise ``ValueError``/``TypeError`` naming the field when the problem is malformed."""

    def summary(self) -> dict[str, Any]:
        """A short description of the problem for reports and checkpoints."""
        return {"problem": type(self).__name__}
