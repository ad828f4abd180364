"""PDE-based group convolutions on the lifted roto-translation space (Smets, Portegies, Bekkers & Duits,
"PDE-based group equivariant convolutional neural networks", JMIV 65, 2023).

Fields ``f(x, θ)`` over positions and ``N`` orientations (``[B, C, N, H, W]``, the regular representation of
``C_N``) are evolved by left-invariant PDEs whose solution operators are the layers:

- **diffusion** ``∂_t f = D_∥ ∂_∥² f + D_⊥ ∂_⊥² f + D_θ ∂_θ² f`` for ``t = 1``: a convolution with an anisotropic
  Gaussian aligned with each orientation (``∂_∥`` along the orientation ``θ``, cut to the kernel window), then a
  periodic Gaussian along ``θ``;
- **convection** ``∂_t f + c · ∇_G f = 0`` with a left-invariant vector field ``c = c_1 A_1 + c_2 A_2 + c_3 A_3``
  (``A_1 = cos θ ∂_x + sin θ ∂_y``, ``A_2 = -sin θ ∂_x + cos θ ∂_y``, ``A_3 = ∂_θ``): the solution is the
  left-invariant shift ``f(g) <- f(g exp(-c))``, i.e. every orientation ``θ`` is moved in space by ``R_θ d``
  (``d`` the translation part of ``exp(-c)``) and along the orientation axis by ``c_3``, resampled with
  interpolation kernels;
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
    """Left-invariant anisotropic diffusion on ``C_N``-lifted fields for unit time, by convolution with the
    oriented Gaussian heat kernel ``exp(-(u²/D_∥ + v²/D_⊥)/4)`` and then a periodic Gaussian along the orientation
    axis (the spatial and angular steps applied one after the other, a splitting of the SE(2) heat kernel).

    The spatial kernel is cut to the ``kernel_size`` window and renormalised to unit sum, so it is the exact heat
    kernel only while ``sqrt(2 D)`` is small against the window: with ``D_∥ = D_⊥ = 1`` (variance ``2 D t = 2``
    per axis) the window keeps a variance of 0.61 at ``kernel_size=3`` (the default of :class:`PDEGCNN`), 1.37 at
    5, 1.83 at 7 and 2.00 from 11 on; larger learned coefficients then diffuse less than they say.

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


