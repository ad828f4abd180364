"""The ``remodel`` command: ``remodel info`` and ``remodel showcase``.

Examples
--------
>>> from typer.testing import CliRunner
>>> result = CliRunner().invoke(app, ["--version"])
>>> result.output.strip()
'remodel 0.1.0'
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from ._info import collect_info, environment_summary
from ._showcase_runner import ShowcaseResult, run_showcase, select_showcases, write_report
from .distributed._cli import train

app = typer.Typer(
    name="remodel",
    help="REMODEL: mathematics of deep learning in scientific computing.",
    no_args_is_help=False,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"remodel {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """REMODEL: mathematics of deep learning in scientific computing."""
    if ctx.invoked_subcommand is None:  # `remodel` alone: the help, and a successful exit
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


def _check_writable(out: Path) -> None:
    """One line and exit code 2 (bad usage) when the report folder cannot be created or written."""
    probe = out / ".remodel-write-test"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        typer.echo(f"Error: --out {str(out)!r} is not a writable folder ({reason})", err=True)
        raise typer.Exit(code=2) from None


def _print_info(info: dict[str, Any], console: Console) -> None:
    table = RichTable(title=f"REMODEL {info['remodel']}", show_header=True, header_style="bold")
    table.add_column("item")
    table.add_column("value")
    py = info["python"]
    table.add_row("python", f"{py['version']} ({py['executable']})")
    plat = info["platform"]
    table.add_row("platform", f"{plat['system']} {plat['release']} {plat['machine']}, {plat['cpu_count']} CPUs")
    for name, version in info["libraries"].items():
        table.add_row(name, version or "not installed")
    t = info["torch"]
    device = ", ".join(t["cuda_devices"]) if t["cuda_available"] else f"{t['default_device']} (no CUDA)"
    table.add_row("torch device", device)
    table.add_row("torch threads", f"{t['num_threads']} intra-op, {t['num_interop_threads']} inter-op")
    n = info["numba"]
    layer = n.get("threading_layer") or f"unavailable ({n.get('error', 'not probed')})"
    table.add_row("numba threading", f"{layer}, {n.get('num_threads')} threads")
    console.print(table)

    packages = RichTable(title="REMODEL packages", header_style="bold")
    packages.add_column("distribution")
    packages.add_column("version")
    for name, version in info["packages"].items():
        packages.add_row(name, version or "not installed")
    console.print(packages)

    showcases = RichTable(title="Registered showcases (remodel showcase NAME)", header_style="bold")
    showcases.add_column("name")
    showcases.add_column("entry point")
    for name, target in info["showcases"].items():
        showcases.add_row(name, target)
    console.print(showcases)


@app.command()
def info(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Versions, torch device, numba threading layer, installed REMODEL packages and showcases."""
    data = collect_info()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        _print_info(data, Console())


@app.command()
def showcase(
    packages: Annotated[
        list[str] | None,
        typer.Argument(
            help="Showcases to run (package names such as core, dynamics, rom); all when none is given.",
            show_default=False,
        ),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="The long comparisons (tens of minutes); the default run takes minutes.")
    ] = False,
    quick: Annotated[
        bool, typer.Option("--quick", hidden=True, help="The default run (kept for old scripts).")
    ] = False,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for report.md, report.json and figures.", file_okay=False)
    ] = Path("remodel-report"),
    no_progress: Annotated[bool, typer.Option("--no-progress", help="Hide the progress bars.")] = False,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            min=1,
            help="Torch intra-op threads for the run (default: torch's own choice). "
            "On a busy machine, 1 avoids oversubscription.",
        ),
    ] = None,
) -> None:
    """Run the registered showcases and write DIR/report.md (tables, PNG figures) and DIR/report.json.

    The default run takes minutes and prints one line per stage; --full runs the long comparisons.
    """
    try:
        selected = select_showcases(packages or [])
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="PACKAGES") from err
    if not selected:
        raise typer.BadParameter(
            "no showcase is registered (entry-point group 'remodel.showcase')", param_hint="PACKAGES"
        )
    if threads is not None:
        import torch

        torch.set_num_threads(threads)  # the application's choice for this process, asked for explicitly
    console = Console(stderr=True)
    if full and quick:
        raise typer.BadParameter("--full and --quick exclude each other", param_hint="--full")
    quick = not full
    _check_writable(out)
    progress = not no_progress
    info_data = collect_info()
    console.print(environment_summary(info_data), highlight=False)
    results: list[ShowcaseResult] = []
    t0 = time.perf_counter()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
    ) as bar:
        task = bar.add_task("showcases", total=len(selected))
        for name, target in selected.items():
            bar.update(task, description=f"showcase {name}")
            result = run_showcase(name, target, out, quick=quick, progress=progress)
            results.append(result)
            status = "[green]ok[/green]" if result.ok else "[red]FAILED[/red]"
            console.print(f"{name}: {status} in {result.seconds:.1f} s")
            if not result.ok:
                console.print(result.error, markup=False, highlight=False)
            bar.advance(task)
    md, js = write_report(out, results, info_data, quick=quick)
    failed = [r.name for r in results if not r.ok]
    console.print(f"wrote {md} and {js} in {time.perf_counter() - t0:.1f} s", highlight=False)
    if failed:
        console.print(f"[red]failed showcase(s): {', '.join(failed)}[/red]")
        raise typer.Exit(code=1)


app.command()(train)  # remodel train --nproc N CONFIG (issue 14: remodel_core.distributed)

__all__ = ["app", "info", "main", "showcase", "train"]
