"""Bad geometries, counts and options give clear errors that name the argument."""

import numpy as np
import pytest
import torch
from remodel_core import solve
from remodel_core.nn import MLP
from remodel_core.optim import Adam
from remodel_core.pde import (
    Ball,
    Box,
    Dirichlet,
    Disk,
    Interval,
    Neumann,
    PINNProblem,
    Polygon,
    Robin,
    SpaceTime,
    burgers,
    unit_points,
)
from remodel_sampling import (
    RAD,
    RARD,
    RARG,
    AdaptiveSampling,
    Grid,
    ImportanceSampling,
    Sobol,
    UniformRandom,
    density,
    weighted_choice,
    weighted_draw,
)

SQUARE = Box((0.0, 0.0), (1.0, 1.0))


def _pinn(domain=SQUARE, conditions=()):
    return PINNProblem(name="p", domain=domain, pde=lambda x, d: d.dxx(0), second=(0,), conditions=conditions)


def _train(n=16):
    return burgers().discretize(MLP(2, 1, width=4, depth=1), points=n, boundary_points=4, seed=0)


GEOMETRY = [
    (lambda: Box((0.0,), (1.0, 2.0)), ValueError, "low and high"),
    (lambda: Box((1.0, 0.0), (0.0, 1.0)), ValueError, "low"),
    (lambda: Box(("a",), (1.0,)), TypeError, "low and high"),
    (lambda: Interval(2.0, 1.0), ValueError, "low"),
    (lambda: Interval(0.0, float("inf")), ValueError, "low"),
    (lambda: Ball((0.0, 0.0), -1.0), ValueError, "radius"),
    (lambda: Ball((0.0, 0.0), 0.0), ValueError, "radius"),
    (lambda: Ball((0.0, 0.0), float("nan")), ValueError, "radius"),
    (lambda: Ball((0.0,), 1.0), ValueError, "center"),
    (lambda: Ball(("x", 0.0), 1.0), TypeError, "center"),
    (lambda: Disk((0.0, 0.0, 0.0), 1.0), ValueError, "center"),
    (lambda: Polygon([(0.0, 0.0), (1.0, 0.0)]), ValueError, "vertices"),
    (lambda: Polygon([(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)]), ValueError, "vertices"),
    (lambda: Polygon([(0.0, 0.0), (3.0, 0.0), (3.0, 1.0), (1.0, -1.0)]), ValueError, "vertices must form a simple"),
    (lambda: Polygon([(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0)]), ValueError, "vertices must enclose"),
    (lambda: Polygon([(0.0, 0.0), (1.0, 0.0), (1.0, 0.0), (0.0, 1.0)]), ValueError, "vertices"),
    (lambda: Polygon([(0.0, 0.0), (1.0, float("nan")), (0.0, 1.0)]), ValueError, "vertices"),
    (lambda: Polygon("abc"), (TypeError, ValueError), "vertices"),
    (lambda: SQUARE | Ball((0.0, 0.0, 0.0), 1.0), ValueError, "dimension"),
    (lambda: SQUARE - 3, TypeError, "b must be a Geometry"),
    (lambda: (SQUARE & Box((2.0, 2.0), (3.0, 3.0))).bounds, ValueError, "empty"),
    (lambda: SQUARE * Box((0.0, 0.0), (1.0, 1.0)), TypeError, "Interval"),
    (lambda: SpaceTime(SQUARE, 1.0, 0.0), ValueError, "t0"),
    (lambda: SpaceTime("square", 0.0, 1.0), TypeError, "space"),
    (lambda: SpaceTime(SQUARE * Interval(0.0, 1.0), 0.0, 1.0), ValueError, "space"),
]


@pytest.mark.parametrize("make, error, match", GEOMETRY)
def test_bad_geometry(make, error, match):
    with pytest.raises(error, match=match):
        make()


SAMPLING = [
    (lambda: SQUARE.sample(0, seed=0), ValueError, "n must"),
    (lambda: SQUARE.sample(2.5, seed=0), ValueError, "n must"),
    (lambda: SQUARE.sample(4, seed=0, method="random"), ValueError, "method"),
    (lambda: (SQUARE - Disk((0.5, 0.5), 0.3)).sample(-3, seed=0), ValueError, "n must"),
    (lambda: SQUARE.sample_boundary(0, seed=0), ValueError, "n must"),
    (lambda: SQUARE.sample_boundary(4, seed=0, pieces=["top"]), ValueError, "pieces"),
    (lambda: SQUARE.sample_boundary(4, seed=0, pieces=[]), ValueError, "pieces"),
    (lambda: Disk((0.0, 0.0), 1.0).sample_boundary(4, pieces="sphere"), ValueError, "pieces"),
    (lambda: SQUARE.contains(torch.zeros(3, 3)), ValueError, "x must"),
    (lambda: SQUARE.distance(torch.zeros(3)), ValueError, "x must"),
    (lambda: Disk((0.0, 0.0), 1.0).distance(torch.zeros(2, 3)), ValueError, "x must"),
    (lambda: SQUARE.grid(3), ValueError, "sizes"),
    (lambda: SQUARE.grid(1, 3), ValueError, "sizes"),
    (lambda: unit_points("sobol", 0, 2, seed=0), ValueError, "n must"),
    (lambda: unit_points("sobol", 4, 0, seed=0), ValueError, "dim must"),
    (lambda: unit_points("faure", 4, 2, seed=0), ValueError, "method"),
    (lambda: Sobol().sample(4, SQUARE, seed=-1), ValueError, "seed"),
    (lambda: UniformRandom().sample(0, SQUARE), ValueError, "n must"),
    (lambda: Grid().sample(4, [(1.0, 0.0)]), ValueError, "bounds"),
    (lambda: Sobol().sample(4, SQUARE, dtype=torch.int32), TypeError, "dtype"),
]


