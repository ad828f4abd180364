"""Sphinx configuration of the REMODEL API reference (built by ``bash ci/docs.sh``, warnings are errors).

Two parts are generated at build time, so they never go stale:

* ``api/``: one page per public module (the list ``tools/check_docstrings.py`` checks: every module under
  ``packages/*/src`` not starting with ``_``, except ``cli`` and ``showcase``), documented by autodoc with
  numpydoc from the names in its ``__all__``;
* ``examples/``: a sphinx-gallery made of the first ```python block of each package's README, executed
  during the build (the same code ``ci/build.sh`` runs against the installed wheels).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

_spec = importlib.util.spec_from_file_location("check_docstrings", ROOT / "tools" / "check_docstrings.py")
_check = importlib.util.module_from_spec(_spec)
sys.modules["check_docstrings"] = _check
_spec.loader.exec_module(_check)

_spec = importlib.util.spec_from_file_location("readme_example", ROOT / "ci" / "readme_example.py")
_readme = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_readme)

project = "REMODEL"
author = "The REMODEL developers"
copyright = "2026, The REMODEL developers"  # noqa: A001
release = version = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
html_theme = "furo"
html_title = "REMODEL 0.1.0"
exclude_patterns = ["_build", "bench", "figures", "*.md", "_gallery_src/GALLERY_HEADER.rst"]
templates_path: list[str] = []

autodoc_default_options = {"show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False


def _owners(modules: list[str]) -> dict[str, list[str]]:
    """The names each public module documents: an object exported by several modules (a re-export) is
    documented once, on the public module that is the longest prefix of the module defining it."""
    import importlib
    import inspect

    loaded = {name: importlib.import_module(name) for name in modules}
    for module in loaded.values():  # lazy exports (PEP 562) become plain attributes, so that autodoc sees them
        for attr in getattr(module, "__all__", []):
            if attr not in vars(module) and hasattr(module, attr):
                setattr(module, attr, getattr(module, attr))
    owners: dict[str, list[str]] = {name: [] for name in modules}
    for name, module in loaded.items():
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr, None)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                home = getattr(obj, "__module__", "") or ""
                candidates = [
                    m
                    for m in modules
                    if getattr(loaded[m], attr, None) is obj and attr in getattr(loaded[m], "__all__", [])
                ]
                prefixed = [m for m in candidates if home == m or home.startswith(m + ".")]
                owner = max(prefixed, key=len) if prefixed else candidates[0]
                if owner != name:
                    continue
            owners[name].append(attr)
    return owners


def _module_pages() -> list[str]:
    """Write ``api/<module>.rst`` for every public module and ``api/index.rst``; return the module names."""
    api = DOCS / "api"
    api.mkdir(exist_ok=True)
    modules = _check.public_modules(ROOT)
    owners = _owners(modules)
    for name in modules:
        title = f"``{name}``"
        members = f"   :members: {', '.join(owners[name])}\n" if owners[name] else ""
        text = f"{title}\n{'=' * len(title)}\n\n.. automodule:: {name}\n{members}"
        page = api / f"{name}.rst"
        if not page.is_file() or page.read_text() != text:
            page.write_text(text)
    for stale in api.glob("*.rst"):
        if stale.stem not in modules and stale.name != "index.rst":
            stale.unlink()
    toc = "\n".join(f"   {name}" for name in modules)
    index = (
        "API reference\n=============\n\nOne page per public module, from the names each module lists in "
        "``__all__`` (a name re-exported by several modules is documented once, where it is defined).\n\n"
        ".. toctree::\n   :maxdepth: 1\n\n" + toc + "\n"
    )
    (api / "index.rst").write_text(index)
    return modules


def _skip_member(app, what, name, obj, skip, options):  # noqa: ARG001 (sphinx's signature)
    """Leave out scikit-learn's generated metadata-routing methods (``set_fit_request``, ...)."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)


def _gallery_sources() -> None:
    """Write ``_gallery_src/plot_<package>.py``: each package README's first python block, with a title."""
    src = DOCS / "_gallery_src"
    src.mkdir(exist_ok=True)
    (src / "GALLERY_HEADER.rst").write_text(
        "Examples\n========\n\nThe first example of each package's README, executed when these pages are "
        "built (``ci/build.sh`` runs the same code against the installed wheels).\n"
    )
    for readme in sorted(ROOT.glob("packages/*/README.md")):
        code = _readme.first_python_block(readme.read_text(encoding="utf-8"))
        if code is None:
            continue
        dist = readme.parent.name
        heading = re.sub(r"^#+\s*", "", readme.read_text(encoding="utf-8").splitlines()[0]).strip() or dist
        title = f"{dist}: the README example" if heading == dist else f"{dist}: {heading}"
        header = (
            f'"""\n{title}\n{"=" * len(title)}\n\nThe first example of ``packages/{dist}/README.md``, run as '
            f'it stands.\n"""\n\n'
        )
        target = src / f"plot_{dist.replace('-', '_')}.py"
        text = header + code
        if not target.is_file() or target.read_text() != text:
            target.write_text(text)


MODULES = _module_pages()
_gallery_sources()

sphinx_gallery_conf = {
    "examples_dirs": "_gallery_src",
    "gallery_dirs": "examples",
    "filename_pattern": r"plot_",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "reset_modules": ("matplotlib",),
    "min_reported_time": 1,
}
