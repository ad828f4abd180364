"""RMTR and MG/OPT: convergence on convex quadratics, monotone decrease, coarse corrections, resume, errors."""

from __future__ import annotations

import io
import math

import pytest
import torch
from remodel_core import ReturnCode, TrainingProblem, solve
from remodel_core.nn import MLP, ResNetMLP
from remodel_core.optim import MGOPT, RMTR, CollocationHierarchy, MGOPTOptimizer, RMTROptimizer
from torch import nn


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """All tests here run on one intra-op thread (the root conftest.py)."""


OPTIMIZERS = [RMTROptimizer, MGOPTOptimizer]
ALGORITHMS = [RMTR, MGOPT]


class _AffineBlock(nn.Module):
    """``x + h (W_k z + b_k)`` on a fixed feature vector ``z``: a residual block linear in its parameters."""

    def __init__(self, width: int, h: float) -> None:
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.h = h

    def forward(self, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        z, a = state
        return z, a + self.h * self.linear(z)


class _LinearResNet(nn.Module):
    """A residual network whose output is affine in its parameters (so least squares is a convex quadratic)."""

    def __init__(self, width: int = 3, depth: int = 8) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(_AffineBlock(width, 1.0 / depth) for _ in range(depth))
        self.project = nn.Linear(width, 1)
        self.project.requires_grad_(False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        state = (z, torch.zeros_like(z))
        for block in self.blocks:
            state = block(state)
        return self.project(state[1])


def _quadratic_resnet():
    torch.manual_seed(0)
    net = _LinearResNet().double()
    g = torch.Generator().manual_seed(1)
    z = torch.randn(50, 3, generator=g, dtype=torch.float64)
    y = torch.sin(3 * z[:, :1]) + z[:, 1:2] * z[:, 2:3]

    def loss_of(params: dict[str, torch.Tensor]) -> torch.Tensor:
        # data misfit plus a smoothness-in-time and a ridge regulariser: strongly convex in the parameters
        W = torch.stack(
            [
                torch.cat([params[f"blocks.{k}.linear.weight"].reshape(-1), params[f"blocks.{k}.linear.bias"]])
                for k in range(len(net.blocks))
            ]
        )
        out = torch.func.functional_call(net, params, (z,))
        return (out - y).pow(2).mean() + 1e-2 * (W[1:] - W[:-1]).pow(2).sum() + 1e-3 * W.pow(2).sum()

    def loss(m: nn.Module) -> torch.Tensor:
        return loss_of(dict(m.named_parameters()))

    def minimum() -> float:
        """The exact minimum of the quadratic: one Newton step from the initial point."""
        names = [n for n, p in net.named_parameters() if p.requires_grad]
        fixed = {n: p.detach() for n, p in net.named_parameters() if not p.requires_grad}
        shapes = [net.get_parameter(n).shape for n in names]
        x0 = torch.cat([net.get_parameter(n).detach().reshape(-1) for n in names])

        def f(x: torch.Tensor) -> torch.Tensor:
            parts = torch.split(x, [s.numel() for s in shapes])
            return loss_of({**fixed, **{n: v.view(s) for n, v, s in zip(names, parts, shapes)}})

        H = torch.func.hessian(f)(x0)
        return float(f(x0 - torch.linalg.solve(H, torch.func.grad(f)(x0))))

    return net, loss, minimum


def _run(opt_cls, net, loss, steps, **kw):
    opt = opt_cls(net, **kw)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = loss(net)
        value.backward()
        return value

    losses = []
    for _ in range(steps):
        losses.append(float(opt.step(closure)))
        if opt.converged:
            break
    return opt, losses


@pytest.mark.parametrize("opt_cls", OPTIMIZERS)
@pytest.mark.parametrize("levels", [1, 3])
def test_convex_quadratic_resnet_to_1e10(opt_cls, levels):
    net, loss, minimum = _quadratic_resnet()
    fstar = minimum()
    opt, losses = _run(opt_cls, net, loss, 40, levels=levels, history_size=20)
    assert losses[-1] - fstar <= 1e-10
    if levels > 1:
        assert sum(opt.hierarchy.evals[1:]) > 0 and sum(opt.coarse_accepted) > 0


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_convex_least_squares_with_point_coarsening_to_1e10(alg):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(256, 5, generator=g, dtype=torch.float64)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0], [0.0]], dtype=torch.float64) + 0.1 * torch.randn(
        256, 1, generator=g, dtype=torch.float64
    )
    torch.manual_seed(0)
    prob = TrainingProblem(model=nn.Linear(5, 1).double(), loss=lambda m, x, y: (m(x) - y).pow(2).mean(), data=(x, y))
    X = torch.cat([x, torch.ones(256, 1, dtype=torch.float64)], 1)
    coef = torch.linalg.lstsq(X, y).solution
    fstar = float((X @ coef - y).pow(2).mean())
    sol = solve(prob, alg(levels=3, coarsen="points"), maxiters=40, dtype=torch.float64)
    assert sol.success
    assert sol.history["loss"][-1] - fstar <= 1e-10
    assert sol.stats["work"] < sol.stats["evals"] + sum(sol.stats["evals_per_level"][1:])
    assert sol.stats["evals_per_level"][1] > 0


