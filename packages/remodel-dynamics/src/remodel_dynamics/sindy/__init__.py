"""Sparse identification of nonlinear dynamics (SINDy): estimator, libraries, STLSQ, differentiation.

Examples
--------
>>> import numpy as np
>>> from remodel_dynamics.sindy import SINDy, PolynomialLibrary
>>> t = np.linspace(0, 2, 201)
>>> SINDy(PolynomialLibrary(degree=1), fd_order=6).fit(np.exp(-t), t).equations()
["x0' = -1.000 x0"]
"""

from ._differentiation import finite_difference, fornberg_weights, savgol_derivative
from ._libraries import ConcatLibrary, FourierLibrary, PolynomialLibrary
from ._sindy import SINDy
from ._stlsq import stlsq, stlsq_reference

__all__ = [
    "ConcatLibrary",
    "FourierLibrary",
    "PolynomialLibrary",
    "SINDy",
    "finite_difference",
    "fornberg_weights",
    "savgol_derivative",
    "stlsq",
    "stlsq_reference",
]
