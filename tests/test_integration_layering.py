"""tools/check_layering.py: flags forbidden imports in a synthetic tree, passes on the real one."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "check_layering.py"


def _load():
    spec = importlib.util.spec_from_file_location("check_layering", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_layering"] = module  # dataclasses look the module up while building the class
    spec.loader.exec_module(module)
    return module


layering = _load()


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


CLEAN = {
    "packages/remodel-core/src/remodel_core/__init__.py": "import torch\nfrom . import _x\n",
    "packages/remodel-core/src/remodel_core/_x.py": "import numpy as np\n",
    "packages/remodel-rom/src/remodel_rom/__init__.py": "from remodel_core import solve\nimport remodel_core.nn\n",
    "packages/remodel-gen/src/remodel_gen/__init__.py": "from .flow import x\n",
    "packages/remodel-gen/src/remodel_gen/flow.py": "import remodel_core\nx = 1\n",
    "packages/remodel-sci/src/remodel_sci/__init__.py": "import remodel_rom\nimport remodel_gen\n",
    "packages/remodel-sci/README.md": "not python\n",
}


def test_real_tree_has_no_violation():
    assert layering.check_layering(ROOT) == []
    done = subprocess.run([sys.executable, str(SCRIPT), str(ROOT)], capture_output=True, text=True)
    assert done.returncode == 0 and "layering: ok (8 packages)" in done.stdout


def test_clean_synthetic_tree_passes(tmp_path):
    root = _tree(tmp_path, CLEAN)
    assert sorted(layering.import_packages(root)) == ["remodel_core", "remodel_gen", "remodel_rom", "remodel_sci"]
    assert layering.check_layering(root) == []


@pytest.mark.parametrize(
    ("rel", "code", "package", "imported", "reason"),
    [
        (
            "packages/remodel-rom/src/remodel_rom/_bad.py",
            "import remodel_gen.flow\n",
            "remodel_rom",
            "remodel_gen.flow",
            "domain packages must not import each other",
        ),
        (
            "packages/remodel-rom/src/remodel_rom/_bad.py",
            "def f():\n    from remodel_gen import x\n",
            "remodel_rom",
            "remodel_gen",
            "domain packages must not import each other",
        ),
        (
            "packages/remodel-gen/src/remodel_gen/_bad.py",
            "import importlib\nm = importlib.import_module('remodel_rom')\n",
            "remodel_gen",
            "remodel_rom",
            "domain packages must not import each other",
        ),
        (
            "packages/remodel-core/src/remodel_core/_bad.py",
            "x = 1\nfrom remodel_rom import y\n",
            "remodel_core",
            "remodel_rom",
            "remodel_core must not import any other REMODEL package",
        ),
        (
            "packages/remodel-core/src/remodel_core/_bad.py",
            "import remodel_sci\n",
            "remodel_core",
            "remodel_sci",
            "remodel_core must not import any other REMODEL package",
        ),
        (
            "packages/remodel-gen/src/remodel_gen/_bad.py",
            "from remodel_sci import solve\n",
            "remodel_gen",
            "remodel_sci",
            "a domain package must not import the umbrella package",
        ),
    ],
)
def test_violations_are_flagged_with_file_and_line(tmp_path, rel, code, package, imported, reason):
    root = _tree(tmp_path, {**CLEAN, rel: code})
    violations = layering.check_layering(root)
    assert len(violations) == 1
    v = violations[0]
    assert (v.path.as_posix(), v.package, v.imported, v.reason) == (rel, package, imported, reason)
    assert v.line == code.count("\n", 0, code.index("remodel_" if "remodel_" in code else "remodel")) + 1
    done = subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True)
    assert done.returncode == 1
    assert f"{rel}:{v.line}: {package} imports {imported}" in done.stdout


def test_relative_imports_and_lookalike_names_are_not_violations(tmp_path):
    root = _tree(
        tmp_path,
        {
            **CLEAN,
            "packages/remodel-rom/src/remodel_rom/_ok.py": (
                "from . import _other\nfrom .remodel_gen import z\nimport remodel_genetics\n"
            ),
        },
    )
    assert layering.check_layering(root) == []


def test_a_folder_without_packages_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="packages/ folder"):
        layering.check_layering(tmp_path)
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and "packages/ folder" in done.stderr
