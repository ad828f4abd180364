"""Gauss–Newton (Levenberg–Marquardt) steps after an L-BFGS warm-up on one row of the PINN suite (issue 10).

torch's L-BFGS (history 50, strong Wolfe) for ``warm`` CPU seconds, then
:class:`~remodel_core.optim.GaussNewtonOptimizer` steps until ``budget`` CPU seconds (one thread; the error
evaluations are excluded from the clock); one line per step: CPU time, step time, loss, relative L2, damping.
Same network, seed and collocation points as ``tools/bench/pinn_suite.py``, whose ``lbfgs`` row is the baseline.

    OMP_NUM_THREADS=1 uv run --frozen python tools/bench/gauss_newton_after_lbfgs.py poisson2d_mlp4x50 40 240
    OMP_NUM_THREADS=1 uv run --frozen python tools/bench/gauss_newton_after_lbfgs.py burgers_mlp5x100 15 80 cg
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from pinn_suite import ROWS, network  # noqa: E402
from remodel_core import pde  # noqa: E402
from remodel_core.optim import GaussNewtonOptimizer  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    row, warm, budget = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    solver = sys.argv[4] if len(sys.argv) > 4 else "auto"
    factory, kwargs, (kind, width, depth), points, _ = ROWS[row]
    prob = getattr(pde, factory)(**kwargs)
    net = network(kind, width, depth, 0)
    train = prob.discretize(net, points=points, seed=0)
    x = train.data[0]
    params = list(net.parameters())

    def closure() -> torch.Tensor:
        for p in params:
            p.grad = None
        loss = train.loss(net, x)
        loss.backward()
        return loss

    lbfgs = torch.optim.LBFGS(params, history_size=50, line_search_fn="strong_wolfe")
    t0, excluded = time.process_time(), 0.0

    def clock() -> float:
        return time.process_time() - t0 - excluded

    def error() -> float:
        nonlocal excluded
        m = time.process_time()
        e = prob.relative_l2(net)
        excluded += time.process_time() - m
        return e

    f = torch.tensor(float("nan"))
    while clock() < warm:
        f = lbfgs.step(closure)
    print(f"L-BFGS warm-up: t={clock():.1f} loss={float(f):.3e} rel_l2={error():.4e}", flush=True)
    gn = GaussNewtonOptimizer(params, net, lambda: train.loss.residual_blocks(x), solver=solver)
    while clock() < budget and not gn.failed:
        s = time.process_time()
        f = gn.step(closure)
        step = time.process_time() - s
        print(
            f"t={clock():.1f} step={step:.1f}s loss={float(f):.3e} rel_l2={error():.4e} lambda={gn.lam:.2e} "
            f"solves={gn.stats['solves']} cg={gn.stats['cg_iters']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