def _regression_problem(depth: int = 8):
    torch.manual_seed(0)
    net = ResNetMLP(1, 1, width=10, depth=depth).double()
    x = torch.linspace(-1, 1, 64, dtype=torch.float64).unsqueeze(1)
    y = torch.sin(3 * x)
    return net, lambda m: (m(x) - y).pow(2).mean(), x, y


def test_rmtr_monotone_decrease_with_coarse_corrections():
    net, loss, _, _ = _regression_problem()
    first = float(loss(net).detach())
    opt, losses = _run(RMTROptimizer, net, loss, 12, levels=3)
    assert all(b <= a for a, b in zip([first, *losses], losses))
    assert losses[-1] < 1e-2 * first
    assert opt.coarse_accepted[0] > 0 and opt.accepted[1] > 0 and opt.accepted[2] > 0
    # torch's closure contract: a step returns the loss where it started; the model holds the new iterate
    assert losses[0] == pytest.approx(first, rel=1e-12)
    assert float(loss(net).detach()) <= losses[-1]


def test_mgopt_decreases_a_resnet_loss_with_coarse_corrections():
    net, loss, _, _ = _regression_problem()
    first = float(loss(net).detach())
    opt, losses = _run(MGOPTOptimizer, net, loss, 12, levels=3)
    assert all(b <= a for a, b in zip([first, *losses], losses))
    assert losses[-1] < 1e-2 * first
    assert opt.coarse_accepted[0] > 0
    assert 0 < opt.work < sum(opt.hierarchy.evals)