@pytest.mark.parametrize("call, error, match", SAMPLING)
def test_bad_counts_and_pieces(call, error, match):
    with pytest.raises(error, match=match):
        call()


CONDITIONS = [
    (lambda: Dirichlet("side", ((0, 0),), lambda x: x[:, 0]), ValueError, "group"),
    (lambda: Dirichlet("boundary", (), lambda x: x[:, 0]), ValueError, "faces"),
    (lambda: Dirichlet("boundary", ((0, 2),), lambda x: x[:, 0]), ValueError, "faces"),
    (lambda: Dirichlet("boundary", ((0, 0), "x0_low"), lambda x: x[:, 0]), ValueError, "faces"),
    (lambda: Dirichlet("boundary", ("all",), 1.0), TypeError, "target"),
    (lambda: Robin("boundary", ("all",), lambda x: x[:, 0], a=0.0, b=0.0), ValueError, "a and b"),
    (lambda: Robin("boundary", ("all",), lambda x: x[:, 0], a=float("nan")), ValueError, "a must"),
    (lambda: Robin("boundary", ("all",), "g"), TypeError, "target"),
    (lambda: Neumann("wall", ("all",), lambda x: x[:, 0]), ValueError, "group"),
    (
        lambda: Dirichlet("boundary", ((0, 0),), lambda x: x[:, 0]).sample(Disk((0.0, 0.0), 1.0), 4, seed=0),
        TypeError,
        "Box",
    ),
    (lambda: Dirichlet("boundary", ("edge9",), lambda x: x[:, 0]).sample(SQUARE, 4, seed=0), ValueError, "pieces"),
    (lambda: Dirichlet("boundary", ((5, 0),), lambda x: x[:, 0]).sample(SQUARE, 4, seed=0), ValueError, "faces"),
]


