"""Showcase reports: what a package's showcase returns to ``remodel showcase``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol


@dataclasses.dataclass
class Table:
    """A table of a report: a caption, a header and rows (numbers are formatted with 4 significant digits).

    Parameters
    ----------
    caption : str
        Shown in bold above the table.
    header : sequence of str
        Column names.
    rows : sequence of sequences
        One sequence per row, as long as ``header``; floats are shown with 4 significant digits.

    Examples
    --------
    >>> Table("errors", ["n", "error"], [[10, 0.012345]]).markdown().splitlines()
    ['**errors**', '', '| n | error |', '|---|---|', '| 10 | 0.01235 |']
    """

    caption: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]

    def markdown(self) -> str:
        def fmt(v: Any) -> str:
            return f"{v:.4g}" if isinstance(v, float) else str(v)

        lines = [f"**{self.caption}**", "", "| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"


@dataclasses.dataclass
class ShowcaseSection:
    """One package's part of the showcase report.

    Parameters
    ----------
    title : str
        Section heading.
    summary : str
        A markdown paragraph: what was run and what it shows.
    tables : list of Table
    figures : list of (caption, path)
        PNG files written under the showcase's output folder; paths relative to it.
    metrics : dict
        Headline figures (also written to ``report.json``); every key distinct.
    headline : str
        One line with the package's headline figure, shown in the report's opening table.
    """

    title: str
    summary: str = ""
    tables: list[Table] = dataclasses.field(default_factory=list)
    figures: list[tuple[str, Path]] = dataclasses.field(default_factory=list)
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    headline: str = ""

    def markdown(self) -> str:
        parts = [f"## {self.title}", "", self.summary, ""]
        parts += [t.markdown() for t in self.tables]
        parts += [f"![{caption}]({Path(path).as_posix()})\n\n*{caption}*\n" for caption, path in self.figures]
        return "\n".join(parts)


@dataclasses.dataclass
class ShowcasePart:
    """What one part of a showcase contributes to its section (text, tables, figures, metrics, time).

    Parameters
    ----------
    summary : str
        A paragraph of markdown: what the part ran and what it found.
    tables : list of Table, optional
        The part's tables.
    figures : list of (str, pathlib.Path), optional
        ``(caption, path)`` of each PNG the part wrote.
    metrics : dict, optional
        Named figures for the machine-readable report (JSON).
    seconds : float, default 0.0
        Wall time of the part (filled in by the showcase runner).
    headline : str, default ""
        One line with the part's headline figure, joined into the section's headline.

    Examples
    --------
    >>> ShowcasePart("A toy part.", metrics={"error": 1e-3}).metrics
    {'error': 0.001}
    """

    summary: str
    tables: list[Table] = dataclasses.field(default_factory=list)
    figures: list[tuple[str, Path]] = dataclasses.field(default_factory=list)
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    headline: str = ""


class Showcase(Protocol):
    """What a package registers under the entry-point group ``remodel.showcase``.

    ``showcase(out, quick=..., progress=...)`` writes its PNG figures under ``out`` and returns a
    :class:`ShowcaseSection`. ``quick=True`` is what ``remodel showcase`` runs by default: it must finish in
    about a minute on two CPU cores; ``quick=False`` (``remodel showcase --full``) is the long comparison.
    """

    def __call__(self, out: Path, *, quick: bool = False, progress: bool = False) -> ShowcaseSection: ...


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend, which every showcase draws its PNGs with.

    Imported on call, so importing a package never pays for matplotlib.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
