"""Every public object of every package has a numpydoc Parameters section (tools/check_docstrings.py).

The check is strict: a new public function or class (named in a public module's ``__all__``) that takes an
argument and has no ``Parameters`` section fails this test, and with it CI (``.ci/run`` runs ``uv run pytest``,
which collects ``tests/``).  ``PENDING`` names the objects allowed to lack the section for now, each with the
reason; an entry that has gained its section fails :func:`test_pending_entries_are_still_missing`, so the list
only shrinks.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("check_docstrings", ROOT / "tools" / "check_docstrings.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_docstrings"] = module
    spec.loader.exec_module(module)
    return module


check = _load()
MODULES = check.public_modules(ROOT)
#: Objects allowed to lack the section for now, with the reason (remove an entry once its section exists).
PENDING: dict[str, str] = {}


def _missing(module: str) -> list[str]:
    return [name for names in check.missing([module], methods=False).values() for name in names]


def test_every_package_has_public_modules():
    packages = {m.split(".")[0] for m in MODULES}
    src = {p.name for p in ROOT.glob("packages/*/src/*") if (p / "__init__.py").is_file()}
    assert packages == src


@pytest.mark.parametrize("module", MODULES)
def test_public_module_names_its_api(module):
    """The check and the API reference both read ``__all__``: a module without it would pass unchecked."""
    assert isinstance(getattr(importlib.import_module(module), "__all__", None), list | tuple), module


@pytest.mark.parametrize("module", MODULES)
def test_public_objects_have_a_parameters_section(module):
    missing = [name for name in _missing(module) if name not in PENDING]
    assert missing == [], f"without a numpydoc Parameters section: {missing}"


def test_pending_entries_are_still_missing():
    modules = sorted({name.rsplit(".", 1)[0] for name in PENDING})
    still = {name for module in modules for name in _missing(module)}
    fixed = sorted(set(PENDING) - still)
    assert fixed == [], f"these now have a Parameters section: remove them from PENDING: {fixed}"


def test_the_check_finds_a_missing_section(tmp_path, monkeypatch):
    (tmp_path / "fake_docs_mod.py").write_text(
        '__all__ = ["good", "bad", "noargs"]\n'
        'def good(x):\n    """Doc.\n\n    Parameters\n    ----------\n    x : int\n        A number.\n    """\n'
        'def bad(x):\n    """Doc without the section."""\n'
        'def noargs():\n    """Nothing to document."""\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert check.missing(["fake_docs_mod"]) == {"fake_docs_mod": ["fake_docs_mod.bad"]}


def test_the_command_line_fails_on_a_missing_section(tmp_path, monkeypatch, capsys):
    pkg = tmp_path / "packages" / "fake-dist" / "src" / "fake_pkg_docs"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('__all__ = ["bad"]\ndef bad(x):\n    """No section."""\n')
    monkeypatch.syspath_prepend(str(pkg.parent))
    monkeypatch.setattr(check, "ROOT", tmp_path)
    monkeypatch.setattr(check, "public_modules", lambda root=tmp_path: ["fake_pkg_docs"])
    assert check.main([]) == 1
    assert "fake_pkg_docs.bad" in capsys.readouterr().out
