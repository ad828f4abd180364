"""Native group convolutions for C_N and D_N in plain torch (no escnn).

Fields over the group are tensors ``[B, C, |G|, H, W]`` (the regular representation: one map per group element).
The lifting convolution takes images ``[B, C, H, W]`` to such fields, the group convolution maps fields to fields,
and :class:`GroupPool` / :class:`InvariantHead` end with invariants (Cohen & Welling, "Group equivariant
convolutional networks", ICML 2016). Kernels are rotated by the matrices of
:meth:`~remodel_equivariant.PlanarGroup.kernel_transforms`; every layer is a plain ``nn.Module`` with buffers, so
``torch.save`` and ``torch.export`` work on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F  # noqa: N812
from remodel_core import check_positive
from torch import nn

from ._groups import PlanarGroup, as_group


def _check_int(name: str, value: object, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def _check_kernel(kernel_size: object) -> int:
    if _check_int("kernel_size", kernel_size) % 2 == 0:
        raise ValueError(f"kernel_size must be odd (the kernel is rotated about its centre pixel), got {kernel_size}")
    return kernel_size  # type: ignore[return-value]


def _disk(kernel_size: int) -> torch.Tensor:
    """Mask of the pixels within ``(k - 1) / 2 + 0.5`` of the centre (rot90- and flip-invariant)."""
    c = (kernel_size - 1) / 2
    i = torch.arange(kernel_size, dtype=torch.float64) - c
    return ((i[:, None] ** 2 + i[None, :] ** 2) <= (c + 0.5) ** 2).to(torch.float64).flatten()


# Expected squared norm of each output map's expanded filter at initialisation: 1/3, that of torch's own
# ``nn.Conv2d`` default (``kaiming_uniform_(a=sqrt(5))``: variance ``1 / (3 fan_in)`` per entry, ``fan_in`` entries).
INIT_GAIN = 1.0 / 3.0


def _check_gain(init_gain: object) -> float:
    check_positive("init_gain", init_gain)  # type: ignore[arg-type]
    return float(init_gain)  # type: ignore[arg-type]


def _kernel_energy(transforms: torch.Tensor) -> float:
    """``mean_g sum_q ||T_g[:, q]||^2``: the squared norm one output map's expanded kernel gains from unit, iid
    coefficients of one input map (the mean over the group's transformed copies, which differ slightly for
    interpolated rotations)."""
    return float((transforms.double() ** 2).sum(dim=(1, 2)).mean())


def _check_field(x: torch.Tensor, channels: int, group: PlanarGroup, what: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 5 or x.shape[1] != channels or x.shape[2] != group.order:
        raise ValueError(
            f"{what} must be a field over {group.name} of shape [B, {channels}, {group.order}, H, W], "
            f"got {list(x.shape)}"
        )


class _GroupKernel(nn.Module):
    """Shared parts: the group and the transformed kernel basis ``[|G|, k*k, nb]`` as a buffer.

    ``basis="smooth"`` (default): band-limited Gaussian-ring harmonics evaluated analytically on each transformed
    grid (:meth:`~remodel_equivariant.PlanarGroup.smooth_kernel_basis`), so rotations by angles that are not
    multiples of 90° are as accurate as the sampling allows. ``basis="pixel"``: every pixel of a disk-shaped kernel
    is a weight, rotated by bilinear interpolation (:meth:`~remodel_equivariant.PlanarGroup.kernel_transforms`).
    ``basis="escnn"``: the smooth basis with escnn's ring widths (the same kernel space as escnn's ``R2Conv``).
    Both are exact for rotations by multiples of 90° and flips.
    """

    def __init__(self, group: PlanarGroup | str, kernel_size: int, basis: str) -> None:
        super().__init__()
        self.group = as_group(group)
        self.kernel_size = _check_kernel(kernel_size)
        dtype = torch.get_default_dtype()
        if basis in ("smooth", "escnn"):
            kernels = self.group.smooth_kernel_basis(
                kernel_size, dtype, widths="uniform" if basis == "smooth" else "escnn"
            )
        elif basis == "pixel":
            kernels = self.group.kernel_transforms(kernel_size, dtype) * _disk(kernel_size).to(dtype)
        else:
            raise ValueError(f"basis must be 'smooth', 'escnn' or 'pixel', got {basis!r}")
        self.basis_kind = basis
        self.register_buffer("transforms", kernels)

    @property
    def basis_size(self) -> int:
        """Weights per kernel."""
        return int(self.transforms.shape[-1])


class LiftingConv2d(_GroupKernel):
    """Lifting convolution ``(ψ ⋆ x)(g, y) = Σ_z ψ(g^{-1}(z - y)) x(z)``: images to fields over the group.

    Parameters
    ----------
    in_channels, out_channels : int
        Input image channels; output fields (each with ``|G|`` maps).
    group : PlanarGroup or str
        ``C_N`` or ``D_N`` (e.g. ``"C8"``).
    kernel_size : int
        Odd kernel size; the kernel is supported on a disk so that interpolated rotations lose nothing.
    bias : bool
        One bias per output field (shared by its ``|G|`` maps, so equivariance is kept).
    basis : {"smooth", "pixel"}
        Kernel parametrisation (see the module notes): band-limited and analytically rotated, or pixels rotated
        by bilinear interpolation.
    unit_columns : bool
        Scale the basis so that every weight's expanded filter (its ``|G|`` rotated copies) has unit norm, as
        escnn normalises its basis; the initial filters are the same either way.
    init_gain : float
        Expected squared norm of each output map's expanded filter at initialisation (a generalised He/LeCun
        initialisation: the weights are iid normal with the variance that gives exactly this, whatever the basis,
        its normalisation or band-limit). Default 1/3, that of torch's ``nn.Conv2d`` default initialisation, so
        the native layers start like the torch convolutions they replace. With batch norm after the convolution
        the scale leaves the function unchanged and sets Adam's step relative to the filter (about ``lr / std``).

    Examples
    --------
    >>> layer = LiftingConv2d(1, 3, "C4", kernel_size=3)
    >>> layer(torch.randn(2, 1, 9, 9)).shape
    torch.Size([2, 3, 4, 9, 9])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        group: PlanarGroup | str = "C8",
        *,
        kernel_size: int = 5,
        bias: bool = True,
        basis: str = "smooth",
        unit_columns: bool = False,
        init_gain: float = INIT_GAIN,
    ) -> None:
        super().__init__(group, kernel_size, basis)
        self.in_channels = _check_int("in_channels", in_channels)
        self.out_channels = _check_int("out_channels", out_channels)
        init_gain = _check_gain(init_gain)
        _unit_columns(self, unit_columns)
        nb = self.basis_size
        # E||filter of one output map||^2 = std^2 * in * mean_g sum_q ||T_g q||^2 = init_gain
        std = math.sqrt(init_gain / (in_channels * _kernel_energy(self.transforms)))
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, nb) * std)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def filter(self) -> torch.Tensor:
        """The expanded ``[out * |G|, in, k, k]`` convolution weight."""
        w = torch.einsum("gpq,ocq->ogcp", self.transforms, self.weight)
        k = self.kernel_size
        return w.reshape(self.out_channels * self.group.order, self.in_channels, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != self.in_channels:
            shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be images of shape [B, {self.in_channels}, H, W], got {shape}")
        bias = None if self.bias is None else self.bias.repeat_interleave(self.group.order)
        y = F.conv2d(x, self.filter(), bias, padding=self.kernel_size // 2)
        return y.reshape(x.shape[0], self.out_channels, self.group.order, *y.shape[-2:])


class GroupConv2d(_GroupKernel):
    """Group convolution ``(ψ ⋆ f)(g, y) = Σ_h Σ_z ψ(g^{-1} h, g^{-1}(z - y)) f(h, z)`` on the regular
    representation (Cohen & Welling 2016): fields over the group to fields over the group.

    Parameters
    ----------
    in_channels, out_channels : int
        Input and output fields (each with ``|G|`` maps).
    group : PlanarGroup or str
        ``C_N`` or ``D_N``.
    kernel_size : int
        Odd kernel size.
    bias : bool
        One bias per output field.
    basis : {"smooth", "pixel"}
        Kernel parametrisation, as in :class:`LiftingConv2d`.
    group_bandwidth : int or None
        Band-limit of the kernel along the group axis: ``ψ(d, ·)`` (``d = g^{-1} h``) is a combination of the
        Fourier modes ``1, cos(2π f k / N), sin(2π f k / N)``, ``f <= group_bandwidth``, of the rotation index
        ``k`` (separately on each coset of the reflections for ``D_N``), so features vary smoothly between the
        group's orientations, as in the steerable bases of Weiler & Cesa (2019).
        Default ``"auto"``: ``max(1, N // 4)`` (2 for C8); ``None`` leaves the group axis unconstrained.
        Exact equivariance is unaffected.
    unit_columns : bool
        Scale the basis (group modes normalised, spatial basis divided by ``sqrt(|G|)``) so that every weight's
        expanded filter has unit norm, as in escnn; the initial filters are the same either way.
    group_coordinates : {"fourier", "group"}
        The coordinates (weights) of the kernel along the group axis: orthonormal real Fourier modes of the
        relative rotation (default; the coordinates of escnn's irrep blocks, Weiler & Cesa 2019), also when the
        group axis is unconstrained, or ``"group"``: one kernel per relative group element. The kernel space is
        the same; what changes is the training, since Adam (diagonal preconditioning) is not invariant to a
        rotation of coordinates. tools/bench/equivariant.py ``--gap-study``: native C8 with escnn's kernel space
        and escnn's exact initial function reaches upright accuracy 0.954 over 3 seeds in Fourier coordinates
        against 0.926 in group coordinates (escnn 0.959).
    init_gain : float
        Expected squared norm of each output map's expanded filter at initialisation, as in
        :class:`LiftingConv2d` (default 1/3, torch's ``nn.Conv2d`` default): the initial kernel is the projection
        of an iid normal full kernel on the layer's kernel space, with the variance that gives exactly this for
        any band-limit, coordinates or normalisation.

    Examples
    --------
    >>> layer = GroupConv2d(2, 3, "D4", kernel_size=3)
    >>> layer(torch.randn(1, 2, 8, 7, 7)).shape
    torch.Size([1, 3, 8, 7, 7])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        group: PlanarGroup | str = "C8",
        *,
        kernel_size: int = 3,
        bias: bool = True,
        basis: str = "smooth",
        group_bandwidth: int | str | None = "auto",
        unit_columns: bool = False,
        group_coordinates: str = "fourier",
        init_gain: float = INIT_GAIN,
    ) -> None:
        super().__init__(group, kernel_size, basis)
        self.in_channels = _check_int("in_channels", in_channels)
        self.out_channels = _check_int("out_channels", out_channels)
        init_gain = _check_gain(init_gain)
        _unit_columns(self, unit_columns)
        n, nb = self.group.order, self.basis_size
        if group_bandwidth == "auto":
            group_bandwidth = max(1, self.group.N // 4)
        if group_bandwidth is not None:
            _check_int("group_bandwidth", group_bandwidth, low=0)
        if group_coordinates not in ("fourier", "group"):
            raise ValueError(f"group_coordinates must be 'fourier' or 'group', got {group_coordinates!r}")
        self.group_coordinates = group_coordinates
        modes = _group_modes(self.group, group_bandwidth, group_coordinates)  # [n, nf]
        if unit_columns:
            modes = modes / modes.norm(dim=0, keepdim=True)
        modes = modes.to(torch.get_default_dtype())
        self.register_buffer("modes", modes)
        # the least-squares coefficients of an iid normal full kernel (the same initial filters in any coordinates
        # of the same space); the projection keeps rank(modes) of the |G| group-axis dimensions, so
        # E||filter of one output map||^2 = std^2 * in * rank * mean_g sum_q ||T_g q||^2 = init_gain
        rank = int(torch.linalg.matrix_rank(modes.double()))
        std = math.sqrt(init_gain / (in_channels * rank * _kernel_energy(self.transforms)))
        coef = torch.randn(out_channels, in_channels, n, nb) * std
        coef = torch.einsum("fg,ocgq->ocfq", torch.linalg.pinv(modes), coef)
        self.coef = nn.Parameter(coef)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.register_buffer("products", self.group.inverse_products(), persistent=False)

    def filter(self) -> torch.Tensor:
        """The expanded ``[out * |G|, in * |G|, k, k]`` convolution weight."""
        n, k = self.group.order, self.kernel_size
        weight = torch.einsum("gf,ocfq->ocgq", self.modes, self.coef)  # [o, c, |G|, nb]
        psi = weight[:, :, self.products]  # [o, c, g, h, nb]: psi(g^{-1} h)
        w = torch.einsum("gpq,ocghq->ogchp", self.transforms, psi)
        return w.reshape(self.out_channels * n, self.in_channels * n, k, k)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        _check_field(f, self.in_channels, self.group, "f")
        b, n = f.shape[0], self.group.order
        bias = None if self.bias is None else self.bias.repeat_interleave(n)
        y = F.conv2d(
            f.reshape(b, self.in_channels * n, *f.shape[-2:]), self.filter(), bias, padding=self.kernel_size // 2
        )
        return y.reshape(b, self.out_channels, n, *y.shape[-2:])

    def adjoint(self, g: torch.Tensor) -> torch.Tensor:
        """The adjoint ``K^T`` (transposed convolution with the same weight), also equivariant."""
        _check_field(g, self.out_channels, self.group, "g")
        b, n = g.shape[0], self.group.order
        y = F.conv_transpose2d(
            g.reshape(b, self.out_channels * n, *g.shape[-2:]), self.filter(), padding=self.kernel_size // 2
        )
        return y.reshape(b, self.in_channels, n, *y.shape[-2:])


def _unit_columns(layer: _GroupKernel, unit_columns: object) -> float:
    """With ``unit_columns``, divide the layer's transformed basis by ``sqrt(|G|)`` (each weight is shared by the
    ``|G|`` transformed copies of its kernel, so its expanded filter column has norm ``sqrt(|G|)`` otherwise) and
    return ``sqrt(|G|)``, else 1. The initial weights are scaled from the basis itself (``init_gain``), so the
    initial filters are unchanged either way."""
    if not isinstance(unit_columns, bool):
        raise TypeError(f"unit_columns must be a bool, got {unit_columns!r}")
    layer.unit_columns = unit_columns
    if not unit_columns:
        return 1.0
    root = math.sqrt(layer.group.order)
    layer.transforms.div_(root)
    return root


def _group_modes(group: PlanarGroup, bandwidth: int | None, coordinates: str = "fourier") -> torch.Tensor:
    """``[|G|, nf]``: the coordinates of the kernel along the group axis.

    ``coordinates="fourier"``: orthonormal real Fourier modes ``1, cos(2π f k / N), sin(2π f k / N)`` of the
    rotation index ``k`` up to ``bandwidth`` (all ``f <= N // 2``, without the vanishing Nyquist sine, when
    ``bandwidth`` is ``None`` or reaches ``N // 2``), on each reflection coset. ``coordinates="group"``: one
    coordinate per relative group element (the identity) when unconstrained, and the unnormalised modes when
    band-limited (the parametrisation before the Fourier one was made the default)."""
    n = group.order
    full = bandwidth is None or 2 * bandwidth + 1 >= group.N
    if coordinates == "group" and full:
        return torch.eye(n, dtype=torch.float64)
    top = group.N // 2 if full else bandwidth
    k = torch.arange(group.N, dtype=torch.float64)
    cols = [torch.ones(group.N, dtype=torch.float64)]
    for f in range(1, top + 1):
        cols.append(torch.cos(2 * math.pi * f * k / group.N))
        if 2 * f != group.N:
            cols.append(torch.sin(2 * math.pi * f * k / group.N))
    block = torch.stack(cols, 1)
    if coordinates == "fourier":
        block = block / block.norm(dim=0, keepdim=True)
    return torch.block_diag(block, block) if group.flips else block


class GroupBatchNorm(nn.Module):
    """Batch normalisation of fields over the group: one mean, variance, scale and shift per field, shared by
    its ``|G|`` maps (so it commutes with the group action).

    Parameters
    ----------
    channels : int
        Number of fields.

    Examples
    --------
    >>> GroupBatchNorm(3)(torch.randn(2, 3, 4, 5, 5)).shape
    torch.Size([2, 3, 4, 5, 5])
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm3d(_check_int("channels", channels))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.norm(f)


class GroupPool(nn.Module):
    """Pooling over the group axis (``max`` or ``mean``): fields over the group to rotation-invariant scalar
    fields ``[B, C, H, W]`` (which still move with the input's translation and rotation).

    Parameters
    ----------
    reduction : {"max", "mean"}
        How to pool.

    Examples
    --------
    >>> GroupPool()(torch.randn(2, 3, 8, 5, 5)).shape
    torch.Size([2, 3, 5, 5])
    """

    def __init__(self, reduction: str = "max") -> None:
        super().__init__()
        if reduction not in ("max", "mean"):
            raise ValueError(f"reduction must be 'max' or 'mean', got {reduction!r}")
        self.reduction = reduction

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        if not isinstance(f, torch.Tensor) or f.dim() != 5:
            raise ValueError(f"f must be a field over the group [B, C, |G|, H, W], got {getattr(f, 'shape', f)}")
        return f.amax(dim=2) if self.reduction == "max" else f.mean(dim=2)


class EquivariantPool2d(nn.Module):
    """Spatial average pooling with stride 2 whose windows are placed symmetrically, so that it commutes with
    rotations by 90° and flips: kernel 3 with padding 1 on odd sizes, kernel 2 on even sizes.

    Works on images ``[B, C, H, W]`` and on fields ``[B, C, |G|, H, W]`` (square maps).

    Parameters
    ----------
    None
        The layer has no options: the window follows from the parity of the input size.

    Examples
    --------
    >>> EquivariantPool2d()(torch.randn(1, 2, 4, 29, 29)).shape
    torch.Size([1, 2, 4, 15, 15])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (4, 5) or x.shape[-1] != x.shape[-2]:
            raise ValueError(f"x must be square maps [B, C, (|G|,) H, H], got {list(x.shape)}")
        lead = x.shape[:-2]
        y = x.reshape(-1, 1, *x.shape[-2:])
        if x.shape[-1] % 2:
            y = F.avg_pool2d(y, 3, stride=2, padding=1, count_include_pad=False)
        else:
            y = F.avg_pool2d(y, 2, stride=2)
        return y.reshape(*lead, *y.shape[-2:])


class InvariantHead(nn.Module):
    """Invariant read-out: a global pooling over the group and space, then a linear layer.

    Parameters
    ----------
    channels : int
        Input fields.
    out_features : int
        Outputs (e.g. class logits), invariant to the group and to translations.
    reduction : {"max", "mean"}
        ``"max"`` over the group and space (default; trains fastest on rotated digits), or ``"mean"`` over space
        after a max over the group.

    Examples
    --------
    >>> InvariantHead(3, 10)(torch.randn(2, 3, 8, 5, 5)).shape
    torch.Size([2, 10])
    """

    def __init__(self, channels: int, out_features: int, *, reduction: str = "max") -> None:
        super().__init__()
        if reduction not in ("max", "mean"):
            raise ValueError(f"reduction must be 'max' or 'mean', got {reduction!r}")
        self.reduction = reduction
        self.linear = nn.Linear(_check_int("channels", channels), _check_int("out_features", out_features))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        if not isinstance(f, torch.Tensor) or f.dim() != 5 or f.shape[1] != self.linear.in_features:
            raise ValueError(
                f"f must be fields over the group [B, {self.linear.in_features}, |G|, H, W], "
                f"got {list(f.shape) if isinstance(f, torch.Tensor) else type(f).__name__}"
            )
        pooled = f.amax(dim=2)
        pooled = pooled.amax(dim=(-2, -1)) if self.reduction == "max" else pooled.mean(dim=(-2, -1))
        return self.linear(pooled)


class GCNN(nn.Module):
    """A group-equivariant CNN for ``C_N`` or ``D_N`` built from native layers: a lifting convolution, then
    group convolutions, each followed by :class:`GroupBatchNorm` and ReLU (pointwise on the regular
    representation, hence equivariant), :class:`EquivariantPool2d` after every layer but the last, and an
    :class:`InvariantHead` (or, with ``pool=False``, the group-pooled feature maps, which rotate with the input).

    Parameters
    ----------
    group : PlanarGroup or str
        ``"C8"``, ``"D8"``, ... Exact equivariance holds for rotations by multiples of 90° and flips (D_N).
    in_channels : int
        Input image channels.
    hidden : sequence of int
        Fields per layer (each with ``|G|`` maps).
    out_features : int
        Outputs of the invariant head.
    kernel_size : int
        Odd kernel size of every layer.
    pool : bool
        End with the invariant head (``True``) or return ``[B, hidden[-1], H', W']`` invariant-field maps.
    downsample : bool
        Put :class:`EquivariantPool2d` between layers.
    basis : {"smooth", "pixel"}
        Kernel parametrisation of every convolution.
    group_bandwidth : int or None
        Band-limit along the group axis of the group convolutions (see :class:`GroupConv2d`).
    unit_columns : bool
        Normalise every convolution's basis so that each weight's expanded filter has unit norm (see
        :class:`GroupConv2d`).
    group_coordinates : {"fourier", "group"}
        Coordinates of the group convolutions' kernels along the group axis (see :class:`GroupConv2d`).
    init_gain : float
        Expected squared norm of each output map's expanded filter at initialisation in every convolution
        (default 1/3, torch's ``nn.Conv2d`` default; see :class:`LiftingConv2d`).

    Examples
    --------
    >>> model = GCNN("C4", hidden=(2, 2), out_features=3, kernel_size=3).eval()
    >>> x = torch.randn(2, 1, 9, 9)
    >>> bool((model(torch.rot90(x, 1, (-2, -1))) - model(x)).abs().max() < 1e-5)
    True
    """

    def __init__(
        self,
        group: PlanarGroup | str = "C8",
        *,
        in_channels: int = 1,
        hidden: Sequence[int] = (8, 16),
        out_features: int = 10,
        kernel_size: int = 5,
        pool: bool = True,
        downsample: bool = True,
        basis: str = "smooth",
        group_bandwidth: int | str | None = "auto",
        unit_columns: bool = False,
        group_coordinates: str = "fourier",
        init_gain: float = INIT_GAIN,
    ) -> None:
        super().__init__()
        if (
            isinstance(hidden, int)
            or not hidden
            or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in hidden)
        ):
            raise ValueError(f"hidden must be a non-empty sequence of positive integers, got {hidden!r}")
        self.group = as_group(group)
        layers: list[nn.Module] = [
            LiftingConv2d(
                in_channels,
                hidden[0],
                self.group,
                kernel_size=kernel_size,
                basis=basis,
                unit_columns=unit_columns,
                init_gain=init_gain,
            )
        ]
        for i, c in enumerate(hidden):
            layers += [GroupBatchNorm(c), nn.ReLU()]
            if i + 1 < len(hidden):
                if downsample:
                    layers.append(EquivariantPool2d())
                layers.append(
                    GroupConv2d(
                        c,
                        hidden[i + 1],
                        self.group,
                        kernel_size=kernel_size,
                        basis=basis,
                        group_bandwidth=group_bandwidth,
                        unit_columns=unit_columns,
                        group_coordinates=group_coordinates,
                        init_gain=init_gain,
                    )
                )
        self.features = nn.Sequential(*layers)
        self.head: nn.Module = InvariantHead(hidden[-1], out_features) if pool else GroupPool("max")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
