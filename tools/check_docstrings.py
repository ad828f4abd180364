#!/usr/bin/env python3
"""List the public objects of the REMODEL packages whose docstring lacks a numpydoc ``Parameters`` section.

Public modules are found on disk: every package under ``packages/*/src`` and its submodules whose names do not
start with an underscore, except the ``cli`` and ``showcase`` plumbing (the same list the API reference of
``docs/`` is built from).  Public objects are the classes and functions a public module names in ``__all__``.
An object needs a ``Parameters`` section when it takes an argument: a function with a parameter, a class whose
constructor takes one (numpydoc puts a class's constructor parameters in the class docstring); enumerations and
protocols are exempt.  Public methods
of public classes with arguments are listed with ``--methods``.

Usage: ``python tools/check_docstrings.py [--methods] [--package remodel_rom ...] [--json PATH]``; prints one
line per object lacking the section and a count per package; exits 1 when any is missing, 0 otherwise.
"""

from __future__ import annotations

import argparse
import enum
import importlib
import inspect
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Public-looking modules that are command plumbing, not API.
EXCLUDED = {"cli", "showcase"}
_SECTION = re.compile(r"^\s*Parameters\s*\n\s*-{3,}\s*$", re.MULTILINE)


def public_modules(root: Path = ROOT) -> list[str]:
    """Dotted names of the public modules under ``root/packages/*/src``, packages first, sorted.

    Parameters
    ----------
    root : pathlib.Path
        The repository root.

    Returns
    -------
    list of str
        e.g. ``['remodel_core', 'remodel_core.integrate', ...]``.

    Examples
    --------
    >>> "remodel_core.optim" in public_modules() and "remodel_core.cli" not in public_modules()
    True
    """
    names: list[str] = []
    for src in sorted(Path(root, "packages").glob("*/src")):
        for pkg in sorted(p for p in src.iterdir() if (p / "__init__.py").is_file()):
            for path in sorted(pkg.rglob("*.py")):
                parts = path.relative_to(src).with_suffix("").parts
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                if any(part.startswith("_") for part in parts) or parts[-1] in EXCLUDED:
                    continue
                names.append(".".join(parts))
    return sorted(set(names))


def _takes_arguments(obj: object) -> bool:
    if inspect.isclass(obj) and (issubclass(obj, enum.Enum) or getattr(obj, "_is_protocol", False)):
        return False  # an enumeration's members and a protocol's methods are documented, not constructed
    target = obj.__init__ if inspect.isclass(obj) else obj  # type: ignore[misc]
    if inspect.isclass(obj) and target is object.__init__:
        return False
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return False
    params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
    return bool(params)


def has_parameters_section(obj: object) -> bool:
    """Whether ``obj``'s docstring has a numpydoc ``Parameters`` section.

    Parameters
    ----------
    obj : object
        A class or function.

    Returns
    -------
    bool
        True when a ``Parameters`` heading underlined with dashes is present.

    Examples
    --------
    >>> has_parameters_section(has_parameters_section)
    True
    >>> has_parameters_section(lambda x: x)
    False
    """
    return bool(_SECTION.search(inspect.getdoc(obj) or ""))


def missing(modules: list[str], *, methods: bool = False) -> dict[str, list[str]]:
    """Public objects lacking a ``Parameters`` section, by top-level package.

    Parameters
    ----------
    modules : list of str
        Dotted module names to import and inspect.
    methods : bool, default False
        Also inspect the public methods (not starting with ``_``) defined on each public class.

    Returns
    -------
    dict
        ``{package: ["module.name", ...]}`` with every package of ``modules`` as a key.
    """
    out: dict[str, list[str]] = {}
    seen: set[int] = set()
    for modname in modules:
        module = importlib.import_module(modname)
        bucket = out.setdefault(modname.split(".")[0], [])
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name, None)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            if _takes_arguments(obj) and not has_parameters_section(obj):
                bucket.append(f"{modname}.{name}")
            if methods and inspect.isclass(obj):
                for mname, member in vars(obj).items():
                    func = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
                    if mname.startswith("_") or not inspect.isfunction(func):
                        continue
                    if _takes_arguments(func) and not has_parameters_section(func):
                        bucket.append(f"{modname}.{name}.{mname}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", action="store_true", help="also check public methods of public classes")
    parser.add_argument("--package", action="append", default=[], help="only this top-level package (repeatable)")
    parser.add_argument("--json", type=Path, help="write {package: [missing objects]} to this file")
    args = parser.parse_args(argv)
    modules = [m for m in public_modules() if not args.package or m.split(".")[0] in args.package]
    if not modules:
        print(f"check_docstrings: no public module for {args.package}", file=sys.stderr)
        return 2
    result = missing(modules, methods=args.methods)
    total = 0
    for names in result.values():
        for name in names:
            print(name)
        total += len(names)
    for package, names in result.items():
        print(f"{package}: {len(names)} missing", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"check_docstrings: {total} public object(s) without a Parameters section", file=sys.stderr)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
