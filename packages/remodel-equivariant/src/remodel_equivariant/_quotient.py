"""Fields on quotient spaces ``G / H`` of ``C_N`` and ``D_N`` and the group convolutions between them.

A field on ``G / H`` has one map per coset ``x = gH`` (``[B, C, |G/H|, H, W]``); ``G`` acts by
``(a f)(x, y) = f(a^{-1} x, a^{-1} y)``, a permutation of the cosets together with the rotation of the maps: the
quotient representation of escnn (Weiler & Cesa, "General E(2)-equivariant steerable CNNs", NeurIPS 2019). Special
cases: ``H = {e}`` is the regular representation, ``H = G`` a scalar field, ``C_N / C_M`` a field of ``N / M``
orientations that is symmetric under rotations by ``360° / M``, ``D_N / {e, f}`` an orientation field without a
sense of reflection.

The convolution from ``G / H_1`` to ``G / H_2`` (Cohen, Geiger & Weiler, "A general theory of equivariant CNNs on
homogeneous spaces", NeurIPS 2019) is that of the regular representation restricted to these fields: a kernel
``ψ(x, ·)`` on the input cosets, transformed to every output orientation ``g``, ``K(g, x) = g ψ(g^{-1} x)``, and
averaged over each output coset, ``K(gH_2, x) = |H_2|^{-1} Σ_{h ∈ H_2} K(gh, x)`` (which makes it independent of
the representative ``g``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from ._gconv import INIT_GAIN, _check_gain, _check_int, _GroupKernel
from ._groups import PlanarGroup, as_group


class QuotientSpace:
    """The cosets ``G / H`` of ``G = C_N`` or ``D_N`` by ``H = <r^{N/M}>`` (the rotations by multiples of
    ``360° / M``) or, with ``flip=True``, by ``H = <r^{N/M}, f>`` (the dihedral subgroup ``D_M``) — escnn's
    subgroup ids ``M`` and ``(0., M)``.

    Parameters
    ----------
    group : PlanarGroup or str
        ``C_N`` or ``D_N``.
    rotations : int
        ``M``, the number of rotations in ``H`` (a divisor of ``N``); 1 for ``H = {e}`` (regular representation).
    flip : bool
        Include the reflection ``f`` in ``H`` (``D_N`` only).

    Examples
    --------
    >>> X = QuotientSpace("C8", rotations=4)     # C8 / C4: two orientations, each symmetric under rot90
    >>> X.size, X.name
    (2, 'C8/C4')
    >>> QuotientSpace("D8", flip=True).size       # D8 / {e, f}: eight orientations, no handedness
    8
    """

    def __init__(self, group: PlanarGroup | str, rotations: int = 1, *, flip: bool = False) -> None:
        self.group = as_group(group)
        _check_int("rotations", rotations)
        if self.group.N % rotations:
            raise ValueError(f"rotations must divide N = {self.group.N} of {self.group.name}, got {rotations}")
        if not isinstance(flip, bool):
            raise TypeError(f"flip must be a bool, got {flip!r}")
        if flip and not self.group.flips:
            raise ValueError(f"flip=True needs a dihedral group D_N, got {self.group.name}")
        self.rotations, self.flip = rotations, flip
        g = self.group
        step = g.N // rotations
        self.subgroup = sorted(g.index(j * step, m) for j in range(rotations) for m in ((0, 1) if flip else (0,)))
        cosets: dict[frozenset[int], int] = {}
        coset_of = []
        for a in range(g.order):  # cosets numbered in the order of their smallest element
            c = frozenset(g.compose(a, h) for h in self.subgroup)
            coset_of.append(cosets.setdefault(c, len(cosets)))
        self.coset_of = coset_of
        self.representatives = [coset_of.index(x) for x in range(len(cosets))]

    @property
    def size(self) -> int:
        """Number of cosets ``|G| / |H|`` (maps per field)."""
        return self.group.order // len(self.subgroup)

    @property
    def name(self) -> str:
        """E.g. ``"C8/C4"``, ``"D8/D1"`` (``H = {e, f}``), ``"C8/C1"`` (regular)."""
        return f"{self.group.name}/{'D' if self.flip else 'C'}{self.rotations}"

    def __repr__(self) -> str:
        return f"QuotientSpace({self.group.name!r}, rotations={self.rotations}, flip={self.flip})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QuotientSpace) and (self.group, self.rotations, self.flip) == (
            other.group,
            other.rotations,
            other.flip,
        )

    def __hash__(self) -> int:
        return hash((self.group, self.rotations, self.flip))

    def act(self, a: int, x: int) -> int:
        """Index of the coset ``a x``."""
        return self.coset_of[self.group.compose(a, self.representatives[x])]

    def action_table(self) -> torch.Tensor:
        """``table[g, x]`` = index of ``g^{-1} x`` (a ``[|G|, |G/H|]`` long tensor)."""
        g = self.group
        return torch.tensor([[self.act(g.inverse(a), x) for x in range(self.size)] for a in range(g.order)])

    def act_on_field(self, a: int, f: torch.Tensor) -> torch.Tensor:
        """Action of the exact element ``a`` on fields ``[B, C, |G/H|, H, W]``: ``(a f)(x, y) = f(a^{-1} x,
        a^{-1} y)``."""
        if not isinstance(f, torch.Tensor) or f.dim() != 5 or f.shape[2] != self.size:
            raise ValueError(
                f"f must have shape [B, C, {self.size}, H, W] for {self.name}, got {list(getattr(f, 'shape', []))}"
            )
        inv = self.group.inverse(a)
        return self.group.act_on_image(a, f[:, :, [self.act(inv, x) for x in range(self.size)]])

    def lift(self, f: torch.Tensor) -> torch.Tensor:
        """The regular field ``F(g) = f(gH)`` (constant on cosets) of a field on ``G / H``."""
        return f[:, :, self.coset_of]


def _as_space(space: object, what: str) -> QuotientSpace:
    if not isinstance(space, QuotientSpace):
        raise TypeError(f"{what} must be a QuotientSpace, got {type(space).__name__}")
    return space


class QuotientConv2d(_GroupKernel):
    """Group convolution between fields on quotient spaces, ``G / H_1 -> G / H_2`` (module notes):

    ``(K ⋆ f)(y, p) = Σ_x Σ_z K(y, x)(z - p) f(x, z)``, ``K(gH_2, x) = |H_2|^{-1} Σ_{h ∈ H_2} (gh) ψ((gh)^{-1} x)``.

    With ``H_1 = H_2 = {e}`` it is :class:`~remodel_equivariant.GroupConv2d` (unconstrained group axis), with
    ``H_1 = G`` and ``H_2 = {e}`` :class:`~remodel_equivariant.LiftingConv2d`; in general it equals the regular
    group convolution with the kernel summed over the input cosets, applied to the lifted field
    (:meth:`QuotientSpace.lift`) and averaged over the output cosets.

    Parameters
    ----------
    in_channels, out_channels : int
        Input and output fields (``|G/H_1|`` and ``|G/H_2|`` maps each).
    in_space, out_space : QuotientSpace
        ``G / H_1`` and ``G / H_2`` of the same group.
    kernel_size : int
        Odd kernel size.
    bias : bool
        One bias per output field (shared by its maps).
    basis : {"smooth", "pixel"}
        Kernel parametrisation, as in :class:`~remodel_equivariant.LiftingConv2d`.
    init_gain : float
        Expected squared norm of each output map's expanded filter at initialisation (default 1/3, torch's
        ``nn.Conv2d`` default), as in :class:`~remodel_equivariant.LiftingConv2d`.

    Examples
    --------
    >>> conv = QuotientConv2d(2, 3, QuotientSpace("C8", 4), QuotientSpace("C8"), kernel_size=3)
    >>> conv(torch.randn(1, 2, 2, 9, 9)).shape        # C8/C4 (2 maps) -> regular C8 (8 maps)
    torch.Size([1, 3, 8, 9, 9])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        in_space: QuotientSpace,
        out_space: QuotientSpace,
        *,
        kernel_size: int = 3,
        bias: bool = True,
        basis: str = "smooth",
        init_gain: float = INIT_GAIN,
    ) -> None:
        in_space, out_space = _as_space(in_space, "in_space"), _as_space(out_space, "out_space")
        if in_space.group != out_space.group:
            raise ValueError(
                f"in_space and out_space must be quotients of the same group, got "
                f"{in_space.group.name} and {out_space.group.name}"
            )
        super().__init__(in_space.group, kernel_size, basis)
        self.in_channels = _check_int("in_channels", in_channels)
        self.out_channels = _check_int("out_channels", out_channels)
        self.in_space, self.out_space = in_space, out_space
        nx, nb = in_space.size, self.basis_size
        init_gain = _check_gain(init_gain)
        self.register_buffer("table", in_space.action_table(), persistent=False)  # [|G|, nx]: g^{-1} x
        avg = torch.zeros(out_space.size, self.group.order, dtype=torch.get_default_dtype())
        for a in range(self.group.order):
            avg[out_space.coset_of[a], a] = 1.0 / len(out_space.subgroup)
        self.register_buffer("average", avg, persistent=False)  # [ny, |G|]: mean over each output coset
        # E||filter of one output map||^2 = std^2 * in * (sum over unit coefficients (x, q) of the squared norm of
        # their expanded filter, per output map) = init_gain
        onehot = (self.table[:, :, None] == torch.arange(nx)).double()  # [g, x', x]: psi(g^{-1} x') is coef x
        unit = torch.einsum("yg,gpq,gax->xqyap", avg.double(), self.transforms.double(), onehot)
        energy = float((unit**2).sum()) / out_space.size
        self.coef = nn.Parameter(
            torch.randn(out_channels, in_channels, nx, nb) * math.sqrt(init_gain / (in_channels * energy))
        )
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def filter(self) -> torch.Tensor:
        """The expanded ``[out * |G/H_2|, in * |G/H_1|, k, k]`` convolution weight."""
        k = self.kernel_size
        psi = self.coef[:, :, self.table]  # [o, c, g, x, nb]: ψ(g^{-1} x)
        w = torch.einsum("yg,gpq,ocgxq->oycxp", self.average, self.transforms, psi)
        return w.reshape(self.out_channels * self.out_space.size, self.in_channels * self.in_space.size, k, k)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        nx, ny = self.in_space.size, self.out_space.size
        if not isinstance(f, torch.Tensor) or f.dim() != 5 or f.shape[1] != self.in_channels or f.shape[2] != nx:
            shape = list(f.shape) if isinstance(f, torch.Tensor) else type(f).__name__
            raise ValueError(
                f"f must be a field on {self.in_space.name} of shape [B, {self.in_channels}, {nx}, H, W], got {shape}"
            )
        b = f.shape[0]
        bias = None if self.bias is None else self.bias.repeat_interleave(ny)
        y = F.conv2d(
            f.reshape(b, self.in_channels * nx, *f.shape[-2:]), self.filter(), bias, padding=self.kernel_size // 2
        )
        return y.reshape(b, self.out_channels, ny, *y.shape[-2:])
