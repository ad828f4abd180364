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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> submodule, imported on first access (PEP 562): importing the package costs almost
# nothing, and scipy, scikit-learn and numba load only when a feature that needs them is used
_EXPORTS = {
    "sindy": ".sindy",
    "energy_drift": "._metrics",
    "energy_mse": "._metrics",
    "state_mse": "._metrics",
    "HNN": "._models",
    "LNN": "._models",
    "BaselineMLP": "._models",
    "DynamicsModel": "._models",
    "DoublePendulum": "._other_systems",
    "Lorenz": "._other_systems",
    "HamiltonianProblem": "._problem",
    "GSympNet": "._sympnet",
    "LASympNet": "._sympnet",
    "SympNet": "._sympnet",
    "HamiltonianSystem": "._systems",
    "MassSpring": "._systems",
    "Pendulum": "._systems",
    "TwoBody": "._systems",
    "SINDy": ".sindy",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'remodel_dynamics' has no attribute {name!r}")
    mod = importlib.import_module(module, __name__)
    value = mod if module == "." + name else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the names as static analysis sees them
    from . import sindy
    from ._metrics import energy_drift, energy_mse, state_mse
    from ._models import HNN, LNN, BaselineMLP, DynamicsModel
    from ._other_systems import DoublePendulum, Lorenz
    from ._problem import HamiltonianProblem
    from ._sympnet import GSympNet, LASympNet, SympNet
    from ._systems import HamiltonianSystem, MassSpring, Pendulum, TwoBody
    from .sindy import SINDy