class ConvectionLayer(nn.Module):
    """Left-invariant convection on ``C_N``-lifted fields, solved exactly for unit time: ``f(g) <- f(g exp(-c))``
    with a learned left-invariant vector field ``c = (c_1, c_2, c_3)`` per channel (Smets et al. 2023, Sec. 5.1).

    With ``exp(-c) = (d, -c_3)`` on SE(2), the field at orientation ``θ`` is resampled at ``x + R_θ d`` and at
    angle ``θ - c_3``: linear interpolation between the two neighbouring orientations, then bilinear
    interpolation in space (a depthwise correlation with the tent kernel centred at ``R_θ d``). ``R_θ`` is
    applied as ``rot90^j ∘ R_φ`` (``φ < 90°``), the quarter turns as exact permutations of the vector's
    components, so the layer is exactly equivariant to rotations by multiples of 90°; ``c = 0`` is the
    identity and an integer ``R_θ d`` a pixel shift.

    Parameters
    ----------
    channels : int
        Fields (each with ``N`` orientations).
    group : PlanarGroup or str
        ``C_N``.
    kernel_size : int
        Odd size of the resampling kernels (at least 3); the spatial shift ``|d|`` is kept below
        ``max_shift`` so that the tent stays inside the kernel.
    max_shift : float, optional
        Largest spatial shift in pixels (default ``(kernel_size - 1) / 2 - 1``, at least 0.5).

    Examples
    --------
    >>> layer = ConvectionLayer(2, "C8", kernel_size=5)
    >>> layer(torch.randn(1, 2, 8, 9, 9)).shape
    torch.Size([1, 2, 8, 9, 9])
    """

    def __init__(
        self, channels: int, group: PlanarGroup | str = "C8", *, kernel_size: int = 5, max_shift: float | None = None
    ) -> None:
        super().__init__()
        self.group = as_group(group)
        if self.group.flips:
            raise ValueError(f"group must be a rotation group C_N for the roto-translation PDEs, got {self.group.name}")
        self.channels = _check_int("channels", channels)
        if _check_int("kernel_size", kernel_size, low=3) % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.kernel_size = kernel_size
        if max_shift is None:
            max_shift = max(0.5, (kernel_size - 1) / 2 - 1)
        if isinstance(max_shift, bool) or not isinstance(max_shift, int | float) or not 0 < max_shift < kernel_size:
            raise ValueError(f"max_shift must be a number in (0, kernel_size), got {max_shift!r}")
        self.max_shift = float(max_shift)
        self.velocity = nn.Parameter(torch.randn(channels, 3) * torch.tensor([0.5, 0.5, 0.3]))
        dtype = torch.get_default_dtype()
        self.register_buffer("rotations", _orientation_rotations(self.group).to(dtype))  # [N, 2, 2]: R_θ
        self.register_buffer("coords", self.group.kernel_coordinates(kernel_size)[0].to(dtype))  # [2, k, k]

    def shift(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``exp(-c) = (d, e_3)`` on SE(2): the spatial shift ``d`` (``[C, 2]``, pixels, in the frame of
        orientation 0, softly limited to ``max_shift``) and the angular shift ``e_3 = -c_3`` (``[C]``, radians),
        so that the layer reads ``f(x + R_θ d, θ + e_3)``."""
        e1, e2, e3 = (-self.velocity).unbind(1)
        small = e3.abs() < 1e-4
        safe = torch.where(small, torch.ones_like(e3), e3)
        s = torch.where(small, 1 - e3**2 / 6, torch.sin(safe) / safe)  # sin(e3) / e3
        q = torch.where(small, e3 / 2, (1 - torch.cos(safe)) / safe)  # (1 - cos(e3)) / e3
        d = torch.stack((s * e1 - q * e2, q * e1 + s * e2), 1)
        norm = d.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return d * (self.max_shift * torch.tanh(norm / self.max_shift) / norm), e3

    def kernels(self) -> torch.Tensor:
        """The resampling kernels ``[C, N, k, k]``: bilinear tents centred at ``R_θ d`` for every orientation
        (normalised to unit sum, which they already have unless clipped by the window)."""
        d, _ = self.shift()
        s = torch.einsum("nij,cj->cni", self.rotations, d)  # [C, N, 2]
        u = self.coords[None, None, 0] - s[..., 0, None, None]
        v = self.coords[None, None, 1] - s[..., 1, None, None]
        tent = torch.relu(1 - u.abs()) * torch.relu(1 - v.abs())
        return tent / tent.sum(dim=(-2, -1), keepdim=True).clamp_min(1e-12)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        _check_field(f, self.channels, self.group, "f")
        b, c, n, h, w = f.shape
        _, angle = self.shift()
        # along the orientation axis: f(θ_k + e3) by linear interpolation between the neighbouring orientations
        steps = angle * n / (2 * math.pi)  # output orientation k reads input orientation k + steps
        whole = torch.floor(steps)
        frac = (steps - whole).to(f.dtype)
        idx = (torch.arange(n, device=f.device)[None, :] + whole.long()[:, None]) % n  # [C, n]
        lower = torch.gather(f, 2, idx[None, :, :, None, None].expand(b, c, n, h, w))
        upper = torch.gather(f, 2, ((idx + 1) % n)[None, :, :, None, None].expand(b, c, n, h, w))
        y = (1 - frac)[None, :, None, None, None] * lower + frac[None, :, None, None, None] * upper
        k = self.kernel_size
        kern = self.kernels().to(f.dtype).reshape(c * n, 1, k, k)
        y = F.conv2d(y.reshape(b, c * n, h, w), kern, padding=k // 2, groups=c * n)
        return y.reshape(b, c, n, h, w)


def _orientation_rotations(group: PlanarGroup) -> torch.Tensor:
    """``[N, 2, 2]``: ``R_θ`` of every orientation in the (row, column) pixel frame of
    :meth:`~remodel_equivariant.PlanarGroup.kernel_coordinates` (the rotation under which a kernel peaked at
    ``d`` becomes the kernel of orientation ``θ`` peaked at ``R_θ d``), built as ``rot90^j ∘ R_φ`` with the
    quarter turns exact."""
    out = torch.empty(group.N, 2, 2, dtype=torch.float64)
    for k in range(group.N):
        quarter, rest = divmod(4 * k, group.N)
        phi = math.pi / 2 * rest / group.N
        m = torch.tensor([[math.cos(phi), -math.sin(phi)], [math.sin(phi), math.cos(phi)]], dtype=torch.float64)
        for _ in range(quarter % 4):  # (u, v) -> (-v, u): the inverse of the pixel map of torch.rot90
            m = torch.stack((-m[1], m[0]))
        out[k] = m
    return out


class PDEBlock(nn.Module):
    """One PDE-G-CNN layer: convection (optional), diffusion (optional), dilation and erosion (the CDE layer of
    Smets et al. 2023 with diffusion), then a 1x1 linear mixing of the fields (shared by all orientations and
    positions) and batch normalisation.

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
    convection : bool
        Include the convection step (its resampling kernels are at least 5x5).

    Examples
    --------
    >>> PDEBlock(2, 3, "C4", kernel_size=3)(torch.randn(1, 2, 4, 7, 7)).shape
    torch.Size([1, 3, 4, 7, 7])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        group: PlanarGroup | str = "C8",
        *,
        kernel_size: int = 5,
        diffusion: bool = True,
        convection: bool = True,
    ) -> None:
        super().__init__()
        self.convection = (
            ConvectionLayer(in_channels, group, kernel_size=max(5, _check_int("kernel_size", kernel_size)))
            if convection
            else nn.Identity()
        )
        self.diffusion = DiffusionLayer(in_channels, group, kernel_size=kernel_size) if diffusion else nn.Identity()
        self.morphology = MorphologicalLayer(in_channels, group, kernel_size=kernel_size)
        self.mix = nn.Conv3d(in_channels, _check_int("out_channels", out_channels), 1)
        self.norm = GroupBatchNorm(out_channels)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.norm(self.mix(self.morphology(self.diffusion(self.convection(f)))))


