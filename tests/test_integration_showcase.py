"""Showcase discovery across the installed packages, and the `remodel` command end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from remodel_core._info import SHOWCASE_GROUP, showcase_entry_points
from remodel_core.cli import app
from typer.testing import CliRunner

SHOWCASES = {"core", "dynamics", "sampling", "gen", "imaging", "equivariant", "rom"}
runner = CliRunner()


def test_discovery_finds_the_seven_registered_showcases():
    eps = showcase_entry_points()
    assert set(eps) == SHOWCASES
    for name, ep in eps.items():
        assert ep.group == SHOWCASE_GROUP
        assert ep.value == f"remodel_{name}.showcase:showcase"


def test_info_json_lists_the_eight_distributions():
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["packages"] == {
        name: "0.1.0"
        for name in (
            "remodel-sci",
            "remodel-core",
            "remodel-dynamics",
            "remodel-sampling",
            "remodel-gen",
            "remodel-imaging",
            "remodel-equivariant",
            "remodel-rom",
        )
    }
    assert set(data["showcases"]) == SHOWCASES
    for key in ("python", "torch", "numba", "libraries", "platform"):
        assert key in data


def test_console_script_is_installed_and_runs():
    script = Path(sys.executable).with_name("remodel")
    assert script.is_file()
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "remodel 0.1.0"
    bad = subprocess.run([str(script), "showcase", "nonexistent"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert "unknown showcase 'nonexistent'" in bad.stderr and "core" in bad.stderr


def test_core_showcase_quick_writes_report_and_figures(tmp_path):
    out = tmp_path / "rep"
    threads = torch.get_num_threads()
    try:  # one thread: the 3x20 network gains nothing from more, and a busy CPU makes more much slower
        result = runner.invoke(
            app, ["showcase", "core", "--quick", "--out", str(out), "--no-progress", "--threads", "1"]
        )
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    md = (out / "report.md").read_text()
    assert "# REMODEL showcase report" in md and "| core |" in md
    pngs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert pngs and all(f"]({p})" in md for p in pngs)
    for png in out.rglob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((out / "report.json").read_text())
    core = data["showcases"]["core"]
    assert core["status"] == "ok"
    # the PINN trained through solve with Adam then L-BFGS is accurate against the exact solution
    assert core["metrics"]["adam_lbfgs_rel_l2"] < 1e-2
    assert core["metrics"]["lbfgs_rel_l2"] < 1e-2
