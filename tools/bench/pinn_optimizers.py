"""PINN optimizer benchmark (issue 3, item 6): Adam, torch's L-BFGS, our robust L-BFGS, ASPQN, MSPQN, RMTR, MG/OPT.

Every method trains the same network (an 8x20 tanh ResNet with residual step ``--step``, default h = 1; same
seed, same initialisation, float64) on the same collocation set under the same wall-clock budget through
``remodel_core.solve(..., maxtime=budget)``; the relative L2 error is evaluated every ``--monitor-every``
iterations outside the clock. Figures that compare are ratios measured in the same run. Disjoint method sets
run as separate processes (one per core, ``--threads 1``) are combined with ``--merge``; ``--data-parallel``
runs every method on two one-thread ranks under torchrun.

    uv run --frozen python tools/bench/pinn_optimizers.py --problem burgers --budget 300 --json out.json
    uv run --frozen python tools/bench/pinn_optimizers.py --threads 1 --methods adam,lbfgs_robust --json a.json
    uv run --frozen python tools/bench/pinn_optimizers.py --merge a.json b.json --json out.json
    uv run --frozen python tools/bench/pinn_optimizers.py --quick
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from remodel_core import solve
from remodel_core.nn import ResNetMLP
from remodel_core.optim import ASPQN, LBFGS, MGOPT, MSPQN, RMTR, Adam, RobustLBFGS, SSBroyden

LBFGS_METHODS = ("lbfgs", "lbfgs_robust")
DD_METHODS = (
    "aspqn",
    "aspqn_dist",
    "mspqn",
    "mspqn2",
    "rmtr",
    "mgopt",
    "mgopt_layers",
    "aspqn_ss",
    "mspqn_ss",
    "rmtr_ss",
    "mgopt_ss",
)
# "ssbroyden" (dense self-scaled quasi-Newton alone) is in neither set: not the baseline, not Schwarz/multilevel
ADAM_LRS = (1e-3, 3e-3, 1e-2)
RANKS = 2  # torchrun processes of aspqn_dist and of --data-parallel (one thread each)


def make_problem(name: str):
    from remodel_core import pde

    factory = getattr(pde, name, None)
    if factory is None:
        raise SystemExit(f"remodel_core.pde has no problem {name!r}")
    return factory()


def make_network(seed: int, width: int, depth: int, step: float = 1.0) -> torch.nn.Module:
    """The benchmark's tanh ResNet-PINN with residual step ``h = step`` (horizon ``depth * step``)."""
    torch.manual_seed(seed)
    return ResNetMLP(2, 1, width=width, depth=depth, activation="tanh", horizon=depth * step).to(torch.float64)


