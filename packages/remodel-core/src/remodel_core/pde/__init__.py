"""PINN problems with in-package reference solutions, and derivative routes for their residuals.

A :class:`PINNProblem` holds a PDE on a :class:`Geometry` (:class:`Box`, :func:`Interval`,
:class:`Ball`/:func:`Disk`, :class:`Polygon`, their :class:`Union`/:class:`Difference`/:class:`Intersection`,
a :class:`SpaceTime` product), its initial/boundary conditions and a reference
solution; ``prob.discretize(network, points=...)`` gives a :class:`~remodel_core.TrainingProblem` that
any core optimizer trains. Benchmarks: :func:`burgers` (Cole–Hopf reference), :func:`allen_cahn`
(Fourier/ETDRK4 reference), :func:`klein_gordon` and :func:`poisson2d` (manufactured solutions).

Examples
--------
>>> import math, torch
>>> from remodel_core import solve
>>> from remodel_core.nn import ResNetMLP
>>> from remodel_core.optim import Adam
>>> prob = burgers(nu=0.01 / math.pi)
>>> train = prob.discretize(ResNetMLP(2, 1, width=8, depth=2), points=128, boundary_points=32, seed=0)
>>> sol = solve(train, Adam(lr=1e-2), maxiters=5, seed=0, dtype=torch.float64)
>>> sol.history["rel_l2"][-1] > 0
True
"""

from ._allen_cahn import SpectralSolution, allen_cahn, allen_cahn_reference
from ._burgers import burgers, burgers_cole_hopf
from ._conditions import Dirichlet, Given, Neumann, Periodic, Robin
from ._derivatives import ROUTES, Derivatives, derivatives
from ._domain import (
    Ball,
    Box,
    Difference,
    Disk,
    Geometry,
    Intersection,
    Interval,
    Polygon,
    SpaceTime,
    Union,
    sobol,
    unit_points,
)
from ._klein_gordon import klein_gordon, klein_gordon_solution, klein_gordon_source
from ._poisson import poisson2d
from ._problem import PINNProblem
from ._taylor import taylor_derivatives, taylor_supported

__all__ = [
    "ROUTES",
    "Ball",
    "Box",
    "Difference",
    "Disk",
    "Geometry",
    "Given",
    "Intersection",
    "Interval",
    "Neumann",
    "Polygon",
    "Robin",
    "SpaceTime",
    "Union",
    "unit_points",
    "Derivatives",
    "Dirichlet",
    "PINNProblem",
    "Periodic",
    "SpectralSolution",
    "allen_cahn",
    "allen_cahn_reference",
    "burgers",
    "burgers_cole_hopf",
    "derivatives",
    "klein_gordon",
    "klein_gordon_solution",
    "klein_gordon_source",
    "poisson2d",
    "sobol",
    "taylor_derivatives",
    "taylor_supported",
]
