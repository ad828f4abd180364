"""The showcase of remodel-core: a physics-informed network trained through :func:`remodel_core.solve`.

Each part of the showcase is one function ``part(out, *, quick, progress) -> ShowcasePart``; :func:`showcase`
runs the functions listed in :data:`PARTS` and joins their text, tables, figures and metrics, so a new part is
one new function and one entry in that list.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ._progress import StageProgress
from ._report import ShowcasePart, ShowcaseSection, Table, pyplot
from ._solution import Solution
from ._solve import solve
from ._training import TrainingProblem
from .nn import MLP
from .optim import LBFGS, Adam

__all__ = ["PARTS", "ShowcasePart", "poisson_pinn_part", "showcase"]


# --- 1D Poisson PINN ------------------------------------------------------------------------------------


def poisson_exact(x: torch.Tensor) -> torch.Tensor:
    """Exact solution ``u(x) = sin(2 pi x) + x^2`` of ``-u'' = f`` on (0, 1) with u(0)=0, u(1)=1."""
    return torch.sin(2 * math.pi * x) + x**2


def poisson_source(x: torch.Tensor) -> torch.Tensor:
    """Right-hand side ``f = -u'' = 4 pi^2 sin(2 pi x) - 2`` of the manufactured solution."""
    return 4 * math.pi**2 * torch.sin(2 * math.pi * x) - 2.0


def poisson_loss(model: torch.nn.Module, x: torch.Tensor, *, boundary_weight: float = 1.0) -> torch.Tensor:
    """PINN loss of Raissi, Perdikaris & Karniadakis (J. Comput. Phys. 378, 2019) for ``-u'' = f``.

    Mean squared residual at the collocation points ``x`` plus the weighted squared boundary misfits
    ``u(0) - 0`` and ``u(1) - 1``; the second derivative comes from automatic differentiation.

    Examples
    --------
    >>> net = MLP(1, 1, width=8, depth=2).double()
    >>> x = torch.linspace(0, 1, 16, dtype=torch.float64).unsqueeze(1)
    >>> float(poisson_loss(net, x)) > 0
    True
    """
    x = x.detach().clone().requires_grad_(True)
    u = model(x)
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), x, create_graph=True)
    residual = -d2u - poisson_source(x)
    ends = torch.tensor([[0.0], [1.0]], dtype=x.dtype, device=x.device)
    boundary = model(ends) - poisson_exact(ends)
    return residual.pow(2).mean() + boundary_weight * boundary.pow(2).sum()


def poisson_errors(model: torch.nn.Module, n: int = 1001) -> dict[str, float]:
    """Relative L2 and maximum error of ``model`` against the exact solution on ``n`` equispaced points."""
    p = next(model.parameters())
    x = torch.linspace(0, 1, n, dtype=p.dtype, device=p.device).unsqueeze(1)
    with torch.no_grad():
        err = model(x) - poisson_exact(x)
        ref = poisson_exact(x)
    return {"rel_l2": float(err.norm() / ref.norm()), "max_abs": float(err.abs().max())}


def poisson_problem(*, n_points: int = 64, width: int = 20, depth: int = 3, seed: int = 0) -> TrainingProblem:
    """The Poisson PINN as a :class:`TrainingProblem` (float64 network, midpoint collocation grid).

    The network's initialisation is drawn from a forked torch generator seeded with ``seed``, so the
    global random state is left untouched.

    Examples
    --------
    >>> prob = poisson_problem(n_points=16, width=8, depth=2)
    >>> prob.n_samples, next(prob.model.parameters()).dtype
    (16, torch.float64)
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MLP(1, 1, width=width, depth=depth, activation="tanh").double()
    x = ((torch.arange(n_points, dtype=torch.float64) + 0.5) / n_points).unsqueeze(1)
    return TrainingProblem(
        model=model,
        loss=poisson_loss,
        data=(x,),
        name="poisson-pinn",
        metrics={"rel_l2": lambda m: poisson_errors(m, 201)["rel_l2"]},
    )


def _curve(sol: Solution, offset: float = 0.0) -> tuple[list[float], list[float], list[float]]:
    h = sol.history
    evals = [e + offset for e in h["evals"]]
    return evals, list(h["loss"]), list(h.get("rel_l2", [math.nan] * len(evals)))


#: Stages (trainings) of each part, for the progress lines.
POISSON_STAGES = 3


