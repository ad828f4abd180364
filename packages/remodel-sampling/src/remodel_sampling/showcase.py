"""Showcase of remodel-sampling: point sets, discrepancy and quadrature error against n; a CSG domain with its
boundary normals; adaptive sampling inside ``solve`` on Burgers (residual maps and points per round, error per
strategy)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from remodel_core import ShowcaseSection, Table, pyplot

from ._discrepancy import discrepancy
from ._rad import rad_resample
from ._samplers import Halton, LatinHypercube, Sobol, UniformRandom


def _integrand(x: torch.Tensor) -> torch.Tensor:
    return x.exp().prod(1)  # exact integral over [0, 1]^d: (e - 1)^d


def _adaptive_burgers(quick: bool) -> tuple[dict[str, float], list[tuple[int, np.ndarray, np.ndarray]], Any]:
    """Hard-constrained Burgers trained with the same schedule under each strategy; RAD's rounds recorded."""
    import dataclasses

    from remodel_core import solve
    from remodel_core.nn import MLP
    from remodel_core.optim import Adam, RobustLBFGS

    from ._adaptive import AdaptiveSampling
    from ._problems import hard_burgers
    from ._strategies import RAD, RARD, RARG, Static

    prob, wrap = hard_burgers()
    n, width = (300, 12) if quick else (1000, 32)
    adam, lbfgs, every = (100, 60, 40) if quick else (1000, 1000, 250)
    rounds_total = adam // every + lbfgs // every
    m = n // (2 * rounds_total)
    strategies = {"uniform": Static(), "rad": RAD(k=1.0, c=1.0)}
    if not quick:
        strategies.update({"rar_g": RARG(m=m), "rar_d": RARD(m=m)})
    errors: dict[str, float] = {}
    frames: list[tuple[int, np.ndarray, np.ndarray]] = []
    grid = prob.domain.grid(121, 61)

    def record(
        rec: dict[str, Any], model: torch.nn.Module, cand: torch.Tensor, res: torch.Tensor, points: torch.Tensor
    ) -> None:
        r = prob.residual(model, grid.to(cand.dtype), derivatives_route="autograd", create_graph=False)
        frames.append((len(frames) + 1, r.detach().abs().double().numpy(), points.detach().double().numpy()))

    for name, strategy in strategies.items():
        torch.manual_seed(0)
        n0 = strategy.initial_points(n, rounds_total)
        x0 = UniformRandom().sample(n0, prob.domain, seed=0)
        train = prob.discretize(
            wrap(MLP(2, 1, width=width, depth=3)), points=x0, boundary_points=1, seed=0, derivatives="autograd"
        )
        common = {
            "strategy": strategy,
            "every": every,
            "candidates": 4000 if quick else 30_000,
            "on_round": record if name == "rad" else None,
        }
        sol = solve(
            train,
            AdaptiveSampling(inner=Adam(lr=1e-3), **common),
            maxiters=adam,
            seed=0,
            dtype=torch.float32,
            monitor_every=10**9,
        )
        sol = solve(
            dataclasses.replace(train, model=sol.u, data=sol.stats["data"]),
            AdaptiveSampling(inner=RobustLBFGS(max_iter=1), **common),
            maxiters=lbfgs,
            seed=1,
            dtype=torch.float32,
            monitor_every=10**9,
        )
        errors[name] = prob.relative_l2(sol.u)
    return errors, frames, grid


