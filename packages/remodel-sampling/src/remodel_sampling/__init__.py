"""REMODEL sampling: quasi-random and residual-adaptive collocation points on boxes.

Every sampler has one protocol, ``sampler.sample(n, bounds, seed) -> torch.Tensor [n, d]`` (float64 by
default); :func:`discrepancy` measures uniformity and :func:`rad_resample` draws points where a residual
is large (RAD, Wu et al. 2023).

Examples
--------
>>> from remodel_sampling import Sobol, discrepancy
>>> x = Sobol().sample(64, [(0.0, 1.0), (-1.0, 1.0)], seed=0)
>>> x.shape, x.dtype
(torch.Size([64, 2]), torch.float64)
"""

from ._bounds import as_bounds
from ._discrepancy import discrepancy
from ._rad import RAD, rad_density, rad_resample
from ._samplers import SAMPLERS, Halton, LatinHypercube, Sampler, Sobol, UniformRandom, get_sampler

__version__ = "0.1.0"

__all__ = [
    "RAD",
    "SAMPLERS",
    "Halton",
    "LatinHypercube",
    "Sampler",
    "Sobol",
    "UniformRandom",
    "as_bounds",
    "discrepancy",
    "get_sampler",
    "rad_density",
    "rad_resample",
]
