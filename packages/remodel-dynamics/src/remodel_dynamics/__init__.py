"""REMODEL dynamics: structure-preserving learning of dynamics and sparse discovery.

Hamiltonian neural networks (Greydanus et al. 2019), Lagrangian neural networks (Cranmer et al. 2020),
LA-/G-SympNets (Jin et al. 2020) and an unstructured baseline, all trained through ``remodel_core.solve``;
symplectic rollouts of learned models with ``remodel_core.integrate``; SINDy (Brunton et al. 2016) in
:mod:`remodel_dynamics.sindy`.

Examples
--------
>>> import torch
>>> from remodel_core import solve
>>> from remodel_core.optim import Adam
>>> from remodel_dynamics import HNN, HamiltonianProblem, MassSpring
>>> data = HamiltonianProblem.generate(MassSpring(), n_trajectories=8, n_times=10, noise=0.0, seed=0)
>>> sol = solve(data.discretize(HNN(2, width=32, depth=2)), Adam(lr=1e-2), maxiters=50, dtype=torch.float64)
>>> sol.history["loss"][-1] < sol.history["loss"][0]
True
"""

from . import sindy
from ._metrics import energy_drift, energy_mse, state_mse
from ._models import HNN, LNN, BaselineMLP, DynamicsModel
from ._other_systems import DoublePendulum, Lorenz
from ._problem import HamiltonianProblem
from ._sympnet import GSympNet, LASympNet, SympNet
from ._systems import HamiltonianSystem, MassSpring, Pendulum, TwoBody
from .sindy import SINDy

__version__ = "0.1.0"

__all__ = [
    "HNN",
    "LNN",
    "BaselineMLP",
    "DoublePendulum",
    "DynamicsModel",
    "GSympNet",
    "HamiltonianProblem",
    "HamiltonianSystem",
    "LASympNet",
    "Lorenz",
    "MassSpring",
    "Pendulum",
    "SINDy",
    "SympNet",
    "TwoBody",
    "energy_drift",
    "energy_mse",
    "sindy",
    "state_mse",
]
