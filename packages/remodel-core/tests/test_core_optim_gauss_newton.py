"""Levenberg–Marquardt (damped Gauss–Newton) training: the residual Jacobian, the damped solve in sample space,
parameter space and by Schwarz-preconditioned CG, the step control, Auto's choice, resume and bad input."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from remodel_core import TrainingProblem, pde, solve
from remodel_core.nn import MLP
from remodel_core.optim import Auto, GaussNewton, GaussNewtonOptimizer, flat_params, residual_jacobian
from remodel_core.optim._gauss_newton import gram
from remodel_core.testing import check_algorithm

PROBLEMS = ["poisson2d", "burgers", "klein_gordon", "allen_cahn"]  # Dirichlet, initial velocity, periodic


def _pinn(name: str = "poisson2d", width: int = 8, points: int = 40, boundary: object = 16, seed: int = 0):
    torch.manual_seed(seed)
    net = MLP(2, 1, width=width, depth=2).double()
    return net, getattr(pde, name)().discretize(net, points=points, boundary_points=boundary, seed=seed)


@pytest.mark.parametrize("name", PROBLEMS)
def test_residual_blocks_are_the_loss_and_the_jacobian_its_gradient(name):
    """sum(r^2) is the PINN loss and 2 J^T r its autograd gradient, for every kind of condition."""
    net, train = _pinn(name)
    x = train.data[0]
    r, J = residual_jacobian(net, train.loss.residual_blocks(x), chunk=7)
    loss = train.loss(net, x)
    loss.backward()
    g = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
    assert J.shape == (r.numel(), g.numel())
    assert float(r @ r) == pytest.approx(float(loss), rel=1e-12)
    assert torch.allclose(2.0 * J.T @ r, g, atol=1e-12, rtol=1e-10)


def test_jacobian_rows_match_one_backward_pass_each():
    net, train = _pinn("burgers")
    x = train.data[0]
    r, J = residual_jacobian(net, train.loss.residual_blocks(x))
    fn, rows = train.loss.residual_blocks(x)[0]
    value = fn(net, rows[3:4])[0]
    row = torch.autograd.grad(value, list(net.parameters()))
    assert torch.allclose(J[3], torch.cat([t.reshape(-1) for t in row]), atol=1e-13)


def test_given_boundary_values_travel_with_their_rows():
    prob = pde.poisson2d()
    pts = prob.condition_points(24, seed=1)[0]
    values = torch.linspace(-1, 1, len(pts), dtype=torch.float64)
    torch.manual_seed(0)
    net = MLP(2, 1, width=6, depth=2).double()
    train = prob.discretize(net, points=20, boundary_points=[(pts, values)])
    r, _ = residual_jacobian(net, train.loss.residual_blocks(train.data[0]))
    assert float(r @ r) == pytest.approx(float(train.loss(net, train.data[0])), rel=1e-12)


def test_gram_is_j_jt():
    J = torch.randn(37, 11, dtype=torch.float64)
    for k in (1, 3, 8):
        assert torch.allclose(gram(J, k), J @ J.T, atol=1e-12)


@pytest.mark.parametrize("shape", [(30, 50), (50, 30)])
def test_direct_and_cg_solve_the_damped_normal_equations(shape):
    """The defining linear step: (J^T J + lambda I) d = -J^T r, by Woodbury in sample space (N < P), by Cholesky in
    parameter space (N > P) and by block-preconditioned CG, all three the same d."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1)).double()
    P = sum(p.numel() for p in net.parameters())
    N = shape[0] if shape[0] != P else shape[0] + 1
    J = torch.randn(N, P, dtype=torch.float64)
    r = torch.randn(N, dtype=torch.float64)
    lam = 0.3
    exact = torch.linalg.solve(J.T @ J + lam * torch.eye(P, dtype=torch.float64), -J.T @ r)
    opt = GaussNewtonOptimizer(net.parameters(), net, lambda: [], max_dense=10, cg_iters=500, cg_tol=1e-13)
    assert torch.allclose(opt._direct(J, r, lam, {}), exact, atol=1e-10)
    assert torch.allclose(opt._cg(J, r, lam, {}), exact, atol=1e-8)


