"""The :class:`Solution` returned by :func:`remodel_core.solve`."""

from __future__ import annotations

import dataclasses
from typing import Any

from ._retcode import ReturnCode


@dataclasses.dataclass
class Solution:
    """Result of a solve.

    Parameters
    ----------
    u : Any
        The result: a trained model, samples, a reduced model, ...
    retcode : ReturnCode
        Why the solve stopped.
    stats : dict
        Counters: ``iterations``, ``evals`` (loss/gradient evaluations), ``wall_s`` and algorithm-specific ones.
    history : dict[str, list[float]]
        Monitored quantities, one list per name, all of equal length (``iteration``, ``loss``, ``time`` ...).
    problem, algorithm
        What was solved and how.

    Examples
    --------
    >>> sol = Solution(u=1.0, retcode=ReturnCode.Success)
    >>> sol.success
    True
    """

    u: Any
    retcode: ReturnCode
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)
    history: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    problem: Any = None
    algorithm: Any = None

    @property
    def success(self) -> bool:
        """True when the algorithm's own criterion was met (``Success``) or the user stopped it (``Terminated``);
        False for a budget that ran out (``MaxIters``, ``MaxTime``), ``Diverged`` and ``Failure``
        (SciMLBase's ``successful_retcode``)."""
        return self.retcode.successful

    def __repr__(self) -> str:
        stats = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.stats.items())
        return (
            f"Solution(retcode={self.retcode.name}, u={type(self.u).__name__}, "
            f"algorithm={type(self.algorithm).__name__}, {stats})"
        )