def poisson_pinn_part(
    out: Path, *, quick: bool = False, progress: bool = False, stages: StageProgress | None = None
) -> ShowcasePart:
    """Train the 1D Poisson PINN with Adam, with torch L-BFGS, and with Adam followed by L-BFGS.

    Writes ``poisson_loss.png`` (loss and relative L2 error against loss/gradient evaluations) and
    ``poisson_solution.png`` (network against exact solution, pointwise error) under ``out``.
    """
    plt = pyplot()

    prob = poisson_problem(n_points=64 if quick else 128, width=20, depth=3, seed=0)
    adam_iters = 1500 if quick else 6000
    lbfgs_steps = 60 if quick else 250
    warm_iters = 500 if quick else 2000
    common: dict[str, Any] = {"dtype": torch.float64, "seed": 0, "progress": progress}

    runs: dict[str, tuple[list[float], list[float], list[float]]] = {}
    rows: list[list[Any]] = []
    metrics: dict[str, Any] = {}
    solutions: dict[str, torch.nn.Module] = {}

    def record(label: str, key: str, sols: list[Solution]) -> None:
        evals, loss, err = [], [], []
        offset = 0.0
        for s in sols:
            e, lo, r = _curve(s, offset)
            evals += e
            loss += lo
            err += r
            offset = e[-1] if e else offset
        runs[label] = (evals, loss, err)
        final = sols[-1]
        errors = poisson_errors(final.u)
        iters = sum(s.stats["iterations"] for s in sols)
        n_evals = sum(s.stats["evals"] for s in sols)
        seconds = sum(s.stats["wall_s"] for s in sols)
        rows.append([label, iters, n_evals, loss[-1], errors["rel_l2"], errors["max_abs"], seconds, final.retcode.name])
        metrics[f"{key}_rel_l2"] = errors["rel_l2"]
        metrics[f"{key}_evals"] = n_evals
        solutions[label] = final.u
        if stages is not None:
            stages.done(f"Poisson PINN / {label}", evals=n_evals, rel_l2=errors["rel_l2"], retcode=final.retcode.name)

    adam = solve(prob, Adam(lr=2e-3), maxiters=adam_iters, monitor_every=25, **common)
    record("Adam", "adam", [adam])
    lbfgs = solve(prob, LBFGS(max_iter=20, history_size=50), maxiters=lbfgs_steps, **common)
    record("L-BFGS", "lbfgs", [lbfgs])
    warm = solve(prob, Adam(lr=2e-3), maxiters=warm_iters, monitor_every=25, **common)
    polish = solve(
        dataclasses.replace(prob, model=warm.u), LBFGS(max_iter=20, history_size=50), maxiters=lbfgs_steps, **common
    )
    record("Adam -> L-BFGS", "adam_lbfgs", [warm, polish])

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, (evals, loss, err) in runs.items():
        axes[0].semilogy(evals, loss, label=label)
        pts = [(e, r) for e, r in zip(evals, err) if math.isfinite(r)]
        axes[1].semilogy([p[0] for p in pts], [p[1] for p in pts], label=label)
    axes[0].set(xlabel="loss/gradient evaluations", ylabel="PINN loss", title="Training loss")
    axes[1].set(xlabel="loss/gradient evaluations", ylabel="relative L2 error", title="Error vs exact solution")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    loss_png = Path("poisson_loss.png")
    fig.savefig(out / loss_png, dpi=110, bbox_inches="tight")
    plt.close(fig)

    x = torch.linspace(0, 1, 401, dtype=torch.float64).unsqueeze(1)
    exact = poisson_exact(x).squeeze(1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    axes[0].plot(x.squeeze(1), exact, "k-", lw=3, alpha=0.35, label="exact")
    for label, model in solutions.items():
        with torch.no_grad():
            u = model(x).squeeze(1)
        axes[0].plot(x.squeeze(1), u, "--", label=label)
        axes[1].semilogy(x.squeeze(1), (u - exact).abs() + 1e-16, label=label)
    axes[0].set(xlabel="x", ylabel="u", title="Solution")
    axes[1].set(xlabel="x", ylabel="|u - u_exact|", title="Pointwise error")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    sol_png = Path("poisson_solution.png")
    fig.savefig(out / sol_png, dpi=110, bbox_inches="tight")
    plt.close(fig)

    table = Table(
        caption="1D Poisson PINN, -u'' = f on (0, 1), u = sin(2 pi x) + x^2 (float64, tanh MLP 3x20)",
        header=[
            "optimizer",
            "iterations",
            "evaluations",
            "final loss",
            "rel. L2 error",
            "max error",
            "time (s)",
            "retcode",
        ],
        rows=rows,
    )
    summary = (
        f"A physics-informed network (Raissi, Perdikaris & Karniadakis 2019) solves -u'' = f on (0, 1) with "
        f"the manufactured solution u(x) = sin(2 pi x) + x^2 at {prob.n_samples} collocation points, "
        f"trained through `remodel_core.solve` as a `TrainingProblem` in float64. Adam ({adam_iters} steps), "
        f"PyTorch's L-BFGS ({lbfgs_steps} steps of up to 20 iterations, strong Wolfe line search) and "
        f"Adam ({warm_iters} steps) followed by L-BFGS start from the same initialisation; errors are "
        f"measured against the exact solution on 1001 points."
    )
    best = min(rows, key=lambda r: r[4])
    return ShowcasePart(
        summary=summary,
        tables=[table],
        figures=[
            ("Poisson PINN: loss and error against evaluations", loss_png),
            ("Poisson PINN: solutions and pointwise errors", sol_png),
        ],
        metrics=metrics,
        headline=f"Poisson PINN rel. L2 {best[4]:.2e} ({best[0]})",
    )


def _burgers_optimizers_part(
    out: Path, *, quick: bool = False, progress: bool = False, stages: StageProgress | None = None
) -> ShowcasePart:
    """The Burgers PINN trained by every core optimizer (see :mod:`remodel_core._showcase_burgers`)."""
    from ._showcase_burgers import burgers_optimizers_part

    return burgers_optimizers_part(out, quick=quick, progress=progress, stages=stages)


def _burgers_stages() -> int:
    from ._showcase_burgers import METHODS

    return len(METHODS)


poisson_pinn_part.n_stages = lambda: POISSON_STAGES  # type: ignore[attr-defined]
_burgers_optimizers_part.n_stages = _burgers_stages  # type: ignore[attr-defined]

#: The parts of the core showcase, in report order. A part may take ``stages=`` (a :class:`StageProgress` it
#: reports each finished training to) and state its number of stages as ``part.n_stages()``.
PARTS: list[Callable[..., ShowcasePart]] = [poisson_pinn_part, _burgers_optimizers_part]


def _part_name(part: Callable[..., Any]) -> str:
    return part.__name__.strip("_").removesuffix("_part")


def showcase(out: Path, *, quick: bool = False, progress: bool = False) -> ShowcaseSection:
    """Run the core showcase into ``out`` and return its report section.

    Parameters
    ----------
    out : Path
        Folder for the PNG figures (created if missing).
    quick : bool
        The default run of ``remodel showcase`` (small sizes, about a minute on two CPU cores);
        ``False`` is ``remodel showcase --full``, the long comparison (3000 evaluations per Burgers method).
    progress : bool
        Print one line per training (method, evaluations, error, time left) and show the training bars.

    Examples
    --------
    >>> import tempfile
    >>> section = showcase(Path(tempfile.mkdtemp()), quick=True)  # doctest: +SKIP
    >>> section.metrics["adam_lbfgs_rel_l2"] < 1e-2  # doctest: +SKIP
    True
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    total = sum(getattr(part, "n_stages", lambda: 1)() for part in PARTS)
    stages = StageProgress("core", total, enabled=progress)
    parts = []
    for part in PARTS:
        t0 = time.perf_counter()
        extra = {"stages": stages} if "stages" in inspect.signature(part).parameters else {}
        done = part(out, quick=quick, progress=progress, **extra)
        done.seconds = time.perf_counter() - t0
        parts.append(done)
    metrics: dict[str, Any] = {}
    for p in parts:
        clash = sorted(set(metrics) & set(p.metrics))
        if clash:
            raise RuntimeError(f"showcase parts write the same metric key(s) {clash}")
        metrics.update(p.metrics)
    timing = Table(
        caption="Parts of the core showcase",
        header=["part", "time (s)", "headline"],
        rows=[[_part_name(fn), p.seconds, p.headline or "-"] for fn, p in zip(PARTS, parts)],
    )
    metrics.update({f"seconds_{_part_name(fn)}": p.seconds for fn, p in zip(PARTS, parts)})
    return ShowcaseSection(
        title="remodel-core: physics-informed networks trained through solve",
        summary="\n\n".join(p.summary for p in parts),
        tables=[timing, *[t for p in parts for t in p.tables]],
        figures=[f for p in parts for f in p.figures],
        metrics=metrics,
        headline="; ".join(p.headline for p in parts if p.headline),
    )