def methods(names: list[str]) -> dict[str, tuple[Any, int, str]]:
    """name -> (algorithm, monitor_every, note)."""
    out: dict[str, tuple[Any, int, str]] = {}
    for name in names:
        if name == "adam":
            for lr in ADAM_LRS:
                out[f"adam_lr{lr:g}"] = (Adam(lr=lr), 25, "")
        elif name == "lbfgs":
            out[name] = (LBFGS(history_size=50, line_search_fn="strong_wolfe"), 1, "torch.optim.LBFGS, 20 its/step")
        elif name == "lbfgs_robust":
            out[name] = (RobustLBFGS(history_size=50, max_iter=5), 1, "5 its/step")
        elif name == "aspqn":
            out[name] = (ASPQN(subdomains=2, local_iters=1, history_size=50), 1, "2 layer-wise subdomains")
        elif name == "aspqn_dist":
            out[name] = ("torchrun", 1, "ASPQN, subdomain solves on 2 processes (torchrun, gloo, 1 thread each)")
        elif name == "mspqn":
            out[name] = (MSPQN(subdomains=2, local_iters=1, history_size=50), 1, "2 layer-wise subdomains")
        elif name == "mspqn2":
            out[name] = (
                MSPQN(subdomains=4, local_iters=1, history_size=50, coarse=True),
                1,
                "two-level: 4 subdomains + coarse correction",
            )
        elif name == "rmtr":
            out[name] = (RMTR(), 1, "3 levels, layer coarsening")
        elif name == "mgopt":
            out[name] = (
                MGOPT(levels=2, coarsen="points", factor=4, coarse_iters=10, history_size=50),
                1,
                "MG/OPT, 2 levels of collocation points (all / a nested quarter)",
            )
        elif name == "ssbroyden":
            out[name] = (SSBroyden(max_iter=5), 1, "dense self-scaled Broyden (Al-Baali & Khalfan), 5 its/step")
        elif name == "aspqn_ss":
            out[name] = (
                ASPQN(subdomains=2, local_iters=1, hessian="ssbroyden"),
                1,
                "ASPQN, 2 layer-wise subdomains, dense SSBroyden local and global steps",
            )
        elif name == "mspqn_ss":
            out[name] = (
                MSPQN(subdomains=2, local_iters=1, hessian="ssbroyden"),
                1,
                "MSPQN, 2 layer-wise subdomains, dense SSBroyden local and global steps",
            )
        elif name == "rmtr_ss":
            out[name] = (RMTR(hessian="ssbroyden"), 1, "RMTR, 3 levels, layer coarsening, dense SSBroyden")
        elif name == "mgopt_ss":
            out[name] = (
                MGOPT(levels=2, coarsen="points", factor=4, coarse_iters=10, hessian="ssbroyden"),
                1,
                "MG/OPT, 2 levels of collocation points, dense SSBroyden smoother",
            )
        elif name == "mgopt_layers":
            out[name] = (
                MGOPT(levels=3, coarsen="layers", coarse_iters=5, history_size=50),
                1,
                "MG/OPT, 3 levels of layer coarsening (8 / 4 / 2 blocks)",
            )
        else:
            raise SystemExit(f"unknown method {name!r}")
    return out


def eval_seconds(train, net: torch.nn.Module, repeats: int = 3) -> float:
    x = train.data
    net = net.to(torch.float64)
    train.loss(net, *x).backward()  # warm-up (route selection, caches)
    t = time.perf_counter()
    for _ in range(repeats):
        net.zero_grad()
        train.loss(net, *x).backward()
    return (time.perf_counter() - t) / repeats


def curve(sol) -> dict[str, list[float]]:
    h = sol.history
    rows = [(t, e, r) for t, e, r in zip(h.get("time", []), h.get("evals", []), h.get("rel_l2", [])) if r == r]
    return {"time": [r[0] for r in rows], "evals": [r[1] for r in rows], "rel_l2": [r[2] for r in rows]}


def time_to(c: dict[str, list[float]], target: float) -> float | None:
    for t, r in zip(c["time"], c["rel_l2"]):
        if r <= target:
            return t
    return None


def evals_to(c: dict[str, list[float]], target: float) -> float | None:
    for e, r in zip(c["evals"], c["rel_l2"]):
        if r <= target:
            return e
    return None


