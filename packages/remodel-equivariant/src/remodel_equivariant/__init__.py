"""REMODEL equivariant: steerable CNNs (escnn) and stable ResNet blocks from the PDE view of deep learning.

escnn is imported lazily, on the first construction of a :class:`SteerableCNN`.

Examples
--------
>>> import torch
>>> from remodel_equivariant import AntisymmetricBlock, equivariance_error, rot90
>>> AntisymmetricBlock(width=3)(torch.zeros(1, 3)).shape
torch.Size([1, 3])
"""

from ._equivariance import equivariance_error, hflip, rot90
from ._stable import AntisymmetricBlock, HamiltonianBlock, ParabolicBlock, conv_norm
from ._steerable import PlainCNN, SteerableCNN

__version__ = "0.1.0"

__all__ = [
    "AntisymmetricBlock",
    "HamiltonianBlock",
    "ParabolicBlock",
    "PlainCNN",
    "SteerableCNN",
    "conv_norm",
    "equivariance_error",
    "hflip",
    "rot90",
]