@pytest.mark.parametrize("make, error, match", CONDITIONS)
def test_bad_conditions(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_discretize_inputs():
    disk = Disk((0.0, 0.0), 1.0)
    prob = _pinn(
        disk, (Neumann("boundary", ("all",), lambda x: x[:, 0]), Dirichlet("boundary", ("all",), lambda x: x[:, 0]))
    )
    net = MLP(2, 1, width=4, depth=1)
    with pytest.raises(TypeError, match="domain must be a Geometry"):
        _pinn("square").discretize(net, points=4)
    with pytest.raises(ValueError, match="points must lie inside"):
        prob.discretize(net, points=torch.full((4, 2), 2.0), boundary_points=4)
    with pytest.raises(ValueError, match="points must be a tensor"):
        prob.discretize(net, points=torch.zeros(4, 3), boundary_points=4)
    with pytest.raises(ValueError, match="one entry per condition"):
        prob.discretize(net, points=4, boundary_points=[4])
    with pytest.raises(ValueError, match=r"boundary_points\[0\] must be a tensor of shape \[n, 4\]"):
        prob.discretize(net, points=4, boundary_points=[torch.zeros(3, 2), 4])
    with pytest.raises(ValueError, match=r"boundary_points\[1\] values"):
        prob.discretize(net, points=4, boundary_points=[4, (torch.zeros(3, 2), torch.zeros(5))])
    with pytest.raises(ValueError, match=r"boundary_points\[1\] must be finite"):
        prob.discretize(net, points=4, boundary_points=[4, torch.full((3, 2), float("nan"))])
    with pytest.raises(ValueError, match=r"boundary_points\[1\] must be a count"):
        prob.discretize(net, points=4, boundary_points=[4, (torch.zeros(3, 2),)])
    with pytest.raises(ValueError, match="boundary_points must be a positive integer"):
        prob.discretize(net, points=4, boundary_points=[0, 4])
    with pytest.raises(ValueError, match="points must be a positive integer"):
        prob.discretize(net, points=0, boundary_points=4)


STRATEGIES = [
    (lambda: RAD(k=-1.0), ValueError, "k must"),
    (lambda: RAD(c=float("inf")), ValueError, "c must"),
    (lambda: RAD(k=True), ValueError, "k must"),
    (lambda: RARG(m=0), ValueError, "m must"),
    (lambda: RARG(m=2.5), ValueError, "m must"),
    (lambda: RARD(m=-1), ValueError, "m must"),
    (lambda: RARD(k=float("nan")), ValueError, "k must"),
    (lambda: ImportanceSampling(c=-0.1), ValueError, "c must"),
    (lambda: RARG(m=100).initial_points(500, 5), ValueError, "m = 100"),
    (
        lambda: RAD().update(torch.zeros(10, 1), torch.zeros(5, 1), torch.ones(5), np.random.default_rng(0)),
        ValueError,
        "candidates",
    ),
    (lambda: density(np.array([])), ValueError, "residual_values"),
    (lambda: density(np.array([1.0, np.inf])), ValueError, "residual_values"),
    (lambda: weighted_choice(np.array([1.0, -1.0]), 1), ValueError, "weights"),
    (lambda: weighted_choice(np.array([1.0, 0.0]), 2), ValueError, "n = 2 distinct"),
    (lambda: weighted_choice(np.array([1.0]), 0), ValueError, "n must"),
    (lambda: weighted_draw(np.array([]), 1), ValueError, "weights"),
    (lambda: weighted_draw(np.zeros(3), 1), ValueError, "positive weights"),
]


@pytest.mark.parametrize("make, error, match", STRATEGIES)
def test_bad_strategies_and_draws(make, error, match):
    with pytest.raises(error, match=match):
        make()


ALGORITHM = [
    ({"inner": "adam"}, TypeError, "inner must"),
    ({"strategy": "rad"}, TypeError, "strategy must"),
    ({"every": 0}, ValueError, "every must"),
    ({"every": 2.5}, ValueError, "every must"),
    ({"candidates": -5}, ValueError, "candidates must"),
    ({"chunk": 0}, ValueError, "chunk must"),
    ({"rounds": -1}, ValueError, "rounds must"),
    ({"memory": "forget"}, ValueError, "memory must"),
    ({"candidate_sampler": "faure"}, ValueError, "sampler must"),
    ({"geometry": [(0, 1)]}, TypeError, "geometry must"),
    ({"residual": 3.0}, TypeError, "residual must"),
    ({"boundary": "yes"}, TypeError, "boundary must"),
    ({"balance": 1}, TypeError, "balance must"),
    ({"on_round": 1}, TypeError, "on_round must"),
    # 10 candidates for 16 points: RAD failed only at its first round, after `every` iterations of training
    ({"candidates": 10, "every": 5}, ValueError, "candidates must be at least the number of collocation points"),
    # a 1-D geometry for 2-D points: a raw shape error of the network at the first round
    ({"geometry": Box((0.0,), (1.0,)), "every": 5}, ValueError, "geometry has dimension 1"),
]


@pytest.mark.parametrize("change, error, match", ALGORITHM)
def test_bad_adaptive_sampling_options(change, error, match):
    options = {"inner": Adam(lr=1e-3), "strategy": RAD(), "every": 1, "candidates": 50, **change}
    with pytest.raises(error, match=match):
        solve(_train(), AdaptiveSampling(**options), maxiters=1)


def test_adaptive_sampling_needs_points_and_a_residual():
    from remodel_core import TrainingProblem

    no_data = TrainingProblem(model=torch.nn.Linear(2, 1), loss=lambda m: m.weight.sum())
    with pytest.raises(ValueError, match="with data"):
        solve(no_data, AdaptiveSampling(inner=Adam(), strategy=RAD()), maxiters=1)
    not_pinn = TrainingProblem(model=torch.nn.Linear(2, 1), loss=lambda m, x: m(x).sum(), data=(torch.rand(8, 2),))
    with pytest.raises(ValueError, match="residual="):
        solve(not_pinn, AdaptiveSampling(inner=Adam(), strategy=RAD()), maxiters=1)
    with pytest.raises(ValueError, match="geometry="):
        solve(not_pinn, AdaptiveSampling(inner=Adam(), strategy=RAD(), residual=lambda m, x: x[:, 0]), maxiters=1)
    # three values for 50 candidates: "n = 16 distinct draws need at least n positive weights, got 3"
    short = AdaptiveSampling(inner=Adam(), strategy=RAD(), every=1, candidates=50, residual=lambda m, x: x[:3, 0])
    with pytest.raises(ValueError, match=r"residual must return one value per point \(50\), got 3"):
        solve(_train(), short, maxiters=3, dtype=torch.float64)
    with pytest.raises(ValueError, match="data_parallel"):  # checkpoints are supported, data parallelism is not
        solve(_train(), AdaptiveSampling(inner=Adam(), strategy=RAD()), maxiters=1, data_parallel=True)
