"""REMODEL equivariant: native group-equivariant CNNs for C_N and D_N, networks as discretised ODEs and PDEs,
and escnn steerable CNNs as an optional extra.

Native layers (plain torch, no escnn): :class:`LiftingConv2d`, :class:`GroupConv2d`, :class:`GroupBatchNorm`,
:class:`GroupPool`, :class:`EquivariantPool2d`, :class:`InvariantHead`, the model :class:`GCNN`, and
:class:`QuotientConv2d` between fields on quotient spaces :class:`QuotientSpace` ``G / H``; stable ODE blocks
(:class:`GroupParabolicBlock`, :class:`GroupHamiltonianBlock`, :class:`ODEResNet`, :class:`NeuralODE`, and the
non-group :class:`ParabolicBlock`, :class:`HamiltonianBlock`, :class:`AntisymmetricBlock`); PDE-based layers
(:class:`ConvectionLayer`, :class:`DiffusionLayer`, :class:`MorphologicalLayer`, :class:`PDEBlock`,
:class:`PDEGCNN`); and
:func:`check_equivariance`. escnn (``pip install 'remodel-equivariant[escnn]'``) is imported lazily, on the first
construction of a :class:`SteerableCNN`.

Examples
--------
>>> import torch
>>> from remodel_equivariant import GCNN, check_equivariance
>>> model = GCNN("C8", hidden=(2, 2), out_features=3, kernel_size=3).eval()
>>> check_equivariance(model, "C8", torch.randn(2, 1, 9, 9)) < 1e-5
True
"""

from ._equivariance import check_equivariance, equivariance_error, hflip, rot90
from ._gconv import GCNN, EquivariantPool2d, GroupBatchNorm, GroupConv2d, GroupPool, InvariantHead, LiftingConv2d
from ._groups import PlanarGroup
from ._ode import GroupHamiltonianBlock, GroupParabolicBlock, NeuralODE, ODEResNet
from ._pde import PDEGCNN, ConvectionLayer, DiffusionLayer, MorphologicalLayer, PDEBlock
from ._quotient import QuotientConv2d, QuotientSpace
from ._stable import AntisymmetricBlock, HamiltonianBlock, ParabolicBlock, conv_norm
from ._steerable import ExportedSteerableCNN, PlainCNN, SteerableCNN

__version__ = "0.1.0"

__all__ = [
    "GCNN",
    "PDEGCNN",
    "AntisymmetricBlock",
    "ConvectionLayer",
    "DiffusionLayer",
    "EquivariantPool2d",
    "ExportedSteerableCNN",
    "GroupBatchNorm",
    "GroupConv2d",
    "GroupHamiltonianBlock",
    "GroupParabolicBlock",
    "GroupPool",
    "HamiltonianBlock",
    "InvariantHead",
    "LiftingConv2d",
    "MorphologicalLayer",
    "NeuralODE",
    "ODEResNet",
    "PDEBlock",
    "ParabolicBlock",
    "PlainCNN",
    "PlanarGroup",
    "QuotientConv2d",
    "QuotientSpace",
    "SteerableCNN",
    "check_equivariance",
    "conv_norm",
    "equivariance_error",
    "hflip",
    "rot90",
]