def run(args: argparse.Namespace) -> dict[str, Any]:
    prob = make_problem(args.problem)
    net = make_network(args.seed, args.width, args.depth, args.step)
    train = prob.discretize(net, points=args.points, seed=args.seed)
    eval_s = eval_seconds(train, make_network(args.seed, args.width, args.depth, args.step))
    results: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    for name, (alg, every, note) in methods(args.methods).items():
        if alg == "torchrun" or (args.data_parallel and alg is not None):
            if alg != "torchrun":
                note = f"{note}; data-parallel, {RANKS} ranks".lstrip("; ")
            if args.progress:
                print(f"[{name}] ... (torchrun, {RANKS} ranks)", file=sys.stderr, flush=True)
            c, stats = run_distributed(args, every, name)
            curves[name] = c
            results[name] = {
                "evals": stats["evals"],
                "wall_s": stats["wall_s"],
                "best_rel_l2": float(min(c["rel_l2"])),
                "final_rel_l2": c["rel_l2"][-1],
                "retcode": stats["retcode"],
                "iterations": stats["iterations"],
                "time_to_target_s": None,
                "evals_to_target": None,
                "note": note,
            }
            if args.progress:
                print(f"[{name}] evals={stats['evals']} best={min(c['rel_l2']):.3e}", file=sys.stderr, flush=True)
            continue
        if alg is None:
            results[name] = {"evals": 0, "wall_s": 0.0, "best_rel_l2": None, "time_to_target_s": None, "note": note}
            continue
        if args.progress:
            print(f"[{name}] ...", file=sys.stderr, flush=True)
        # one untimed evaluation first, so no method pays the warm-up of caches and thread pools
        train.loss(make_network(args.seed, args.width, args.depth, args.step), *train.data).backward()
        problem, callback = train, None
        if args.max_evals:
            # an equal budget of loss-and-gradient evaluations (for tuning on a busy machine)
            count = [0]

            def loss(model, *data, _count=count):
                _count[0] += 1
                return train.loss(model, *data)

            problem = dataclasses.replace(train, loss=loss)
            callback = lambda info, _count=count: _count[0] >= args.max_evals  # noqa: E731
        sol = solve(
            problem,
            alg,
            maxtime=args.budget,
            monitor_every=args.every or every,
            seed=args.seed,
            dtype=torch.float64,
            callback=callback,
        )
        final = float(train.metrics["rel_l2"](sol.u))
        c = curve(sol)
        c["time"].append(sol.stats["wall_s"])
        c["evals"].append(sol.stats["evals"])
        c["rel_l2"].append(final)
        curves[name] = c
        results[name] = {
            "evals": int(sol.stats["evals"]),
            "work": float(sol.stats.get("work", sol.stats["evals"])),
            "wall_s": float(sol.stats["wall_s"]),
            "best_rel_l2": float(min(c["rel_l2"])),
            "final_rel_l2": final,
            "retcode": sol.retcode.name,
            "iterations": int(sol.stats["iterations"]),
            "time_to_target_s": None,
            "evals_to_target": None,
            "note": note,
        }
        if args.progress:
            print(
                f"[{name}] evals={sol.stats['evals']} best={min(c['rel_l2']):.3e} {sol.retcode.name}",
                file=sys.stderr,
                flush=True,
            )
    return summarize(
        {
            "problem": args.problem,
            "budget_s": args.budget,
            "points": args.points,
            "step": args.step,
            "eval_s": eval_s,
            "threads": torch.get_num_threads(),
            "data_parallel_ranks": RANKS if args.data_parallel else 0,
        },
        results,
        curves,
    )


def summarize(head: dict[str, Any], results: dict[str, Any], curves: dict[str, Any]) -> dict[str, Any]:
    """The JSON of issue 3: per-method results plus target, speed-up and error ratio against L-BFGS."""
    results = {k: v for k, v in results.items() if k != "adam"}
    # Adam: best learning rate of the run
    adam = [k for k in results if k.startswith("adam_lr") and results[k]["best_rel_l2"] is not None]
    if adam:
        best = min(adam, key=lambda k: results[k]["best_rel_l2"])
        results["adam"] = dict(results[best], note=f"best lr: {best[len('adam_lr') :]}")
        curves["adam"] = curves[best]
    lb = [k for k in LBFGS_METHODS if k in results and results[k]["best_rel_l2"] is not None]
    target = min(results[k]["best_rel_l2"] for k in lb) if lb else None
    for name, r in results.items():
        if target is not None and name in curves:
            r["time_to_target_s"] = time_to(curves[name], target)
            r["evals_to_target"] = evals_to(curves[name], target)
    speedup = error_ratio = None
    best_method = None
    dd = [k for k in DD_METHODS if k in results and results[k]["best_rel_l2"] is not None]
    if lb and dd:
        ref = min(lb, key=lambda k: results[k]["best_rel_l2"])
        t_ref = results[ref]["time_to_target_s"]
        reached = [k for k in dd if results[k]["time_to_target_s"] is not None]
        if reached and t_ref:
            fastest = min(reached, key=lambda k: results[k]["time_to_target_s"])
            speedup = t_ref / max(results[fastest]["time_to_target_s"], 1e-12)
        most_accurate = min(dd, key=lambda k: results[k]["best_rel_l2"])
        error_ratio = results[ref]["best_rel_l2"] / results[most_accurate]["best_rel_l2"]
    finished = [k for k in results if results[k]["best_rel_l2"] is not None and not k.startswith("adam_lr")]
    if finished:
        best_method = min(finished, key=lambda k: results[k]["best_rel_l2"])
    return {
        **head,
        "methods": results,
        "target_rel_l2": target,
        "speedup_vs_lbfgs": speedup,
        "error_ratio_vs_lbfgs": error_ratio,
        "best_method": best_method,
        "curves": curves,
    }


