"""Tests of remodel_core.integrate.odeint: convergence orders, DOPRI5 step control and counts, autograd, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from remodel_core.integrate import METHODS, dopri5_step, euler_step, heun_step, odeint, rk4_step

D = torch.float64


def rhs(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """y' = -y + sin t."""
    return -y + torch.sin(t)


def exact(t: float, y0: float, t0: float = 0.0) -> float:
    """Exact solution of y' = -y + sin t with y(t0) = y0."""
    c = (y0 - 0.5 * (math.sin(t0) - math.cos(t0))) * math.exp(t0)
    return c * math.exp(-t) + 0.5 * (math.sin(t) - math.cos(t))


class CountingRhs:
    """The right-hand side ``rhs`` with a call counter."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return rhs(t, y)


def fitted_order(hs: list[float], errs: list[float]) -> float:
    return float(np.polyfit(np.log(hs), np.log(errs), 1)[0])


@pytest.mark.parametrize("method", ["euler", "heun", "rk4"])
def test_fixed_step_convergence_order(method: str) -> None:
    t = torch.tensor([0.0, 1.0], dtype=D)
    y0 = torch.tensor([1.0], dtype=D)
    hs = [0.1, 0.05, 0.025, 0.0125]
    errs = [abs(float(odeint(rhs, y0, t, method, dt=h)[-1, 0]) - exact(1.0, 1.0)) for h in hs]
    assert abs(fitted_order(hs, errs) - METHODS[method]) < 0.3


@pytest.mark.parametrize("which, order", [("y5", 5), ("y4", 4)])
def test_dopri5_step_orders(which: str, order: int) -> None:
    """The fifth-order solution and the embedded fourth-order one (y5 - err) converge at orders 5 and 4."""
    y0 = torch.tensor([1.0], dtype=D)
    hs = [0.2, 0.1, 0.05, 0.025]
    errs = []
    for h in hs:
        y = y0
        for k in range(round(1.0 / h)):
            y5, err, _ = dopri5_step(rhs, torch.tensor(k * h, dtype=D), y, h)
            y = y5 if which == "y5" else y5 - err
        errs.append(abs(float(y[0]) - exact(1.0, 1.0)))
    assert abs(fitted_order(hs, errs) - order) < 0.3


def test_single_steps_match_hand_computation() -> None:
    t0, y0, h = torch.tensor(0.0, dtype=D), torch.tensor([2.0], dtype=D), 0.1
    f = lambda t, y: -y
    assert float(euler_step(f, t0, y0, h)) == pytest.approx(1.8, abs=1e-15)
    assert float(heun_step(f, t0, y0, h)) == pytest.approx(2.0 * (1 - h + h * h / 2), abs=1e-15)
    taylor4 = 1 - h + h**2 / 2 - h**3 / 6 + h**4 / 24
    assert float(rk4_step(f, t0, y0, h)) == pytest.approx(2.0 * taylor4, abs=1e-15)


def test_substeps_and_output_grid() -> None:
    y0 = torch.tensor([1.0], dtype=D)
    t = torch.tensor([0.0, 1.0, 1.5], dtype=D)
    ys, stats = odeint(rhs, y0, t, "rk4", dt=0.1, return_stats=True)
    assert ys.shape == (3, 1)
    assert stats["steps"] == 10 + 5 and stats["nfev"] == 4 * 15 and stats["rejected"] == 0
    assert torch.equal(ys[0], y0)
    _, stats = odeint(rhs, y0, torch.tensor([0.0, 1.0], dtype=D), "euler", dt=0.3, return_stats=True)
    assert stats["steps"] == 4  # ceil(1 / 0.3)
    _, stats = odeint(rhs, y0, t, "heun", return_stats=True)
    assert stats["steps"] == 2 and stats["nfev"] == 4
    assert odeint(rhs, y0, torch.tensor([0.5], dtype=D)).shape == (1, 1)
    ys, stats = odeint(rhs, y0, torch.tensor([0.5], dtype=D), "dopri5", return_stats=True)
    assert torch.equal(ys[0], y0) and stats == {"nfev": 0, "steps": 0, "rejected": 0}


def test_batch_shapes_and_float32() -> None:
    rates = torch.tensor([[1.0, 2.0], [0.5, 3.0], [0.1, 1.5]], dtype=D)
    y0 = torch.ones(3, 2, dtype=D)
    t = torch.linspace(0, 1, 5, dtype=D)
    for method in METHODS:
        ys = odeint(lambda t, y: -rates * y, y0, t, method, dt=0.01)
        assert ys.shape == (5, 3, 2)
        tol = {"euler": 5e-3, "heun": 5e-5, "rk4": 1e-8, "dopri5": 1e-6}[method]  # error O(dt^order)
        assert torch.allclose(ys[-1], torch.exp(-rates), atol=tol, rtol=0)
    ys32 = odeint(lambda t, y: -y, torch.ones(4), torch.linspace(0, 1, 3), "dopri5", rtol=1e-5, atol=1e-7)
    assert ys32.dtype == torch.float32
    assert abs(float(ys32[-1, 0]) - math.exp(-1)) < 1e-5


def test_time_passed_as_tensor_of_state_dtype() -> None:
    seen: list[torch.Tensor] = []

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        seen.append(t)
        return torch.zeros_like(y)

    odeint(f, torch.zeros(2, dtype=D), torch.tensor([0.0, 1.0], dtype=D), "rk4", dt=0.5)
    assert all(isinstance(s, torch.Tensor) and s.dtype == D and s.ndim == 0 for s in seen)
    assert [float(s) for s in seen] == [0.0, 0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 1.0]


# ----------------------------------------------------------------------------------------------------- dopri5


def test_dopri5_meets_tolerance_and_counts() -> None:
    y0 = torch.tensor([1.0], dtype=D)
    t = torch.linspace(0, 10, 11, dtype=D)
    ref = torch.tensor([exact(float(s), 1.0) for s in t], dtype=D)
    nfevs, errs = [], []
    for rtol in (1e-4, 1e-6, 1e-8, 1e-10):
        f = CountingRhs()
        ys, stats = odeint(f, y0, t, "dopri5", rtol=rtol, atol=rtol * 1e-2, return_stats=True)
        err = float((ys[:, 0] - ref).abs().max())
        assert err < 100 * rtol  # global error of the order of the tolerance
        assert stats["nfev"] == f.calls == 6 * (stats["steps"] + stats["rejected"]) + 2
        nfevs.append(stats["nfev"])
        errs.append(err)
    assert all(a < b for a, b in zip(nfevs[:-1], nfevs[1:]))  # fewer evaluations at looser tolerance
    assert all(a > b for a, b in zip(errs[:-1], errs[1:]))
    assert errs[-1] < 1e-9


def test_dopri5_rejections_and_first_step_count() -> None:
    y0 = torch.tensor([1.0], dtype=D)
    t = torch.tensor([0.0, 5.0], dtype=D)
    f = CountingRhs()
    ys, stats = odeint(f, y0, t, "dopri5", rtol=1e-10, atol=1e-12, first_step=2.0, return_stats=True)
    assert stats["rejected"] >= 1  # a far too large first step is rejected
    assert stats["nfev"] == f.calls == 6 * (stats["steps"] + stats["rejected"]) + 1
    assert abs(float(ys[-1, 0]) - exact(5.0, 1.0)) < 1e-9


def test_dopri5_hits_output_times_and_max_step() -> None:
    t = torch.tensor([0.0, 0.013, 0.5, 0.51, 3.0], dtype=D)
    y0 = torch.tensor([0.3], dtype=D)
    ys, stats = odeint(rhs, y0, t, "dopri5", rtol=1e-10, atol=1e-12, dt=0.1, return_stats=True)
    for k, s in enumerate(t.tolist()):
        assert abs(float(ys[k, 0]) - exact(s, 0.3)) < 1e-9
    assert stats["steps"] >= 30  # max step 0.1 over [0, 3]


def test_dopri5_standard_controller_and_pi_agree() -> None:
    y0 = torch.tensor([1.0], dtype=D)
    t = torch.linspace(0, 5, 6, dtype=D)
    a = odeint(rhs, y0, t, "dopri5", rtol=1e-9, atol=1e-11, controller="pi")
    b = odeint(rhs, y0, t, "dopri5", rtol=1e-9, atol=1e-11, controller="standard")
    assert float((a - b).abs().max()) < 1e-8


def test_dopri5_guards() -> None:
    y0 = torch.tensor([1.0], dtype=D)
    with pytest.raises(RuntimeError, match="max_steps"):
        odeint(rhs, y0, torch.tensor([0.0, 100.0], dtype=D), "dopri5", rtol=1e-10, max_steps=5)
    with pytest.raises(RuntimeError, match="dopri5"):  # y' = y^2, y(0) = 1 blows up at t = 1
        odeint(lambda t, y: y**2, y0, torch.tensor([0.0, 2.0], dtype=D), "dopri5", max_steps=5000)


def test_dopri5_accepts_rhs_that_uses_autograd() -> None:
    """A right-hand side built on torch.autograd.grad (a learned potential) works in every stage."""

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y_ = y.detach().requires_grad_(True)
        (g,) = torch.autograd.grad((0.5 * y_**2).sum(), y_)
        return -g

    ys = odeint(f, torch.ones(3, dtype=D), torch.tensor([0.0, 1.0], dtype=D), "dopri5", rtol=1e-9, atol=1e-12)
    assert float((ys[-1] - math.exp(-1.0)).abs().max()) < 1e-8


# ----------------------------------------------------------------------------------------------------- autograd


@pytest.mark.parametrize("method", ["euler", "rk4", "dopri5"])
def test_gradcheck_through_odeint(method: str) -> None:
    a = torch.tensor([[-0.5, 1.0], [-1.0, -0.2]], dtype=D)

    def solve(y0: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        f = lambda t, y: torch.tanh(y @ a.T) * k + torch.cos(t)
        return odeint(f, y0, torch.tensor([0.0, 0.4, 1.0], dtype=D), method, dt=0.1, rtol=1e-11, atol=1e-12)

    y0 = torch.tensor([[0.3, -0.2], [0.1, 0.4]], dtype=D, requires_grad=True)
    k = torch.tensor(0.7, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(solve, (y0, k), atol=1e-6)


# ----------------------------------------------------------------------------------------------------- bad input


def test_bad_input_errors() -> None:
    y0 = torch.ones(2, dtype=D)
    t = torch.tensor([0.0, 1.0], dtype=D)
    f = lambda t, y: -y
    with pytest.raises(ValueError, match="unknown method 'rk5'.*dopri5.*euler.*heun.*rk4"):
        odeint(f, y0, t, "rk5")
    with pytest.raises(ValueError, match="t must be strictly increasing"):
        odeint(f, y0, torch.tensor([0.0, 1.0, 0.5], dtype=D))
    with pytest.raises(ValueError, match="t must be strictly increasing"):
        odeint(f, y0, torch.tensor([0.0, 0.0], dtype=D))
    with pytest.raises(TypeError, match="t must have the dtype"):
        odeint(f, y0, torch.tensor([0.0, 1.0], dtype=torch.float32))
    with pytest.raises(ValueError, match="t must be a 1-D"):
        odeint(f, y0, torch.zeros(2, 2, dtype=D))
    with pytest.raises(ValueError, match="t must be finite"):
        odeint(f, y0, torch.tensor([0.0, math.inf], dtype=D))
    with pytest.raises(ValueError, match="dt must be > 0"):
        odeint(f, y0, t, dt=0.0)
    with pytest.raises(ValueError, match="dt must be > 0"):
        odeint(f, y0, t, dt=-0.1)
    with pytest.raises(ValueError, match="rtol must be > 0"):
        odeint(f, y0, t, "dopri5", rtol=0.0)
    with pytest.raises(ValueError, match="atol must be > 0"):
        odeint(f, y0, t, "dopri5", atol=-1e-9)
    with pytest.raises(ValueError, match="controller"):
        odeint(f, y0, t, "dopri5", controller="pid")
    with pytest.raises(TypeError, match="y0 must have a real floating-point dtype"):
        odeint(f, torch.ones(2, dtype=torch.int64), t)
    with pytest.raises(TypeError, match="y0 must be a torch.Tensor"):
        odeint(f, [1.0, 2.0], t)
    with pytest.raises(TypeError, match="f must be callable"):
        odeint(None, y0, t)
    with pytest.raises(ValueError, match="f returned shape"):
        odeint(lambda t, y: y.sum(), y0, t)
