"""REMODEL core: the common problem/solve interface and the shared numerical machinery.

Examples
--------
>>> import torch
>>> from remodel_core import TrainingProblem, solve
>>> from remodel_core.optim import Adam
>>> prob = TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m: (m.bias - 1).pow(2).sum())
>>> solve(prob, Adam(lr=0.1), maxiters=100).retcode
<ReturnCode.MaxIters: 'MaxIters'>
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below load lazily (PEP 562): `import remodel_core` and `remodel --help` stay light
    from ._algorithm import Algorithm
    from ._checkpoint import load_checkpoint, save_checkpoint
    from ._context import SolveContext
    from ._options import SolveOptions
    from ._problem import Problem
    from ._progress import ProgressBar, StageProgress, want_progress
    from ._report import Showcase, ShowcasePart, ShowcaseSection, Table, pyplot
    from ._retcode import ReturnCode
    from ._solution import Solution
    from ._solve import remake, solve
    from ._training import TRAIN_OPTIONS, OptimizerAlgorithm, TrainingProblem, train
    from ._validation import check_positive

#: Public name -> private module that defines it; loaded on first attribute access.
_EXPORTS: dict[str, str] = {
    "Algorithm": "._algorithm",
    "check_positive": "._validation",
    "load_checkpoint": "._checkpoint",
    "save_checkpoint": "._checkpoint",
    "SolveContext": "._context",
    "SolveOptions": "._options",
    "Problem": "._problem",
    "ProgressBar": "._progress",
    "StageProgress": "._progress",
    "want_progress": "._progress",
    "Showcase": "._report",
    "ShowcasePart": "._report",
    "ShowcaseSection": "._report",
    "Table": "._report",
    "pyplot": "._report",
    "ReturnCode": "._retcode",
    "Solution": "._solution",
    "remake": "._solve",
    "solve": "._solve",
    "OptimizerAlgorithm": "._training",
    "TRAIN_OPTIONS": "._training",
    "TrainingProblem": "._training",
    "train": "._training",
}

__version__ = "0.1.0"

__all__ = [
    "TRAIN_OPTIONS",
    "Algorithm",
    "OptimizerAlgorithm",
    "Problem",
    "Showcase",
    "ShowcasePart",
    "ShowcaseSection",
    "StageProgress",
    "Table",
    "ProgressBar",
    "pyplot",
    "ReturnCode",
    "Solution",
    "SolveContext",
    "SolveOptions",
    "TrainingProblem",
    "check_positive",
    "load_checkpoint",
    "remake",
    "save_checkpoint",
    "solve",
    "train",
    "want_progress",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
    else:  # a subpackage (remodel_core.optim, remodel_core.pde, ...) used as an attribute
        try:
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
