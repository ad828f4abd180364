"""Burgers: Cole–Hopf reference against Basdevant et al. (1986), and its PINN discretisation."""

import math

import numpy as np
import pytest
import scipy.optimize
import torch
from remodel_core import TrainingProblem, solve
from remodel_core.nn import ResNetMLP
from remodel_core.optim import Adam
from remodel_core.pde import PINNProblem, burgers, burgers_cole_hopf


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """All tests here run on one intra-op thread (the root conftest.py)."""


NU = 0.01 / math.pi


def test_initial_condition_reproduced():
    x = np.linspace(-1, 1, 41)
    np.testing.assert_allclose(burgers_cole_hopf(x, 0.0 * x, NU), -np.sin(np.pi * x), atol=1e-14)
    # and at a very small time the solution has barely moved
    np.testing.assert_allclose(burgers_cole_hopf(x, 1e-6 + 0 * x, NU), -np.sin(np.pi * x), atol=1e-5)


def test_antisymmetry_and_boundary():
    x = np.linspace(0, 1, 33)
    t = np.linspace(0, 1, 11)[:, None]
    np.testing.assert_allclose(burgers_cole_hopf(-x, t, NU), -burgers_cole_hopf(x, t, NU), atol=1e-13)
    np.testing.assert_allclose(burgers_cole_hopf(np.array([-1.0, 1.0]), t, NU), 0.0, atol=1e-12)


def test_basdevant_maximum_slope():
    """max |u_x(0, t)| = 152.00516 at t = 1.6037/pi (Basdevant et al. 1986, table of the maximum slope)."""
    t_star = 1.6037 / math.pi
    _, ux = burgers_cole_hopf(0.0, t_star, NU, derivative=True)
    assert abs(-ux - 152.00516) / 152.00516 < 1e-5
    res = scipy.optimize.minimize_scalar(
        lambda t: float(burgers_cole_hopf(0.0, t, NU, derivative=True)[1]),
        bounds=(0.45, 0.55),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert abs(-res.fun - 152.00516) / 152.00516 < 1e-5
    assert abs(res.x * math.pi - 1.6037) < 1e-3


def test_analytic_slope_matches_difference_quotient():
    x, t, h = np.array([-0.3, 0.02, 0.4]), 0.3, 1e-5
    _, ux = burgers_cole_hopf(x, t, NU, derivative=True)
    fd = (burgers_cole_hopf(x + h, t, NU) - burgers_cole_hopf(x - h, t, NU)) / (2 * h)
    np.testing.assert_allclose(ux, fd, rtol=1e-6)


def test_reference_satisfies_pde():
    """Finite differences of the exact solution (smooth region, t = 0.2) nearly cancel in the residual."""
    x, t, h = np.linspace(-0.8, 0.8, 9), 0.2, 1e-4
    u = burgers_cole_hopf(x, t, NU)
    ut = (burgers_cole_hopf(x, t + h, NU) - burgers_cole_hopf(x, t - h, NU)) / (2 * h)
    up, um = burgers_cole_hopf(x + h, t, NU), burgers_cole_hopf(x - h, t, NU)
    ux, uxx = (up - um) / (2 * h), (up - 2 * u + um) / h**2
    assert np.abs(ut + u * ux - NU * uxx).max() < 1e-4


def test_discretize_builds_training_problem():
    prob = burgers()
    assert isinstance(prob, PINNProblem)
    net = ResNetMLP(2, 1, width=8, depth=2).double()
    train = prob.discretize(net, points=100, boundary_points=20, seed=3)
    assert isinstance(train, TrainingProblem) and train.name == "burgers"
    (x,) = train.data
    assert x.shape == (100, 2) and x.dtype == torch.float64
    assert bool(prob.domain.contains(x).all())
    again = prob.discretize(net, points=100, boundary_points=20, seed=3)
    assert torch.equal(x, again.data[0])
    assert not torch.equal(x, prob.discretize(net, points=100, seed=4).data[0])
    assert set(train.metrics) == {"rel_l2"}
    pts = torch.rand(7, 2, dtype=torch.float64)
    custom = prob.discretize(net, points=pts, boundary_points={"initial": 8, "boundary": 6})
    assert [p.shape[0] for p in custom.loss.fixed] == [8, 6]
    assert torch.equal(custom.data[0], pts)
    value = train.loss(net, x)
    assert value.ndim == 0 and value.item() > 0


def test_loss_zero_weights_and_terms():
    prob = burgers()
    net = ResNetMLP(2, 1, width=8, depth=2).double()
    x = prob.domain.sample(50, seed=0)
    only_res = prob.discretize(net, points=x, weights={"initial": 0, "boundary": 0})
    r = prob.residual(net, x)
    torch.testing.assert_close(only_res.loss(net, x), r.pow(2).mean())
    full = prob.discretize(net, points=x, boundary_points=16)
    terms = full.loss.terms(net, x)
    assert set(terms) == {"residual", "initial", "boundary"}
    torch.testing.assert_close(full.loss(net, x), sum(terms.values()))
    # the initial term is the mismatch with -sin(pi x) at t = 0
    x0 = prob.condition_points(16)[0]
    torch.testing.assert_close(terms["initial"], (net(x0)[:, 0] + torch.sin(math.pi * x0[:, 0])).pow(2).mean())


def test_relative_l2_of_reference_is_zero():
    prob = burgers()

    class Exact(torch.nn.Module):
        def forward(self, x):
            return prob.reference(x)[:, None]

    pts, ref = prob.evaluation_set()
    assert pts.shape == (256 * 100, 2)
    assert prob.relative_l2(Exact()) == 0.0


def test_training_reduces_loss():
    prob = burgers()
    torch.manual_seed(0)
    train = prob.discretize(ResNetMLP(2, 1, width=10, depth=2), points=256, boundary_points=32, seed=0)
    sol = solve(train, Adam(lr=1e-2), maxiters=60, seed=0, dtype=torch.float64, monitor_every=30)
    assert sol.history["loss"][-1] < 0.5 * sol.history["loss"][0]
    assert len([r for r in sol.history["rel_l2"] if r == r]) >= 2  # the metric was monitored


@pytest.mark.parametrize(
    "bad",
    [
        dict(points=0),
        dict(points=-3),
        dict(boundary_points=0),
        dict(weights={"resid": 1.0}),
        dict(weights={"residual": -1.0}),
        dict(derivatives="magic"),
        dict(points=torch.zeros(5, 3)),
        dict(boundary_points={"initial": 8}),
    ],
)
def test_discretize_rejects_bad_input(bad):
    with pytest.raises((ValueError, TypeError)) as err:
        burgers().discretize(ResNetMLP(2, 1, width=4, depth=1), **bad)
    assert next(iter(bad)) in str(err.value)


def test_bad_nu():
    with pytest.raises(ValueError, match="nu"):
        burgers(nu=0.0)
    with pytest.raises(ValueError, match="nu"):
        burgers_cole_hopf(0.0, 0.1, -1.0)
