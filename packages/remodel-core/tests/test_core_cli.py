"""The ``remodel`` command: bad input, info, the showcase runner and its report files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from remodel_core import ShowcaseSection, Table
from remodel_core._info import REMODEL_DISTRIBUTIONS, collect_info, distribution_version
from remodel_core._showcase_runner import (
    ShowcaseResult,
    _jsonable,
    report_json,
    report_markdown,
    run_showcase,
    select_showcases,
    write_report,
)
from remodel_core.cli import app
from typer.testing import CliRunner

matplotlib.use("Agg")
runner = CliRunner()


def _fake_showcase(out: Path, *, quick: bool = False, progress: bool = False) -> ShowcaseSection:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    fig.savefig(out / "line.png")
    return ShowcaseSection(
        title="Fake",
        summary=f"quick={quick}",
        tables=[Table("T", ["a"], [[1.5]])],
        figures=[("a line", Path("line.png"))],
        metrics={"value": np.float64(2.5)},
    )


def _broken_showcase(out: Path, *, quick: bool = False, progress: bool = False) -> ShowcaseSection:
    raise RuntimeError("this showcase is broken on purpose")


def test_unknown_showcase_is_a_clear_error_listing_the_available_ones():
    result = runner.invoke(app, ["showcase", "no-such-package", "--quick", "--no-progress"])
    assert result.exit_code == 2
    assert "unknown showcase 'no-such-package'" in result.output
    assert "available:" in result.output and "core" in result.output


def test_select_showcases_rejects_unknown_names_and_keeps_order():
    available = {"a": 1, "b": 2, "c": 3}
    assert list(select_showcases([], available)) == ["a", "b", "c"]
    assert list(select_showcases(["c", "a", "c"], available)) == ["c", "a"]
    with pytest.raises(ValueError, match=r"unknown showcases 'x', 'y'; available: a, b, c"):
        select_showcases(["x", "a", "y"], available)


def test_cli_without_arguments_shows_help_and_version_prints():
    result = runner.invoke(app, [])
    assert result.exit_code == 0, result.output  # `remodel` alone is a request for help, not an error
    assert "showcase" in result.output and "info" in result.output
    assert runner.invoke(app, ["--version"]).output.strip() == "remodel 0.1.0"


def test_dash_h_is_help_everywhere():
    for args in ([], ["showcase"], ["info"]):
        short, long = runner.invoke(app, [*args, "-h"]), runner.invoke(app, [*args, "--help"])
        assert short.exit_code == long.exit_code == 0, short.output
        assert short.output == long.output and "Usage:" in short.output


def test_unwritable_out_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for out in (blocker / "report", Path("/proc/forbidden")):
        result = runner.invoke(app, ["showcase", "core", "--out", str(out), "--no-progress"])
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "--out" in lines[0] and "not a writable folder" in lines[0], lines


def test_full_and_quick_exclude_each_other(tmp_path):
    result = runner.invoke(app, ["showcase", "core", "--full", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--full" in result.output


def test_report_opens_with_what_ran_its_time_and_headline():
    info = collect_info(numba_layer=False)
    sec = ShowcaseSection(title="A", headline="error 1.2e-3 (method X)")
    md = report_markdown([ShowcaseResult("a", 2.5, section=sec)], info, quick=True)
    head = md.split("## A")[0]
    assert "by `remodel showcase` (default mode)" in head
    assert "| a | A | ok | 2.5 | error 1.2e-3 (method X) |" in head
    data = report_json([ShowcaseResult("a", 2.5, section=sec)], info, quick=False)
    assert data["mode"] == "full" and data["showcases"]["a"]["headline"] == "error 1.2e-3 (method X)"


def test_info_json_is_one_object_with_versions_devices_and_packages():
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data["packages"]) == list(REMODEL_DISTRIBUTIONS)
    assert data["packages"]["remodel-core"] == "0.1.0"
    assert data["libraries"]["torch"] == torch.__version__.split("+")[0]
    assert data["torch"]["cuda_available"] == torch.cuda.is_available()
    assert data["torch"]["num_threads"] == torch.get_num_threads()
    assert data["numba"]["threading_layer"] in ("tbb", "omp", "workqueue")
    assert data["showcases"]["core"] == "remodel_core.showcase:showcase"


def test_info_table_output_names_the_packages():
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    for name in ("remodel-core", "torch device", "numba threading"):
        assert name in result.output


def test_distribution_version_of_a_missing_package_is_none():
    assert distribution_version("surely-not-installed-remodel-xyz") is None
    assert collect_info(numba_layer=False)["numba"]["version"] == distribution_version("numba")


def test_run_showcase_keeps_the_section_and_checks_figures(tmp_path):
    result = run_showcase("fake", _fake_showcase, tmp_path, quick=True, progress=False)
    assert result.ok and result.section is not None and result.section.summary == "quick=True"
    assert (tmp_path / "fake" / "line.png").is_file()


def test_run_showcase_records_exceptions_missing_figures_and_wrong_return_types(tmp_path):
    broken = run_showcase("broken", _broken_showcase, tmp_path, quick=True, progress=False)
    assert not broken.ok and "this showcase is broken on purpose" in broken.error

    def no_figure(out, *, quick=False, progress=False):
        return ShowcaseSection(title="x", figures=[("missing", Path("nothing.png"))])

    missing = run_showcase("nofig", no_figure, tmp_path, quick=True, progress=False)
    assert not missing.ok and "nothing.png" in missing.error
    wrong = run_showcase("wrong", lambda out, quick, progress: {"title": "x"}, tmp_path, quick=True, progress=False)
    assert not wrong.ok and "expected a ShowcaseSection" in wrong.error


def test_run_showcase_restores_torch_threads(tmp_path):
    threads = torch.get_num_threads()

    def greedy(out, *, quick=False, progress=False):
        torch.set_num_threads(1)
        return ShowcaseSection(title="greedy")

    assert run_showcase("greedy", greedy, tmp_path, quick=True, progress=False).ok
    assert torch.get_num_threads() == threads


def test_report_files_hold_sections_figures_timings_and_failures(tmp_path):
    ok = run_showcase("fake", _fake_showcase, tmp_path, quick=True, progress=False)
    bad = run_showcase("broken", _broken_showcase, tmp_path, quick=True, progress=False)
    info = collect_info(numba_layer=False)
    md_path, json_path = write_report(tmp_path, [ok, bad], info, quick=True)
    md = md_path.read_text()
    assert md.startswith("# REMODEL showcase report")
    assert "![a line](fake/line.png)" in md
    assert "| fake | Fake | ok |" in md and "| broken | - | FAILED |" in md
    assert "RuntimeError: this showcase is broken on purpose" in md
    assert "1 passed, 1 failed" in md
    data = json.loads(json_path.read_text())
    assert data["showcases"]["fake"]["metrics"] == {"value": 2.5}
    assert data["showcases"]["fake"]["figures"] == ["fake/line.png"]
    assert data["showcases"]["broken"]["status"] == "failed"
    assert data["environment"]["packages"]["remodel-core"] == "0.1.0"


def test_report_text_counts_and_modes():
    info = collect_info(numba_layer=False)
    results = [ShowcaseResult("a", 1.25, section=ShowcaseSection(title="A"))]
    assert "(full mode)" in report_markdown(results, info, quick=False)
    assert report_json(results, info, quick=False)["total_seconds"] == 1.25


def test_jsonable_converts_numpy_torch_paths_and_non_finite_floats():
    value = {
        "a": np.float32(1.5),
        "b": torch.tensor([1.0, 2.0]),
        "c": Path("x/y.png"),
        "d": math.inf,
        "e": (1, "s", None, True),
        3: math.nan,
    }
    assert _jsonable(value) == {
        "a": 1.5,
        "b": [1.0, 2.0],
        "c": "x/y.png",
        "d": "inf",
        "e": [1, "s", None, True],
        "3": "nan",
    }
    json.dumps(_jsonable(value), allow_nan=False)


def test_cli_showcase_failure_exits_1_and_still_writes_the_report(tmp_path, monkeypatch):
    import remodel_core.cli as cli

    monkeypatch.setattr(cli, "select_showcases", lambda names: {"fake": _fake_showcase, "broken": _broken_showcase})
    result = runner.invoke(app, ["showcase", "--quick", "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 1
    assert "broken" in result.output and "failed showcase(s): broken" in result.output
    assert (tmp_path / "report.md").is_file() and (tmp_path / "fake" / "line.png").is_file()
    assert json.loads((tmp_path / "report.json").read_text())["showcases"]["fake"]["status"] == "ok"


def test_threads_option_is_checked_and_applied(tmp_path, monkeypatch):
    import remodel_core.cli as cli

    bad = runner.invoke(app, ["showcase", "core", "--threads", "0"])
    assert bad.exit_code == 2 and "--threads" in bad.output
    monkeypatch.setattr(cli, "select_showcases", lambda names: {"fake": _fake_showcase})
    threads = torch.get_num_threads()
    try:
        result = runner.invoke(app, ["showcase", "--out", str(tmp_path), "--no-progress", "--threads", "1"])
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 1
        assert json.loads((tmp_path / "report.json").read_text())["environment"]["torch"]["num_threads"] == 1
    finally:
        torch.set_num_threads(threads)
