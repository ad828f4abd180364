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

__version__ = "0.1.0"

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
