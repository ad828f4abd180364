"""The :class:`Algorithm` base class: how to solve a problem."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from ._validation import check_positive

__all__ = ["ALWAYS_SUPPORTED", "Algorithm", "check_positive"]

#: Shared options accepted for every algorithm: ``verbose`` is handled by ``solve`` itself, and ``progress`` is a
#: display preference that never changes a result (an algorithm without a long loop simply shows no bar).
ALWAYS_SUPPORTED: frozenset[str] = frozenset({"verbose", "progress"})

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

    Each subclass names in ``supported_options`` the shared options it truly honours (the field names of
    :class:`~remodel_core.SolveOptions`); :func:`~remodel_core.solve` refuses with a ``ValueError`` any other
    shared option given a value other than its default, so no option is silently ignored. ``verbose`` (handled
    by ``solve`` itself) and ``progress`` (a display preference) are accepted for every algorithm.

    Examples
    --------
    >>> from remodel_core.optim import Adam
    >>> Adam(lr=1e-3)
    Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0)
    """

    problem_types: ClassVar[tuple[type, ...]] = ()
    supported_options: ClassVar[frozenset[str]] = frozenset()

    def validate(self) -> None:
        """Raise ``ValueError``/``TypeError`` naming the option when the configuration is invalid."""

    def _solve(self, problem: Problem, ctx: SolveContext) -> Solution:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement _solve")

    def unsupported_options(self, options: Any) -> list[str]:
        """The shared options set in ``options`` (a :class:`~remodel_core.SolveOptions`) that this algorithm
        does not honour: those given a non-default value and missing from ``supported_options``.

        Examples
        --------
        >>> from remodel_core import SolveOptions
        >>> Algorithm().unsupported_options(SolveOptions(maxiters=3, verbose=True))
        ['maxiters']
        """
        unsupported = []
        for field in dataclasses.fields(options):
            name = field.name
            if name in self.supported_options or name in ALWAYS_SUPPORTED:
                continue
            value = getattr(options, name)
            default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
            if value != default:
                unsupported.append(name)
        return unsupported

    def options(self) -> dict[str, Any]:
        """The configuration as a plain dictionary (for reports and checkpoints)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
