"""Mutation testing of a REMODEL module with cosmic-ray (issue 12): does the test suite notice a wrong algorithm?

Not part of CI (it runs the tests once per mutant). It never touches the working tree: the committed sources
(``git archive HEAD``) are copied to a temporary folder, cosmic-ray mutates the copy, and the tests run against
it (``PYTHONPATH`` puts the copy first). With ``--sample N`` a seeded random sample of the mutants is run
(the others are marked skipped), so the score is an estimate with the binomial standard error printed.

Usage (the tool comes from PyPI for this run only; the project's lock is unchanged)::

    tools/mutation.sh --module packages/remodel-core/src/remodel_core/integrate \\
        --tests packages/remodel-core/tests/test_core_integrate_odeint.py \\
                packages/remodel-core/tests/test_core_integrate_hamiltonian.py \\
        --sample 60 --seed 0 --json docs/bench/mutation_integrate.json

Prints the score (killed / (killed + survived); incompetent mutants, e.g. a syntax error, do not count) and
every surviving mutant as file, line, operator and diff. Mutants inside type annotations are equivalent under
``from __future__ import annotations`` (never evaluated) and are left out before sampling.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _copy_head(dest: Path) -> None:
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True).stdout
    with tempfile.TemporaryFile() as fh:
        fh.write(archive)
        fh.seek(0)
        with tarfile.open(fileobj=fh) as tar:
            tar.extractall(dest, filter="data")


def annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The source spans ``((line, col), (end_line, end_col))`` of every annotation in ``path``.

    Under ``from __future__ import annotations`` an annotation is never evaluated, so a mutant inside one
    (``float | None`` -> ``float / None``) is equivalent: no test can kill it, and it is not counted.
    """
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    future = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )
    if not future:
        return []
    spans = []
    for node in ast.walk(tree):
        notes = []
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            notes.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            notes.append(node.returns)
        for note in notes:
            spans.append(((note.lineno, note.col_offset), (note.end_lineno, note.end_col_offset)))
    return spans


def in_annotation(spans: list, pos: tuple[int, int]) -> bool:
    """Whether the position ``(line, col)`` lies inside one of ``spans``."""
    return any(start <= tuple(pos) < end for start, end in spans)


def _src_paths(copy: Path) -> str:
    return os.pathsep.join(str(p) for p in sorted((copy / "packages").glob("*/src")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module", required=True, help="file or folder to mutate, relative to the repository")
    parser.add_argument("--tests", nargs="+", required=True, help="test files that must kill the mutants")
    parser.add_argument("--sample", type=int, default=0, help="run a random sample of this many mutants (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per test run")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    if args.sample < 0:
        parser.error("--sample must be >= 0")

    import cosmic_ray  # noqa: F401  (fail early with a clear message when the tool is missing)
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="remodel-mutation-") as tmp:
        copy = Path(tmp) / "repo"
        copy.mkdir()
        _copy_head(copy)
        tests = " ".join(shlex.quote(t) for t in args.tests)
        command = (
            f"env PYTHONPATH={shlex.quote(_src_paths(copy))} OMP_NUM_THREADS=1 {shlex.quote(sys.executable)} "
            f"-m pytest -x -q -p no:cacheprovider --no-header {tests}"
        )
        config = Path(tmp) / "cosmic-ray.toml"
        config.write_text(
            "[cosmic-ray]\n"
            f"module-path = {json.dumps(args.module)}\n"
            f"timeout = {args.timeout}\n"
            "excluded-modules = []\n"
            f"test-command = {json.dumps(command)}\n"
            '[cosmic-ray.distributor]\nname = "local"\n'
        )
        session = Path(tmp) / "session.sqlite"
        cr = [sys.executable, "-m", "cosmic_ray.cli"]
        baseline = subprocess.run(command, shell=True, cwd=copy, capture_output=True, text=True)
        if baseline.returncode != 0:
            print(baseline.stdout[-3000:], baseline.stderr[-3000:])
            print("the tests fail on the unmutated code: fix them first", file=sys.stderr)
            return 2
        subprocess.run([*cr, "init", str(config), str(session)], cwd=copy, check=True)
        spans: dict[str, list] = {}
        with use_db(str(session), WorkDB.Mode.open) as db:
            items = list(db.work_items)
            total = len(items)
            for w in items:
                key = str(w.mutations[0].module_path)
                if key not in spans:
                    spans[key] = annotation_spans(copy / key)
            eq_ids = {
                w.job_id
                for w in items
                if in_annotation(spans[str(w.mutations[0].module_path)], w.mutations[0].start_pos)
            }
            candidates = [w for w in items if w.job_id not in eq_ids]
            keep = {w.job_id for w in candidates}
            if args.sample and args.sample < len(candidates):
                keep = {w.job_id for w in random.Random(args.seed).sample(candidates, args.sample)}
            skip = [w.job_id for w in items if w.job_id not in keep]
            if skip:
                db.set_multiple_results(skip, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        subprocess.run([*cr, "exec", str(config), str(session)], cwd=copy, check=True)
        killed, survived, incompetent, other = [], [], [], []
        with use_db(str(session), WorkDB.Mode.open) as db:
            for item, result in db.completed_work_items:
                if result.worker_outcome == WorkerOutcome.SKIPPED:
                    continue
                spec = item.mutations[0]
                row = {
                    "file": str(spec.module_path),
                    "line": spec.start_pos[0],
                    "operator": spec.operator_name,
                    "occurrence": spec.occurrence,
                    "diff": result.diff,
                }
                bucket = {
                    TestOutcome.KILLED: killed,
                    TestOutcome.SURVIVED: survived,
                    TestOutcome.INCOMPETENT: incompetent,
                }.get(result.test_outcome, other)
                bucket.append(row)
    n = len(killed) + len(survived)
    score = len(killed) / n if n else math.nan
    stderr = math.sqrt(score * (1 - score) / n) if n else math.nan
    seconds = time.perf_counter() - t0
    print(
        f"module {args.module}: {total} mutants, {len(eq_ids)} inside annotations (equivalent, not run), "
        f"{n + len(incompetent) + len(other)} run"
    )
    print(f"killed {len(killed)}, survived {len(survived)}, incompetent {len(incompetent)}, other {len(other)}")
    print(f"mutation score {score:.3f} +- {stderr:.3f} (killed / (killed + survived)), {seconds:.0f} s")
    for row in sorted(survived, key=lambda r: (r["file"], r["line"])):
        print(f"\nSURVIVED {row['file']}:{row['line']} {row['operator']}\n{(row['diff'] or '').strip()}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "module": args.module,
                    "tests": args.tests,
                    "mutants": total,
                    "annotation_mutants": len(eq_ids),
                    "sample": args.sample,
                    "seed": args.seed,
                    "killed": len(killed),
                    "survived": len(survived),
                    "incompetent": len(incompetent),
                    "other": len(other),
                    "score": score,
                    "score_stderr": stderr,
                    "seconds": seconds,
                    "surviving": survived,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
