#!/usr/bin/env python3
"""Check REMODEL's package layering by parsing (never importing) every ``.py`` under ``packages/*/src``.

Rules (see DESIGN.md):

* ``remodel_core`` imports no other REMODEL package (neither a domain package nor the umbrella);
* a domain package (dynamics, sampling, gen, imaging, equivariant, rom) imports no other domain package
  and not the umbrella ``remodel_sci``;
* only the umbrella ``remodel_sci`` may import everything.

Imports are ``import x``, ``from x import y`` and calls ``importlib.import_module("x")`` / ``__import__("x")``
with a literal name, anywhere in a file (also inside functions and ``if TYPE_CHECKING:`` blocks).

Usage: ``python tools/check_layering.py [ROOT]`` (ROOT defaults to the repository root); prints one line per
violation and exits with 1 when there is any, 0 otherwise.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import sys
from pathlib import Path

CORE = "remodel_core"
UMBRELLA = "remodel_sci"


@dataclasses.dataclass(frozen=True)
class Violation:
    """One forbidden import: where it is, which package it is in, and what it imports."""

    path: Path
    line: int
    package: str
    imported: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.package} imports {self.imported} ({self.reason})"


def import_packages(root: Path) -> dict[str, Path]:
    """The top-level import packages under ``root/packages/*/src``, mapped to their folders."""
    found: dict[str, Path] = {}
    for src in sorted((root / "packages").glob("*/src")):
        for pkg in sorted(src.iterdir()):
            if pkg.is_dir() and (pkg / "__init__.py").is_file():
                found[pkg.name] = pkg
            elif pkg.suffix == ".py" and pkg.is_file():  # a single-module distribution
                found[pkg.stem] = pkg
    return found


def imported_names(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``tree``; relative imports are skipped.

    >>> imported_names(ast.parse("import a.b\\nfrom c import d\\nfrom . import e\\n"))
    [(1, 'a.b'), (2, 'c')]
    """
    names: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            arg = node.args[0]
            if (
                fname in ("import_module", "__import__")
                and isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and not arg.value.startswith(".")
            ):
                names.append((node.lineno, arg.value))
    return sorted(names)


def _reason(package: str, target: str, packages: set[str]) -> str | None:
    """Why ``package`` must not import ``target`` (both top-level REMODEL import names), or None."""
    if target == package or target not in packages or package == UMBRELLA:
        return None
    if package == CORE:
        return "remodel_core must not import any other REMODEL package"
    if target == UMBRELLA:
        return "a domain package must not import the umbrella package"
    if target == CORE:
        return None
    return "domain packages must not import each other"


def check_layering(root: Path) -> list[Violation]:
    """Every layering violation under ``root/packages/*/src``.

    Raises
    ------
    ValueError
        When ``root/packages`` does not exist or a file cannot be parsed.
    """
    root = Path(root)
    if not (root / "packages").is_dir():
        raise ValueError(f"root must be a REMODEL checkout with a packages/ folder, got {str(root)!r}")
    packages = import_packages(root)
    names = set(packages)
    violations: list[Violation] = []
    for package, folder in packages.items():
        files = [folder] if folder.is_file() else sorted(folder.rglob("*.py"))
        for path in files:
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            except SyntaxError as err:
                raise ValueError(f"cannot parse {path}: {err}") from err
            for line, module in imported_names(tree):
                target = module.split(".")[0]
                reason = _reason(package, target, names)
                if reason:
                    rel = path.relative_to(root) if path.is_relative_to(root) else path
                    violations.append(Violation(rel, line, package, module, reason))
    return violations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "root",
        nargs="?",
        type=Path,
        default=Path(__file__).resolve().parents[1],
        help="repository root (default: this checkout)",
    )
    args = parser.parse_args(argv)
    try:
        violations = check_layering(args.root)
    except ValueError as err:
        print(f"check_layering: {err}", file=sys.stderr)
        return 2
    for v in violations:
        print(v)
    n = len(import_packages(args.root))
    if violations:
        print(f"layering: {len(violations)} violation(s) in {n} packages", file=sys.stderr)
        return 1
    print(f"layering: ok ({n} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
