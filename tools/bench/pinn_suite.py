"""PINN optimizer suite (issue 10): torch's L-BFGS, Adam (best of three learning rates) and REMODEL's ``Auto``
(plus optional structured methods) on six PINN rows that span problems and network sizes.

Every method of a row trains the same network (same seed, same initialisation, float64) on the same
collocation points under the same budget, as its own one-thread process, two processes side by side. The
budget is **process CPU seconds** (``time.process_time``, one thread), not wall seconds: on a shared machine
the CPU time a process gets is what its wall time would be on an idle core, so the comparison does not
depend on the load. The relative L2 error is evaluated after every step outside the budget (its CPU time is
subtracted). Per row and method: evaluations, best relative L2 within the budget (a step that ends past the
budget does not count), CPU time to torch L-BFGS's best error within the budget (``time_to_lbfgs_s``), the
optimizer state's memory (``state_mb``, at the end of the run: the memories of these methods only grow); per
row the speed-up and the error ratio of ``auto`` against torch's L-BFGS and what ``Auto`` chose.

    uv run --frozen python tools/bench/pinn_suite.py --budget 300 --json docs/bench/pinn_suite.json
    uv run --frozen python tools/bench/pinn_suite.py --quick                     # two rows, 30 s
    uv run --frozen python tools/bench/pinn_suite.py --rows held_out --methods lbfgs,auto   # rows never tuned on
    uv run --frozen python tools/bench/pinn_suite.py --rows burgers_resnet8x20 --methods lbfgs,auto --budget 60
    uv run --frozen python tools/bench/pinn_suite.py --resummarize out.json --json out.json   # re-derive ratios
    uv run --frozen python tools/bench/pinn_suite.py --markdown out.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ADAM_LRS = (1e-3, 3e-3, 1e-2)
# name: (problem factory and its arguments, network (kind, width, depth), collocation points, note)
ROWS: dict[str, tuple[str, dict[str, Any], tuple[str, int, int], int, str]] = {
    "burgers_resnet8x20": ("burgers", {}, ("resnet", 20, 8), 4000, "Burgers, 8x20 tanh ResNet (h = 1)"),
    "burgers_mlp5x100": ("burgers", {}, ("mlp", 100, 5), 4000, "Burgers, 5x100 tanh MLP (PINNacle's size)"),
    "poisson2d_mlp7x128": (
        "poisson2d",
        {"kx": 1, "ky": 2},
        ("mlp", 128, 7),
        2000,
        "2D Poisson sin(pi x) sin(2 pi y), 7x128 tanh MLP",
    ),
    "klein_gordon_mlp4x64": ("klein_gordon", {}, ("mlp", 64, 4), 4000, "Klein-Gordon, 4x64 tanh MLP"),
    "allen_cahn_mlp4x64": ("allen_cahn", {}, ("mlp", 64, 4), 4000, "Allen-Cahn, 4x64 tanh MLP"),
    "poisson2d_mlp4x50": (
        "poisson2d",
        {"kx": 2, "ky": 2},
        ("mlp", 50, 4),
        4000,
        "2D Poisson sin(2 pi x) sin(2 pi y), 4x50 tanh MLP (not in earlier benchmarks)",
    ),
}
#: rows outside the suite that ``Auto`` was never tuned on: other sizes, problems and activations (run them with
#: ``--rows held_out``; not in the default run)
HELD_OUT: dict[str, tuple[str, dict[str, Any], tuple[str, int, int], int, str]] = {
    "burgers_gelu4x64": ("burgers", {}, ("mlp-gelu", 64, 4), 4000, "held out: Burgers, 4x64 GELU MLP"),
    "klein_gordon_resnet6x40": ("klein_gordon", {}, ("resnet", 40, 6), 4000, "held out: Klein-Gordon, 6x40 ResNet"),
    "poisson2d_k31_mlp6x200": (
        "poisson2d",
        {"kx": 3, "ky": 1},
        ("mlp", 200, 6),
        2000,
        "held out: 2D Poisson sin(3 pi x) sin(pi y), 6x200 tanh MLP (201.8k parameters)",
    ),
    "poisson2d_k12_silu5x80": (
        "poisson2d",
        {"kx": 1, "ky": 2},
        ("mlp-silu", 80, 5),
        3000,
        "held out: 2D Poisson sin(pi x) sin(2 pi y), 5x80 SiLU MLP",
    ),
}
SUITE_ROWS = tuple(ROWS)
ROWS.update(HELD_OUT)
QUICK_ROWS = ("burgers_resnet8x20", "poisson2d_mlp4x50")
METHODS = ("lbfgs", "adam", "auto")
OPTIONAL = (
    "aspqn_block",
    "rlbfgs",
    "ssbroyden",
    "gn",
    "gn_cg",
    "gn_cg_jacobi",
    "mgopt_width",
    "mgopt_width_lbfgs",
    "auto_2g",
    "auto_blocks",
    "auto_identity",
    "kfac",
    "kfac_cg",
    "kfac_lbfgs",
    "kfac_flat",
)


def network(kind: str, width: int, depth: int, seed: int) -> torch.nn.Module:
    from remodel_core.nn import MLP, ResNetMLP

    kind, _, act = kind.partition("-")  # "mlp", "resnet", or with another activation than tanh: "mlp-gelu"
    torch.manual_seed(seed)
    if kind == "resnet":
        net = ResNetMLP(2, 1, width=width, depth=depth, activation=act or "tanh", horizon=float(depth))
    else:
        net = MLP(2, 1, width=width, depth=depth, activation=act or "tanh")
    return net.to(torch.float64)


def algorithm(name: str) -> Any:
    from remodel_core.optim import ASPQN, KFAC, KFACLBFGS, LBFGS, MGOPT, Adam, Auto, GaussNewton, RobustLBFGS, SSBroyden

    if name == "lbfgs":
        return LBFGS(history_size=50, line_search_fn="strong_wolfe")
    if name.startswith("adam_lr"):
        return Adam(lr=float(name[len("adam_lr") :]))
    if name == "auto":
        return Auto()
    if name == "auto_identity":  # the ablation: Auto whose dense matrices start from the identity, not from KFAC
        return Auto(kfac=False)
    if name == "auto_blocks":  # Auto with the Schwarz blocks of dense SSBroyden matrices as a choice
        return Auto(blocks=True)
    if name == "auto_2g":  # Auto with a 2 GB curvature budget (one dense matrix up to about 16k parameters)
        return Auto(memory_mb=2048.0)
    if name == "aspqn_block":  # the decomposed curvature alone (no warm-up, no fallback), blocks of <= 2000
        return ASPQN(local_iters=0, local_hessian="ssbroyden", global_hessian="block", max_dense=2000)
    if name == "rlbfgs":  # the same global loop without the decomposed curvature
        return RobustLBFGS(history_size=50)
    if name == "ssbroyden":
        return SSBroyden()
    if name == "kfac":  # Kronecker-factored Gauss-Newton (Dangel, Mueller & Zeinhofer 2024) from the start
        return KFAC()
    if name == "kfac_flat":  # the same step control with identity factors: KFAC without its curvature
        return KFAC(factors=False)
    if name == "kfac_lbfgs":  # L-BFGS whose initial inverse Hessian is the damped KFAC inverse, from the start
        return KFACLBFGS()
    if name == "kfac_cg":  # truncated Gauss-Newton: 10 conjugate-gradient iterations preconditioned by KFAC
        return KFAC(cg_iters=10)
    if name == "gn":  # Levenberg-Marquardt from the start, solver chosen by size
        return GaussNewton()
    if name == "gn_cg":  # Levenberg-Marquardt, CG preconditioned by per-subdomain Gauss-Newton blocks
        return GaussNewton(solver="cg")
    if name == "gn_cg_jacobi":  # the same CG without the subdomain blocks (diagonal blocks of one parameter)
        return GaussNewton(solver="cg", max_dense=1)
    if name == "mgopt_width":  # MG/OPT on hidden widths /1, /2, /4: L-BFGS fine level, dense SSBroyden coarse levels
        return MGOPT(levels=3, coarsen="width", history_size=50, coarse_hessian="ssbroyden")
    if name == "mgopt_width_lbfgs":  # the same hierarchy, L-BFGS on every level (no dense coarse curvature)
        return MGOPT(levels=3, coarsen="width", history_size=50)
    raise SystemExit(f"unknown method {name!r}")


def state_mb(optimizer: torch.optim.Optimizer) -> float:
    """Megabytes of the tensors in the optimizer's state (its ``state_dict``), counted once each."""
    seen: set[int] = set()

    def walk(v: Any) -> int:
        if isinstance(v, torch.Tensor):
            if id(v) in seen:
                return 0
            seen.add(id(v))
            return v.numel() * v.element_size()
        if isinstance(v, dict):
            return sum(walk(x) for x in v.values())
        if isinstance(v, list | tuple):
            return sum(walk(x) for x in v)
        return 0

    return walk(optimizer.state_dict()) / 1e6


