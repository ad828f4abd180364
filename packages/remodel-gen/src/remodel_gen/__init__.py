"""REMODEL gen: generative models for scientific data - flow matching (CFM, OT-CFM, Schrödinger-bridge CFM,
rectified flow, classifier-free guidance) and diffusion through diffusers.

Examples
--------
>>> from remodel_gen import GenerativeProblem, FlowMatching, two_moons, wasserstein2
>>> prob = GenerativeProblem(two_moons, dim=2)
>>> prob.draw(5, seed=0).shape
torch.Size([5, 2])
"""

from ._coupling import ot_pairing, sample_plan, sinkhorn_plan
from ._densities import DENSITIES, checkerboard, digits, eight_gaussians, gaussian, spirals, two_moons
from ._diffusion import Diffusion, DiffusionModel, make_scheduler
from ._digits import DigitClassifier, classifier_accuracy, digit_scores, frechet_distance, train_digit_classifier
from ._flow_matching import FlowMatching
from ._metrics import energy_distance, mmd, sliced_wasserstein, wasserstein2
from ._model import FlowModel, MLPField, UNetField
from ._optim import EMA, CosineAdam
from ._paths import (
    BrownianBridgePath,
    LinearPath,
    LipmanOTPath,
    Path,
    VariancePreservingPath,
    cfm_target,
    make_path,
    sample_times,
)
from ._problem import GenerativeProblem, array_sampler

__version__ = "0.1.0"

__all__ = [
    "DENSITIES",
    "DigitClassifier",
    "Diffusion",
    "EMA",
    "DiffusionModel",
    "BrownianBridgePath",
    "CosineAdam",
    "FlowMatching",
    "FlowModel",
    "GenerativeProblem",
    "LinearPath",
    "LipmanOTPath",
    "MLPField",
    "Path",
    "UNetField",
    "VariancePreservingPath",
    "array_sampler",
    "cfm_target",
    "checkerboard",
    "classifier_accuracy",
    "digit_scores",
    "digits",
    "eight_gaussians",
    "energy_distance",
    "frechet_distance",
    "gaussian",
    "make_path",
    "make_scheduler",
    "mmd",
    "ot_pairing",
    "sample_plan",
    "sample_times",
    "sinkhorn_plan",
    "sliced_wasserstein",
    "spirals",
    "train_digit_classifier",
    "two_moons",
    "wasserstein2",
]
