#!/usr/bin/env python3
"""Import time of each REMODEL package on top of torch, from ``python -X importtime``.

For each import name a fresh interpreter runs ``import torch; import <name>`` under ``-X importtime``; the
cumulative time of the ``<name>`` line is what the package adds once torch is loaded (the budget is 0.3 s).
Torch alone and ``remodel_core.cli`` (what ``remodel --help`` loads; it must not load torch) are measured
the same way.  Packages that load their exports lazily (PEP 562) cost almost nothing to import, so a second
column times ``import <name>`` plus resolving every name of its ``__all__`` (``time.perf_counter`` in the same
interpreter, torch already loaded): what a user pays on first use of everything.  Each figure is the minimum
over ``--repeat`` runs (the least disturbed by other load); on a loaded machine compare the ratio to torch.

Usage: ``python tools/importtime.py [--repeat 5] [--json PATH]``; exits 1 when a package exceeds ``--budget``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

PACKAGES = [
    "remodel_core",
    "remodel_dynamics",
    "remodel_sampling",
    "remodel_gen",
    "remodel_imaging",
    "remodel_equivariant",
    "remodel_rom",
    "remodel_sci",
]


def cumulative_seconds(stderr: str, module: str) -> float:
    """The cumulative import time of ``module`` in ``-X importtime`` output, in seconds.

    Parameters
    ----------
    stderr : str
        What ``python -X importtime`` wrote to standard error.
    module : str
        The module whose line to read (its last occurrence).

    Returns
    -------
    float
        Seconds.

    Examples
    --------
    >>> cumulative_seconds("import time:  10 |  2500 | torch\\n", "torch")
    0.0025
    """
    for line in reversed(stderr.splitlines()):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1e6
    raise ValueError(f"module {module!r} not found in the importtime output")


def measure(module: str, *, after_torch: bool, repeat: int) -> tuple[float, bool]:
    """Minimum over ``repeat`` fresh interpreters of ``module``'s import time, and whether torch got loaded.

    Parameters
    ----------
    module : str
        Import name.
    after_torch : bool
        Import torch first (so the figure is what ``module`` adds on top of torch).
    repeat : int
        Number of fresh interpreters.

    Returns
    -------
    tuple of (float, bool)
        Seconds, and whether ``torch`` was in ``sys.modules`` afterwards.
    """
    pre = "import torch; " if after_torch else ""
    code = f"{pre}import {module}; import sys; print('torch' in sys.modules)"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    best, loaded = float("inf"), False
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, env=env, check=True
        )
        best = min(best, cumulative_seconds(done.stderr, module))
        loaded = done.stdout.strip() == "True"
    return best, loaded


def measure_all_exports(module: str, *, repeat: int) -> float:
    """Minimum over ``repeat`` fresh interpreters (torch already imported) of the wall time of
    ``import module`` plus ``getattr`` of every name in its ``__all__``.

    Parameters
    ----------
    module : str
        Import name.
    repeat : int
        Number of fresh interpreters.

    Returns
    -------
    float
        Seconds.
    """
    code = (
        "import time, importlib, torch\n"
        "t0 = time.perf_counter()\n"
        f"m = importlib.import_module({module!r})\n"
        "[getattr(m, n) for n in getattr(m, '__all__', [])]\n"
        "print(time.perf_counter() - t0)"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    best = float("inf")
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        best = min(best, float(done.stdout.strip().splitlines()[-1]))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--budget", type=float, default=0.3, help="seconds allowed on top of torch")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    torch_s, _ = measure("torch", after_torch=False, repeat=args.repeat)
    cli_s, cli_torch = measure("remodel_core.cli", after_torch=False, repeat=args.repeat)
    rows = {
        name: (measure(name, after_torch=True, repeat=args.repeat)[0], measure_all_exports(name, repeat=args.repeat))
        for name in PACKAGES
    }
    print(f"{'module':<22} {'import s':>9} {'+ all exports s':>16} {'% of torch':>11}")
    print(f"{'torch (alone)':<22} {torch_s:9.3f}")
    print(f"{'remodel_core.cli':<22} {cli_s:9.3f}  (torch loaded: {cli_torch})")
    for name, (s, full) in rows.items():
        flag = "" if max(s, full) <= args.budget else f"  > {args.budget} s"
        print(f"{name:<22} {s:9.3f} {full:16.3f} {100 * full / torch_s:10.1f}%{flag}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "torch": torch_s,
                    "remodel_core.cli": cli_s,
                    "cli_loads_torch": cli_torch,
                    "on_top_of_torch": {n: {"import": s, "all_exports": f} for n, (s, f) in rows.items()},
                    "repeat": args.repeat,
                },
                fh,
                indent=1,
            )
    return 1 if cli_torch or any(max(v) > args.budget for v in rows.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