def test_zero_residual_fit_converges_fast():
    """Gauss–Newton near a zero-residual minimum converges fast: a student network started near a teacher of the
    same architecture fits its outputs to 1e-9 within 15 steps, a thousand times below torch's L-BFGS."""
    torch.manual_seed(1)
    teacher = MLP(1, 1, width=6, depth=2).double()
    x = torch.linspace(-1, 1, 40, dtype=torch.float64)[:, None]
    y = teacher(x).detach()
    student = MLP(1, 1, width=6, depth=2).double()
    with torch.no_grad():
        for p, q in zip(student.parameters(), teacher.parameters()):
            p.copy_(q + 0.05 * torch.randn_like(q))

    class Loss:
        def __call__(self, m, x, y):
            return ((m(x) - y) ** 2).sum()

        def residual_blocks(self, x, y):
            return [(lambda m, z: m(z[:, :1])[:, 0] - z[:, 1], torch.cat([x, y], 1))]

    prob = TrainingProblem(model=student, loss=Loss(), data=(x, y))
    sol = solve(prob, GaussNewton(), maxiters=15, dtype=torch.float64)
    losses = sol.history["loss"]
    final = float(prob.loss(sol.u, x, y).detach())
    assert final < 1e-9
    assert all(b <= a for a, b in zip(losses, losses[1:]))  # accepted steps only
    from remodel_core.optim import LBFGS

    lb = solve(prob, LBFGS(history_size=50), maxiters=15, dtype=torch.float64)
    assert float(prob.loss(lb.u, x, y).detach()) > 1e3 * final


def test_a_failed_step_raises_damping_and_keeps_the_point():
    """A step that cannot lower the loss is rejected: lambda grows, the parameters come back, the run fails."""
    net, train = _pinn()
    x = train.data[0]
    calls = {"n": 0}

    def closure():
        calls["n"] += 1
        net.zero_grad()
        loss = train.loss(net, x)
        loss.backward()
        return loss + (0.0 if calls["n"] == 0 else 1e9)  # every trial point looks worse

    opt = GaussNewtonOptimizer(net.parameters(), net, lambda: train.loss.residual_blocks(x), max_tries=3)
    x0 = flat_params(list(net.parameters()))
    opt.step(closure)
    assert opt.failed and opt.lam > 1e-3 * 1.0 and opt.stats["solves"] == 3
    assert torch.equal(flat_params(list(net.parameters())), x0)


def test_backtracking_accepts_a_shorter_step():
    net, train = _pinn()
    x = train.data[0]
    opt = GaussNewtonOptimizer(net.parameters(), net, lambda: train.loss.residual_blocks(x), damping=1e-12)
    trials = []

    def closure():
        net.zero_grad()
        loss = train.loss(net, x)
        loss.backward()
        trials.append(float(loss))
        return loss if len(trials) > 1 else loss + 1e9  # the full step is refused once

    f0 = float(train.loss(net, x).detach())
    opt.step(closure)
    assert opt.stats["backtracked"] == 1 and not opt.failed
    assert float(train.loss(net, x).detach()) < f0


def test_gauss_newton_trains_a_pinn_and_beats_lbfgs_per_iteration():
    net, train = _pinn(width=10, points=60, boundary=24)
    from remodel_core.optim import LBFGS

    gn = solve(train, GaussNewton(), maxiters=15, dtype=torch.float64)
    lb = solve(train, LBFGS(history_size=50, max_iter=1), maxiters=15, dtype=torch.float64)
    assert gn.history["loss"][-1] < 1e-2 * gn.history["loss"][0]
    assert gn.history["loss"][-1] < lb.history["loss"][-1]
    assert gn.stats["gn_jacobians"] == 15


def test_resume_equals_uninterrupted(tmp_path):
    net, train = _pinn()
    full = solve(train, GaussNewton(), maxiters=6, dtype=torch.float64)
    path = tmp_path / "gn.pt"
    solve(train, GaussNewton(), maxiters=3, dtype=torch.float64, checkpoint=path)
    resumed = solve(train, GaussNewton(), maxiters=6, dtype=torch.float64, checkpoint=path, resume=True)
    assert resumed.history["loss"] == full.history["loss"]
    assert resumed.stats["evals"] == full.stats["evals"]


def test_evaluations_count_the_jacobians_and_the_trial_points():
    """``stats["evals"]``: one evaluation per Jacobian (taken by the optimizer itself) plus one per trial point
    (through the solve's closure, i.e. the loss)."""
    net, train = _pinn()
    calls = [0]

    class Counted:
        def __call__(self, model, *data):
            calls[0] += 1
            return train.loss(model, *data)

        def residual_blocks(self, *data, **kwargs):
            return train.loss.residual_blocks(*data, **kwargs)

    sol = solve(dataclasses.replace(train, loss=Counted()), GaussNewton(), maxiters=6, dtype=torch.float64)
    assert sol.stats["gn_jacobians"] == 6 and calls[0] >= sol.stats["gn_solves"] > 0
    assert sol.stats["evals"] == sol.stats["gn_jacobians"] + calls[0]


