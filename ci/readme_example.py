#!/usr/bin/env python3
"""Run the first ```python block of a README (standard library only, so any environment can run it).

Usage: ``python ci/readme_example.py packages/remodel-rom/README.md [--print]``. Exits with 0 when the
example ran, 1 when it raised, 3 when the README has no python block.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from pathlib import Path

_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def first_python_block(text: str) -> str | None:
    """The code of the first fenced ```python block of ``text``, or None.

    >>> first_python_block("intro\\n```bash\\nls\\n```\\n```python\\nx = 1\\n```\\n")
    'x = 1\\n'
    """
    match = _BLOCK.search(text)
    return match.group(1) if match else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readme", type=Path)
    parser.add_argument("--print", action="store_true", help="print the example instead of running it")
    args = parser.parse_args(argv)
    code = first_python_block(args.readme.read_text(encoding="utf-8"))
    if code is None:
        print(f"{args.readme}: no ```python block", file=sys.stderr)
        return 3
    if args.print:
        print(code, end="")
        return 0
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        exec(compile(code, f"{args.readme} (first python block)", "exec"), {"__name__": "__main__"})
    except Exception:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
