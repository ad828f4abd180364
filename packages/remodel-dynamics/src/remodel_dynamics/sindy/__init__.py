"""Sparse identification of nonlinear dynamics (SINDy): estimator, libraries, STLSQ, differentiation.

Examples
--------
>>> import numpy as np
>>> from remodel_dynamics.sindy import SINDy, PolynomialLibrary
>>> t = np.linspace(0, 2, 201)
>>> SINDy(PolynomialLibrary(degree=1), fd_order=6).fit(np.exp(-t), t).equations()
["x0' = -1.000 x0"]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> submodule, imported on first access (PEP 562): importing the package costs almost
# nothing, and scipy, scikit-learn and numba load only when a feature that needs them is used
_EXPORTS = {
    "finite_difference": "._differentiation",
    "fornberg_weights": "._differentiation",
    "savgol_derivative": "._differentiation",
    "ConcatLibrary": "._libraries",
    "FourierLibrary": "._libraries",
    "PolynomialLibrary": "._libraries",
    "SINDy": "._sindy",
    "stlsq": "._stlsq",
    "stlsq_reference": "._stlsq",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'remodel_dynamics.sindy' has no attribute {name!r}")
    mod = importlib.import_module(module, __name__)
    value = mod if module == "." + name else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the names as static analysis sees them
    from ._differentiation import finite_difference, fornberg_weights, savgol_derivative
    from ._libraries import ConcatLibrary, FourierLibrary, PolynomialLibrary
    from ._sindy import SINDy
    from ._stlsq import stlsq, stlsq_reference
