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

from ._algorithm import Algorithm, check_positive
from ._checkpoint import load_checkpoint, save_checkpoint
from ._context import SolveContext
from ._options import SolveOptions
from ._problem import Problem
from ._progress import ProgressBar, want_progress
from ._report import Showcase, ShowcaseSection, Table, pyplot
from ._retcode import ReturnCode
from ._solution import Solution
from ._solve import remake, solve
from ._training import OptimizerAlgorithm, TrainingProblem, train

__version__ = "0.1.0"

__all__ = [
    "Algorithm",
    "OptimizerAlgorithm",
    "Problem",
    "Showcase",
    "ShowcaseSection",
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
