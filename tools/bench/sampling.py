"""Adaptive collocation inside ``solve`` against fixed uniform and Sobol points (issue 15, item 5).

The set-up of Wu, Zhu, Tan, Kartha & Lu (CMAME 403, 2023), shortened to fit a shared two-core machine:
a 3 x 64 tanh network with the initial and boundary conditions built in (``u = -sin(pi x) + t (1 - x^2) N``
for Burgers, ``u = x^2 cos(pi x) + t (1 - x^2) N`` for Allen–Cahn), float32 as in the paper (DeepXDE's
default; ``--dtype float64`` costs twice the time), the same schedule for every
strategy: ``--adam`` Adam iterations (lr 1e-3) then ``--lbfgs`` L-BFGS iterations (RobustLBFGS, one
iteration per solve step), the points moved every ``--every`` iterations in both phases by
``AdaptiveSampling`` (one ``solve`` per phase, so the optimizer of a phase keeps its state across rounds).
Strategies: ``uniform`` (fixed uniform random points), ``sobol`` (fixed scrambled Sobol), ``rar_g`` (RAR-G,
adds ``m`` points of largest residual), ``rad`` (RAD k=1, c=1, replaces all points), ``rar_d`` (RAR-D k=2,
c=0, adds ``m``); RAR-G/RAR-D start with ``N - rounds m`` points and end with ``N``. Candidates: uniform
random, ``--candidates`` per round. Relative L2 on the reference grid (Burgers: Cole–Hopf on Raissi's
256 x 100 grid; Allen–Cahn: ETDRK4 on 512 x 201), mean and standard deviation over ``--seeds`` seeds
(seed s: network initialisation, points and candidates). ``--problem holes``: Poisson on a square with
three circular holes (``remodel_sampling.poisson_holes``, soft Dirichlet data on 400 points of the CSG
boundary with loss weight 100, 3 x 32 network). ``rad_unbalanced`` (not in the default list): RAD with
``AdaptiveSampling(balance=False)``, the behaviour before the balance of the loss terms (the PDE term is no
longer rescaled to its uniform mean square each round, so soft condition terms lose weight under RAD).

The earlier runs recorded in docs/BENCHMARKS.md moved the points in the Adam phase too (add ``--resample-in both``
to reproduce them; sized to the loaded shared machine, the defaults are longer):

    uv run --frozen python tools/bench/sampling.py --adam 300 --lbfgs 500 --every 100 --candidates 10000 \
        --json docs/bench/sampling_burgers.json
    uv run --frozen python tools/bench/sampling.py --problem allen_cahn --points 1000 --adam 200 --lbfgs 200 \
        --every 100 --candidates 10000 --json docs/bench/sampling_allen_cahn.json
    uv run --frozen python tools/bench/sampling.py --problem holes --points 1000 --adam 200 --lbfgs 400 \
        --every 100 --candidates 10000 --draw --json docs/bench/sampling_holes.json
    uv run --frozen python tools/bench/sampling.py --quick

Wu et al.'s procedure (the default ``--resample-in lbfgs``: Adam on the initial points, then resampling between
L-BFGS rounds), three seeds, RAD 11.4x below uniform (docs/BENCHMARKS.md):

    nice -n 19 uv run --frozen python tools/bench/sampling.py --adam 1000 --lbfgs 2000 --every 200 \
        --candidates 100000 --seeds 3 --strategies uniform,rad --json docs/bench/sampling_burgers_lbfgs.json

The domain with holes with the same procedure, one process per seed side by side, then merged
(docs/bench/sampling_holes_lbfgs.json):

    for s in 0 1 2; do nice -n 19 uv run --frozen python tools/bench/sampling.py --problem holes --points 1000 \
        --adam 500 --lbfgs 600 --every 200 --candidates 20000 --seeds 1 --first-seed $s \
        --strategies uniform,rad,rad_unbalanced,sobol,rar_g,rar_d --json holes_seed$s.json & done; wait
    uv run --frozen python tools/bench/sampling.py --merge holes_seed0.json holes_seed1.json holes_seed2.json \
        --json docs/bench/sampling_holes_lbfgs.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from remodel_core import solve
from remodel_core.nn import MLP
from remodel_core.optim import Adam, RobustLBFGS
from remodel_sampling import (
    RAD,
    RARD,
    RARG,
    AdaptiveSampling,
    Sobol,
    Static,
    UniformRandom,
    hard_allen_cahn,
    hard_burgers,
    poisson_holes,
)

STRATEGIES = ("uniform", "sobol", "rar_g", "rad", "rar_d")
EXTRA = ("rad_unbalanced",)  # RAD without AdaptiveSampling's balance of the loss terms (the earlier behaviour)


def setup(problem: str, width: int) -> tuple[Any, Any, int]:
    """The PINN problem, a network factory (seeded) and the boundary points per condition."""
    if problem == "burgers":
        prob, wrap = hard_burgers()
    elif problem == "allen_cahn":
        prob, wrap = hard_allen_cahn()
    else:
        prob = poisson_holes()

        def wrap(net: torch.nn.Module) -> torch.nn.Module:
            return net

    def network(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return wrap(MLP(prob.domain.dim, 1, width=width, depth=3))

    return prob, network, 0 if problem != "holes" else 400


def rounds_of(args: argparse.Namespace) -> int:
    """Rounds that happen: after iterations every, 2 every, ... strictly before the end of each phase (none after
    the last iteration), so that RAR-G/RAR-D end with ``--points``."""

    def phase(n: int) -> int:
        return max(n - 1, 0) // args.every

    return (phase(args.adam) if args.resample_in == "both" else 0) + phase(args.lbfgs)


def make_strategy(args: argparse.Namespace, name: str) -> Any:
    return {
        "uniform": Static(),
        "sobol": Static(),
        "rad": RAD(k=args.rad_k, c=args.rad_c),
        "rad_unbalanced": RAD(k=args.rad_k, c=args.rad_c),
        "rar_g": RARG(m=args.m),
        "rar_d": RARD(k=2.0, c=0.0, m=args.m),
    }[name]


def run(
    args: argparse.Namespace,
    prob: Any,
    network: Any,
    n_boundary: int,
    name: str,
    seed: int,
    cache: dict[Any, Any],
) -> dict[str, Any]:
    """One strategy, one seed: the Adam phase, then the L-BFGS phase, each one ``solve``.

    ``--resample-in lbfgs`` (the default, Wu et al.'s procedure: pre-train, then resample between L-BFGS
    rounds): the Adam phase trains on the initial points for every strategy, so its result depends only on
    the initial point set and is computed once per (sampler, size, seed) and shared through ``cache``;
    the L-BFGS phase moves the points every ``--every`` iterations. ``--resample-in both``: every phase
    resamples (the previous session's schedule)."""
    import dataclasses

    total_rounds = rounds_of(args)
    strategy = make_strategy(args, name)
    n0 = strategy.initial_points(args.points, total_rounds)
    sampler = Sobol() if name == "sobol" else UniformRandom()
    x0 = sampler.sample(n0, prob.domain, seed=seed)
    kwargs: dict[str, Any] = {"boundary_points": 1}
    if prob.conditions:  # soft Dirichlet data (holes): weight 100 on the boundary term, as is common for PINNs
        kwargs = {"boundary_points": n_boundary, "weights": {"boundary": 100.0}}
    train = prob.discretize(network(seed), points=x0, seed=seed, derivatives="autograd", **kwargs)
    common = {
        "strategy": strategy,
        "every": args.every,
        "candidates": args.candidates,
        "balance": name != "rad_unbalanced",
    }
    dtype = getattr(torch, args.dtype)
    key = (type(sampler).__name__, n0, seed)
    shared = args.resample_in == "lbfgs" and key in cache
    c0, t0 = time.process_time(), time.perf_counter()
    if shared:
        sol, rel_adam, adam_cpu = cache[key]
    else:
        adam = Adam(lr=1e-3)
        algorithm = AdaptiveSampling(inner=adam, **common) if args.resample_in == "both" else adam
        sol = solve(train, algorithm, maxiters=args.adam, seed=seed, dtype=dtype, monitor_every=10**9)
        rel_adam = prob.relative_l2(sol.u)
        adam_cpu = time.process_time() - c0
        if args.resample_in == "lbfgs":
            cache[key] = (sol, rel_adam, adam_cpu)
    data = sol.stats.get("data", train.data)
    train2 = dataclasses.replace(train, model=sol.u, data=data)
    c1 = time.process_time()
    sol2 = solve(
        train2,
        AdaptiveSampling(inner=RobustLBFGS(max_iter=1, history_size=50), **common),
        maxiters=args.lbfgs,
        seed=seed + 7919,
        dtype=dtype,
        monitor_every=10**9,
    )
    lbfgs_cpu = time.process_time() - c1
    rel = prob.relative_l2(sol2.u)
    evals = sol.stats["evals"] + sol2.stats["evals"]
    cand = sol.stats.get("candidate_evaluations", 0) + sol2.stats["candidate_evaluations"]
    return {
        "rel_l2": rel,
        "rel_l2_after_adam": rel_adam,
        "evals": evals,
        "lbfgs_iterations": int(sol2.stats["iterations"]),
        "candidate_points": cand,
        "final_points": int(sol2.stats["data"][0].shape[0]),
        "initial_points": n0,
        "rounds": len(sol.stats.get("rounds", ())) + len(sol2.stats["rounds"]),
        "residual_weights": [r["residual_weight"] for r in sol2.stats["rounds"] if "residual_weight" in r],
        "adam_phase_shared": shared,
        "cpu_s_adam": adam_cpu,
        "cpu_s_lbfgs": lbfgs_cpu,
        "wall_s": time.perf_counter() - t0,
        "retcode": str(sol2.retcode),
    }


def draw_timing() -> dict[str, Any]:
    """Seconds (best of 3) to draw 2,000 distinct candidates by RAD weights from 10^5 and 10^6: the numba
    kernel, its numpy reference (all keys + sort) and numpy's ``Generator.choice(replace=False, p=...)``
    (what DeepXDE's RAD example calls)."""
    from remodel_sampling import weighted_choice, weighted_choice_reference

    out: dict[str, Any] = {}
    weighted_choice(np.ones(10), 1, 0)  # compile (cached)
    for m in (100_000, 1_000_000):
        w = np.random.default_rng(0).random(m) ** 2
        row = {}
        for name, f in (
            ("numba", weighted_choice),
            ("numpy_reference", weighted_choice_reference),
            ("numpy_choice", lambda w, n, s: np.random.default_rng(s).choice(w.size, n, replace=False, p=w / w.sum())),
        ):
            best = math.inf
            for r in range(3):
                t = time.perf_counter()
                f(w, 2000, r)
                best = min(best, time.perf_counter() - t)
            row[name] = best
        out[str(m)] = row
        print(f"draw 2000 of {m}: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in row.items()))
    return out


def summarise(out: dict[str, Any]) -> None:
    """Mean, std and the ratios to uniform (of the means and seed by seed) from the runs of each strategy."""
    for s in out["strategies"].values():
        rel = np.array([r["rel_l2"] for r in s["runs"]])
        s["rel_l2_mean"], s["rel_l2_std"] = float(rel.mean()), float(rel.std())
    base = out["strategies"].get("uniform", {}).get("rel_l2_mean")
    print("\n| strategy | rel. L2 mean | std | uniform / strategy |\n|---|---|---|---|")
    for name, s in out["strategies"].items():
        ratio = base / s["rel_l2_mean"] if base else float("nan")
        s["uniform_over_this"] = ratio
        if base:  # the same ratio seed by seed (each seed's runs share the initialisation and first points)
            uniform = {u.get("seed", i): u["rel_l2"] for i, u in enumerate(out["strategies"]["uniform"]["runs"])}
            s["uniform_over_this_per_seed"] = [
                uniform[r.get("seed", i)] / r["rel_l2"] for i, r in enumerate(s["runs"]) if r.get("seed", i) in uniform
            ]
        print(f"| {name} | {s['rel_l2_mean']:.3e} | {s['rel_l2_std']:.1e} | {ratio:.2f} |")


def merge(paths: list[Path], target: Path | None) -> None:
    """One JSON from runs of the same schedule on other seeds (``--first-seed``, run side by side)."""
    parts = [json.loads(p.read_text()) for p in paths]
    for part in parts:  # runs written before the seed was recorded in each run: seeds first_seed, first_seed + 1...
        for s in part["strategies"].values():
            for i, r in enumerate(s["runs"]):
                r.setdefault("seed", part["schedule"].get("first_seed", 0) + i)
    out = parts[0]
    for part in parts[1:]:
        a = {k: v for k, v in out["schedule"].items() if k not in ("seeds", "first_seed")}
        b = {k: v for k, v in part["schedule"].items() if k not in ("seeds", "first_seed")}
        if a != b or part["problem"] != out["problem"] or part["points"] != out["points"]:
            raise ValueError(f"{part} was run with another schedule: cannot merge")
        for name, s in part["strategies"].items():
            out["strategies"].setdefault(name, {"runs": []})["runs"].extend(s["runs"])
        out["cpu_s"] = out.get("cpu_s", 0.0) + part.get("cpu_s", 0.0)
        out["wall_s"] = max(out.get("wall_s", 0.0), part.get("wall_s", 0.0))
    for s in out["strategies"].values():
        s["runs"].sort(key=lambda r: r["seed"])
    seeds = sorted({r["seed"] for s in out["strategies"].values() for r in s["runs"]})
    out["schedule"]["seeds"], out["schedule"]["first_seed"] = len(seeds), seeds[0]
    out["merged_from"] = [str(p) for p in paths]
    summarise(out)
    if target:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(out, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", choices=("burgers", "allen_cahn", "holes"), default="burgers")
    ap.add_argument("--quick", action="store_true", help="short schedule, one seed (about a minute)")
    ap.add_argument("--json", type=Path, help="write the figures to this JSON file")
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--adam", type=int, default=2000)
    ap.add_argument("--lbfgs", type=int, default=2000)
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--m", type=int, default=None, help="points added per round by RAR-G/RAR-D")
    ap.add_argument("--candidates", type=int, default=50_000)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed, ..., first-seed + seeds - 1")
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument(
        "--resample-in",
        choices=("lbfgs", "both"),
        default="lbfgs",
        help="lbfgs: pre-train with Adam on the initial points, resample between L-BFGS rounds (Wu et al.); "
        "both: resample in the Adam phase too",
    )
    ap.add_argument("--rad-k", type=float, default=1.0)
    ap.add_argument("--rad-c", type=float, default=1.0)
    ap.add_argument("--draw", action="store_true", help="also time the candidate draw (numba vs numpy)")
    ap.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float32",
        help="float32 as DeepXDE and Wu et al. (the machine is shared: twice the steps of float64)",
    )
    ap.add_argument("--merge", type=Path, nargs="+", help="merge these JSON files (one per seed range) into --json")
    args = ap.parse_args()
    if args.merge:
        merge(args.merge, args.json)
        return
    torch.set_num_threads(1)
    if args.quick:
        args.points, args.adam, args.lbfgs, args.every, args.seeds = 500, 150, 150, 50, 1
        args.candidates = 5000
    if args.width is None:
        args.width = 32 if args.problem == "holes" else 64
    rounds = rounds_of(args)
    if args.m is None:
        args.m = max(1, args.points // (2 * rounds))  # RAR-G/RAR-D start with half the points
    prob, network, n_boundary = setup(args.problem, args.width)
    names = [s for s in args.strategies.split(",") if s]
    unknown = sorted(set(names) - set(STRATEGIES + EXTRA))
    if unknown:
        ap.error(f"--strategies: unknown {unknown}; choose among {list(STRATEGIES + EXTRA)}")
    out: dict[str, Any] = {
        "problem": args.problem,
        "points": args.points,
        "schedule": {
            "dtype": args.dtype,
            "adam": args.adam,
            "lbfgs": args.lbfgs,
            "every": args.every,
            "rounds": rounds,
            "resample_in": args.resample_in,
            "rad_k": args.rad_k,
            "rad_c": args.rad_c,
            "m": args.m,
            "candidates": args.candidates,
            "width": args.width,
            "depth": 3,
            "seeds": args.seeds,
            "first_seed": args.first_seed,
            "boundary_points": n_boundary,
        },
        "strategies": {},
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "threads": 1,
            "load_at_start": os.getloadavg(),
        },
    }
    print(
        f"{args.problem}: {args.points} points, Adam {args.adam} + L-BFGS {args.lbfgs}, every {args.every}, "
        f"m={args.m}, candidates {args.candidates}, {args.seeds} seeds"
    )
    t_all, c_all = time.perf_counter(), time.process_time()
    cache: dict[Any, Any] = {}
    if args.draw:
        out["draw"] = draw_timing()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    # seeds outside: each seed's comparison is complete before the next starts
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name in names:
            r = {"seed": seed, **run(args, prob, network, n_boundary, name, seed, cache)}
            runs[name].append(r)
            print(
                f"  {name:8s} seed {seed}: rel L2 {r['rel_l2']:.3e} (after Adam {r['rel_l2_after_adam']:.3e}), "
                f"{r['evals']} evals, CPU {r['cpu_s_adam']:.0f} + {r['cpu_s_lbfgs']:.0f} s"
                + (" (Adam phase shared)" if r["adam_phase_shared"] else ""),
                flush=True,
            )
            for done in names:
                if runs[done]:
                    rel = np.array([r["rel_l2"] for r in runs[done]])
                    out["strategies"][done] = {
                        "rel_l2_mean": float(rel.mean()),
                        "rel_l2_std": float(rel.std()),
                        "runs": runs[done],
                    }
            if args.json:  # partial results (every finished run) survive an interrupted run
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(out, indent=2))
        cache.clear()
    summarise(out)
    out["wall_s"] = time.perf_counter() - t_all
    out["cpu_s"] = time.process_time() - c_all
    out["machine"]["load_at_end"] = os.getloadavg()
    print(f"total {out['wall_s']:.0f} s wall, {out['cpu_s']:.0f} s CPU, load {out['machine']['load_at_end']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
