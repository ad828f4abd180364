"""Optimizers: algorithms for :func:`remodel_core.solve` that are also ``torch.optim.Optimizer`` subclasses
(or wrap PyTorch's own)."""

from ._lbfgs import LBFGSMemory, LBFGSStep, flat_grad, flat_params, lbfgs_iteration, set_flat_params
from ._linesearch import LineSearchResult, cubic_minimizer, strong_wolfe
from ._robust_lbfgs import RobustLBFGS, RobustLBFGSOptimizer
from ._torch import LBFGS, SGD, Adam

__all__ = [
    "LBFGS", "SGD", "Adam",
    "LBFGSMemory", "LBFGSStep", "LineSearchResult", "RobustLBFGS", "RobustLBFGSOptimizer", "cubic_minimizer",
    "flat_grad", "flat_params", "lbfgs_iteration", "set_flat_params", "strong_wolfe",
]