class PDEGCNN(nn.Module):
    """A PDE-based group CNN for ``C_N``: lifting convolution (kernel ``kernel_size + 2``) and equivariant
    pooling, then :class:`PDEBlock` layers (convection, diffusion, dilation, erosion) with equivariant
    pooling between them, and an invariant head
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
    convection, diffusion : bool
        Include these steps in every :class:`PDEBlock`.

    Examples
    --------
    >>> PDEGCNN("C4", hidden=(2, 2), out_features=3, kernel_size=3)(torch.randn(2, 1, 9, 9)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        group: PlanarGroup | str = "C8",
        *,
        in_channels: int = 1,
        hidden: Sequence[int] = (8, 16),
        out_features: int = 10,
        kernel_size: int = 3,
        convection: bool = True,
        diffusion: bool = True,
    ) -> None:
        super().__init__()
        if (
            isinstance(hidden, int)
            or not hidden
            or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in hidden)
        ):
            raise ValueError(f"hidden must be a non-empty sequence of positive integers, got {hidden!r}")
        g = as_group(group)
        layers: list[nn.Module] = [
            # He's gain 2 (the initialisation it was measured with): with the layers' default 1/3 the PDE-G-CNN
            # trained to 0.173 upright against 0.385 (tools/bench/equivariant.py, 12 epochs, seed 0)
            LiftingConv2d(in_channels, hidden[0], g, kernel_size=kernel_size + 2, init_gain=2.0),
            GroupBatchNorm(hidden[0]),
            EquivariantPool2d(),
        ]
        chans = [*hidden, hidden[-1]]
        for i, c in enumerate(hidden):
            layers.append(
                PDEBlock(c, chans[i + 1], g, kernel_size=kernel_size, convection=convection, diffusion=diffusion)
            )
            if i + 1 < len(hidden):
                layers.append(EquivariantPool2d())
        self.features = nn.Sequential(*layers)
        self.head = InvariantHead(hidden[-1], out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
