"""Seconds per PINN loss-and-gradient evaluation by derivative route (issue 3, item 4).

``--problem`` picks another benchmark (Klein–Gordon and Poisson need two second derivatives).

Burgers (nu = 0.01/pi), 8x20 tanh ResNetMLP (``remodel_core.nn.ResNetMLP(2, 1, width=20, depth=8)``),
10,000 Sobol collocation points, float64. Each route ("autograd": nested torch.autograd.grad, "func":
torch.func forward-over-reverse, "taylor": derivatives propagated through the network by hand) is timed
with 1 and 2 torch threads; the loss and its parameter gradient are checked to agree between routes first.
Ratios compare routes within the same run (same machine, same load). ``--net mlp`` times the plain 8x20
tanh MLP of the calibration figure instead.

    uv run --frozen python tools/bench/pinn_derivatives.py --json out.json
    uv run --frozen python tools/bench/pinn_derivatives.py --quick
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from remodel_core import pde
from remodel_core.nn import MLP, ResNetMLP
from remodel_core.pde._derivatives import resolve_route

ROUTES = ("autograd", "func", "taylor")


def make_network(kind: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    if kind == "resnet":
        return ResNetMLP(2, 1, width=20, depth=8).double()
    return MLP(2, 1, width=20, depth=8).double()


def loss_and_grad(train, net: torch.nn.Module, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    net.zero_grad(set_to_none=False)
    value = train.loss(net, x)
    value.backward()
    return float(value), torch.cat([p.grad.flatten() for p in net.parameters()])


def time_routes(
    trains: dict, net: torch.nn.Module, x: torch.Tensor, repeats: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and process CPU seconds, interleaved (route order rotated every round) so that load changes hit
    every route alike. On a shared machine the minimum wall time and the CPU time are the steadier figures."""
    for r in ROUTES:
        loss_and_grad(trains[r], net, x)  # warm-up
    times: dict[str, list[float]] = {r: [] for r in ROUTES}
    cpu: dict[str, list[float]] = {r: [] for r in ROUTES}
    for k in range(repeats):
        order = ROUTES[k % len(ROUTES) :] + ROUTES[: k % len(ROUTES)]
        for r in order:
            c, t = time.process_time(), time.perf_counter()
            loss_and_grad(trains[r], net, x)
            times[r].append(time.perf_counter() - t)
            cpu[r].append(time.process_time() - c)
    return times, cpu


def run(args: argparse.Namespace) -> dict[str, Any]:
    prob = pde.burgers(nu=0.01 / math.pi) if args.problem == "burgers" else getattr(pde, args.problem)()
    net = make_network(args.net, args.seed)
    trains = {r: prob.discretize(net, points=args.points, seed=args.seed, derivatives=r) for r in ROUTES}
    x = trains["autograd"].data[0]
    # correctness first: every route gives the same loss and gradient
    ref_value, ref_grad = loss_and_grad(trains["autograd"], net, x)
    agreement = {}
    for r in ROUTES:
        value, grad = loss_and_grad(trains[r], net, x)
        agreement[r] = {
            "loss_abs_diff": abs(value - ref_value),
            "grad_max_abs_diff": float((grad - ref_grad).abs().max()),
        }
    old_threads = torch.get_num_threads()
    timings: dict[str, dict[str, Any]] = {}
    try:
        for threads in args.threads:
            torch.set_num_threads(threads)
            wall, cpu = time_routes(trains, net, x, args.repeats)
            for r, times in wall.items():
                timings.setdefault(r, {})[str(threads)] = {
                    "median_s": statistics.median(times),
                    "min_s": min(times),
                    "cpu_median_s": statistics.median(cpu[r]),
                    "cpu_min_s": min(cpu[r]),
                }
    finally:
        torch.set_num_threads(old_threads)
    auto = resolve_route(net, "auto")
    fastest = {str(t): min(ROUTES, key=lambda r: timings[r][str(t)]["min_s"]) for t in args.threads}
    speedup = {
        str(t): {r: timings["autograd"][str(t)]["min_s"] / timings[r][str(t)]["min_s"] for r in ROUTES}
        for t in args.threads
    }
    return {
        "problem": args.problem,
        "network": args.net,
        "points": args.points,
        "dtype": "float64",
        "repeats": args.repeats,
        "threads": list(args.threads),
        "routes": timings,
        "speedup_vs_autograd": speedup,
        "agreement": agreement,
        "auto_route": auto,
        "fastest": fastest,
        "machine": platform.machine(),
        "torch": torch.__version__,
    }


def table(res: dict[str, Any]) -> str:
    threads = res["threads"]
    head = f"{'route':<10}" + "".join(
        f"  {f'{t} thr median s':>16} {'min s':>8} {'cpu s':>8} {'x autograd':>10}" for t in threads
    )
    head += f"  {'grad diff':>10}"
    lines = [
        f"{res['problem']} PINN loss+gradient, {res['network']} 8x20 tanh, {res['points']} points, float64",
        head,
        "-" * len(head),
    ]
    for r, per in res["routes"].items():
        row = f"{r:<10}"
        for t in threads:
            p = per[str(t)]
            row += (
                f"  {p['median_s']:>16.4f} {p['min_s']:>8.4f} {p['cpu_median_s']:>8.4f}"
                f" {res['speedup_vs_autograd'][str(t)][r]:>10.2f}"
            )
        row += f"  {res['agreement'][r]['grad_max_abs_diff']:>10.1e}"
        lines.append(row)
    lines.append(
        f"auto route: {res['auto_route']}; fastest by minimum wall time: {res['fastest']} "
        "(x autograd: ratio of minimum wall times)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (about a minute)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this JSON file")
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--net", choices=("resnet", "mlp"), default="resnet")
    parser.add_argument("--problem", choices=("burgers", "allen_cahn", "klein_gordon", "poisson2d"), default="burgers")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 15
    res = run(args)
    print(table(res))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
