"""Robust L-BFGS, its memory and the strong Wolfe line search."""

from __future__ import annotations

import importlib.util
import math
import pathlib

import pytest
import torch
from remodel_core import ReturnCode, TrainingProblem, solve
from remodel_core.optim import (
    LBFGS,
    Adam,
    LBFGSMemory,
    RobustLBFGS,
    RobustLBFGSOptimizer,
    cubic_minimizer,
    strong_wolfe,
)

_spec = importlib.util.spec_from_file_location(
    "_optim_problems", pathlib.Path(__file__).with_name("_optim_problems.py")
)
P = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(P)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """All tests here run on one intra-op thread (the root conftest.py)."""


# line search -------------------------------------------------------------------------------------------
def test_cubic_minimizer_exact_for_cubic():
    # f(x) = x^3 - 3x has its local minimum at x = 1; Hermite data at 0 and 2 determine it exactly
    f = lambda x: x**3 - 3 * x
    df = lambda x: 3 * x**2 - 3
    assert cubic_minimizer(0.0, f(0.0), df(0.0), 2.0, f(2.0), df(2.0), 0.0, 2.0) == pytest.approx(1.0, abs=1e-14)
    # no real minimiser -> midpoint of the bounds
    assert cubic_minimizer(0.0, 0.0, 1.0, 1.0, math.nan, 1.0, 0.0, 1.0) == 0.5


def test_strong_wolfe_conditions_hold():
    for a_star in (1e-3, 0.3, 2.0, 50.0):
        phi = lambda a, s=a_star: (math.cos(a) + (a - s) ** 2, -math.sin(a) + 2 * (a - s))
        f0, d0 = phi(0.0)
        if d0 >= 0:
            continue
        res = strong_wolfe(phi, f0, d0, 1.0)
        assert res.success
        assert res.f <= f0 + 1e-4 * res.alpha * d0
        assert abs(res.dphi) <= 0.9 * abs(d0)


def test_strong_wolfe_shrinks_on_nan():
    calls = []

    def phi(a):
        calls.append(a)
        if a > 0.05:
            return math.nan, math.nan
        return (a - 0.01) ** 2, 2 * (a - 0.01)

    res = strong_wolfe(phi, 1e-4, -0.02, 1.0)
    assert res.alpha > 0 and math.isfinite(res.f) and res.f < 1e-4
    assert all(math.isfinite(c) for c in calls)


def test_strong_wolfe_rejects_bad_input():
    phi = lambda a: (a, 1.0)
    with pytest.raises(ValueError, match="dphi0"):
        strong_wolfe(phi, 0.0, 1.0)
    with pytest.raises(ValueError, match="c2"):
        strong_wolfe(phi, 0.0, -1.0, c1=0.5, c2=0.1)
    with pytest.raises(ValueError, match="alpha0"):
        strong_wolfe(phi, 0.0, -1.0, alpha0=-1.0)


# memory ------------------------------------------------------------------------------------------------
def test_memory_secant_equation_and_skipping():
    gen = torch.Generator().manual_seed(1)
    A = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    A = A @ A.T + 6 * torch.eye(6, dtype=torch.float64)
    mem = LBFGSMemory(3)
    for _ in range(5):
        s = torch.randn(6, generator=gen, dtype=torch.float64)
        assert mem.push(s, A @ s)
    assert len(mem) == 3
    # H y_newest = s_newest (the secant equation of the newest pair holds exactly)
    assert torch.allclose(mem.apply(mem.y[-1]), mem.s[-1], atol=1e-12)
    # negative curvature pair is skipped
    assert not mem.push(torch.ones(6, dtype=torch.float64), -torch.ones(6, dtype=torch.float64))
    assert mem.skipped == 1 and len(mem) == 3
    assert not mem.push(torch.ones(6, dtype=torch.float64), torch.full((6,), math.nan, dtype=torch.float64))
    state = mem.state_dict()
    other = LBFGSMemory(1)
    other.load_state_dict(state)
    g = torch.randn(6, generator=gen, dtype=torch.float64)
    assert torch.equal(other.direction(g), mem.direction(g))
    mem.reset()
    assert len(mem) == 0 and torch.equal(mem.direction(g), -g)


def test_memory_rejects_bad_history():
    with pytest.raises(ValueError, match="history_size"):
        LBFGSMemory(-1)
    with pytest.raises(TypeError, match="history_size"):
        LBFGSMemory(2.5)