def merge(paths: list[Path]) -> dict[str, Any]:
    """One result from runs of disjoint method sets (``--methods``) with the same problem, budget and threads."""
    runs = [json.loads(p.read_text()) for p in paths]
    keys = ("problem", "budget_s", "points", "step", "threads", "data_parallel_ranks")
    for r in runs[1:]:
        if any(r.get(k) != runs[0].get(k) for k in keys):
            raise SystemExit(f"cannot merge runs that differ in {keys}")
    results: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    for r in runs:
        results.update(r["methods"])
        curves.update(r["curves"])
    head: dict[str, Any] = {k: runs[0].get(k) for k in keys}
    head["eval_s"] = min(r["eval_s"] for r in runs)
    head["merged_from"] = [str(p) for p in paths]
    return summarize(head, results, curves)


def run_distributed(args: argparse.Namespace, every: int, name: str) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Method ``name`` on ``RANKS`` one-thread processes: this script again under torchrun (--worker).

    ``aspqn_dist`` shares its subdomain solves out over the ranks; every other method trains data-parallel.
    """
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "worker.json"
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={RANKS}",
            __file__,
            "--worker",
            str(out),
            "--worker-method",
            name,
            "--problem",
            args.problem,
            "--budget",
            str(args.budget),
            "--points",
            str(args.points),
            "--width",
            str(args.width),
            "--depth",
            str(args.depth),
            "--step",
            str(args.step),
            "--seed",
            str(args.seed),
            "--every",
            str(args.every or every),
            "--max-evals",
            str(args.max_evals),
        ]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"torchrun worker failed:\n{done.stderr[-3000:]}")
        data = json.loads(out.read_text())
    return data["curve"], data["stats"]


def worker(args: argparse.Namespace) -> None:
    """One rank of a torchrun run of method ``args.worker_method``; rank 0 writes the curve to ``args.worker``."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    prob = make_problem(args.problem)
    net = make_network(args.seed, args.width, args.depth, args.step)
    train = prob.discretize(net, points=args.points, seed=args.seed)
    count = [0]

    def loss(model, *data):
        count[0] += 1
        return train.loss(model, *data)

    name = args.worker_method
    # one untimed evaluation first, as in the single-process runs
    train.loss(make_network(args.seed, args.width, args.depth, args.step), *train.data).backward()
    # both ranks evaluate the metric (outside the clock), so their clocks agree
    problem = dataclasses.replace(train, loss=loss)
    if name == "aspqn_dist":

        def stop(info: dict[str, Any]) -> bool:
            # every rank must stop at the same iteration (they meet in all-reduces): agree on the flag
            flag = torch.tensor(
                [float(info["elapsed"] >= args.budget or (args.max_evals and count[0] >= args.max_evals))]
            )
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            return bool(flag.item() > 0)

        alg = ASPQN(subdomains=2, local_iters=1, history_size=50, distributed=True)
        sol = solve(problem, alg, monitor_every=args.every or 1, seed=args.seed, dtype=torch.float64, callback=stop)
    else:
        # data-parallel: solve's loop makes the ranks agree on maxtime (and on the equal eval counts)
        alg = methods(["adam" if name.startswith("adam_lr") else name])[name][0]
        callback = (lambda info: count[0] >= args.max_evals) if args.max_evals else None
        sol = solve(
            problem,
            alg,
            maxtime=args.budget,
            monitor_every=args.every or 1,
            seed=args.seed,
            dtype=torch.float64,
            callback=callback,
            data_parallel=True,
        )
    if dist.get_rank() == 0:
        c = curve(sol)
        c["time"].append(sol.stats["wall_s"])
        c["evals"].append(sol.stats["evals"])
        c["rel_l2"].append(float(train.metrics["rel_l2"](sol.u)))
        stats = {
            "evals": int(sol.stats["evals"]),
            "wall_s": float(sol.stats["wall_s"]),
            "iterations": int(sol.stats["iterations"]),
            "retcode": sol.retcode.name,
        }
        Path(args.worker).write_text(json.dumps({"curve": c, "stats": stats}))
    dist.barrier()  # no rank tears gloo down while another is still using it
    dist.destroy_process_group()


