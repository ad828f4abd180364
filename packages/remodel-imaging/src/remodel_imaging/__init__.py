"""REMODEL imaging: linear forward operators with exact adjoints, inverse problems and their reconstruction.

Examples
--------
>>> import torch
>>> from remodel_imaging import Gradient, dot_test
>>> dot_test(Gradient((8, 8))) < 1e-12
True
"""

from ._data import camera
from ._metrics import psnr
from ._operator import Adjoint, Composition, LinearOperator, dot_test, inner
from ._operators import GaussianBlur, Gradient, Mask, SubsampledFourier
from ._primal_dual import ChambollePock, tv_objective
from ._problem import InverseProblem

__version__ = "0.1.0"

__all__ = [
    "Adjoint",
    "ChambollePock",
    "Composition",
    "GaussianBlur",
    "Gradient",
    "InverseProblem",
    "LinearOperator",
    "Mask",
    "SubsampledFourier",
    "camera",
    "dot_test",
    "inner",
    "psnr",
    "tv_objective",
]
