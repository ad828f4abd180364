import math

import pytest
import torch
from remodel_core.nn import MLP
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
)
from remodel_sampling import Halton, LatinHypercube, Sobol, UniformRandom, holes_domain, poisson_holes

SQUARE = Box((-1.0, -1.0), (1.0, 1.0))
L_SHAPE = Polygon([(0.0, 0.0), (2.0, 0.0), (2.0, 1.0), (1.0, 1.0), (1.0, 2.0), (0.0, 2.0)])
DOMAINS = {
    "box_minus_disc": SQUARE - Disk((0.2, 0.1), 0.5),
    "union_of_discs": Disk((0.0, 0.0), 1.0) | Disk((1.2, 0.0), 0.7),
    "lens": Disk((0.0, 0.0), 1.0) & Disk((1.0, 0.0), 1.0),
    "l_shape_minus_square": L_SHAPE - Box((0.3, 0.3), (0.7, 0.7)),
    "holes": holes_domain(),
    "ball_minus_box_3d": Ball((0.0, 0.0, 0.0), 1.0) - Box((-0.3, -0.3, -2.0), (0.3, 0.3, 2.0)),
    "space_time": (SQUARE - Disk((0.0, 0.0), 0.4)) * Interval(0.0, 0.5),
}


@pytest.mark.parametrize("name", list(DOMAINS))
def test_csg_interior_points_inside_and_boundary_points_on_it_with_outward_unit_normals(name):
    g = DOMAINS[name]
    x = g.sample(400, seed=1)
    assert x.shape == (400, g.dim) and bool(g.contains(x).all())
    xb, nb = g.sample_boundary(600, seed=2)
    assert xb.shape == nb.shape == (600, g.dim)
    assert float(g.distance(xb).abs().max()) < 1e-12  # on the boundary
    assert float((nb.norm(dim=1) - 1).abs().max()) < 1e-12  # unit normals
    h = 1e-7  # outward: a small step along n leaves the domain, a step against it enters
    assert bool((g.distance(xb + h * nb) > 0).all()) and bool((g.distance(xb - h * nb) < 0).all())


def test_boundary_points_cover_every_piece_in_proportion_to_its_length():
    g = SQUARE - Disk((0.0, 0.0), 0.5)
    xb, _ = g.sample_boundary(20_000, seed=0)
    on_circle = float(((xb.norm(dim=1) - 0.5).abs() < 1e-12).double().mean())
    expected = math.pi / (8.0 + math.pi)  # circle length / (square perimeter + circle length)
    assert abs(on_circle - expected) < 0.01
    xc, nc = g.sample_boundary(50, seed=0, pieces="1/circle")
    assert torch.allclose(nc, -xc / 0.5)  # the normal of a hole points into the hole


def test_signed_distance_of_primitives_and_volumes():
    x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.5, 0.5]], dtype=torch.float64)
    assert torch.allclose(SQUARE.distance(x), torch.tensor([-1.0, 1.0, -0.5], dtype=torch.float64))
    assert torch.allclose(
        Disk((0.0, 0.0), 1.0).distance(x), torch.tensor([-1.0, 1.0, 0.5**0.5 - 1], dtype=torch.float64)
    )
    assert L_SHAPE.volume() == 3.0
    assert L_SHAPE.distance(torch.tensor([[1.5, 1.5]], dtype=torch.float64)).item() == pytest.approx(0.5)
    assert abs(DOMAINS["box_minus_disc"].volume() - (4 - math.pi * 0.25)) < 5e-3
    tri = Polygon([(0.0, 0.0), (0.0, 1.0), (1.0, 0.0)])  # clockwise input is reoriented
    _, n = tri.sample_boundary(30, seed=0, pieces=["edge0"])
    assert bool((g := tri.distance(tri.sample(100, seed=0))).lt(0).all()) and g.shape == (100,)
    assert n.shape == (30, 2)


@pytest.mark.parametrize("sampler", [UniformRandom(), Sobol(), Halton(), LatinHypercube()], ids=lambda s: s.name)
def test_samplers_on_a_geometry_are_inside_and_seeded(sampler):
    g = DOMAINS["holes"]
    x = sampler.sample(300, g, seed=4)
    assert x.shape == (300, 2) and bool(g.contains(x).all())
    assert torch.equal(x, sampler.sample(300, g, seed=4))
    # uniform: the share of points in the left half matches the share of the area
    left = (g & Box((-1.0, -1.0), (0.0, 1.0))).volume() / g.volume()
    assert abs(float((sampler.sample(4000, g, seed=5)[:, 0] < 0).double().mean()) - left) < 0.03


def test_pinn_problem_on_a_geometry_with_neumann_robin_and_explicit_boundary_points():
    disk = Disk((0.0, 0.0), 1.0)
    # u = x^2 + y^2 on the unit disc: -Δu = -4, du/dn = 2 on the circle, u + du/dn = 3
    prob = PINNProblem(
        name="disc",
        domain=disk,
        pde=lambda x, d: -(d.dxx(0) + d.dxx(1)) + 4.0,
        second=(0, 1),
        conditions=(
            Neumann("boundary", ("all",), lambda x: torch.full_like(x[:, 0], 2.0)),
            Robin("boundary", ("circle",), lambda x: torch.full_like(x[:, 0], 3.0), a=1.0, b=1.0),
            Dirichlet("boundary", ("all",), lambda x: (x**2).sum(1)),
        ),
        solution=lambda x: (x**2).sum(1),
    )

    class Exact(torch.nn.Module):
        def forward(self, x):
            return (x**2).sum(1, keepdim=True)

    train = prob.discretize(Exact(), points=64, boundary_points=32, seed=0)
    assert float(train.loss(train.model, *train.data)) < 1e-20  # the exact solution has zero loss
    xb, nb = disk.sample_boundary(10, seed=3)
    given = prob.discretize(
        MLP(2, 1, width=4, depth=1).double(),
        points=disk.sample(16, seed=0),
        boundary_points=[torch.cat([xb, nb], 1), 8, (xb, (xb**2).sum(1))],
        seed=0,
    )
    assert given.data[0].shape == (16, 2)
    assert float(given.loss.__call__(Exact(), *given.data)) < 1e-20
    wrong = prob.discretize(Exact(), points=16, boundary_points=[8, 8, (xb, torch.zeros(10))], seed=0)
    assert float(wrong.loss(Exact(), *wrong.data)) == pytest.approx(1.0)  # given values replace the target


def test_poisson_holes_reference_solves_its_pde():
    prob = poisson_holes()

    class Exact(torch.nn.Module):
        def forward(self, x):
            return prob.solution(x)[:, None]

    train = prob.discretize(Exact(), points=256, boundary_points=128, seed=0)
    assert float(train.loss(train.model, *train.data)) < 1e-20
    assert prob.relative_l2(Exact()) == 0.0


def test_space_time_pieces_and_box_compatibility():
    st = SpaceTime(Disk((0.0, 0.0), 1.0), 0.0, 2.0)
    x, n = st.sample_boundary(200, seed=0, pieces=["initial"])
    assert bool((x[:, 2] == 0).all()) and bool((n[:, 2] == -1).all())
    box = Box((-1.0, 0.0), (1.0, 1.0))  # the Box API of the benchmarks is unchanged
    assert box.sample(8, seed=0).shape == (8, 2) and box.boundary_pieces[0] == "x0_low"
