"""PDE-based group convolutions on the lifted roto-translation space (Smets, Portegies, Bekkers & Duits,
"PDE-based group equivariant convolutional neural networks", JMIV 65, 2023).

Fields ``f(x, θ)`` over positions and ``N`` orientations (``[B, C, N, H, W]``, the regular representation of
``C_N``) are evolved by left-invariant PDEs whose solution operators are the layers:

- **diffusion** ``∂_t f = D_∥ ∂_∥² f + D_⊥ ∂_⊥² f + D_θ ∂_θ² f`` for ``t = 1``: a convolution with an anisotropic
  Gaussian aligned with each orientation (``∂_∥`` along the orientation ``θ``), then a periodic Gaussian along
  ``θ``;
- **dilation / erosion** ``∂_t f = ± ||∇f||²_G`` (morphological, max-plus): the viscosity solution is a morphological
  convolution ``(f ⊕ k)(x) = max_y f(x - y) - k(y)`` with the quadratic kernel ``k(y) = ||y||²_G / 4`` of the same
  anisotropic metric (erosion is ``-((-f) ⊕ k)``).

The kernels of orientation ``θ_g`` are the kernel of ``θ = 0`` rotated by ``g``; they are evaluated analytically on
rotated coordinates written as ``rot90^j ∘ R_φ``, so rotations of the input by multiples of 90° are exact
symmetries. The learnable parameters are the metric coefficients of each channel; a 1x1 linear map mixes channels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from ._gconv import EquivariantPool2d, GroupBatchNorm, InvariantHead, LiftingConv2d, _check_field, _check_int
from ._groups import PlanarGroup, as_group


class _Metric(nn.Module):
    """Per-channel positive coefficients (along, across, angular) through a softplus."""

    def __init__(self, group: PlanarGroup | str, channels: int, kernel_size: int, init: Sequence[float]) -> None:
        super().__init__()
        self.group = as_group(group)
        if self.group.flips:
            raise ValueError(f"group must be a rotation group C_N for the roto-translation PDEs, got {self.group.name}")
        self.channels = _check_int("channels", channels)
        if _check_int("kernel_size", kernel_size) % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.kernel_size = kernel_size
        raw = torch.tensor([math.log(math.expm1(v)) for v in init])
        self.raw = nn.Parameter(raw.repeat(channels, 1))
        self.register_buffer("coords", self.group.kernel_coordinates(kernel_size).to(torch.get_default_dtype()))

    def coefficients(self) -> torch.Tensor:
        return F.softplus(self.raw)  # [C, 3]

    def quadratic(self) -> torch.Tensor:
        """``u² / a + v² / b`` for every channel and orientation: ``[C, N, k, k]``."""
        a = self.coefficients()
        u2, v2 = self.coords[None, :, 0] ** 2, self.coords[None, :, 1] ** 2
        return u2 / a[:, 0, None, None, None] + v2 / a[:, 1, None, None, None]


class DiffusionLayer(_Metric):
    """Left-invariant anisotropic diffusion on ``C_N``-lifted fields, solved exactly for unit time by
    convolution with oriented Gaussians and a periodic Gaussian along the orientation axis.

    Parameters
    ----------
    channels : int
        Fields (each with ``N`` orientations).
    group : PlanarGroup or str
        ``C_N``.
    kernel_size : int
        Odd size of the spatial Gaussian kernels.

    Examples
    --------
    >>> layer = DiffusionLayer(2, "C8", kernel_size=5)
    >>> round(float(layer(torch.ones(1, 2, 8, 9, 9))[0, :, :, 4, 4].mean()), 6)  # constants are kept
    1.0
    """

    def __init__(self, channels: int, group: PlanarGroup | str = "C8", *, kernel_size: int = 5) -> None:
        super().__init__(group, channels, kernel_size, init=(1.0, 0.3, 0.5))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        _check_field(f, self.channels, self.group, "f")
        b, c, n, h, w = f.shape
        kern = torch.exp(-self.quadratic() / 4.0)
        kern = kern / kern.sum(dim=(-2, -1), keepdim=True)  # [C, N, k, k]
        k = self.kernel_size
        y = F.conv2d(f.reshape(b, c * n, h, w), kern.reshape(c * n, 1, k, k), padding=k // 2, groups=c * n)
        y = y.reshape(b, c, n, h, w)
        # periodic Gaussian along the orientation axis (exact heat kernel on the circle, truncated)
        d_theta = self.coefficients()[:, 2]
        offsets = list(range(-(n // 2), n - n // 2))
        angles = torch.tensor(offsets, dtype=f.dtype, device=f.device) * (2 * math.pi / n)
        weights = torch.softmax(-(angles[None, :] ** 2) / (4 * d_theta[:, None]), dim=1)  # [C, n]
        out = torch.zeros_like(y)
        for j, off in enumerate(offsets):
            out = out + weights[None, :, j, None, None, None] * torch.roll(y, off, dims=2)
        return out


class MorphologicalLayer(_Metric):
    """Dilation followed by erosion (an opening/closing-like pair of morphological PDE steps) with learned
    quadratic structuring functions ``k(y) = ||y||²_G / 4`` per channel and orientation, plus a max-plus
    coupling of neighbouring orientations with penalty ``c_θ j²``.

    Parameters
    ----------
    channels : int
        Fields.
    group : PlanarGroup or str
        ``C_N``.
    kernel_size : int
        Odd window size of the morphological convolution.

    Examples
    --------
    >>> layer = MorphologicalLayer(2, "C4", kernel_size=3)
    >>> layer(torch.randn(1, 2, 4, 7, 7)).shape
    torch.Size([1, 2, 4, 7, 7])
    """

    def __init__(self, channels: int, group: PlanarGroup | str = "C8", *, kernel_size: int = 5) -> None:
        super().__init__(group, channels, kernel_size, init=(2.0, 0.5, 1.0))

    def _dilate(self, f: torch.Tensor) -> torch.Tensor:
        b, c, n, h, w = f.shape
        k = self.kernel_size
        cost = self.quadratic().reshape(1, c, n, k * k, 1) / 4.0
        patches = F.unfold(f.reshape(b, c * n, h, w), k, padding=k // 2).reshape(b, c, n, k * k, h * w)
        pad = torch.finfo(f.dtype).min / 4  # outside the image: never the max
        valid = F.unfold(torch.ones(1, 1, h, w, dtype=f.dtype, device=f.device), k, padding=k // 2)
        patches = torch.where(valid.reshape(1, 1, 1, k * k, h * w) > 0, patches, torch.full_like(patches, pad))
        y = (patches - cost).amax(dim=3).reshape(b, c, n, h, w)
        penalty = self.coefficients()[:, 2].reshape(1, c, 1, 1, 1)
        return torch.maximum(y, torch.maximum(torch.roll(y, 1, 2), torch.roll(y, -1, 2)) - penalty)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        _check_field(f, self.channels, self.group, "f")
        return -self._dilate(-self._dilate(f))


class PDEBlock(nn.Module):
    """One PDE-G-CNN layer: diffusion (optional), dilation and erosion, then a 1x1 linear mixing of the
    fields (shared by all orientations and positions) and batch normalisation.

    Parameters
    ----------
    in_channels, out_channels : int
        Fields in and out.
    group : PlanarGroup or str
        ``C_N``.
    kernel_size : int
        Odd kernel size of the PDE solution operators.
    diffusion : bool
        Include the diffusion step.

    Examples
    --------
    >>> PDEBlock(2, 3, "C4", kernel_size=3)(torch.randn(1, 2, 4, 7, 7)).shape
    torch.Size([1, 3, 4, 7, 7])
    """

    def __init__(self, in_channels: int, out_channels: int, group: PlanarGroup | str = "C8", *,
                 kernel_size: int = 5, diffusion: bool = True) -> None:
        super().__init__()
        self.diffusion = DiffusionLayer(in_channels, group, kernel_size=kernel_size) if diffusion else nn.Identity()
        self.morphology = MorphologicalLayer(in_channels, group, kernel_size=kernel_size)
        self.mix = nn.Conv3d(in_channels, _check_int("out_channels", out_channels), 1)
        self.norm = GroupBatchNorm(out_channels)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.norm(self.mix(self.morphology(self.diffusion(f))))


class PDEGCNN(nn.Module):
    """A PDE-based group CNN for ``C_N``: lifting convolution (kernel ``kernel_size + 2``) and equivariant
    pooling, then :class:`PDEBlock` layers with equivariant pooling between them, and an invariant head
    (Smets et al. 2023).

    Parameters
    ----------
    group : PlanarGroup or str
        ``C_N``.
    in_channels : int
        Input image channels.
    hidden : sequence of int
        Fields per layer.
    out_features : int
        Outputs of the invariant head.
    kernel_size : int
        Odd kernel size of the PDE layers.

    Examples
    --------
    >>> PDEGCNN("C4", hidden=(2, 2), out_features=3, kernel_size=3)(torch.randn(2, 1, 9, 9)).shape
    torch.Size([2, 3])
    """

    def __init__(self, group: PlanarGroup | str = "C8", *, in_channels: int = 1, hidden: Sequence[int] = (8, 16),
                 out_features: int = 10, kernel_size: int = 3) -> None:
        super().__init__()
        if isinstance(hidden, int) or not hidden or not all(
            isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in hidden
        ):
            raise ValueError(f"hidden must be a non-empty sequence of positive integers, got {hidden!r}")
        g = as_group(group)
        layers: list[nn.Module] = [LiftingConv2d(in_channels, hidden[0], g, kernel_size=kernel_size + 2),
                                   GroupBatchNorm(hidden[0]), EquivariantPool2d()]
        chans = [*hidden, hidden[-1]]
        for i, c in enumerate(hidden):
            layers.append(PDEBlock(c, chans[i + 1], g, kernel_size=kernel_size))
            if i + 1 < len(hidden):
                layers.append(EquivariantPool2d())
        self.features = nn.Sequential(*layers)
        self.head = InvariantHead(hidden[-1], out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