# optimizer ---------------------------------------------------------------------------------------------
def test_quadratic_to_1e10():
    prob, f_star, x_star = P.quadratic(50, cond=1e3)
    sol = solve(prob, RobustLBFGS(history_size=20, tolerance_grad=1e-8), maxiters=1000)
    assert sol.retcode == ReturnCode.Success
    f = float(prob.loss(sol.u).detach())
    assert f - f_star < 1e-10
    assert torch.allclose(sol.u.vector().detach(), x_star, atol=1e-6)


def test_rosenbrock_converges():
    sol = solve(P.rosenbrock(4), RobustLBFGS(history_size=10, tolerance_grad=1e-10), maxiters=500)
    assert sol.retcode == ReturnCode.Success
    assert torch.allclose(sol.u.vector().detach(), torch.ones(4, dtype=torch.float64), atol=1e-6)


def test_keeps_going_after_adam_where_torch_lbfgs_stops():
    prob = P.regression(seed=0)
    warm = solve(prob, Adam(lr=1e-2), maxiters=100, dtype=torch.float64).u
    after = TrainingProblem(model=warm, loss=prob.loss, data=prob.data)
    start = float(after.loss(warm, *after.data))
    ours = solve(after, RobustLBFGS(), maxiters=30)
    assert ours.stats["iterations"] == 30 and ours.retcode == ReturnCode.MaxIters
    end = ours.history["loss"][-1]
    assert end < 0.2 * start
    # the loss decreases monotonically (line search with sufficient decrease)
    assert all(b <= a for a, b in zip(ours.history["loss"], ours.history["loss"][1:]))


def test_plain_pytorch_loop_and_state_roundtrip(tmp_path):
    prob = P.regression(seed=1)
    ref = solve(prob, RobustLBFGS(history_size=5), maxiters=40)
    ck = tmp_path / "ck.pt"
    first = solve(prob, RobustLBFGS(history_size=5), maxiters=20, checkpoint=ck)
    assert first.stats["iterations"] == 20
    resumed = solve(prob, RobustLBFGS(history_size=5), maxiters=40, checkpoint=ck, resume=True)
    for p, q in zip(ref.u.parameters(), resumed.u.parameters()):
        assert torch.equal(p, q)
    assert resumed.stats["evals"] == ref.stats["evals"]
    # state_dict holds tensors and plain values only
    torch.save(RobustLBFGSOptimizer(list(ref.u.parameters())).state_dict(), tmp_path / "s.pt")
    torch.load(tmp_path / "s.pt", weights_only=True)


def test_nan_loss_is_diverged_with_last_good_state():
    prob = P.rosenbrock(4)
    calls = {"n": 0}

    def loss(m):
        calls["n"] += 1
        value = prob.loss(m)
        return value * math.nan if calls["n"] > 12 else value

    sol = solve(TrainingProblem(model=prob.model, loss=loss), RobustLBFGS(max_ls=3), maxiters=50)
    assert sol.retcode == ReturnCode.Diverged
    assert torch.isfinite(sol.u.vector()).all()
    assert sol.stats["iterations"] > 1
    assert float(prob.loss(sol.u).detach()) < float(prob.loss(prob.model).detach())


def test_failed_when_no_progress_possible():
    def lying(m):
        x = m.vector()
        return (x**2).sum().detach() + 1.0 * x.sum() - x.sum().detach()  # value x'x, gradient (1, 1)

    model = P.Vector([2], torch.tensor([0.0, 0.0]))
    sol = solve(TrainingProblem(model=model, loss=lying), RobustLBFGS(max_ls=5), maxiters=20)
    assert sol.retcode == ReturnCode.Failure


def test_rejects_bad_configuration():
    for kwargs, match in [
        ({"history_size": -1}, "history_size"),
        ({"lr": 0.0}, "lr"),
        ({"c1": 0.95}, "Wolfe"),
        ({"max_ls": 0}, "max_ls"),
    ]:
        with pytest.raises((ValueError, TypeError), match=match):
            RobustLBFGS(**kwargs).validate()
        with pytest.raises((ValueError, TypeError), match=match):
            RobustLBFGSOptimizer([torch.zeros(1, requires_grad=True)], **kwargs)


def test_torch_lbfgs_wrapper_still_available():
    assert LBFGS(history_size=50).history_size == 50
