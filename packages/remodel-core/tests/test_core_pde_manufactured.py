"""Klein–Gordon and Poisson: the manufactured solutions satisfy their PDEs and conditions (autograd)."""

import math

import pytest
import torch
from remodel_core.pde import (
    Box,
    PINNProblem,
    derivatives,
    klein_gordon,
    klein_gordon_solution,
    poisson2d,
)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """All tests here run on one intra-op thread (the root conftest.py)."""


class Exact(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x):
        return (self.fn(x) + 0 * self.dummy)[:, None]


@pytest.mark.parametrize("route", ["autograd", "func"])
def test_klein_gordon_exact_residual_vanishes(route):
    prob = klein_gordon()
    x = prob.domain.sample(500, seed=0)
    r = prob.residual(Exact(klein_gordon_solution), x, derivatives_route=route)
    assert r.abs().max() < 1e-10
    # conditions: u(x,0) = x, u_t(x,0) = 0, u(0,t) = 0, u(1,t) = cos(5 pi t) + t^3
    model = Exact(klein_gordon_solution)
    for cond, pts in zip(prob.conditions, prob.condition_points(64)):
        assert cond.residual(model, pts, route).abs().max() < 1e-12
    t = torch.linspace(0, 1, 5, dtype=torch.float64)
    ones = torch.ones_like(t)
    torch.testing.assert_close(klein_gordon_solution(torch.stack([ones, t], 1)), torch.cos(5 * math.pi * t) + t**3)


def test_klein_gordon_wrong_solution_has_residual():
    prob = klein_gordon()
    x = prob.domain.sample(100, seed=0)
    r = prob.residual(Exact(lambda z: klein_gordon_solution(z) + 0.1 * z[:, 0] * z[:, 1] ** 2), x)
    assert r.abs().max() > 1e-2


@pytest.mark.parametrize("k", [(1, 1), (2, 3)])
def test_poisson_exact_residual_vanishes(k):
    prob = poisson2d(*k)
    x = prob.domain.sample(300, seed=1)
    model = Exact(lambda z: torch.sin(k[0] * math.pi * z[:, 0]) * torch.sin(k[1] * math.pi * z[:, 1]))
    assert prob.residual(model, x).abs().max() < 1e-9
    (xb,) = prob.condition_points(40)
    assert xb.shape == (40, 2)
    assert prob.conditions[0].residual(model, xb).abs().max() < 1e-12
    assert prob.relative_l2(model) < 1e-15


def test_relative_l2_scales():
    prob = poisson2d()
    model = Exact(lambda z: 1.1 * torch.sin(math.pi * z[:, 0]) * torch.sin(math.pi * z[:, 1]))
    assert abs(prob.relative_l2(model) - 0.1) < 1e-12


def test_bad_problem_inputs():
    with pytest.raises(ValueError, match="kx"):
        poisson2d(kx=0)
    with pytest.raises(ValueError, match="x must"):
        klein_gordon().reference(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="low"):
        Box((0.0, 1.0), (1.0, 1.0))
    bad = PINNProblem(name="bad", domain=Box((0.0,), (1.0,)), pde=lambda x, d: d.u, second=(1,))
    with pytest.raises(ValueError, match="second"):
        bad.validate()
    with pytest.raises(ValueError, match="reference"):
        bad.reference(torch.zeros(2, 1))
    with pytest.raises(ValueError, match="second"):
        derivatives(torch.nn.Linear(1, 1), torch.zeros(2, 1), second=(3,))


def test_box_sampling_is_seeded_and_inside():
    box = Box((-1.0, 0.0, 2.0), (1.0, 0.5, 3.0))
    a, b = box.sample(100, seed=5), box.sample(100, seed=5)
    assert torch.equal(a, b) and bool(box.contains(a).all())
    face = box.sample_face(10, dim=2, side=1, seed=0)
    assert torch.all(face[:, 2] == 3.0) and bool(box.contains(face).all())
    assert box.grid(3, 4, 5).shape == (60, 3)


class FourierFeatures(torch.nn.Module):
    """Random Fourier features (Tancik et al., NeurIPS 2020) before an MLP: its first Linear takes 2 m inputs."""

    def __init__(self, m: int = 4):
        super().__init__()
        self.register_buffer("B", torch.randn(2, m, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
        self.net = torch.nn.Sequential(torch.nn.Linear(2 * m, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()

    def forward(self, x):
        z = x @ self.B
        return self.net(torch.cat([z.sin(), z.cos()], -1))


def test_a_network_with_a_feature_map_is_accepted_and_its_residual_is_the_pde():
    """discretize takes a network whose first Linear does not see the coordinates (a feature map comes first),
    and its loss is the mean squared Poisson residual of that network (nested autograd)."""
    prob = poisson2d()
    torch.manual_seed(0)
    net = FourierFeatures()
    train = prob.discretize(net, points=32, boundary_points=16, seed=0, weights={"boundary": 0.0})
    (x,) = train.data
    d = derivatives(net, x, second=(0, 1))
    expected = prob.pde(x, d).pow(2).mean()
    torch.testing.assert_close(train.loss(net, x), expected, rtol=1e-12, atol=0)
