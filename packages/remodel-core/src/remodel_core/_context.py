"""The :class:`SolveContext`: what an algorithm's ``_solve`` gets besides the problem."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ._options import SolveOptions
from ._retcode import ReturnCode


class SolveContext:
    """Shared options, clocks, counters, history and generators of one solve.

    Algorithms record with :meth:`log`, count work in :attr:`stats`, draw randomness from
    :attr:`generator` (torch) and :attr:`rng` (numpy), and ask :meth:`stop_reason` after each
    iteration whether a shared stopping rule holds.

    Parameters
    ----------
    options : SolveOptions
        The shared options of the solve; ``options.seed`` seeds :attr:`generator` and :attr:`rng`.

    Examples
    --------
    >>> ctx = SolveContext(SolveOptions(maxiters=2))
    >>> ctx.log(iteration=1, loss=0.5)
    >>> ctx.stop_reason(iteration=1, loss=0.5), ctx.stop_reason(iteration=2, loss=0.4)
    (None, <ReturnCode.MaxIters: 'MaxIters'>)
    """

    def __init__(self, options: SolveOptions) -> None:
        self.options = options
        self.generator = torch.Generator(device="cpu").manual_seed(options.seed)
        self.rng = np.random.default_rng(options.seed)
        self.history: dict[str, list[float]] = {}
        self.stats: dict[str, Any] = {"iterations": 0, "evals": 0, "wall_s": 0.0}
        self._t0 = time.perf_counter()
        self._elapsed_before = 0.0
        self._excluded = 0.0
        self._last_loss: float | None = None

    # clocks -------------------------------------------------------------------------------------------
    def elapsed(self) -> float:
        """Wall-clock seconds of this solve's own work (monitoring excluded), the resumed run's included."""
        return self._elapsed_before + time.perf_counter() - self._t0 - self._excluded

    def restore_clock(self, elapsed: float) -> None:
        """Continue the clock of a resumed run."""
        self._elapsed_before = float(elapsed)
        self._t0 = time.perf_counter()
        self._excluded = 0.0

    @contextlib.contextmanager
    def excluded_time(self) -> Iterator[None]:
        """Time spent inside this block (metric evaluation, checkpoints) does not count against maxtime."""
        t = time.perf_counter()
        try:
            yield
        finally:
            self._excluded += time.perf_counter() - t

    # history ------------------------------------------------------------------------------------------
    def log(self, **values: float) -> None:
        """Append one row of monitored values; a new name is back-filled with NaN so lists stay aligned."""
        n = len(next(iter(self.history.values()))) if self.history else 0
        for name in values:
            if name not in self.history:
                self.history[name] = [math.nan] * n
        for name, column in self.history.items():
            value = values.get(name, math.nan)
            column.append(float(value.item() if isinstance(value, torch.Tensor) else value))

    def restore_history(self, history: dict[str, Any]) -> None:
        """Continue the history of a resumed run (columns of floats or tensors); ``reltol`` then compares the
        next loss with the interrupted run's last one, as the uninterrupted run would."""
        self.history = {k: [float(x) for x in v] for k, v in history.items()}
        last = self.history.get("loss", [])[-1:]
        self._last_loss = last[0] if last and math.isfinite(last[0]) else None

    # stopping -----------------------------------------------------------------------------------------
    def stop_reason(self, *, iteration: int, loss: float | None = None, state: Any = None) -> ReturnCode | None:
        """The shared stopping rules in order: divergence, tolerances, callback, budgets."""
        opts = self.options
        if loss is not None and not math.isfinite(loss):
            return ReturnCode.Diverged
        if loss is not None:
            if opts.abstol is not None and loss <= opts.abstol:
                return ReturnCode.Success
            if (
                opts.reltol is not None
                and self._last_loss is not None
                and abs(self._last_loss - loss) <= opts.reltol * abs(loss)
            ):
                return ReturnCode.Success
            self._last_loss = loss
        if opts.callback is not None:
            info = {"iteration": iteration, "loss": loss, "elapsed": self.elapsed(), "state": state}
            if opts.callback(info):
                return ReturnCode.Terminated
        if opts.maxiters is not None and iteration >= opts.maxiters:
            return ReturnCode.MaxIters
        if opts.maxtime is not None and self.elapsed() >= opts.maxtime:
            return ReturnCode.MaxTime
        return None
