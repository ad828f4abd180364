"""Properties of the core optimizers that mutation testing (``tools/mutation.sh``, docs/TESTING.md) found
unchecked: each test states what the method must do and fails on the surviving mutant it was written for."""

from __future__ import annotations

import math

import pytest
import torch
from remodel_core.optim import SPQNOptimizer, decompose_layers
from torch import nn


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """All tests here run on one intra-op thread (the root conftest.py)."""


class _Blocks(nn.Module):
    """Parameters as a few flat float64 vectors, one per subdomain."""

    def __init__(self, sizes):
        super().__init__()
        self.parts = nn.ParameterList(nn.Parameter(torch.zeros(n, dtype=torch.float64)) for n in sizes)

    def vector(self):
        return torch.cat([p.reshape(-1) for p in self.parts])


def _separable_quadratic(sizes=(5, 5), cond=30.0, seed=0):
    """0.5 (x - x*)'A(x - x*) with A block diagonal: the subdomains (the blocks) do not interact."""
    gen = torch.Generator().manual_seed(seed)
    blocks = []
    for n in sizes:
        q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
        blocks.append(q @ torch.diag(torch.logspace(0, math.log10(cond), n, dtype=torch.float64)) @ q.T)
    return torch.block_diag(*blocks), torch.randn(sum(sizes), generator=gen, dtype=torch.float64)


# SPQN (additive Schwarz) ---------------------------------------------------------------------------------
def test_additive_schwarz_takes_the_full_sum_of_exact_local_solutions(monkeypatch):
    """On a separable loss the exact subdomain minimisers add up to the global minimiser, so the additive
    combination ``x0 + sum_s P_s c_s`` is accepted at the full step ``alpha = 1`` with one evaluation (the
    search starts at the sum of the corrections, Kopanicakova, Kothari & Krause 2023, Alg. 1), and one outer
    iteration reaches the minimum."""
    import remodel_core.optim._schwarz as schwarz

    searches = []
    search = schwarz.strong_wolfe

    def recording(*args, **kwargs):
        res = search(*args, **kwargs)
        searches.append(res)
        return res

    monkeypatch.setattr(schwarz, "strong_wolfe", recording)
    sizes = (5, 5)
    A, x_star = _separable_quadratic(sizes)
    model = _Blocks(sizes)
    opt = SPQNOptimizer(
        model.parameters(),
        decompose_layers(model, len(sizes)),
        method="additive",
        coarse=False,
        local_iters=80,
        global_iters=0,
        tolerance_grad=1e-13,
    )

    def closure():
        opt.zero_grad()
        e = model.vector() - x_star
        loss = 0.5 * e @ (A @ e)
        loss.backward()
        return loss

    f0 = float(opt.step(closure))
    assert f0 > 1.0
    assert len(searches) == 1
    assert searches[0].alpha == 1.0 and searches[0].evals == 1
    assert float(closure()) < 1e-20 * f0


# RMTR -----------------------------------------------------------------------------------------------------
def test_rmtr_shrinks_the_radius_after_a_non_finite_trial():
    """A trial step whose loss is NaN is a failed step (ratio ``rho = -inf``): it is rejected and the trust
    region shrinks (Conn, Gould & Toint, Alg. 6.1.1), so the iteration retreats into the region where the
    loss is defined and then makes progress. Here the loss is NaN farther than 0.05 from the start."""
    from remodel_core.nn import ResNetMLP
    from remodel_core.optim import RMTROptimizer, flat_params

    torch.manual_seed(0)
    net = ResNetMLP(1, 1, width=4, depth=2).double()
    x = torch.linspace(-1, 1, 16, dtype=torch.float64).unsqueeze(1)
    y = torch.sin(3 * x)
    start = flat_params(list(net.parameters()))
    opt = RMTROptimizer(net, levels=1, coarse_iters=3, delta0=2.0)

    def closure():
        opt.zero_grad()
        loss = (net(x) - y).pow(2).mean()
        loss.backward()
        far = float((flat_params(list(net.parameters())) - start).norm()) > 0.05
        return loss * math.nan if far else loss

    f0 = float(closure())
    for _ in range(4):
        opt.step(closure)
    assert opt.rejected[0] >= 1 and opt.accepted[0] >= 1
    assert opt.delta < 2.0  # shrunk from delta0
    assert float(closure()) < f0


# strong Wolfe line search ------------------------------------------------------------------------------
def test_cubic_minimizer_is_the_minimiser_of_the_hermite_cubic_not_the_midpoint():
    """Moré & Thuente's cubic step: the minimiser of the cubic through two values and slopes, clipped to the
    interval; the midpoint only when the cubic has no minimiser. Intervals chosen so that the midpoint is
    never the right answer by chance."""
    from remodel_core.optim import cubic_minimizer

    f, df = (lambda x: x**3 - 3 * x), (lambda x: 3 * x**2 - 3)  # local minimum at 1
    assert cubic_minimizer(0.0, f(0.0), df(0.0), 3.0, f(3.0), df(3.0), 0.0, 3.0) == pytest.approx(1.0, abs=1e-12)
    assert cubic_minimizer(0.0, f(0.0), df(0.0), 3.0, f(3.0), df(3.0), 1.5, 3.0) == 1.5  # clipped
    g, dg = (lambda x: x**3 + x), (lambda x: 3 * x**2 + 1)  # increasing: no minimiser -> midpoint
    assert cubic_minimizer(2.0, g(2.0), dg(2.0), 5.0, g(5.0), dg(5.0), 2.0, 5.0) == 3.5


def test_strong_wolfe_refuses_a_non_positive_c1():
    """Sufficient decrease needs ``0 < c1 < c2 < 1`` (Nocedal & Wright, eq. 3.7)."""
    from remodel_core.optim import strong_wolfe

    for c1 in (0.0, -0.5):
        with pytest.raises(ValueError, match="c1"):
            strong_wolfe(lambda a: (a, 1.0), 0.0, -1.0, c1=c1)


def test_strong_wolfe_retreats_geometrically_from_nan_trials():
    """A NaN trial shrinks the step towards the last finite point by ``shrink`` (0.25): every later trial lies
    strictly inside the bracket left of the last NaN, so the NaN points decrease geometrically."""
    from remodel_core.optim import strong_wolfe

    calls = []

    def phi(a):
        calls.append(a)
        if a > 1e-3:
            return math.nan, math.nan
        return (a - 1e-4) ** 2, 2 * (a - 1e-4)

    res = strong_wolfe(phi, 1e-8, -2e-4, 0.5)
    assert res.alpha > 0 and math.isfinite(res.f) and res.f < 1e-8
    nan_points = [a for a in calls if a > 1e-3]
    assert all(b < a for a, b in zip(nan_points, nan_points[1:])), nan_points
    assert all(b <= 0.25 * a * (1 + 1e-12) for a, b in zip(nan_points, nan_points[1:])), nan_points
