"""REMODEL, all packages: the umbrella over remodel-core and the six domain packages.

The common interface of :mod:`remodel_core` is re-exported here; the domain packages are attributes loaded on
first use (``remodel_sci.rom`` is :mod:`remodel_rom`), so ``import remodel_sci`` stays fast even though some of them
import heavy libraries (escnn, diffusers).

Examples
--------
>>> import remodel_sci
>>> remodel_sci.PACKAGES["rom"]
'remodel_rom'
>>> remodel_sci.core.solve is remodel_sci.solve
True
"""

from __future__ import annotations

import importlib
from types import ModuleType

from remodel_core import (
    Algorithm,
    OptimizerAlgorithm,
    Problem,
    ReturnCode,
    ShowcaseSection,
    Solution,
    Table,
    TrainingProblem,
    remake,
    solve,
)

__version__ = "0.1.0"

#: Short name -> import name of the seven packages the umbrella gathers.
PACKAGES: dict[str, str] = {
    "core": "remodel_core",
    "dynamics": "remodel_dynamics",
    "sampling": "remodel_sampling",
    "gen": "remodel_gen",
    "imaging": "remodel_imaging",
    "equivariant": "remodel_equivariant",
    "rom": "remodel_rom",
}


def __getattr__(name: str) -> ModuleType:
    if name in PACKAGES:
        module = importlib.import_module(PACKAGES[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'remodel_sci' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(PACKAGES))


def import_all() -> dict[str, ModuleType]:
    """Import the seven packages and return them by short name.

    Examples
    --------
    >>> sorted(import_all())  # doctest: +SKIP
    ['core', 'dynamics', 'equivariant', 'gen', 'imaging', 'rom', 'sampling']
    """
    return {name: __getattr__(name) for name in PACKAGES}


__all__ = [
    "PACKAGES",
    "Algorithm",
    "OptimizerAlgorithm",
    "Problem",
    "ReturnCode",
    "ShowcaseSection",
    "Solution",
    "Table",
    "TrainingProblem",
    "import_all",
    "remake",
    "solve",
]
