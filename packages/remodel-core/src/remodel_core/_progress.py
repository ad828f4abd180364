"""Progress bars (rich), shown only on a terminal unless asked for."""

from __future__ import annotations

import sys
import time
from contextlib import AbstractContextManager
from typing import Any, TextIO

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def want_progress(progress: bool | None) -> bool:
    """Resolve ``progress=None`` to whether a bar can be seen: on a terminal or in a Jupyter notebook.

    Parameters
    ----------
    progress : bool or None
        ``True`` or ``False`` forces the bar on or off; ``None`` shows it when standard error is a terminal
        or when running in a Jupyter kernel (rich renders the bar there as a live widget).

    Returns
    -------
    bool
        Whether to show a progress bar.

    Examples
    --------
    >>> want_progress(False), want_progress(True)
    (False, True)
    """
    if progress is not None:
        return bool(progress)
    if sys.stderr.isatty():
        return True
    from rich.console import Console

    return Console().is_jupyter


class ProgressBar(AbstractContextManager):
    """A single rich progress bar with a free-text status; does nothing when disabled.

    Parameters
    ----------
    description : str
        Label shown left of the bar.
    total : float or None
        Number of steps of a full bar; ``None`` for an open-ended count.
    enabled : bool
        Show the bar (see :func:`want_progress`); when False every method does nothing.

    Examples
    --------
    >>> with ProgressBar("training", total=3, enabled=False) as bar:
    ...     bar.advance(status="loss=1.0")
    """

    def __init__(self, description: str, total: float | None, *, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task: Any = None
        self._description = description
        self._total = total

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[status]}"),
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self._description, total=self._total, status="")
        return self

    def advance(self, n: float = 1, *, status: str | None = None, completed: float | None = None) -> None:
        if self._progress is None:
            return
        kwargs: dict[str, Any] = {} if status is None else {"status": status}
        if completed is not None:
            self._progress.update(self._task, completed=completed, **kwargs)
        else:
            self._progress.update(self._task, advance=n, **kwargs)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


class StageProgress:
    """One line per finished stage of a long run (a showcase, a benchmark): what ran, its figures, the time
    so far and an estimate of the time left (the mean stage time so far times the stages left).

    Parameters
    ----------
    label : str
        Prefix of every line (the package, say).
    total : int
        Number of stages.
    enabled : bool
        Print the lines (to ``stream``, standard error by default); nothing when False.
    stream : text file, optional
        Where to print.

    Examples
    --------
    >>> import io
    >>> buf = io.StringIO()
    >>> stages = StageProgress("core", 2, enabled=True, stream=buf)
    >>> stages.done("Poisson / Adam", evals=1500, rel_l2=0.0123)
    >>> buf.getvalue().startswith("[core 1/2] Poisson / Adam: evals=1500, rel_l2=0.0123 | ")
    True
    """

    def __init__(self, label: str, total: int, *, enabled: bool, stream: TextIO | None = None) -> None:
        self.label, self.total, self.enabled = label, int(total), bool(enabled)
        self.stream = stream
        self.count = 0
        self._t0 = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the reporter was made."""
        return time.perf_counter() - self._t0

    def done(self, stage: str, **figures: Any) -> None:
        """Report that ``stage`` finished, with its figures (evaluations, error, ...)."""
        self.count += 1
        if not self.enabled:
            return
        elapsed = self.elapsed()
        left = max(self.total - self.count, 0)
        eta = f", about {elapsed / self.count * left:.0f} s left" if left else ", done"
        text = ", ".join(f"{k}={_fmt(v)}" for k, v in figures.items())
        line = f"[{self.label} {self.count}/{self.total}] {stage}: {text} | {elapsed:.1f} s{eta}"
        print(line, file=self.stream if self.stream is not None else sys.stderr, flush=True)
