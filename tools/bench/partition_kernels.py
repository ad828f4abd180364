"""numba partition kernels against their numpy references on 10^6 points (issue 3, item 5).

For several box decompositions (1-D and 2-D, few to many subdomains) times ``box_partition`` against
``partition_reference`` and ``partition_of_unity`` against ``weights_reference``, checks they agree
(identical indices, weights to 1e-14) and prints the speed ratios numpy / numba, measured in the same
run (minimum over repeats of the process CPU time, which a shared machine's load disturbs least; both
kernels are single-threaded).

    uv run --frozen python tools/bench/partition_kernels.py --json out.json
    uv run --frozen python tools/bench/partition_kernels.py --quick
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from remodel_core.kernels import (
    BoxDecomposition,
    box_partition,
    partition_of_unity,
    partition_reference,
    weights_reference,
)

CASES = {
    "1d_5": dict(low=-1.0, high=1.0, subdomains=5, overlap=0.15),
    "1d_16": dict(low=-1.0, high=1.0, subdomains=16, overlap=0.05),
    "2d_4x3": dict(low=(-1.0, 0.0), high=(1.0, 1.0), subdomains=(4, 3), overlap=0.1),
    "2d_8x8": dict(low=(-1.0, 0.0), high=(1.0, 1.0), subdomains=(8, 8), overlap=0.05),
    "2d_16x16": dict(low=(-1.0, 0.0), high=(1.0, 1.0), subdomains=(16, 16), overlap=0.03),
}


def best(fn: Callable[..., Any], args: tuple, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.process_time()
        fn(*args)
        times.append(time.process_time() - t)
    return min(times)


def run(points: int, repeats: int, seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {"points": points, "repeats": repeats, "cases": {}}
    for name, case in CASES.items():
        dec = BoxDecomposition(**case)
        x = np.random.default_rng(seed).uniform(dec.low, dec.high, size=(points, dec.dim))
        got, ref = partition_of_unity(x, dec), weights_reference(x, dec)  # also compiles / loads the cache
        assert np.array_equal(got.indices, ref.indices)
        assert np.array_equal(box_partition(x, dec).indices, ref.indices)
        err = float(np.abs(got.weights - ref.weights).max())
        t_part = best(box_partition, (x, dec), repeats)
        t_part_ref = best(partition_reference, (x, dec), repeats)
        t_pou = best(partition_of_unity, (x, dec), repeats)
        t_pou_ref = best(weights_reference, (x, dec), repeats)
        out["cases"][name] = {
            "subdomains": dec.n_subdomains,
            "entries": int(got.indices.size),
            "partition_numba_s": t_part,
            "partition_numpy_s": t_part_ref,
            "partition_speedup": t_part_ref / t_part,
            "pou_numba_s": t_pou,
            "pou_numpy_s": t_pou_ref,
            "pou_speedup": t_pou_ref / t_pou,
            "max_weight_diff": err,
        }
    return out


def table(res: dict[str, Any]) -> str:
    head = (
        f"{'case':<10} {'subs':>5} {'partition numba s':>18} {'numpy s':>8} {'x':>6} "
        f"{'PoU numba s':>12} {'numpy s':>8} {'x':>6} {'w diff':>8}"
    )
    lines = [f"partition kernels, {res['points']:,} points (min CPU s of {res['repeats']})", head, "-" * len(head)]
    for name, c in res["cases"].items():
        lines.append(
            f"{name:<10} {c['subdomains']:>5} {c['partition_numba_s']:>18.4f} {c['partition_numpy_s']:>8.4f} "
            f"{c['partition_speedup']:>6.2f} {c['pou_numba_s']:>12.4f} {c['pou_numpy_s']:>8.4f} "
            f"{c['pou_speedup']:>6.2f} {c['max_weight_diff']:>8.1e}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    res = run(args.points, 3 if args.quick else 7, args.seed)
    print(table(res))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
