"""Optimizers: algorithms for :func:`remodel_core.solve` that are also ``torch.optim.Optimizer`` subclasses
(or wrap PyTorch's own)."""

from ._torch import LBFGS, SGD, Adam

__all__ = ["LBFGS", "SGD", "Adam"]
