"""REMODEL gen: generative models for scientific data - conditional flow matching (I-CFM, OT-CFM).

Examples
--------
>>> from remodel_gen import GenerativeProblem, FlowMatching, two_moons, energy_distance
>>> prob = GenerativeProblem(two_moons, dim=2)
>>> prob.draw(5, seed=0).shape
torch.Size([5, 2])
"""

from ._densities import DENSITIES, eight_gaussians, gaussian, two_moons
from ._flow_matching import FlowMatching, GenerativeProblem, cfm_target, ot_pairing
from ._metrics import energy_distance
from ._model import FlowModel

__version__ = "0.1.0"

__all__ = [
    "DENSITIES",
    "FlowMatching",
    "FlowModel",
    "GenerativeProblem",
    "cfm_target",
    "eight_gaussians",
    "energy_distance",
    "gaussian",
    "ot_pairing",
    "two_moons",
]
