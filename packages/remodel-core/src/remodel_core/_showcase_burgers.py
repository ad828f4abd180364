"""Showcase part: the Burgers PINN trained by the core optimizers under one evaluation budget each."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import torch

from ._progress import StageProgress
from ._report import ShowcasePart, Table, pyplot
from ._solve import solve
from .nn import ResNetMLP
from .optim import ASPQN, LBFGS, MGOPT, MSPQN, RMTR, Adam, RobustLBFGS, SSBroyden

#: label -> (algorithm, monitor_every); each label gives its own metric key (see :func:`metric_key`)
METHODS: dict[str, tuple[Any, int]] = {
    "Adam (lr 1e-2)": (Adam(lr=1e-2), 25),
    "torch L-BFGS": (LBFGS(history_size=50), 1),
    "robust L-BFGS": (RobustLBFGS(history_size=50, max_iter=5), 1),
    "ASPQN": (ASPQN(subdomains=2, local_iters=1), 1),
    "MSPQN": (MSPQN(subdomains=2, local_iters=1), 1),
    "RMTR": (RMTR(), 1),
    "MG/OPT (points)": (MGOPT(levels=2, coarsen="points", factor=4, coarse_iters=10, history_size=50), 1),
    "SSBroyden": (SSBroyden(max_iter=5), 1),
    "MSPQN (SSBroyden)": (MSPQN(subdomains=2, local_iters=1, hessian="ssbroyden"), 1),
    "MG/OPT (points, SSBroyden)": (
        MGOPT(levels=2, coarsen="points", factor=4, coarse_iters=10, hessian="ssbroyden"),
        1,
    ),
}


def metric_key(label: str) -> str:
    """The report.json key of a method: its whole label as a slug, so two labels never share a key.

    Examples
    --------
    >>> metric_key("MSPQN"), metric_key("MSPQN (SSBroyden)"), metric_key("MG/OPT (points, SSBroyden)")
    ('mspqn', 'mspqn_ssbroyden', 'mg_opt_points_ssbroyden')
    """
    return "_".join("".join(c if c.isalnum() else " " for c in label.lower()).split())


def burgers_optimizers_part(
    out: Path, *, quick: bool = False, progress: bool = False, stages: StageProgress | None = None
) -> ShowcasePart:
    """Train the viscous Burgers PINN (8x20 tanh ResNet with residual step 1, float64) with Adam, torch's
    L-BFGS, the robust L-BFGS, dense self-scaled Broyden, ASPQN, MSPQN, RMTR and MG/OPT on collocation levels
    (with L-BFGS and with SSBroyden smoothing) from the same
    initialisation and the same budget of loss-and-gradient evaluations in fine units (an evaluation on a
    quarter of the points counts a quarter; reproducible on a shared machine; the curves are shown against
    time and evaluations).

    Writes ``burgers_solution.png`` (reference, best network, pointwise error) and ``burgers_convergence.png``
    (relative L2 error against time and against loss/gradient evaluations).
    """
    plt = pyplot()

    from .pde import burgers

    points, budget = (1000, 100) if quick else (10_000, 3000)
    prob = burgers(nu=0.01 / math.pi)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = ResNetMLP(2, 1, width=20, depth=8, activation="tanh", horizon=8.0).double()  # residual step h = 1
    train = prob.discretize(net, points=points, seed=0)
    methods = METHODS
    n_points = train.data[0].shape[0]
    curves: dict[str, tuple[list[float], list[float], list[float]]] = {}
    rows: list[list[Any]] = []
    metrics: dict[str, Any] = {}
    best_model, best_err, best_name = None, math.inf, ""
    for label, (alg, every) in methods.items():
        count = [0.0]

        def loss(model: torch.nn.Module, *data: torch.Tensor, _count: list[float] = count) -> torch.Tensor:
            _count[0] += data[0].shape[0] / n_points  # work in fine-evaluation units (MG/OPT's coarse levels)
            return train.loss(model, *data)

        work: list[float] = []  # work after each iteration, aligned with the history rows

        def stop(info: dict[str, Any], _count: list[float] = count, _work: list[float] = work) -> bool:
            _work.append(_count[0])
            return _count[0] >= budget

        sol = solve(
            dataclasses.replace(train, loss=loss),
            alg,
            monitor_every=every,
            seed=0,
            dtype=torch.float64,
            progress=progress,
            callback=stop,
        )
        final = prob.relative_l2(sol.u)
        h = sol.history
        pts = [(t, e, r) for t, e, r in zip(h["time"], work, h.get("rel_l2", [])) if r == r]
        pts.append((sol.stats["wall_s"], count[0], final))
        curves[label] = ([p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts])
        best = min(p[2] for p in pts)
        rows.append(
            [label, sol.stats["iterations"], round(count[0], 1), sol.stats["wall_s"], best, final, sol.retcode.name]
        )
        metrics[f"burgers_{metric_key(label)}_rel_l2"] = best
        if stages is not None:
            stages.done(
                f"Burgers PINN / {label}",
                evals=round(count[0], 1),
                rel_l2=final,
                best_rel_l2=best,
                retcode=sol.retcode.name,
            )
        if final < best_err:
            best_model, best_err, best_name = sol.u, final, label

    # ten runs: one legend beside the panels, not over the curves
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 3.8), layout="constrained")
    for label, (t, e, r) in curves.items():
        axes[0].semilogy(t, r, label=label)
        axes[1].semilogy(e, r, label=label)
    axes[0].set(
        xlabel="wall-clock time (s, monitoring excluded)",
        ylabel="relative L2 error",
        title="Burgers PINN: error against time",
    )
    axes[1].set(xlabel="loss/gradient evaluations", ylabel="relative L2 error", title="... and against evaluations")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center", fontsize=8)
    conv_png = Path("burgers_convergence.png")
    fig.savefig(out / conv_png, dpi=110, bbox_inches="tight")
    plt.close(fig)

    xs = torch.linspace(-1, 1, 201, dtype=torch.float64)
    ts = torch.linspace(0, 1, 101, dtype=torch.float64)
    T, X = torch.meshgrid(ts, xs, indexing="ij")
    grid = torch.stack([X.reshape(-1), T.reshape(-1)], dim=1)
    ref = prob.reference(grid).reshape(T.shape)
    assert best_model is not None
    with torch.no_grad():
        u = best_model(grid).reshape(T.shape)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")  # room for the colour bars
    extent = (0.0, 1.0, -1.0, 1.0)
    for ax, field, title, cmap, lim in (
        (axes[0], ref, "reference (Cole-Hopf)", "RdBu_r", (-1.0, 1.0)),
        (axes[1], u, f"PINN ({best_name})", "RdBu_r", (-1.0, 1.0)),
        (axes[2], (u - ref).abs(), "|error|", "magma", (None, None)),
    ):
        im = ax.imshow(
            field.T.numpy(), origin="lower", extent=extent, aspect="auto", cmap=cmap, vmin=lim[0], vmax=lim[1]
        )
        ax.set(xlabel="t", ylabel="x", title=title)
        fig.colorbar(im, ax=ax)
    sol_png = Path("burgers_solution.png")
    fig.savefig(out / sol_png, dpi=110, bbox_inches="tight")
    plt.close(fig)

    table = Table(
        caption=f"Burgers PINN (nu = 0.01/pi), 8x20 tanh ResNet (h = 1), {points} Sobol points, float64, "
        f"{budget} loss/gradient evaluations per method",
        header=["optimizer", "iterations", "evaluations", "time (s)", "best rel. L2", "final rel. L2", "retcode"],
        rows=rows,
    )
    summary = (
        f"The viscous Burgers equation u_t + u u_x = (0.01/pi) u_xx (Raissi et al. 2019) as a PINN on {points} "
        f"scrambled Sobol collocation points, trained from one initialisation by each optimizer for {budget} "
        f"loss-and-gradient evaluations (time measured with metric evaluation excluded): Adam, PyTorch's "
        f"L-BFGS (history 50, strong Wolfe), "
        f"our robust L-BFGS, and the Schwarz-preconditioned quasi-Newton methods ASPQN/MSPQN (Kopanicakova et al. "
        f"2024) with two layer-wise parameter subdomains, RMTR (Gratton, Sartenaer & Toint 2008; layer "
        f"coarsening) and MG/OPT (Nash 2000) on two levels of collocation points; the dense self-scaled Broyden "
        f"quasi-Newton method (Al-Baali & Khalfan 2012; for PINNs Urban et al. 2025) alone, as the local and "
        f"global steps of MSPQN, and as MG/OPT's smoother. "
        f"Errors are relative L2 against the Cole-Hopf reference. "
        f"The longer comparison is `tools/bench/pinn_optimizers.py`."
    )
    metrics["burgers_best_method"] = best_name
    return ShowcasePart(
        summary=summary,
        tables=[table],
        figures=[
            ("Burgers PINN: relative L2 error against time and evaluations", conv_png),
            ("Burgers PINN: reference, network and pointwise error", sol_png),
        ],
        metrics=metrics,
        headline=f"Burgers PINN rel. L2 {best_err:.2e} ({best_name}, {budget} evals)",
    )