def test_pinn_with_point_coarsening():
    """-u'' = pi^2 sin(pi x) on (0, 1), u(0) = u(1) = 0: the collocation variant trains a plain MLP."""
    torch.manual_seed(0)
    xs = torch.rand(128, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def loss(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        x = x.clone().requires_grad_(True)
        u = m(x)
        (ux,) = torch.autograd.grad(u.sum(), x, create_graph=True)
        (uxx,) = torch.autograd.grad(ux.sum(), x, create_graph=True)
        res = -uxx - torch.pi**2 * torch.sin(torch.pi * x)
        bc = m(torch.tensor([[0.0], [1.0]], dtype=x.dtype))
        return res.pow(2).mean() + bc.pow(2).mean()

    xt = torch.linspace(0, 1, 101, dtype=torch.float64).unsqueeze(1)
    err = lambda m: ((m(xt) - torch.sin(torch.pi * xt)).norm() / torch.sin(torch.pi * xt).norm()).item()  # noqa: E731
    prob = TrainingProblem(model=MLP(1, 1, width=16, depth=2), loss=loss, data=(xs,), metrics={"err": err})
    sol = solve(prob, RMTR(levels=3, factor=2), maxiters=40, dtype=torch.float64)
    assert sol.retcode.name in ("Success", "MaxIters") and sol.history["err"][-1] < 2e-2
    assert sol.stats["evals_per_level"][2] > 0


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_resume_equality_through_solve(alg, tmp_path):
    net, loss, x, y = _regression_problem(depth=4)
    prob = TrainingProblem(model=net, loss=lambda m, x, y: (m(x) - y).pow(2).mean(), data=(x, y))
    full = solve(prob, alg(levels=2), maxiters=6)
    ck = tmp_path / "ck.pt"
    solve(prob, alg(levels=2), maxiters=3, checkpoint=ck)
    resumed = solve(prob, alg(levels=2), maxiters=6, checkpoint=ck, resume=True)
    for a, b in zip(full.u.parameters(), resumed.u.parameters()):
        assert torch.equal(a, b)
    assert resumed.stats["work"] == pytest.approx(full.stats["work"])


@pytest.mark.parametrize("opt_cls", OPTIMIZERS)
def test_state_dict_round_trip_weights_only(opt_cls):
    net, loss, _, _ = _regression_problem(depth=4)
    net.float()
    twin = ResNetMLP(1, 1, width=10, depth=4)
    twin.load_state_dict(net.state_dict())
    x = torch.linspace(-1, 1, 64).unsqueeze(1)
    f = lambda m: (m(x) - torch.sin(3 * x)).pow(2).mean()  # noqa: E731
    opt_a, _ = _run(opt_cls, net, f, 6, levels=2)
    opt_b, _ = _run(opt_cls, twin, f, 3, levels=2)
    buf = io.BytesIO()
    torch.save({"model": twin.state_dict(), "opt": opt_b.state_dict()}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    again = ResNetMLP(1, 1, width=10, depth=4)
    again.load_state_dict(state["model"])
    opt_c = opt_cls(again, levels=2)
    opt_c.load_state_dict(state["opt"])

    def closure() -> torch.Tensor:
        opt_c.zero_grad()
        value = f(again)
        value.backward()
        return value

    for _ in range(3):
        opt_c.step(closure)
    for a, b in zip(net.parameters(), again.parameters()):
        assert torch.equal(a, b)
    assert opt_c.hierarchy.evals[1] > 0


def test_bad_configurations():
    net, loss, x, y = _regression_problem(depth=6)
    prob = TrainingProblem(model=net, loss=lambda m, x, y: (m(x) - y).pow(2).mean(), data=(x, y))
    with pytest.raises(ValueError, match="levels must be >= 1"):
        solve(prob, RMTR(levels=0))
    with pytest.raises(ValueError, match="not divisible"):
        solve(prob, MGOPT(levels=3))
    with pytest.raises(ValueError, match="eta1"):
        solve(prob, RMTR(levels=2, eta1=0.9, eta2=0.5))
    with pytest.raises(ValueError, match="coarsen"):
        solve(prob, RMTR(coarsen="depth"))
    with pytest.raises(ValueError, match="c1 < c2"):
        solve(prob, MGOPT(levels=2, c1=0.5, c2=0.1))
    with pytest.raises(TypeError, match="residual network"):
        RMTROptimizer(MLP(1, 1), levels=2)
    with pytest.raises(TypeError, match="pass the residual network"):
        MGOPTOptimizer(MLP(1, 1).parameters(), levels=2)
    with pytest.raises(ValueError, match="needs the problem's data"):
        RMTR(coarsen="points").make_optimizer(MLP(1, 1))
    nodata = TrainingProblem(model=MLP(1, 1), loss=lambda m: m(torch.zeros(1, 1)).sum())
    with pytest.raises(ValueError, match="needs a TrainingProblem with data"):
        solve(nodata, RMTR(levels=2))
    batched = TrainingProblem(model=net, loss=prob.loss, data=(x, y), batch_size=8)
    with pytest.raises(ValueError, match="full-batch"):
        solve(batched, RMTR(levels=2))
    opt = RMTROptimizer(ResNetMLP(1, 1, depth=4), levels=2)
    with pytest.raises(ValueError, match="needs a closure"):
        opt.step()
    other = MLP(1, 1)
    H = CollocationHierarchy(other.parameters(), [lambda: torch.zeros(())], [0.5])
    with pytest.raises(ValueError, match="exactly the hierarchy's"):
        RMTROptimizer(ResNetMLP(1, 1, depth=4).parameters(), hierarchy=H)
    adam = torch.optim.Adam(opt.param_groups[0]["params"])
    with pytest.raises(ValueError, match="multilevel"):
        opt.load_state_dict(adam.state_dict())


def test_diverging_loss_ends_with_diverged():
    net, _, x, y = _regression_problem(depth=4)
    calls = []

    def loss(m, x, y):
        calls.append(1)
        value = (m(x) - y).pow(2).mean()
        return value * float("nan") if len(calls) > 6 else value

    sol = solve(TrainingProblem(model=net, loss=loss, data=(x, y)), RMTR(levels=2), maxiters=20)
    assert sol.retcode == ReturnCode.Diverged
    assert all(torch.isfinite(p).all() for p in sol.u.parameters())


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_wall_of_nan_is_divergence_not_success(alg):
    """The loss is NaN wherever it would fall below 0.02: the methods stall at that wall with a large gradient
    (MG/OPT: cycles without decrease; RMTR: the radius collapses). That is ``Diverged`` with the last good
    state, as for RobustLBFGS and the Schwarz methods, not ``Success`` at a point that is no minimum."""
    x = torch.linspace(-1, 1, 96, dtype=torch.float64).unsqueeze(1)
    y = torch.sin(3 * x)

    def loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        value = ((m(x) - y) ** 2).mean()
        return value * math.nan if value.item() < 0.02 else value

    torch.manual_seed(0)
    prob = TrainingProblem(model=MLP(1, 1, width=10, depth=2).double(), loss=loss, data=(x, y))
    sol = solve(prob, alg(levels=2), maxiters=200)
    assert sol.retcode is ReturnCode.Diverged and sol.stats["iterations"] < 200
    assert math.isfinite(float(loss(sol.u, x, y)))
