"""Steerable CNNs for the rotation groups C_N and the dihedral groups D_N on the plane (escnn)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence

import torch
from torch import nn

from ._escnn import escnn_modules
from ._gconv import EquivariantPool2d, _check_int


def _check_channels(hidden: Sequence[int]) -> tuple[int, ...]:
    if (
        isinstance(hidden, int)
        or not hidden
        or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in hidden)
    ):
        raise ValueError(f"hidden must be a non-empty sequence of positive integers, got {hidden!r}")
    return tuple(hidden)


class SteerableCNN(nn.Module):
    """A G-steerable CNN (Weiler & Cesa, "General E(2)-equivariant steerable CNNs", NeurIPS 2019) for
    ``G = C_N`` (rotations by multiples of 360°/N) or ``D_N`` (with reflections), built with escnn.

    Layers: ``R2Conv`` from ``in_channels`` scalar fields to ``hidden[0]`` regular fields, then
    ``R2Conv`` between regular fields, each followed by a pointwise ReLU (equivariant on regular fields);
    group pooling (max over the group) turns each regular field into a rotation-invariant scalar field.
    With ``pool=True`` a global spatial average and a linear layer give ``out_features`` invariant outputs;
    with ``pool=False`` the output is the ``hidden[-1]`` scalar feature maps, which rotate with the input.
    On a square grid the symmetry is exact for rotations by 90° (N = 4 or its divisors) and axis flips;
    the model takes and returns plain tensors (``[B, in_channels, H, W]``).

    Parameters
    ----------
    N : int
        Order of the rotation group.
    flips : bool
        Use the dihedral group ``D_N`` (rotations and reflections).
    in_channels : int
        Scalar input channels.
    hidden : sequence of int
        Number of regular fields per layer (each field has ``N`` or ``2N`` channels).
    out_features : int
        Outputs of the final linear layer (``pool=True``).
    kernel_size : int
        Odd kernel size; the padding keeps the image size.
    pool : bool
        Return invariant features (True) or equivariant scalar maps (False).
    batch_norm : bool
        escnn's ``InnerBatchNorm`` after every convolution (as :class:`~remodel_equivariant.GCNN`).
    downsample : bool
        Equivariant stride-2 average pooling between layers (as :class:`~remodel_equivariant.GCNN`).
    global_pool : {"mean", "max"}
        Spatial pooling of the invariant maps before the linear head (``"max"`` as
        :class:`~remodel_equivariant.InvariantHead`).

    Examples
    --------
    >>> model = SteerableCNN(N=4, hidden=(2, 2), out_features=3, kernel_size=3)
    >>> x = torch.randn(2, 1, 9, 9)
    >>> bool((model(x) - model(torch.rot90(x, 1, (2, 3)))).abs().max() < 1e-5)
    True
    """

    def __init__(
        self,
        *,
        N: int = 4,
        flips: bool = False,
        in_channels: int = 1,
        hidden: Sequence[int] = (8, 16),
        out_features: int = 10,
        kernel_size: int = 5,
        pool: bool = True,
        batch_norm: bool = False,
        downsample: bool = False,
        global_pool: str = "mean",
    ) -> None:
        super().__init__()
        _check_int("N", N)
        _check_int("in_channels", in_channels)
        _check_int("out_features", out_features)
        hidden = _check_channels(hidden)
        if _check_int("kernel_size", kernel_size) % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if global_pool not in ("mean", "max"):
            raise ValueError(f"global_pool must be 'mean' or 'max', got {global_pool!r}")
        self.global_pool = global_pool
        gspaces, enn = escnn_modules()
        self.N, self.flips, self.pool, self.downsample = N, bool(flips), bool(pool), bool(downsample)
        self.gspace = gspaces.flipRot2dOnR2(N=N) if flips else gspaces.rot2dOnR2(N=N)
        self.in_type = enn.FieldType(self.gspace, in_channels * [self.gspace.trivial_repr])
        blocks = []
        current = self.in_type
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for c in hidden:
                out = enn.FieldType(self.gspace, c * [self.gspace.regular_repr])
                layers = [enn.R2Conv(current, out, kernel_size=kernel_size, padding=kernel_size // 2)]
                if batch_norm:
                    layers.append(enn.InnerBatchNorm(out))
                layers.append(enn.ReLU(out))
                blocks.append(enn.SequentialModule(*layers))
                current = out
        self.blocks = nn.ModuleList(blocks)
        self.order = self.gspace.fibergroup.order()
        self.spatial_pool = EquivariantPool2d()
        self.head = nn.Linear(hidden[-1], out_features) if pool else None

    @property
    def group_name(self) -> str:
        return f"{'D' if self.flips else 'C'}{self.N}"

    def _group_pool(self, y: torch.Tensor) -> torch.Tensor:
        # regular fields are stored field by field, |G| channels each: max over the group
        return y.reshape(y.shape[0], -1, self.order, *y.shape[-2:]).amax(dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_type.size:
            raise ValueError(f"x must have shape [B, {self.in_type.size}, H, W], got {list(x.shape)}")
        _, enn = escnn_modules()
        y = enn.GeometricTensor(x, self.in_type)
        for i, block in enumerate(self.blocks):
            y = block(y)
            if self.downsample and i + 1 < len(self.blocks):
                y = enn.GeometricTensor(self.spatial_pool(y.tensor), y.type)
        y = self._group_pool(y.tensor)
        if self.head is None:
            return y
        return self.head(y.amax(dim=(2, 3)) if self.global_pool == "max" else y.mean(dim=(2, 3)))

    def export(self) -> nn.Module:
        """The same network in plain torch (escnn's ``export`` of every convolution, batch norm and ReLU,
        then native pooling and head), in eval mode: picklable with ``torch.save``, exportable with
        ``torch.export``, no escnn needed to run it.

        Returns
        -------
        nn.Module
            ``ExportedSteerableCNN``, equal to ``self.eval()`` up to round-off.
        """
        self.eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            blocks = [block.export() for block in self.blocks]
        head = None if self.head is None else copy.deepcopy(self.head)
        return ExportedSteerableCNN(
            blocks, self.order, head, downsample=self.downsample, global_pool=self.global_pool
        ).eval()


class ExportedSteerableCNN(nn.Module):
    """A :class:`SteerableCNN` exported to plain torch (see :meth:`SteerableCNN.export`).

    Parameters
    ----------
    blocks : list of nn.Module
        Exported convolution blocks.
    order : int
        Order of the group (channels per regular field).
    head : nn.Linear or None
        The invariant head, or ``None`` for feature maps.
    downsample : bool
        Equivariant spatial pooling between blocks.
    global_pool : {"mean", "max"}
        Spatial pooling before the head.
    """

    def __init__(
        self,
        blocks: Sequence[nn.Module],
        order: int,
        head: nn.Module | None,
        *,
        downsample: bool = False,
        global_pool: str = "mean",
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.order, self.head, self.downsample, self.global_pool = order, head, downsample, global_pool
        self.spatial_pool = EquivariantPool2d()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x)
            if self.downsample and i + 1 < len(self.blocks):
                x = self.spatial_pool(x)
        y = x.reshape(x.shape[0], -1, self.order, *x.shape[-2:]).amax(dim=2)
        if self.head is None:
            return y
        return self.head(y.amax(dim=(2, 3)) if self.global_pool == "max" else y.mean(dim=(2, 3)))


class PlainCNN(nn.Module):
    """An ordinary CNN laid out like :class:`SteerableCNN` (same depth, kernel size and channel counts
    ``hidden[i] * N``), the baseline without built-in symmetry.

    Parameters
    ----------
    N : int
        Channel multiplier (the group order the layout is matched to).
    in_channels : int
        Input channels.
    hidden : sequence of int
        Fields per layer (``hidden[i] * N`` channels).
    out_features : int
        Outputs of the linear head.
    kernel_size : int
        Odd kernel size.
    pool : bool
        Global average and linear head (``True``) or feature maps.

    Examples
    --------
    >>> PlainCNN(hidden=(2,), out_features=3, kernel_size=3, N=4)(torch.randn(2, 1, 9, 9)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        *,
        N: int = 4,
        in_channels: int = 1,
        hidden: Sequence[int] = (8, 16),
        out_features: int = 10,
        kernel_size: int = 5,
        pool: bool = True,
    ) -> None:
        super().__init__()
        hidden = _check_channels(hidden)
        _check_int("N", N)
        if _check_int("kernel_size", kernel_size) % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        layers: list[nn.Module] = []
        c_in = _check_int("in_channels", in_channels)
        for c in hidden:
            layers += [nn.Conv2d(c_in, c * N, kernel_size, padding=kernel_size // 2), nn.ReLU()]
            c_in = c * N
        layers.append(nn.Conv2d(c_in, hidden[-1], 1))
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(hidden[-1], _check_int("out_features", out_features)) if pool else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.features(x)
        return y if self.head is None else self.head(y.mean(dim=(2, 3)))