def test_interface():
    net, train = _pinn()
    check_algorithm(GaussNewton(), train, maxiters=2, dtype=torch.float64)


def test_auto_takes_gauss_newton_steps_for_a_least_squares_loss_that_fits():
    net, train = _pinn(width=10, points=60, boundary=24)
    made = {}

    class Spy(Auto):
        def make_optimizer(self, model, residual_blocks=None, kfac_blocks=None):
            made["opt"] = opt = super().make_optimizer(model, residual_blocks, kfac_blocks)
            return opt

    # one cheap dense matrix comes first (this network is tiny)
    solve(train, Spy(warmup_s=0.0, warmup_max_s=0.0), maxiters=6, dtype=torch.float64)
    assert made["opt"].plan["kind"] == "dense" and "residuals" not in made["opt"].plan
    # when a dense matrix costs too much per iteration: KFAC for a tanh MLP's PINN loss ...
    solve(train, Spy(warmup_s=0.0, warmup_max_s=0.0, dense_cost=1e-12), maxiters=6, dtype=torch.float64)
    assert made["opt"].plan["kind"] == "kfac-lbfgs"
    # ... and without it, Gauss-Newton
    auto = Spy(warmup_s=0.0, warmup_max_s=0.0, dense_cost=1e-12, kfac=False)
    solve(train, auto, maxiters=6, dtype=torch.float64)
    assert made["opt"].plan["kind"] == "gauss-newton" and made["opt"].plan["residuals"] == 60 + 24
    # the same problem with the step estimate over the limit, or without residuals: not Gauss-Newton
    solve(train, dataclasses.replace(auto, gauss_newton_max_s=0.0), maxiters=6, dtype=torch.float64)
    assert made["opt"].plan["kind"] != "gauss-newton"
    plain = dataclasses.replace(train, loss=lambda m, x: train.loss(m, x))
    solve(plain, auto, maxiters=6, dtype=torch.float64)
    assert made["opt"].plan["kind"] != "gauss-newton" and "residuals" not in made["opt"].plan


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"solver": "qr"}, "solver"),
        ({"damping": 0.0}, "damping"),
        ({"cg_iters": 0}, "cg_iters"),
        ({"min_alpha": 0.9}, "min_alpha"),
        ({"chunk": 1.5}, "chunk"),
        ({"max_tries": -1}, "max_tries"),
    ],
)
def test_bad_options(kwargs, match):
    net, train = _pinn()
    with pytest.raises((ValueError, TypeError), match=match):
        solve(train, GaussNewton(**kwargs), maxiters=1)


def test_bad_problems():
    net, train = _pinn()
    plain = dataclasses.replace(train, loss=lambda m, x: train.loss(m, x))
    with pytest.raises(ValueError, match="residual_blocks"):
        solve(plain, GaussNewton(), maxiters=1)
    with pytest.raises(ValueError, match="batch_size"):
        solve(dataclasses.replace(train, batch_size=5), GaussNewton(), maxiters=1)
    with pytest.raises(TypeError, match="residual_blocks"):
        GaussNewtonOptimizer(net.parameters(), net, None)
    with pytest.raises(ValueError, match="params"):
        GaussNewtonOptimizer(list(net.parameters())[:1], net, lambda: [])


def test_auto_falls_back_to_lbfgs_when_no_blocks_of_the_budget_can_be_cut():
    """A budget that allows blocks smaller than the network's narrowest split: L-BFGS, not an error (the 7x128 row
    of the PINN suite, 99,585 parameters and blocks of 513, failed before)."""
    from remodel_core.optim import AutoOptimizer

    torch.manual_seed(0)
    net = MLP(2, 1, width=128, depth=7).double()
    n = sum(p.numel() for p in net.parameters())
    opt = AutoOptimizer(
        net.parameters(), net, warmup_s=0.0, warmup_max_s=0.0, memory_mb=8 * n * 513 / 1e6, dense_cost=1e6, blocks=True
    )
    x = torch.rand(16, 2, dtype=torch.float64)

    def closure():
        opt.zero_grad()
        loss = (net(x) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(2):
        opt.step(closure)
    assert opt.plan["max_dense"] == 513 and opt.plan["kind"] == "lbfgs" and "too small" in opt.plan["no_blocks"]
    assert opt.structured is None and opt.phase == "lbfgs"
