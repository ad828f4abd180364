"""Return codes of :func:`remodel_core.solve`."""

from __future__ import annotations

import enum


class ReturnCode(enum.Enum):
    """Why a solve stopped.

    ``Success``: the algorithm met its own convergence criterion or the tolerance asked for.
    ``MaxIters``/``MaxTime``: the iteration or wall-clock budget ran out.
    ``Diverged``: a loss or parameter became NaN/Inf; the last good state is kept.
    ``Terminated``: the user's callback asked to stop.
    ``Failure``: the algorithm could not make progress (e.g. a line search found no descent).

    Examples
    --------
    >>> ReturnCode.Success.successful, ReturnCode.MaxIters.successful
    (True, False)
    """

    Success = "Success"
    MaxIters = "MaxIters"
    MaxTime = "MaxTime"
    Diverged = "Diverged"
    Terminated = "Terminated"
    Failure = "Failure"

    @property
    def successful(self) -> bool:
        """True for ``Success`` and ``Terminated`` only, as SciMLBase's ``successful_retcode``: a budget that ran
        out (``MaxIters``, ``MaxTime``) is not a success, and neither is ``Diverged`` or ``Failure``."""
        return self in (ReturnCode.Success, ReturnCode.Terminated)