def table(out: dict[str, Any]) -> str:
    ranks = out.get("data_parallel_ranks")
    lines = [
        f"problem={out['problem']} budget={out['budget_s']}s points={out['points']} "
        + (f"data_parallel={ranks} ranks " if ranks else "")
        + f"eval_s={out['eval_s']:.3f} target_rel_l2={out['target_rel_l2']}",
        f"{'method':16s} {'evals':>7s} {'wall_s':>8s} {'best_rel_l2':>12s} {'t_target':>9s} {'e_target':>9s}  note",
    ]
    for name, r in out["methods"].items():
        best = "-" if r["best_rel_l2"] is None else f"{r['best_rel_l2']:.3e}"
        tt = "-" if r.get("time_to_target_s") is None else f"{r['time_to_target_s']:.1f}"
        et = "-" if r.get("evals_to_target") is None else f"{r['evals_to_target']:.0f}"
        lines.append(f"{name:16s} {r['evals']:7d} {r['wall_s']:8.1f} {best:>12s} {tt:>9s} {et:>9s}  {r['note']}")
    lines.append(
        f"speedup_vs_lbfgs={out['speedup_vs_lbfgs']} error_ratio_vs_lbfgs={out['error_ratio_vs_lbfgs']} "
        f"best_method={out['best_method']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problem", default="burgers", choices=["burgers", "allen_cahn", "klein_gordon"])
    parser.add_argument("--budget", type=float, default=300.0, help="wall-clock seconds per method")
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--width", type=int, default=20)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--step", type=float, default=1.0, help="residual step h of the ResNet (horizon depth*h)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--methods", default="adam,lbfgs,lbfgs_robust,aspqn,aspqn_dist,mspqn,mspqn2,rmtr,mgopt,mgopt_layers"
    )
    parser.add_argument("--max-evals", type=int, default=0, help="also stop each method after this many evals")
    parser.add_argument("--every", type=int, default=0, help="override monitor_every for all methods")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="about a minute: small budget and point set")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument(
        "--data-parallel",
        action="store_true",
        help=f"run every method data-parallel under torchrun on {RANKS} one-thread ranks",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        help="merge the JSON of runs of disjoint --methods into one result",
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-method", default="aspqn_dist", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.worker:
        worker(args)
        return 0
    if args.quick:
        args.budget = min(args.budget, 5.0)
        args.points = min(args.points, 1000)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = merge(args.merge) if args.merge else run(args)
    print(table(out))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1, default=lambda v: None if v != v else v))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
