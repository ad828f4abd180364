"""REMODEL sampling: quasi-random and residual-adaptive collocation points, on boxes and on any geometry.

Every sampler has one protocol, ``sampler.sample(n, bounds_or_geometry, seed) -> torch.Tensor [n, d]``
(float64 by default); :func:`discrepancy` measures uniformity. The residual-based strategies of Wu, Zhu,
Tan, Kartha & Lu (CMAME 2023) — :class:`RARG`, :class:`RAD`, :class:`RARD` — and residual-based
:class:`ImportanceSampling` move the collocation points between rounds of training inside ``solve`` with
:class:`AdaptiveSampling`; the weighted draws from large candidate sets are numba kernels
(:func:`weighted_choice`, :func:`weighted_draw`) with numpy references.

Examples
--------
>>> from remodel_sampling import Sobol, discrepancy
>>> x = Sobol().sample(64, [(0.0, 1.0), (-1.0, 1.0)], seed=0)
>>> x.shape, x.dtype
(torch.Size([64, 2]), torch.float64)
"""

from typing import Any

from ._adaptive import AdaptiveSampling, adapt_optimizer
from ._bounds import as_bounds
from ._discrepancy import discrepancy
from ._rad import rad_density, rad_resample
from ._samplers import SAMPLERS, Grid, Halton, LatinHypercube, Sampler, Sobol, UniformRandom, get_sampler
from ._strategies import RAD, RARD, RARG, STRATEGIES, ImportanceSampling, Static, Strategy, density

__version__ = "0.1.0"

_LAZY = {  # numba kernels: compiled on first use, imported on first access (keeps `import remodel_sampling` light)
    "weighted_choice": "._draw",
    "weighted_choice_reference": "._draw",
    "weighted_draw": "._draw",
    "weighted_draw_reference": "._draw",
    "poisson_holes": "._problems",
    "holes_domain": "._problems",
    "hard_burgers": "._problems",
    "hard_allen_cahn": "._problems",
    "HardConstraint": "._problems",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "RAD",
    "RARD",
    "RARG",
    "SAMPLERS",
    "STRATEGIES",
    "AdaptiveSampling",
    "Grid",
    "Halton",
    "HardConstraint",
    "ImportanceSampling",
    "LatinHypercube",
    "Sampler",
    "Sobol",
    "Static",
    "Strategy",
    "UniformRandom",
    "adapt_optimizer",
    "as_bounds",
    "density",
    "discrepancy",
    "get_sampler",
    "hard_allen_cahn",
    "hard_burgers",
    "holes_domain",
    "poisson_holes",
    "rad_density",
    "rad_resample",
    "weighted_choice",
    "weighted_choice_reference",
    "weighted_draw",
    "weighted_draw_reference",
]
