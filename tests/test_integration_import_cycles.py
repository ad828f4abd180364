"""No import cycles between the modules of any package (issue 12, item 5).

Module-level imports only (those under ``if TYPE_CHECKING:`` and inside functions are lazy and run after
every module has loaded), found by parsing, never importing, like ``tools/check_layering.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p for p in (ROOT / "packages").glob("*/src/*") if (p / "__init__.py").is_file())


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    if node.level:
        base = module.split(".")
        if not is_package:
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    # `from pkg import name` may import the submodule pkg.name
    return [target] + [f"{target}.{alias.name}" for alias in node.names]


def _top_level_imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.If):
                test = ast.unparse(stmt.test)
                if "TYPE_CHECKING" in test:
                    visit(stmt.orelse)
                    continue
                visit(stmt.body)
                visit(stmt.orelse)
            elif isinstance(stmt, ast.Try):
                visit(stmt.body)
                for handler in stmt.handlers:
                    visit(handler.body)
                visit(stmt.orelse)
                visit(stmt.finalbody)
            elif isinstance(stmt, ast.Import):
                found.update(alias.name for alias in stmt.names)
            elif isinstance(stmt, ast.ImportFrom):
                found.update(_resolve(module, is_package, stmt))

    visit(tree.body)
    return found


def _all_imports(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Every import but those under ``if TYPE_CHECKING:``, lazy ones inside functions included."""
    hidden = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for n in ast.walk(stmt)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.update(_resolve(module, is_package, node))
    return found


def _graph(pkg: Path, imports=_top_level_imports) -> dict[str, set[str]]:
    src = pkg.parent
    modules = {}
    for path in pkg.rglob("*.py"):
        modules[_module_name(path, src)] = path
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = imports(tree, name, path.name == "__init__.py")
        # an import of a package's submodule also runs the package's __init__, which is not a cycle edge
        # we can break here; keep the edges between modules of this package only
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def _without_package_inits(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop the edges into a package's ``__init__`` from its own submodules (``from . import x`` style
    re-exports make every package a trivial cycle with its children; that is Python's normal package
    layout, not the module cycle the issue is about)."""
    return {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in graph.items()}


@pytest.mark.parametrize("pkg", PACKAGES, ids=lambda p: p.name)
def test_no_import_cycle(pkg):
    cycles = _cycles(_without_package_inits(_graph(pkg)))
    assert not cycles, f"import cycles in {pkg.name}: {cycles}"


def test_no_import_cycle_in_core_even_through_lazy_imports():
    """remodel_core, the shared package, has no cycle even counting imports inside functions (the
    showcase <-> _showcase_burgers pair of issue 12 was one)."""
    core = next(p for p in PACKAGES if p.name == "remodel_core")
    assert _cycles(_without_package_inits(_graph(core, _all_imports))) == []


def test_the_checker_finds_a_cycle(tmp_path):
    pkg = tmp_path / "demo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "_a.py").write_text("from ._b import f\n")
    (pkg / "_b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import _d\n"
        "from ._a import h\ndef k():\n    from ._c import g\n"
    )
    (pkg / "_c.py").write_text("def g():\n    from ._a import h\n")
    (pkg / "_d.py").write_text("from ._b import k\n")  # reached from _b only under TYPE_CHECKING
    assert _cycles(_without_package_inits(_graph(pkg))) == [["demo._a", "demo._b"]]
    assert _cycles(_without_package_inits(_graph(pkg, _all_imports))) == [["demo._a", "demo._b", "demo._c"]]
