"""Systems and trajectory datasets: exact solutions, conservation laws, derivatives, splits, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from remodel_dynamics import (
    DoublePendulum,
    HamiltonianProblem,
    HamiltonianSystem,
    Lorenz,
    MassSpring,
    Pendulum,
    TwoBody,
)
from remodel_dynamics.sindy import PolynomialLibrary, finite_difference

F64 = torch.float64


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread_module):
    """All tests and module fixtures here run on one intra-op thread (the root conftest.py)."""


def test_mass_spring_exact_flow_matches_symplectic_integration():
    system = MassSpring(k=2.0, m=0.5)
    x0 = system.sample_initial(4, np.random.default_rng(0))
    t = torch.linspace(0, 3, 31, dtype=F64)
    exact = system.flow(x0, t)
    numeric = HamiltonianSystem.flow(system, x0, t)
    torch.testing.assert_close(exact, numeric, atol=1e-10, rtol=0)
    assert abs(2 * math.pi / math.sqrt(system.k / system.m) - math.pi) < 1e-15


@pytest.mark.parametrize("system", [Pendulum(m=0.5, l=1.0, g=6.0), TwoBody()])
def test_flows_conserve_energy(system):
    x0 = system.sample_initial(3, np.random.default_rng(1))
    traj = system.flow(x0, torch.linspace(0, 5, 11, dtype=F64))
    e = system.energy(traj)
    assert float((e - e[:, :1]).abs().max()) < 1e-10


def test_two_body_conserves_momentum_and_angular_momentum():
    system = TwoBody()
    traj = system.flow(system.sample_initial(3, np.random.default_rng(2)), torch.linspace(0, 5, 6, dtype=F64))
    q, p = traj[..., :4], traj[..., 4:]
    total_p = p[..., :2] + p[..., 2:]
    assert float(total_p.abs().max()) < 1e-12
    ang = (q[..., 0] * p[..., 1] - q[..., 1] * p[..., 0]) + (q[..., 2] * p[..., 3] - q[..., 3] * p[..., 2])
    assert float((ang - ang[:, :1]).abs().max()) < 1e-10


def test_two_body_initial_orbit_is_near_circular():
    system = TwoBody(orbit_noise=0.0)
    x0 = system.sample_initial(5, np.random.default_rng(3))
    traj = system.flow(x0, torch.linspace(0, 3, 7, dtype=F64))
    sep = torch.linalg.vector_norm(traj[..., :2] - traj[..., 2:4], dim=-1)
    assert float((sep / sep[:, :1] - 1).abs().max()) < 1e-9


def test_double_pendulum_accelerations_satisfy_euler_lagrange_and_conserve_energy():
    dp = DoublePendulum(m1=1.0, m2=2.0, l1=1.5, l2=0.7, g=9.81)
    s = dp.sample_initial(5, np.random.default_rng(0))
    q, v = s[:, :2].clone().requires_grad_(True), s[:, 2:].clone().requires_grad_(True)
    a = dp.acceleration(q.detach(), v.detach())
    # d/dt dL/dv - dL/dq = 0 along the motion: differentiate dL/dv along (v, a)
    L = dp.lagrangian(q, v).sum()
    dl_dq, dl_dv = torch.autograd.grad(L, (q, v), create_graph=True)
    rows = []
    for i in range(2):
        gq, gv = torch.autograd.grad(dl_dv[:, i].sum(), (q, v), retain_graph=True)
        rows.append((gq * v).sum(-1) + (gv * a).sum(-1) - dl_dq[:, i])
    assert float(torch.stack(rows).abs().max()) < 1e-12
    traj = dp.flow(s, torch.linspace(0, 5, 11, dtype=F64))
    e = dp.energy(traj)
    assert float((e - e[:, :1]).abs().max()) < 1e-8


def test_lorenz_coefficients_reproduce_vector_field():
    lz = Lorenz()
    x = torch.randn(20, 3, dtype=F64)
    theta = PolynomialLibrary(degree=2).fit(x.numpy()).transform(x.numpy())
    np.testing.assert_allclose(theta @ lz.coefficients().T, lz.vector_field(x).numpy(), rtol=1e-13, atol=1e-12)


def test_dataset_derivatives_views_and_split():
    system = Pendulum()
    prob = HamiltonianProblem.generate(system, n_trajectories=6, t_span=(0, 3), n_times=60, noise=0.0, seed=0)
    fd = finite_difference(prob.x[0].numpy(), prob.t.numpy(), order=6)
    np.testing.assert_allclose(fd, prob.dx[0].numpy(), atol=1e-6)
    x, dx = prob.points()
    assert x.shape == dx.shape == (360, 2)
    x0, x1 = prob.pairs()
    assert x0.shape == x1.shape == (354, 2)
    s, a = prob.lagrangian_points()
    torch.testing.assert_close(a, -torch.sin(s[:, :1]))  # m = l = g = 1
    train, test = prob.split(0.5, seed=0)
    assert train.n_trajectories == test.n_trajectories == 3
    noisy = HamiltonianProblem.generate(system, n_trajectories=6, n_times=60, noise=0.1, seed=0)
    resid = noisy.x - noisy.x_clean
    assert 0.07 < float(resid.std()) < 0.13
    torch.testing.assert_close(noisy.dx, prob.dx)


def test_dataset_bad_input():
    with pytest.raises(TypeError, match="system"):
        HamiltonianProblem.generate(Lorenz())
    with pytest.raises(ValueError, match="noise"):
        HamiltonianProblem.generate(MassSpring(), noise=-1.0)
    with pytest.raises(ValueError, match="n_times"):
        HamiltonianProblem.generate(MassSpring(), n_times=1)
    prob = HamiltonianProblem.generate(MassSpring(), n_trajectories=2, n_times=5)
    with pytest.raises(ValueError, match="dx must have the shape"):
        HamiltonianProblem(system=MassSpring(), t=prob.t, x=prob.x, dx=prob.dx[:, :3])
    with pytest.raises(ValueError, match="test_fraction"):
        prob.split(1.5)
    with pytest.raises(ValueError, match="last dimension"):
        MassSpring().energy(torch.zeros(3, 3))


def test_energy_drift_is_relative_and_absolute_where_the_energy_starts_at_zero():
    """``|H(x_T) - H(x_0)| / |H(x_0)|``, negative energies included (Kepler orbits); where ``H(x_0) = 0`` the
    absolute drift, not NaN."""
    from remodel_dynamics import energy_drift

    E = lambda x: x.sum(-1)  # noqa: E731
    traj = torch.tensor([[[-2.0], [-1.0]], [[0.0], [0.5]], [[4.0], [4.0]]], dtype=torch.float64)
    assert energy_drift(E, traj).tolist() == [0.5, 0.5, 0.0]
