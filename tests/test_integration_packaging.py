"""Packaging: wheel metadata of the eight distributions, light CLI start-up, progress bars in Jupyter.

The metadata checks parse the ``pyproject.toml`` files (no build); ``ci/build.sh`` builds and installs the
wheels with plain pip, and ``ci/numpy2.sh`` runs the tests on numpy >= 2.
"""

from __future__ import annotations

import builtins
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DISTS = [
    "remodel-core",
    "remodel-dynamics",
    "remodel-sampling",
    "remodel-gen",
    "remodel-imaging",
    "remodel-equivariant",
    "remodel-rom",
    "remodel-sci",
]
#: The only distribution allowed to cap numpy / scikit-learn, and only in its escnn extra.
ESCNN_DIST = "remodel-equivariant"


def _project(dist: str) -> dict:
    return tomllib.loads((ROOT / "packages" / dist / "pyproject.toml").read_text())["project"]


def test_the_eight_distributions_are_the_workspace_members():
    found = sorted(p.parent.name for p in (ROOT / "packages").glob("*/pyproject.toml"))
    assert found == sorted(DISTS)


@pytest.mark.parametrize("dist", DISTS)
def test_wheel_metadata_license_urls_classifiers_typed(dist):
    project = _project(dist)
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (ROOT / "packages" / dist / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    assert {"Homepage", "Documentation", "Repository", "Issues"} <= set(project["urls"])
    classifiers = project["classifiers"]
    assert "Typing :: Typed" in classifiers
    assert {"Programming Language :: Python :: 3.11", "Programming Language :: Python :: 3.12"} <= set(classifiers)
    assert project["requires-python"] == ">=3.11,<3.13"
    (package,) = [p for p in (ROOT / "packages" / dist / "src").iterdir() if p.is_dir() and p.name.isidentifier()]
    assert (package / "py.typed").is_file()


@pytest.mark.parametrize("dist", [d for d in DISTS if d != ESCNN_DIST])
def test_no_numpy_or_sklearn_cap_outside_the_escnn_extra(dist):
    project = _project(dist)
    deps = list(project.get("dependencies", []))
    if dist != ESCNN_DIST:
        deps += [d for extra in project.get("optional-dependencies", {}).values() for d in extra]
    for dep in deps:
        name = re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0].lower()
        if name in ("numpy", "scikit-learn"):
            assert "<" not in dep, f"{dist}: {dep} caps {name}; only escnn needs that (remodel-equivariant[escnn])"
        assert name not in ("escnn", "lie-learn", "py3nj") or dist == ESCNN_DIST, f"{dist} requires {dep}"


def test_umbrella_requires_all_seven_and_is_named_remodel_sci():
    project = _project("remodel-sci")
    assert project["name"] == "remodel-sci"
    required = {re.split(r"[<>=\[]", d, maxsplit=1)[0] for d in project["dependencies"]}
    assert required == set(DISTS) - {"remodel-sci"}
    assert not any("[escnn]" in d for d in project["dependencies"]), "the umbrella must install with plain pip"


def test_console_script_is_remodel():
    assert _project("remodel-core")["scripts"] == {"remodel": "remodel_core.cli:app"}


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_cli_help_and_version_do_not_import_torch(args):
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom remodel_core.cli import app\n"
        f"r = CliRunner().invoke(app, {args!r})\nassert r.exit_code == 0, r.output\n"
        "print(r.output.splitlines()[0])\n"
        "print(sorted(m for m in ('torch', 'numpy', 'scipy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    first, heavy = done.stdout.splitlines()[-2:]
    assert heavy == "[]", f"remodel {args[0]} imported {heavy}"
    assert first == ("remodel 0.1.0" if args == ["--version"] else "Usage: remodel [OPTIONS] COMMAND [ARGS]...")


def test_lazy_core_exports_resolve_and_unknown_names_fail():
    import remodel_core

    assert set(remodel_core.__all__) <= set(dir(remodel_core))
    for name in remodel_core.__all__:
        assert getattr(remodel_core, name) is not None
    assert remodel_core.optim.__name__ == "remodel_core.optim"
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        remodel_core.no_such_name  # noqa: B018


def test_progress_bars_default_on_in_a_jupyter_kernel(monkeypatch):
    from remodel_core import want_progress

    class ZMQInteractiveShell:  # the class name IPython's notebook kernel has
        pass

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    monkeypatch.delattr(builtins, "get_ipython", raising=False)
    assert want_progress(None) is False
    monkeypatch.setattr(builtins, "get_ipython", lambda: ZMQInteractiveShell(), raising=False)
    assert want_progress(None) is True
    assert want_progress(False) is False