def run_job(row: str, method: str, budget: float, seed: int) -> dict[str, Any]:
    """One method on one row in this process (one thread); the CPU-time budget is enforced by the callback."""
    import dataclasses

    from remodel_core import pde, solve

    torch.set_num_threads(1)
    factory, kwargs, (kind, width, depth), points, _ = ROWS[row]
    prob = getattr(pde, factory)(**kwargs)
    net = network(kind, width, depth, seed)
    train = prob.discretize(net, points=points, seed=seed)
    metric = train.metrics["rel_l2"]
    count = [0]

    class Counted:  # the PINN loss, counting evaluations; its residual blocks pass through (Gauss-Newton)
        def __call__(self, model: torch.nn.Module, *data: torch.Tensor) -> torch.Tensor:
            count[0] += 1
            return train.loss(model, *data)

        def residual_blocks(self, *data: torch.Tensor, **kwargs: Any) -> Any:
            blocks = train.loss.residual_blocks(*data, **kwargs)
            if kwargs.get("route") != "taylor":  # Gauss-Newton's vectorised Jacobians: evaluations not counted
                return blocks
            (fn, rows), *rest = blocks  # KFAC evaluates all blocks together: count the passes over the first

            def counted(model: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
                count[0] += 1
                return fn(model, z)

            return [(counted, rows), *rest]

    problem = dataclasses.replace(train, loss=Counted(), metrics={})
    train.loss(network(kind, width, depth, seed), *train.data).backward()  # untimed warm-up of caches
    alg = algorithm(method)
    captured: dict[str, Any] = {}
    make = alg.make_optimizer

    class Captured(type(alg)):  # type: ignore[misc, valid-type]
        def make_optimizer(self, model: torch.nn.Module, *args: Any) -> torch.optim.Optimizer:
            captured["opt"] = opt = make(model, *args)
            return opt

    alg = Captured(**{f.name: getattr(alg, f.name) for f in dataclasses.fields(alg)})
    from remodel_core.optim import GaussNewtonOptimizer, KFACLBFGSOptimizer, KFACOptimizer

    for cls in (GaussNewtonOptimizer, KFACOptimizer, KFACLBFGSOptimizer):  # built inside their algorithms' solve
        init = cls.__init__

        def capturing(self: Any, *args: Any, init: Any = init, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            # Auto's own optimizer, when it built this one, stays; KFAC-L-BFGS replaces the KFAC it holds
            if "opt" not in captured or captured["opt"] is getattr(self, "kfac", None):
                captured["opt"] = self

        cls.__init__ = capturing  # type: ignore[method-assign]
    every = 25 if method.startswith("adam") else 1
    curve: dict[str, list[float]] = {"cpu_s": [], "evals": [], "rel_l2": []}
    excluded = [0.0]
    t0 = time.process_time()

    def callback(info: dict[str, Any]) -> bool:
        t = time.process_time() - t0 - excluded[0]
        if info["iteration"] % every == 0 or t >= budget:
            m0 = time.process_time()
            err = float(metric(info["state"]))
            excluded[0] += time.process_time() - m0
            curve["cpu_s"].append(t)
            curve["evals"].append(count[0])
            curve["rel_l2"].append(err if math.isfinite(err) else math.inf)
        return t >= budget

    sol = solve(problem, alg, callback=callback, seed=seed, dtype=torch.float64, maxiters=10**9)
    final = float(metric(sol.u))
    curve["cpu_s"].append(time.process_time() - t0 - excluded[0])
    curve["evals"].append(count[0])
    curve["rel_l2"].append(final if math.isfinite(final) else math.inf)
    opt = captured.get("opt")
    out: dict[str, Any] = {
        "evals": count[0],
        "best_rel_l2": min(curve["rel_l2"]),
        "final_rel_l2": final,
        "cpu_s": curve["cpu_s"][-1],
        "wall_s": float(sol.stats["wall_s"]),
        "retcode": sol.retcode.name,
        "iterations": int(sol.stats["iterations"]),
        "state_mb": state_mb(opt) if opt is not None else None,
        "curve": curve,
        "params": sum(p.numel() for p in net.parameters()),
    }
    if method.startswith("auto") and opt is not None:
        out["auto_choice"] = opt.choice
        out["auto_plan"] = {k: v for k, v in opt.plan.items() if isinstance(v, int | float | str)}
    return out


def time_to(curve: dict[str, list[float]], target: float) -> float | None:
    for t, r in zip(curve["cpu_s"], curve["rel_l2"]):
        if r <= target:
            return t
    return None


def within_budget(r: dict[str, Any], budget: float) -> dict[str, Any]:
    """``best_rel_l2`` over the points the method reached within the budget (a step that started before the
    budget ran out and ended after it is not counted); ``final_rel_l2`` is the run's last value."""
    c = r["curve"]
    inside = [e for t, e in zip(c["cpu_s"], c["rel_l2"]) if t <= budget]
    return dict(
        r, best_rel_l2=min(inside) if inside else min(c["rel_l2"]), in_budget_rel_l2=inside[-1] if inside else None
    )


def summarize(results: dict[str, dict[str, Any]], budget: float) -> dict[str, Any]:
    """The issue's JSON: per row, the methods, and auto's speed-up and error ratio against torch's L-BFGS
    (time to L-BFGS's best error within the budget; L-BFGS's best error over auto's, both within the budget)."""
    rows = []
    for row, methods in results.items():
        methods = {k: within_budget(v, budget) for k, v in methods.items() if not k == "adam"}
        adam = [k for k in methods if k.startswith("adam_lr")]
        if adam:
            best = min(adam, key=lambda k: methods[k]["best_rel_l2"])
            methods["adam"] = dict(methods[best], note=f"best of lr {', '.join(k[7:] for k in adam)}: {best[7:]}")
        lb = methods.get("lbfgs")
        target = lb["best_rel_l2"] if lb else None
        for r in methods.values():
            r["time_to_lbfgs_s"] = time_to(r["curve"], target) if target is not None else None
        speedup = error_ratio = None
        auto = methods.get("auto")
        if lb and auto:
            if auto["time_to_lbfgs_s"] is not None and lb["time_to_lbfgs_s"] is not None:
                speedup = lb["time_to_lbfgs_s"] / max(auto["time_to_lbfgs_s"], 1e-9)
            error_ratio = lb["best_rel_l2"] / max(auto["best_rel_l2"], 1e-300)
        params = next(iter(methods.values()))["params"]
        rows.append(
            {
                "problem": row,
                "note": ROWS[row][4],
                "params": params,
                "points": ROWS[row][3],
                "target_rel_l2": target,
                "methods": methods,
                "speedup_vs_lbfgs": speedup,
                "error_ratio_vs_lbfgs": error_ratio,
                "auto_choice": auto.get("auto_choice") if auto else None,
            }
        )
    return {
        "budget_s": budget,
        "clock": "process CPU seconds, one thread per process, two processes side by side",
        "adam_lrs": list(ADAM_LRS),
        "rows": rows,
    }


def table(out: dict[str, Any]) -> str:
    lines = [
        f"budget {out['budget_s']} CPU s per method ({out['clock']})",
        f"{'row':22s} {'params':>7s} {'method':13s} {'evals':>6s} {'best_rel_l2':>11s} {'t_lbfgs':>8s} "
        f"{'state_mb':>8s}",
    ]
    for row in out["rows"]:
        for name, r in row["methods"].items():
            if name.startswith("adam_lr"):
                continue
            tt = "-" if r["time_to_lbfgs_s"] is None else f"{r['time_to_lbfgs_s']:.1f}"
            mb = "-" if r["state_mb"] is None else f"{r['state_mb']:.1f}"
            lines.append(
                f"{row['problem']:22s} {row['params']:7d} {name:13s} {r['evals']:6d} "
                f"{r['best_rel_l2']:11.3e} {tt:>8s} {mb:>8s}"
            )
        sp = "-" if row["speedup_vs_lbfgs"] is None else f"{row['speedup_vs_lbfgs']:.2f}"
        er = "-" if row["error_ratio_vs_lbfgs"] is None else f"{row['error_ratio_vs_lbfgs']:.2f}"
        lines.append(f"{'':22s} auto vs L-BFGS: speedup {sp}, error ratio {er}, auto chose {row['auto_choice']}")
    return "\n".join(lines)


def markdown(out: dict[str, Any]) -> str:
    """The suite as a markdown table (one line per row and method)."""
    lines = [
        "| row | params | method | evals | best rel. L2 | CPU s to L-BFGS's error | state MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in out["rows"]:
        for name in ("lbfgs", "adam", "auto", *OPTIONAL):
            r = row["methods"].get(name)
            if r is None:
                continue
            tt = "–" if r["time_to_lbfgs_s"] is None else f"{r['time_to_lbfgs_s']:.1f}"
            mb = "–" if r["state_mb"] is None else f"{r['state_mb']:.1f}"
            label = {"lbfgs": "torch L-BFGS", "adam": f"Adam ({r.get('note', '')})", "auto": "Auto"}.get(name, name)
            lines.append(
                f"| {row['problem']} | {row['params']:,} | {label} | {r['evals']} | {r['best_rel_l2']:.3e} "
                f"| {tt} | {mb} |"
            )
    lines += ["", "| row | auto chose | speed-up vs L-BFGS | error ratio vs L-BFGS |", "|---|---|---|---|"]
    for row in out["rows"]:
        sp = "–" if row["speedup_vs_lbfgs"] is None else f"{row['speedup_vs_lbfgs']:.2f}"
        er = "–" if row["error_ratio_vs_lbfgs"] is None else f"{row['error_ratio_vs_lbfgs']:.2f}"
        lines.append(f"| {row['problem']} | {row['auto_choice']} | {sp} | {er} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--rows",
        default=",".join(SUITE_ROWS),
        help=f"comma-separated subset of {list(ROWS)}; 'held_out' for {list(HELD_OUT)}",
    )
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated subset of {METHODS + OPTIONAL} (adam = three learning rates)",
    )
    parser.add_argument("--budget", type=float, default=300.0, help="CPU seconds per method (one thread)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--procs", type=int, default=2, help="processes side by side (one thread each)")
    parser.add_argument("--quick", action="store_true", help="two rows, 30 s per method")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--job", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--markdown", type=Path, default=None, help="print the markdown table of a suite JSON")
    parser.add_argument("--resummarize", type=Path, default=None, help="recompute the summary of a suite JSON")
    args = parser.parse_args(argv)
    if args.resummarize:
        old = json.loads(args.resummarize.read_text())
        results = {row["problem"]: row["methods"] for row in old["rows"]}
        new = summarize(results, old["budget_s"])
        new["command"] = old.get("command")
        print(table(new))
        if args.json is not None:
            args.json.write_text(json.dumps(new, indent=1, default=lambda v: None))
        return 0
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return 0
    if args.job:  # one worker process
        row, method = args.job.split(":")
        result = run_job(row, method, args.budget, args.seed)
        args.out.write_text(json.dumps(result, default=lambda v: None))
        return 0
    rows = list(QUICK_ROWS) if args.quick else [r.strip() for r in args.rows.split(",") if r.strip()]
    rows = [x for r in rows for x in (HELD_OUT if r == "held_out" else [r])]
    if args.quick:
        args.budget = min(args.budget, 30.0)
    for r in rows:
        if r not in ROWS:
            raise SystemExit(f"unknown row {r!r}; rows: {list(ROWS)}")
    names: list[str] = []
    for m in (m.strip() for m in args.methods.split(",") if m.strip()):
        if m not in METHODS + OPTIONAL:
            raise SystemExit(f"unknown method {m!r}")
        names += [f"adam_lr{lr:g}" for lr in ADAM_LRS] if m == "adam" else [m]
    jobs = [(r, m) for r in rows for m in names]
    results: dict[str, dict[str, Any]] = {r: {} for r in rows}
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    failed: list[str] = []

    def write(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        summary = summarize({r: ms for r, ms in results.items() if ms}, args.budget)
        summary["command"] = " ".join(["tools/bench/pinn_suite.py", *(argv if argv is not None else sys.argv[1:])])
        summary["clock"] = f"process CPU seconds, one thread per process, {args.procs} process(es) side by side"
        summary["failed_jobs"] = list(failed)
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(summary, indent=1, default=lambda v: None))
        return summary

    with tempfile.TemporaryDirectory() as tmp:
        running: list[tuple[subprocess.Popen[bytes], str, str, Path]] = []
        pending = list(jobs)
        while pending or running:
            while pending and len(running) < args.procs:
                r, m = pending.pop(0)
                out = Path(tmp) / f"{r}-{m}.json"
                cmd = [
                    sys.executable,
                    __file__,
                    "--job",
                    f"{r}:{m}",
                    "--out",
                    str(out),
                    "--budget",
                    str(args.budget),
                    "--seed",
                    str(args.seed),
                ]
                running.append((subprocess.Popen(cmd, env=env), r, m, out))
                print(f"[{time.strftime('%H:%M:%S')}] start {r} {m}", file=sys.stderr, flush=True)
            time.sleep(0.5)
            for item in list(running):
                proc, r, m, out = item
                if proc.poll() is None:
                    continue
                running.remove(item)
                if proc.returncode != 0 or not out.exists():  # recorded; the other jobs go on
                    failed.append(f"{r}:{m} (exit {proc.returncode})")
                    print(f"job {r}:{m} failed (exit {proc.returncode})", file=sys.stderr, flush=True)
                    continue
                results[r][m] = json.loads(out.read_text())
                res = results[r][m]
                print(
                    f"[{time.strftime('%H:%M:%S')}] done {r} {m}: evals={res['evals']} best={res['best_rel_l2']:.3e}",
                    file=sys.stderr,
                    flush=True,
                )
                write(results)  # after every job: a long run keeps what it measured
    summary = write(results)
    print(table(summary))
    if failed:
        print("failed jobs: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
