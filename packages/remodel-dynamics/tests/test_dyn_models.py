"""HNN, LNN, SympNets and the baseline: structure (divergence-free, symplectic), exactness, training, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from remodel_core import ReturnCode, solve
from remodel_core.optim import Adam
from remodel_dynamics import (
    HNN,
    LNN,
    BaselineMLP,
    DoublePendulum,
    GSympNet,
    HamiltonianProblem,
    LASympNet,
    MassSpring,
    TwoBody,
)
from torch import nn

F64 = torch.float64


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread_module):
    """All tests and module fixtures here run on one intra-op thread (the root conftest.py)."""


class _Fixed(nn.Module):
    """A 'network' computing a given scalar function of the state (to test the model's calculus exactly)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.dummy = nn.Parameter(torch.zeros(1, dtype=F64))

    def forward(self, x):
        return self.fn(x).unsqueeze(-1) + 0 * self.dummy


@pytest.fixture(scope="module")
def spring_data():
    return HamiltonianProblem.generate(MassSpring(), n_trajectories=6, n_times=20, noise=0.0, seed=0)


@pytest.mark.parametrize("dim", [2, 4, 8])
def test_hnn_vector_field_is_divergence_free(dim):
    torch.manual_seed(0)
    model = HNN(dim, width=32, depth=3).to(F64)
    for x in torch.randn(5, dim, dtype=F64):
        jac = torch.autograd.functional.jacobian(model.time_derivative, x.unsqueeze(0)).reshape(dim, dim)
        assert abs(float(torch.trace(jac))) < 1e-12
        # J = Omega Hess(H): Omega^{-1} J is symmetric (a Hamiltonian vector field)
        omega = torch.zeros(dim, dim, dtype=F64)
        d = dim // 2
        omega[:d, d:], omega[d:, :d] = torch.eye(d), -torch.eye(d)
        hess = omega.T @ jac
        torch.testing.assert_close(hess, hess.T, atol=1e-12, rtol=0)


def test_baseline_vector_field_is_not_divergence_free():
    torch.manual_seed(0)
    model = BaselineMLP(2, width=32, depth=2).to(F64)
    jac = torch.autograd.functional.jacobian(model.time_derivative, torch.randn(1, 2, dtype=F64)).reshape(2, 2)
    assert abs(float(torch.trace(jac))) > 1e-6


def test_hnn_with_true_hamiltonian_gives_true_field():
    system = TwoBody()
    model = HNN(8, width=4, depth=1).to(F64)
    model.net = _Fixed(system.energy)
    x = system.sample_initial(6, np.random.default_rng(0))
    torch.testing.assert_close(model.time_derivative(x), system.vector_field(x), atol=1e-12, rtol=1e-12)


def test_lnn_with_true_lagrangian_gives_true_accelerations():
    dp = DoublePendulum()
    model = LNN(4, width=4, depth=1).to(F64)
    model.net = _Fixed(lambda s: dp.lagrangian(s[..., :2], s[..., 2:]))
    s = dp.sample_initial(7, np.random.default_rng(0))
    torch.testing.assert_close(model.acceleration(s), dp.acceleration(s[:, :2], s[:, 2:]), atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(model.energy(s), dp.energy(s), atol=1e-12, rtol=1e-12)


def _omega(d: int) -> torch.Tensor:
    om = torch.zeros(2 * d, 2 * d, dtype=F64)
    om[:d, d:], om[d:, :d] = torch.eye(d, dtype=F64), -torch.eye(d, dtype=F64)
    return om


@pytest.mark.parametrize(
    "make",
    [
        lambda dim: LASympNet(dim, h=0.1, layers=4, sublayers=3),
        lambda dim: GSympNet(dim, h=0.1, layers=5, width=16),
    ],
)
@pytest.mark.parametrize("dim", [2, 6])
def test_sympnet_maps_are_symplectic(make, dim):
    torch.manual_seed(0)
    net = make(dim).to(F64)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.5 * torch.randn_like(p))  # far from the identity
    om = _omega(dim // 2)
    for x in torch.randn(4, dim, dtype=F64):
        jac = torch.autograd.functional.jacobian(net, x)
        assert float((jac - torch.eye(dim, dtype=F64)).abs().max()) > 1e-2
        torch.testing.assert_close(jac.T @ om @ jac, om, atol=1e-10, rtol=0)


def test_hnn_training_learns_mass_spring(spring_data):
    torch.manual_seed(0)
    prob = spring_data.discretize(HNN(2, width=64, depth=2))
    sol = solve(prob, Adam(lr=3e-3), maxiters=300, dtype=F64, seed=0)
    assert sol.retcode is ReturnCode.MaxIters
    assert sol.history["loss"][-1] < 1e-2 * sol.history["loss"][0]
    x, dx = spring_data.points()
    rel = float(((sol.u.time_derivative(x) - dx) ** 2).mean() / (dx**2).mean())
    assert rel < 1e-2


def test_pair_losses_with_integrator_inside(spring_data):
    torch.manual_seed(0)
    for model, method in [(HNN(2, width=32, depth=2), "implicit_midpoint"), (BaselineMLP(2, width=32, depth=2), "rk4")]:
        prob = spring_data.discretize(model, target="pairs", method=method)
        sol = solve(prob, Adam(lr=3e-3), maxiters=60, dtype=F64, seed=0)
        assert sol.history["loss"][-1] < 0.2 * sol.history["loss"][0], type(model).__name__


def test_pair_loss_gradient_through_implicit_midpoint(spring_data):
    torch.manual_seed(0)
    model = HNN(2, width=8, depth=1).to(F64)
    x0, x1 = spring_data.pairs()
    prob = spring_data.discretize(model, target="pairs")
    params = list(model.parameters())

    def loss_of(w):
        with torch.no_grad():
            params[0].copy_(w)
        return prob.loss(model, x0[:10], x1[:10])

    w0 = params[0].detach().clone()
    loss = prob.loss(model, x0[:10], x1[:10])
    (g,) = torch.autograd.grad(loss, params[0])
    direction = torch.randn_like(w0)
    eps = 1e-6
    fd = (loss_of(w0 + eps * direction) - loss_of(w0 - eps * direction)) / (2 * eps)
    assert abs(float(fd) - float((g * direction).sum())) < 1e-7 * max(1.0, abs(float(fd)))


def test_sympnet_learns_flow_map(spring_data):
    torch.manual_seed(0)
    net = GSympNet(2, h=spring_data.dt, layers=4, width=16)
    sol = solve(spring_data.discretize(net, target="pairs"), Adam(lr=1e-2), maxiters=200, dtype=F64, seed=0)
    assert sol.history["loss"][-1] < 0.05 * sol.history["loss"][0]
    traj = sol.u.rollout(spring_data.x[:2, 0], spring_data.t)
    assert traj.shape == (2, spring_data.t.numel(), 2)


def test_lnn_training_reduces_loss(spring_data):
    torch.manual_seed(0)
    sol = solve(spring_data.discretize(LNN(2, width=32, depth=2)), Adam(lr=3e-3), maxiters=100, dtype=F64, seed=0)
    assert sol.retcode is ReturnCode.MaxIters
    assert sol.history["loss"][-1] < 0.1 * sol.history["loss"][0]


def test_hnn_symplectic_rollout_keeps_learned_energy(spring_data):
    torch.manual_seed(0)
    model = HNN(2, width=16, depth=2).to(F64)
    x0 = spring_data.x[:3, 0]
    t = torch.arange(0, 201, dtype=F64) * 0.1
    mid = model.rollout(x0, t, method="implicit_midpoint")
    rk = model.rollout(x0, t, method="euler")
    h_mid = model.hamiltonian(mid)
    h_rk = model.hamiltonian(rk)
    drift_mid = float((h_mid - h_mid[:, :1]).abs().max())
    drift_rk = float((h_rk - h_rk[:, :1]).abs().max())
    assert drift_mid < 1e-2 * drift_rk


def test_bad_shapes_and_options_give_clear_errors(spring_data):
    with pytest.raises(ValueError, match="dim"):
        HNN(3)
    with pytest.raises(ValueError, match="init"):
        BaselineMLP(2, init="xavier")
    with pytest.raises(ValueError, match="last dimension 2"):
        HNN(2).time_derivative(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="dimension 4"):
        spring_data.discretize(HNN(4))
    with pytest.raises(ValueError, match="target"):
        spring_data.discretize(GSympNet(2, h=0.1), target="derivatives")
    with pytest.raises(ValueError, match="target"):
        spring_data.discretize(HNN(2), target="trajectories")
    with pytest.raises(ValueError, match="h="):
        spring_data.discretize(GSympNet(2, h=0.07), target="pairs")
    with pytest.raises(TypeError, match="model"):
        spring_data.discretize(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="vector field"):
        GSympNet(2, h=0.1).time_derivative(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="x must have shape"):
        HamiltonianProblem(system=MassSpring(), t=spring_data.t, x=torch.zeros(2, 20, 3), dx=torch.zeros(2, 20, 3))
    with pytest.raises(ValueError, match="strictly increasing"):
        HNN(2).rollout(torch.zeros(1, 2), torch.tensor([0.0, 0.0]))


def test_float32_time_grids_train_and_roll_out_sympnets():
    """Before: float32 data (``generate(dtype=float32)``) had "the time grid is not uniform" and a float32
    ``t`` (``torch.linspace``) a step "not a multiple" of ``h``: steps of a float32 grid differ by ulps."""
    data = HamiltonianProblem.generate(MassSpring(), n_trajectories=4, n_times=30, seed=0, dtype=torch.float32)
    assert abs(data.dt - 0.1) < 1e-6
    torch.manual_seed(0)
    sol = solve(data.discretize(GSympNet(2, h=0.1, layers=2, width=8), target="pairs"), Adam(lr=1e-2), maxiters=3)
    assert sol.u.rollout(data.x[:2, 0], torch.linspace(0, 2, 21)).shape == (2, 21, 2)
    assert data.discretize(HNN(2, width=8, depth=1), target="pairs").name == "hnn-mass_spring-pairs"
    with pytest.raises(ValueError, match="uniformly spaced"):  # a grid that is not uniform is still refused
        sol.u.rollout(data.x[:2, 0], torch.tensor([0.0, 0.1, 0.3]))
    with pytest.raises(ValueError, match="not a multiple"):
        sol.u.rollout(data.x[:2, 0], torch.linspace(0, 1.5, 11))


@pytest.mark.parametrize("make", [lambda: HNN(2, width=4, depth=1), lambda: GSympNet(2, h=0.1, width=4)])
def test_rollout_names_a_dtype_mismatch(make):
    """Before: a float32 model rolled out from float64 states failed in torch ('mat1 and mat2 ...')."""
    with pytest.raises(TypeError, match="x0 has dtype torch.float64 but the model's parameters are torch.float32"):
        make().rollout(torch.zeros(1, 2, dtype=F64), torch.linspace(0, 1, 11, dtype=F64))
    assert make().double().rollout(torch.zeros(1, 2, dtype=F64), torch.linspace(0, 1, 11, dtype=F64)).dtype == F64


def test_problem_refuses_non_finite_clean_states(spring_data):
    bad = spring_data.x.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="x_clean must be finite"):
        HamiltonianProblem(system=MassSpring(), t=spring_data.t, x=spring_data.x, dx=spring_data.dx, x_clean=bad)
