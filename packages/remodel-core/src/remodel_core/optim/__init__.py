"""Optimizers: algorithms for :func:`remodel_core.solve` that are also ``torch.optim.Optimizer`` subclasses
(or wrap PyTorch's own)."""

from ._auto import Auto, AutoOptimizer, dense_block_size, gemm_rate, matvec_rate, memory_budget_mb
from ._block import BlockInverseHessian, decompose, decompose_neurons
from ._decomposition import ParameterDecomposition, decompose_layers, layers_of
from ._gauss_newton import GaussNewton, GaussNewtonOptimizer, ResidualBlock, residual_jacobian
from ._kfac import KFAC, KFACOptimizer
from ._kfac_lbfgs import KFACLBFGS, KFACLBFGSOptimizer, PreconditionedMemory
from ._lbfgs import LBFGSMemory, LBFGSStep, flat_grad, flat_params, lbfgs_iteration, set_flat_params
from ._levels import CollocationHierarchy, LayerHierarchy, LevelHierarchy, coherent_model
from ._linesearch import LineSearchResult, cubic_minimizer, strong_wolfe
from ._mgopt import MGOPT, MGOPTOptimizer
from ._multilevel import MultilevelAlgorithm, MultilevelOptimizer
from ._rmtr import RMTR, RMTROptimizer
from ._robust_lbfgs import RobustLBFGS, RobustLBFGSOptimizer
from ._schwarz import ASPQN, MSPQN, SPQNOptimizer
from ._ssbroyden import HESSIANS, DenseInverseHessian, SSBroyden, SSBroydenOptimizer, make_memory
from ._torch import LBFGS, SGD, Adam
from ._width import WidthHierarchy

__all__ = [
    "LBFGS",
    "SGD",
    "Adam",
    "LBFGSMemory",
    "LBFGSStep",
    "LineSearchResult",
    "RobustLBFGS",
    "RobustLBFGSOptimizer",
    "cubic_minimizer",
    "flat_grad",
    "flat_params",
    "lbfgs_iteration",
    "set_flat_params",
    "strong_wolfe",
    "HESSIANS",
    "DenseInverseHessian",
    "SSBroyden",
    "SSBroydenOptimizer",
    "make_memory",
    "ASPQN",
    "MSPQN",
    "ParameterDecomposition",
    "SPQNOptimizer",
    "decompose_layers",
    "layers_of",
    "BlockInverseHessian",
    "decompose",
    "decompose_neurons",
    "GaussNewton",
    "GaussNewtonOptimizer",
    "ResidualBlock",
    "residual_jacobian",
    "KFAC",
    "KFACOptimizer",
    "KFACLBFGS",
    "KFACLBFGSOptimizer",
    "PreconditionedMemory",
    "Auto",
    "AutoOptimizer",
    "dense_block_size",
    "memory_budget_mb",
    "gemm_rate",
    "matvec_rate",
    "WidthHierarchy",
    "MGOPT",
    "RMTR",
    "CollocationHierarchy",
    "LayerHierarchy",
    "LevelHierarchy",
    "MGOPTOptimizer",
    "MultilevelAlgorithm",
    "MultilevelOptimizer",
    "RMTROptimizer",
    "coherent_model",
]
