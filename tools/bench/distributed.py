"""Distributed Schwarz benchmark (issue 14): ``remodel_core.distributed.DistributedASPQN`` on the Burgers PINN
of the core suite (8x20 tanh ResNet, float64, 2000 interior points, two layer-wise subdomains) with one and
two gloo ranks of one thread each: wall time per outer iteration, the difference of the iterates, and the
same for data-parallel L-BFGS (``solve(..., data_parallel=True)``).

Both runs use ``shards=2`` (the data-parallel sums are cut into the same two chunks), so the one-process and
the two-rank iterates are the same arithmetic; ``max_param_diff`` is their largest difference. Besides the
wall time (first iteration excluded) the JSON records each run's process CPU time per iteration (also
without the first; the
two-rank figure is the busier rank's, a load-independent stand-in for the wall time on two idle cores; it
leaves out the time spent waiting in gloo) and the model count of the critical path in loss evaluations on
all the rows: one process does ``local + shared`` of them; two ranks ``max(local per rank) + shared / 2``.

    uv run --frozen python tools/bench/distributed.py --json docs/bench/distributed.json
    uv run --frozen python tools/bench/distributed.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch


def _train(method: str, iters: int, points: int) -> Any:
    from remodel_core import pde
    from remodel_core.nn import ResNetMLP

    torch.manual_seed(0)
    net = ResNetMLP(2, 1, width=20, depth=8, activation="tanh", horizon=8.0).to(torch.float64)
    return pde.burgers().discretize(net, points=points, seed=0)


def job(method: str, iters: int, points: int, out: str) -> None:
    """One run on this rank (under torchrun: every rank)."""
    import torch.distributed as dist
    from remodel_core import solve
    from remodel_core.distributed import DistributedASPQN, init_distributed
    from remodel_core.optim import RobustLBFGS

    torch.set_num_threads(1)
    rank, world = init_distributed(timeout=120) if "RANK" in os.environ else (0, 1)
    prob = _train(method, iters, points)
    if method == "schwarz":
        algo, extra = DistributedASPQN(subdomains=2, shards=2, local_iters=3, timeout=120), {}
    else:
        algo, extra = RobustLBFGS(history_size=50, max_iter=1), ({"data_parallel": True} if world > 1 else {})
    clock: list[float] = []  # process CPU time at the end of every iteration

    def tick(info: dict[str, Any]) -> bool:
        clock.append(time.process_time())
        return False

    sol = solve(prob, algo, maxiters=iters, dtype=torch.float64, callback=tick, **extra)
    t = sol.history["time"]
    res = {
        "rank": rank,
        "world": world,
        "wall_per_iter": (t[-1] - t[0]) / (len(t) - 1),
        "cpu_per_iter": (clock[-1] - clock[0]) / (len(clock) - 1),
        "local_evals": sol.stats.get("local_evals", 0),
        "shared_evals": sol.stats.get("shared_evals", 0),
        "evals": sol.stats["evals"],
        "loss": sol.history["loss"][-1],
    }
    torch.save({"res": res, "params": [p.detach() for p in sol.u.parameters()]}, f"{out}.{rank}")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


def _launch(method: str, ranks: int, iters: int, points: int, tmp: Path) -> list[dict[str, Any]]:
    out = tmp / f"{method}{ranks}"
    args = [
        str(Path(__file__).resolve()),
        "--job",
        method,
        "--iters",
        str(iters),
        "--points",
        str(points),
        "--out",
        str(out),
    ]
    if ranks == 1:
        cmd = [sys.executable, *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return [torch.load(f"{out}.{r}", weights_only=True) for r in range(ranks)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=8)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="4 outer iterations, 1000 points")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--job", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        job(args.job, args.iters, args.points, args.out)
        return
    if args.quick:
        args.iters, args.points = 4, 1000
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    result: dict[str, Any] = {"iters": args.iters, "points": args.points, "uptime_before": uptime}
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("schwarz", "data_parallel"):
            one = _launch(method, 1, args.iters, args.points, Path(tmp))[0]
            two = _launch(method, 2, args.iters, args.points, Path(tmp))
            diff = max(float((p - q).abs().max()) for r in two for p, q in zip(r["params"], one["params"]))
            r1, r2 = one["res"], [r["res"] for r in two]
            wall = r1["wall_per_iter"] / max(r["wall_per_iter"] for r in r2)
            cpu = r1["cpu_per_iter"] / max(r["cpu_per_iter"] for r in r2)
            row = {
                "wall_per_iter_1": r1["wall_per_iter"],
                "wall_per_iter_2": [r["wall_per_iter"] for r in r2],
                "cpu_per_iter_1": r1["cpu_per_iter"],
                "cpu_per_iter_2": [r["cpu_per_iter"] for r in r2],
                "speedup_wall": wall,
                "speedup_cpu": cpu,
                "max_param_diff": diff,
                "loss_1": r1["loss"],
                "loss_2": r2[0]["loss"],
            }
            if method == "schwarz":
                path1 = r1["local_evals"] + r1["shared_evals"]
                path2 = max(r["local_evals"] for r in r2) + r2[0]["shared_evals"] / 2
                row.update(
                    local_evals_1=r1["local_evals"],
                    local_evals_2=[r["local_evals"] for r in r2],
                    shared_evals=r1["shared_evals"],
                    speedup_eval_model=path1 / path2,
                )
            result[method] = row
            print(
                f"{method}: wall/iter 1 rank {r1['wall_per_iter']:.3f} s, 2 ranks "
                f"{max(r['wall_per_iter'] for r in r2):.3f} s -> speed-up {wall:.2f} (CPU {cpu:.2f}"
                + (f", evaluation model {row['speedup_eval_model']:.2f}" if method == "schwarz" else "")
                + f"); max |param diff| {diff:.2e}"
            )
    result["speedup_2_ranks"] = result["schwarz"]["speedup_wall"]
    result["max_param_diff"] = result["schwarz"]["max_param_diff"]
    result["data_parallel_speedup"] = result["data_parallel"]["speedup_wall"]
    result["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime before: {uptime}\nuptime after:  {result['uptime_after']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
