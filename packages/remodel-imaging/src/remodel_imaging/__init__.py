"""REMODEL imaging: linear forward operators with exact adjoints, 1-Lipschitz networks with certified bounds,
and convergent reconstruction algorithms (TV primal–dual, plug-and-play, RED, unrolled) through ``solve``.

Examples
--------
>>> import torch
>>> from remodel_imaging import Gradient, dot_test
>>> dot_test(Gradient((8, 8))) < 1e-12
True
"""

from ._convex_ridge import ConvexRidgeDenoiser
from ._data import HELD_OUT, TRAINING_IMAGES, augment, camera, load_image, random_patches
from ._denoisers import DnCNN, denoising_problem, train_denoiser
from ._fista import FISTA, fgp_tv_prox
from ._lambda import DiscrepancyPrinciple, discrepancy_target
from ._lipschitz import (
    AveragedDenoiser,
    LipschitzDenoiser,
    SLLConv2d,
    SpectralConv2d,
    circular_conv2d,
    circular_conv2d_adjoint,
    conv_norm_bound,
    conv_operator_norm,
    lipschitz_bound,
    lipschitz_estimate,
)
from ._metrics import psnr, ssim
from ._noise import GaussianNoise, PoissonNoise
from ._operator import Adjoint, Composition, LinearOperator, dot_test, inner
from ._operators import GaussianBlur, Gradient, Mask, SubsampledFourier
from ._operators2 import Convolution, MotionBlur, Radon, motion_kernel
from ._pnp import RED, PnPADMM, PnPHQS, PnPPGD, cg_solve, data_prox
from ._primal_dual import ChambollePock, tv_objective
from ._problem import InverseProblem
from ._tv import TVPrimalDual, tikhonov_start
from ._unrolled import LearnedPrimalDual, Unrolled, UnrolledPGD, train_reconstruction
from ._variational import ConvexRidgeVariational, train_regulariser

__version__ = "0.1.0"

__all__ = [
    "HELD_OUT",
    "RED",
    "TRAINING_IMAGES",
    "Adjoint",
    "AveragedDenoiser",
    "ChambollePock",
    "ConvexRidgeDenoiser",
    "ConvexRidgeVariational",
    "Composition",
    "Convolution",
    "DiscrepancyPrinciple",
    "DnCNN",
    "FISTA",
    "GaussianBlur",
    "GaussianNoise",
    "Gradient",
    "InverseProblem",
    "LearnedPrimalDual",
    "LinearOperator",
    "LipschitzDenoiser",
    "Mask",
    "MotionBlur",
    "PnPADMM",
    "PnPHQS",
    "PnPPGD",
    "PoissonNoise",
    "Radon",
    "SLLConv2d",
    "SpectralConv2d",
    "SubsampledFourier",
    "TVPrimalDual",
    "Unrolled",
    "UnrolledPGD",
    "augment",
    "camera",
    "cg_solve",
    "circular_conv2d",
    "circular_conv2d_adjoint",
    "conv_norm_bound",
    "conv_operator_norm",
    "data_prox",
    "denoising_problem",
    "discrepancy_target",
    "dot_test",
    "fgp_tv_prox",
    "inner",
    "lipschitz_bound",
    "lipschitz_estimate",
    "load_image",
    "motion_kernel",
    "psnr",
    "random_patches",
    "ssim",
    "tikhonov_start",
    "train_denoiser",
    "train_reconstruction",
    "train_regulariser",
    "tv_objective",
]
