"""REMODEL rom: model order reduction, classical and learned, and learned components for solvers.

Examples
--------
>>> from remodel_core import solve
>>> from remodel_rom import ReductionProblem, RBGreedy, thermal_block
>>> fom = thermal_block(blocks=(2, 2), n=16)
>>> rom = solve(ReductionProblem(fom, training=30), RBGreedy(basis_size=8)).u
>>> mu = [0.2, 0.9, 0.4, 0.6]
>>> u = fom.solve(mu)
>>> err = fom.energy_norm(u - rom.reconstruct(rom.solve(mu)))
>>> bool(err <= rom.estimate_error(mu))
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> submodule, imported on first access (PEP 562): importing the package costs almost
# nothing, and scipy, scikit-learn and numba load only when a feature that needs them is used
_EXPORTS = {
    "AutoencoderROM": "._autoencoder",
    "ConvAutoencoder": "._autoencoder",
    "BurgersModel": "._burgers",
    "ReducedBurgersModel": "._burgers",
    "deim_interpolate": "._deim",
    "deim_points": "._deim",
    "assemble_load": "._fem",
    "assemble_mass": "._fem",
    "assemble_stiffness": "._fem",
    "unit_square_mesh": "._fem",
    "InstationaryAffineModel": "._heat",
    "ReducedInstationaryModel": "._heat",
    "heat_model": "._heat",
    "OperatorInference": "._opinf",
    "quadratic_features": "._opinf",
    "time_derivatives": "._opinf",
    "POD": "._pod",
    "energy_rank": "._pod",
    "incremental_svd": "._pod",
    "PODNN": "._podnn",
    "ReductionProblem": "._problem",
    "ReducedStationaryModel": "._reduced",
    "ResidualEstimator": "._reduced",
    "PODGalerkin": "._reductors",
    "RBGreedy": "._reductors",
    "DEFAULT_SOLVERS": "._selector",
    "SolverSelector": "._selector",
    "solver_costs": "._selector",
    "ssor_preconditioner": "._selector",
    "LearnedInitialGuess": "._solvers",
    "cg_iterations": "._solvers",
    "conjugate_gradient": "._solvers",
    "AffineCoefficients": "._stationary",
    "StationaryAffineModel": "._stationary",
    "thermal_block": "._stationary",
    "CotangentLiftPOD": "._symplectic",
    "implicit_midpoint_linear": "._symplectic",
    "poisson_matrix": "._symplectic",
}

__all__ = [
    "POD",
    "AutoencoderROM",
    "ConvAutoencoder",
    "OperatorInference",
    "quadratic_features",
    "time_derivatives",
    "CotangentLiftPOD",
    "implicit_midpoint_linear",
    "poisson_matrix",
    "PODNN",
    "BurgersModel",
    "ReducedBurgersModel",
    "deim_interpolate",
    "deim_points",
    "InstationaryAffineModel",
    "ReducedInstationaryModel",
    "heat_model",
    "LearnedInitialGuess",
    "DEFAULT_SOLVERS",
    "SolverSelector",
    "solver_costs",
    "ssor_preconditioner",
    "cg_iterations",
    "conjugate_gradient",
    "AffineCoefficients",
    "PODGalerkin",
    "RBGreedy",
    "ReducedStationaryModel",
    "ReductionProblem",
    "ResidualEstimator",
    "StationaryAffineModel",
    "assemble_load",
    "assemble_mass",
    "assemble_stiffness",
    "energy_rank",
    "incremental_svd",
    "thermal_block",
    "unit_square_mesh",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'remodel_rom' has no attribute {name!r}")
    mod = importlib.import_module(module, __name__)
    value = mod if module == "." + name else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the names as static analysis sees them
    from ._autoencoder import AutoencoderROM, ConvAutoencoder
    from ._burgers import BurgersModel, ReducedBurgersModel
    from ._deim import deim_interpolate, deim_points
    from ._fem import assemble_load, assemble_mass, assemble_stiffness, unit_square_mesh
    from ._heat import InstationaryAffineModel, ReducedInstationaryModel, heat_model
    from ._opinf import OperatorInference, quadratic_features, time_derivatives
    from ._pod import POD, energy_rank, incremental_svd
    from ._podnn import PODNN
    from ._problem import ReductionProblem
    from ._reduced import ReducedStationaryModel, ResidualEstimator
    from ._reductors import PODGalerkin, RBGreedy
    from ._selector import DEFAULT_SOLVERS, SolverSelector, solver_costs, ssor_preconditioner
    from ._solvers import LearnedInitialGuess, cg_iterations, conjugate_gradient
    from ._stationary import AffineCoefficients, StationaryAffineModel, thermal_block
    from ._symplectic import CotangentLiftPOD, implicit_midpoint_linear, poisson_matrix
