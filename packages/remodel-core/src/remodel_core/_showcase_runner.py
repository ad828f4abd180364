"""Discover, run and report the showcases that packages register under ``remodel.showcase``."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._info import SHOWCASE_GROUP, environment_summary, showcase_entry_points
from ._report import ShowcaseSection, Table, pyplot

REPORT_TITLE = "REMODEL showcase report"


@dataclasses.dataclass
class ShowcaseResult:
    """The outcome of one showcase: its section, or the traceback of its failure.

    Attributes
    ----------
    name : str
        Entry-point name (``core``, ``dynamics``, ...).
    seconds : float
        Wall-clock time of loading and running it.
    section : ShowcaseSection or None
        What it returned; ``None`` when it failed.
    error : str or None
        The formatted traceback when it failed.
    """

    name: str
    seconds: float
    section: ShowcaseSection | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def select_showcases(names: Sequence[str] | None = None, available: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The registered showcases named in ``names`` (all of them when empty), in the order asked for.

    Parameters
    ----------
    names : sequence of str, optional
        Showcase (package) names; duplicates are dropped.
    available : mapping, optional
        Name -> entry point (or callable); defaults to the installed entry points.

    Raises
    ------
    ValueError
        When a name is not registered; the message lists the available ones.

    Examples
    --------
    >>> list(select_showcases(["core"]))
    ['core']
    >>> select_showcases(["nope"], available={"core": None})
    Traceback (most recent call last):
    ...
    ValueError: unknown showcase 'nope'; available: core
    """
    available = dict(showcase_entry_points() if available is None else available)
    if not names:
        return available
    unknown = [n for n in names if n not in available]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        listed = ", ".join(sorted(available)) or f"none (no package registers the group {SHOWCASE_GROUP!r})"
        raise ValueError(f"unknown showcase{plural} {', '.join(map(repr, unknown))}; available: {listed}")
    return {n: available[n] for n in dict.fromkeys(names)}


def run_showcase(name: str, target: Any, out: Path, *, quick: bool, progress: bool) -> ShowcaseResult:
    """Load and run one showcase into ``out/name``; any exception is caught and kept as a traceback.

    ``target`` is an entry point (loaded here, so an import error counts as the showcase's failure) or
    the showcase callable itself. The section's figures must exist under ``out/name``.
    """
    plt = pyplot()
    import torch

    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    t0 = time.perf_counter()
    try:
        fn: Callable[..., Any] = target.load() if hasattr(target, "load") else target
        section = fn(folder, quick=quick, progress=progress)
        if not isinstance(section, ShowcaseSection):
            raise TypeError(f"showcase {name!r} returned {type(section).__name__}, expected a ShowcaseSection")
        missing = [str(p) for _, p in section.figures if not (folder / p).is_file()]
        if missing:
            raise FileNotFoundError(f"showcase {name!r} lists figures it did not write: {', '.join(missing)}")
        return ShowcaseResult(name, time.perf_counter() - t0, section=section)
    except Exception:
        return ShowcaseResult(name, time.perf_counter() - t0, error=traceback.format_exc())
    finally:
        plt.close("all")
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def _jsonable(value: Any) -> Any:
    """Plain JSON values: numpy/torch scalars to floats, arrays to lists, non-finite floats to strings."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Path):
        return value.as_posix()
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return _jsonable(value.tolist())
    return str(value)


def _section_markdown(result: ShowcaseResult) -> str:
    """A section's markdown with figure paths made relative to the report folder."""
    if result.section is None:
        return (
            f"## {result.name}: failed\n\nThe showcase raised an exception after {result.seconds:.1f} s:\n\n"
            f"```text\n{(result.error or '').rstrip()}\n```\n"
        )
    sec = result.section
    moved = dataclasses.replace(sec, figures=[(c, Path(result.name) / p) for c, p in sec.figures])
    return moved.markdown().rstrip() + f"\n\n*Showcase `{result.name}` ran in {result.seconds:.1f} s.*\n"


def report_markdown(
    results: Sequence[ShowcaseResult], info: Mapping[str, Any], *, quick: bool, generated: _dt.datetime | None = None
) -> str:
    """The text of ``report.md``: title, date, environment, a timing table and every section.

    Examples
    --------
    >>> from remodel_core import ShowcaseSection
    >>> r = ShowcaseResult("demo", 1.0, section=ShowcaseSection(title="Demo", summary="Hello."))
    >>> info = {"remodel": "0.1.0", "python": {"version": "3.11"}, "platform": {"system": "Linux",
    ...         "machine": "x86_64", "cpu_count": 2}, "torch": {"cuda_available": False, "cuda_devices": [],
    ...         "default_device": "cpu", "num_threads": 2}, "numba": {}, "libraries": {}}
    >>> "## Demo" in report_markdown([r], info, quick=True)
    True
    """
    generated = generated or _dt.datetime.now(_dt.UTC)
    total = sum(r.seconds for r in results)
    failed = [r.name for r in results if not r.ok]
    mode = "default" if quick else "full"
    lines = [
        f"# {REPORT_TITLE}",
        "",
        f"Generated {generated:%Y-%m-%d %H:%M UTC} by `remodel showcase{'' if quick else ' --full'}` "
        f"({mode} mode): {len(results)} showcase(s) in {total:.1f} s, "
        f"{len(results) - len(failed)} passed, {len(failed)} failed.",
        "",
        f"**Environment.** {environment_summary(info)}",
        "",
    ]
    overview = Table(
        caption="What ran, how long it took, and the headline figure of each package",
        header=["showcase", "title", "status", "time (s)", "headline"],
        rows=[
            [
                r.name,
                r.section.title if r.section else "-",
                "ok" if r.ok else "FAILED",
                f"{r.seconds:.1f}",
                (r.section.headline if r.section else "") or "-",
            ]
            for r in results
        ],
    )
    lines.append(overview.markdown())
    lines += [_section_markdown(r) for r in results]
    return "\n".join(lines).rstrip() + "\n"


def report_json(
    results: Sequence[ShowcaseResult], info: Mapping[str, Any], *, quick: bool, generated: _dt.datetime | None = None
) -> dict[str, Any]:
    """The content of ``report.json``: environment, and per showcase its status, time and metrics."""
    generated = generated or _dt.datetime.now(_dt.UTC)
    return _jsonable(
        {
            "title": REPORT_TITLE,
            "generated": generated.isoformat(timespec="seconds"),
            "quick": quick,
            "mode": "default" if quick else "full",
            "total_seconds": sum(r.seconds for r in results),
            "environment": info,
            "showcases": {
                r.name: {
                    "status": "ok" if r.ok else "failed",
                    "seconds": r.seconds,
                    "title": r.section.title if r.section else None,
                    "headline": r.section.headline if r.section else None,
                    "metrics": r.section.metrics if r.section else {},
                    "figures": [Path(r.name) / p for _, p in r.section.figures] if r.section else [],
                    "error": r.error,
                }
                for r in results
            },
        }
    )


def write_report(
    out: Path, results: Sequence[ShowcaseResult], info: Mapping[str, Any], *, quick: bool
) -> tuple[Path, Path]:
    """Write ``out/report.md`` and ``out/report.json``; return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    now = _dt.datetime.now(_dt.UTC)
    md, js = out / "report.md", out / "report.json"
    md.write_text(report_markdown(results, info, quick=quick, generated=now), encoding="utf-8")
    js.write_text(json.dumps(report_json(results, info, quick=quick, generated=now), indent=2) + "\n", encoding="utf-8")
    return md, js