def showcase(out: Path, *, quick: bool = False, progress: bool = False) -> ShowcaseSection:
    """Compare the samplers on [0, 1]^2, show a CSG domain and adaptive sampling on Burgers; writes four PNGs.

    Examples
    --------
    >>> import tempfile
    >>> section = showcase(Path(tempfile.mkdtemp()), quick=True)   # doctest: +SKIP
    """
    plt = pyplot()

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    samplers = [UniformRandom(), LatinHypercube(), Halton(), Sobol()]
    names = [type(s).__name__ for s in samplers]
    box = [(0.0, 1.0), (0.0, 1.0)]
    ms = range(5, 11 if quick else 14)
    ns = [2**m for m in ms]
    reps = 8 if quick else 32
    exact = (math.e - 1) ** 2
    disc: dict[str, list[float]] = {}
    err: dict[str, list[float]] = {}
    for s, name in zip(samplers, names):
        disc[name], err[name] = [], []
        for n in ns:
            pts = [s.sample(n, box, seed=r) for r in range(reps)]
            disc[name].append(float(np.mean([discrepancy(p) for p in pts[: min(reps, 8)]])))
            err[name].append(math.sqrt(np.mean([(float(_integrand(p).mean()) - exact) ** 2 for p in pts])))
    slope = {name: float(np.polyfit(np.log(ns), np.log(err[name]), 1)[0]) for name in names}
    dslope = {name: float(np.polyfit(np.log(ns), np.log(disc[name]), 1)[0]) for name in names}

    fig, axes = plt.subplots(1, 4, figsize=(14, 3.6))
    for ax, s, name in zip(axes, samplers, names):
        x = s.sample(256, box, seed=0).numpy()
        ax.scatter(x[:, 0], x[:, 1], s=4)
        ax.set_title(f"{name}, CD={discrepancy(x):.2e}")
        ax.set_aspect("equal")
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(out / "sampling_points.png", dpi=110, bbox_inches="tight")
    plt.close(fig)

    def peak(x: torch.Tensor) -> torch.Tensor:  # residual-like field with a sharp front
        return torch.exp(-(((x[:, 1] - 0.5 - 0.25 * torch.sin(2 * math.pi * x[:, 0])) / 0.03) ** 2))

    x_rad = rad_resample(peak, 1000, box, k=1.0, c=0.5, n_candidates=50_000, seed=0).numpy()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for name in names:
        axes[0].loglog(ns, disc[name], "o-", label=f"{name} (slope {dslope[name]:.2f})")
        axes[1].loglog(ns, err[name], "o-", label=f"{name} (slope {slope[name]:.2f})")
    axes[0].set(xlabel="n", ylabel="squared centred L2 discrepancy", title="discrepancy")
    axes[1].set(xlabel="n", ylabel="RMS error", title=r"quadrature of $\int e^{x+y}$, " f"{reps} seeds")
    for ax in axes[:2]:
        ax.legend(fontsize=8)
    axes[2].scatter(x_rad[:, 0], x_rad[:, 1], s=3)
    axes[2].set(title="RAD (k=1, c=0.5) on a sharp front", aspect="equal")
    fig.tight_layout()
    fig.savefig(out / "sampling_convergence.png", dpi=110, bbox_inches="tight")
    plt.close(fig)

    from ._problems import holes_domain

    domain = holes_domain()
    xi = Sobol().sample(1500, domain, seed=0).numpy()
    xb, nb = (t.numpy() for t in domain.sample_boundary(160, seed=0))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(xi[:, 0], xi[:, 1], s=2, c="0.6")
    ax.quiver(xb[:, 0], xb[:, 1], nb[:, 0], nb[:, 1], color="C3", scale=25, width=0.004)
    ax.set(aspect="equal", title="Sobol points inside a box minus three discs;\nboundary points, outward normals")
    fig.tight_layout()
    fig.savefig(out / "sampling_geometry.png", dpi=110, bbox_inches="tight")
    plt.close(fig)

    errors, frames, grid = _adaptive_burgers(quick)
    shown = frames[-3:]
    # constrained layout makes room for the colour bars and their labels (tight_layout lets them collide)
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(4.4 * (len(shown) + 1), 3.8), layout="constrained")
    g = grid.numpy()
    for ax, (it, res, pts) in zip(axes, shown):
        sc = ax.tricontourf(g[:, 1], g[:, 0], np.log10(res + 1e-12), levels=30, cmap="viridis")
        ax.scatter(pts[:, 1], pts[:, 0], s=1.5, c="w")
        ax.set(title=f"RAD round {it}: residual, new points", xlabel="t", ylabel="x")
        fig.colorbar(sc, ax=ax, label="log10 |residual|")
    axes[-1].bar(list(errors), list(errors.values()), color=["C0", "C3", "C1", "C2"][: len(errors)])
    axes[-1].set(yscale="log", title="relative L2 per strategy (same schedule)")
    axes[-1].tick_params(axis="x", labelrotation=30)
    fig.savefig(out / "sampling_adaptive.png", dpi=110, bbox_inches="tight")
    plt.close(fig)

    rows = [[name, disc[name][-1], dslope[name], err[name][-1], slope[name]] for name in names]
    table = Table(
        caption=f"Samplers on [0,1]^2 at n = {ns[-1]} (mean over seeds)",
        header=["sampler", "squared CD discrepancy", "its slope", "quadrature RMSE", "RMSE slope"],
        rows=rows,
    )
    adaptive = Table(
        caption="Burgers (hard constraints), same Adam + L-BFGS schedule, points moved inside solve",
        header=["strategy", "relative L2", "uniform / strategy"],
        rows=[[k, v, errors["uniform"] / v] for k, v in errors.items()],
    )
    summary = (
        "Scrambled Sobol', scrambled Halton, Latin hypercube and Monte Carlo points on the unit square. "
        f"The quadrature RMS error of a smooth integrand decays like n^{slope['Sobol']:.2f} with Sobol' "
        f"against n^{slope['UniformRandom']:.2f} with Monte Carlo (theory: -1.5 and -0.5). "
        "RAD (Wu et al. 2023) places collocation points along the sharp front of a residual. "
        "Points and outward normals on a box with three holes (CSG). Inside one solve, AdaptiveSampling moves "
        f"Burgers' collocation points to the shock every round: relative L2 {errors['rad']:.2e} with RAD "
        f"against {errors['uniform']:.2e} with fixed uniform points (a short schedule; see docs/BENCHMARKS.md)."
    )
    return ShowcaseSection(
        title="remodel-sampling: quasi-random and adaptive collocation points",
        summary=summary,
        tables=[table, adaptive],
        figures=[
            ("Point sets (256 points)", Path("sampling_points.png")),
            ("Discrepancy and quadrature error against n; RAD points", Path("sampling_convergence.png")),
            ("A CSG domain: interior and boundary points with normals", Path("sampling_geometry.png")),
            ("Residual and points per RAD round; error per strategy", Path("sampling_adaptive.png")),
        ],
        metrics={
            "sobol_rmse_slope": slope["Sobol"],
            "mc_rmse_slope": slope["UniformRandom"],
            "sobol_over_mc_rmse": err["Sobol"][-1] / err["UniformRandom"][-1],
            **{f"rel_l2_{k}": v for k, v in errors.items()},
        },
    )
