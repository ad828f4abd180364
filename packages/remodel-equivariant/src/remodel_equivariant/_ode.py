"""Networks as discretised differential equations, also group-equivariant, and a neural-ODE layer.

A residual block ``Y <- Y + h F(Y)`` is one explicit Euler step of ``Y' = F(Y)``; choosing ``F`` so that the ODE
is stable (a gradient flow, a Hamiltonian flow) and ``h`` inside the step's stability region gives networks whose
forward propagation does not amplify perturbations (Haber & Ruthotto, "Stable architectures for deep neural
networks", Inverse Problems 2017; Ruthotto & Haber, JMIV 2020; Celledoni et al., "Structure-preserving deep
learning", EJAM 2021). Here ``K`` is a native group convolution, so each block is also equivariant.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from ._gconv import EquivariantPool2d, GroupBatchNorm, GroupConv2d, InvariantHead, LiftingConv2d
from ._groups import PlanarGroup, as_group
from ._stable import _activation, conv_norm

# The ODE blocks are not followed by batch norm: the scale of K sets their dynamics (the parabolic step cap
# 1.8 / ||K||^2, the Hamiltonian coupling), so they start with He's variance-preserving gain 2 (each output map's
# expanded filter of expected squared norm 2), not the layers' default 1/3. Measured (digits bench, seed 0,
# 12 epochs): ODE-ResNet 0.593 upright / 0.437 random angles with 1/3, 0.647 / 0.466 with 2 (one seed each).
ODE_INIT_GAIN = 2.0


def _check_h(h: object) -> float:
    if isinstance(h, bool) or not isinstance(h, int | float) or not h > 0 or math.isinf(h):
        raise ValueError(f"h must be a finite number > 0, got {h!r}")
    return float(h)


class GroupParabolicBlock(nn.Module):
    """Forward-Euler step of the equivariant parabolic flow ``Y' = -K^T σ(K Y + b)`` with ``K`` a group
    convolution (the gradient flow of ``Σ Φ(K Y + b)``, ``Φ' = σ`` monotone):

    ``Y <- Y - h K^T σ(K Y + b)``, non-expansive when ``h <= 2 / (L_σ ||K||^2)`` (:meth:`stable_step`).

    Parameters
    ----------
    channels : int
        Fields over the group (input and output).
    group : PlanarGroup or str
        ``C_N`` or ``D_N``.
    h : float
        Step size. With ``stabilise=True`` the step used is ``min(h, 0.9 * 2 / ||K||^2)`` with ``||K||`` estimated
        in every training forward pass by a few power iterations warm started from the previous estimate's vector
        (:meth:`stable_step` computes the bound to convergence). The estimate is that of the maps of the last
        training pass (16 x 16 before any): ``||K||`` of a zero-padded convolution grows with the map size, so on
        larger maps in evaluation the cap can exceed ``2 / ||K||^2`` and the block expand (trained on 5 x 5 maps,
        evaluated on 29 x 29: step 1.12 x ``2 / ||K||^2``, Lipschitz constant 1.23); run a training-mode pass
        at the evaluation size first (under ``torch.no_grad()``) if the certificate matters there.
    kernel_size : int
        Odd kernel size.
    activation : {"relu", "tanh"}
        Monotone, 1-Lipschitz ``σ``.
    stabilise : bool
        Cap the step at the stability bound.

    Examples
    --------
    >>> block = GroupParabolicBlock(2, "C4", h=0.1, kernel_size=3)
    >>> block(torch.randn(1, 2, 4, 7, 7)).shape
    torch.Size([1, 2, 4, 7, 7])
    """

    def __init__(
        self,
        channels: int,
        group: PlanarGroup | str = "C8",
        *,
        h: float = 0.5,
        kernel_size: int = 3,
        activation: str = "relu",
        stabilise: bool = True,
    ) -> None:
        super().__init__()
        self.h, self.act, self.stabilise = _check_h(h), _activation(activation), bool(stabilise)
        self.conv = GroupConv2d(channels, channels, group, kernel_size=kernel_size, init_gain=ODE_INIT_GAIN)
        self.register_buffer("norm_sq", torch.tensor(1.0))
        self.register_buffer("power_vector", torch.empty(0))
        if self.stabilise:
            self._update_norm(torch.zeros(1, 1, 16, 16), iters=30)  # an estimate before the first training pass

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        # the power-iteration vector has the shape of the maps last trained on: take the checkpoint's shape, so
        # that a state dict trained on 29 x 29 maps loads into a freshly built block (16 x 16 at construction)
        saved = state_dict.get(prefix + "power_vector")
        if isinstance(saved, torch.Tensor) and saved.shape != self.power_vector.shape:
            self.power_vector = self.power_vector.new_empty(saved.shape)  # dtype and device of this block
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def operator_norm(self, size: int) -> float:
        """``||K||`` on ``size x size`` maps, by power iteration on ``K^T K``."""
        w = self.conv.filter().detach()
        return conv_norm(w, (size, size), iters=100)

    def stable_step(self, size: int) -> float:
        """The largest step for which the block is non-expansive on ``size x size`` maps: ``2 / ||K||^2``."""
        return 2.0 / self.operator_norm(size) ** 2

    def velocity(self, y: torch.Tensor) -> torch.Tensor:
        """``-K^T σ(K Y + b)``."""
        return -self.conv.adjoint(self.act(self.conv(y)))

    @torch.no_grad()
    def _update_norm(self, y: torch.Tensor, iters: int) -> None:
        """A few power iterations on ``K^T K`` from the stored vector (a fresh random one when the size changed)."""
        shape = (1, self.conv.in_channels * self.conv.group.order, *y.shape[-2:])
        v = self.power_vector
        if tuple(v.shape) != shape or v.dtype != y.dtype:
            v = torch.randn(shape, dtype=y.dtype, device=y.device)
            iters = max(iters, 30)
        weight, pad = self.conv.filter(), self.conv.kernel_size // 2
        for _ in range(iters):
            v = v / v.norm()
            w = F.conv_transpose2d(F.conv2d(v, weight, padding=pad), weight, padding=pad)
            lam = float((v * w).sum())
            v = w
        self.power_vector = v / v.norm()
        self.norm_sq.fill_(max(lam, 1e-12))

    def step_size(self, y: torch.Tensor) -> torch.Tensor | float:
        """The step used on ``y``: ``h``, or with ``stabilise`` ``min(h, 0.9 * 2 / ||K||^2)`` (the estimate is
        refreshed in training mode; a tensor, so that ``torch.export`` sees no data-dependent branch)."""
        if not self.stabilise:
            return self.h
        if self.training:
            self._update_norm(y, iters=3)
        return torch.clamp(1.8 / self.norm_sq, max=self.h).to(y.dtype)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y + self.step_size(y) * self.velocity(y)


class GroupHamiltonianBlock(nn.Module):
    """Leapfrog step of the equivariant Hamiltonian flow on a state ``[Y, Z]`` (fields split in two halves):
    ``Z <- Z - h K_2^T σ(K_2 Y + b_2)``, ``Y <- Y + h K_1^T σ(K_1 Z + b_1)`` (Ruthotto & Haber 2020) with group
    convolutions ``K_i``: volume preserving, exactly invertible, equivariant.

    Parameters
    ----------
    channels : int
        Fields in each half (the state has ``2 * channels`` fields).
    group : PlanarGroup or str
        ``C_N`` or ``D_N``.
    h : float
        Step size.
    kernel_size : int
        Odd kernel size.
    activation : {"tanh", "relu"}
        Monotone ``σ``.

    Examples
    --------
    >>> block = GroupHamiltonianBlock(1, "C4", kernel_size=3).double()
    >>> x = torch.randn(1, 2, 4, 5, 5, dtype=torch.float64)
    >>> bool((block.inverse(block(x)) - x).abs().max() < 1e-12)
    True
    """

    def __init__(
        self,
        channels: int,
        group: PlanarGroup | str = "C8",
        *,
        h: float = 0.2,
        kernel_size: int = 3,
        activation: str = "tanh",
    ) -> None:
        super().__init__()
        self.h, self.act, self.channels = _check_h(h), _activation(activation), channels
        self.k_y = GroupConv2d(channels, channels, group, kernel_size=kernel_size, init_gain=ODE_INIT_GAIN)
        self.k_z = GroupConv2d(channels, channels, group, kernel_size=kernel_size, init_gain=ODE_INIT_GAIN)

    def _flow(self, conv: GroupConv2d, u: torch.Tensor) -> torch.Tensor:
        return conv.adjoint(self.act(conv(u)))

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 5 or x.shape[1] != 2 * self.channels:
            raise ValueError(
                f"x must have shape [B, 2 * channels = {2 * self.channels}, |G|, H, W], got {list(x.shape)}"
            )
        return x[:, : self.channels], x[:, self.channels :]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, z = self._split(x)
        z = z - self.h * self._flow(self.k_z, y)
        y = y + self.h * self._flow(self.k_y, z)
        return torch.cat((y, z), 1)

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        """The exact inverse of :meth:`forward`."""
        y, z = self._split(x)
        y = y - self.h * self._flow(self.k_y, z)
        z = z + self.h * self._flow(self.k_z, y)
        return torch.cat((y, z), 1)


class ODEResNet(nn.Module):
    """An equivariant stable ResNet: a lifting convolution, then at each resolution ``depth`` parabolic
    (non-expansive) or Hamiltonian (conservative) blocks, a 1x1 group convolution widening the fields, and
    equivariant pooling; an invariant head at the end.

    Parameters
    ----------
    group : PlanarGroup or str
        ``C_N`` or ``D_N``.
    in_channels : int
        Input image channels.
    widths : sequence of int
        Fields per resolution.
    depth : int
        ODE steps (blocks) per resolution.
    block : {"parabolic", "hamiltonian"}
        The ODE discretised by each block.
    h : float
        Step size of each block.
    out_features : int
        Outputs of the invariant head.
    kernel_size : int
        Odd kernel size.

    Examples
    --------
    >>> model = ODEResNet("C4", widths=(2, 2), depth=1, out_features=3, kernel_size=3).eval()
    >>> model(torch.randn(2, 1, 9, 9)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        group: PlanarGroup | str = "C8",
        *,
        in_channels: int = 1,
        widths: Sequence[int] = (8, 16),
        depth: int = 2,
        block: str = "parabolic",
        h: float = 0.5,
        out_features: int = 10,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        if block not in ("parabolic", "hamiltonian"):
            raise ValueError(f"block must be 'parabolic' or 'hamiltonian', got {block!r}")
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
        if (
            isinstance(widths, int)
            or not widths
            or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in widths)
        ):
            raise ValueError(f"widths must be a non-empty sequence of positive integers, got {widths!r}")
        if block == "hamiltonian" and any(c % 2 for c in widths):
            raise ValueError(f"widths must be even for Hamiltonian blocks (state [Y, Z]), got {widths!r}")
        g = as_group(group)
        layers: list[nn.Module] = [
            LiftingConv2d(in_channels, widths[0], g, kernel_size=kernel_size + 2, init_gain=ODE_INIT_GAIN),
            GroupBatchNorm(widths[0]),
            nn.ReLU(),
        ]
        for i, c in enumerate(widths):
            for _ in range(depth):
                layers.append(
                    GroupParabolicBlock(c, g, h=h, kernel_size=kernel_size)
                    if block == "parabolic"
                    else GroupHamiltonianBlock(c // 2, g, h=h, kernel_size=kernel_size)
                )
            if i + 1 < len(widths):
                layers += [
                    EquivariantPool2d(),
                    GroupConv2d(c, widths[i + 1], g, kernel_size=1, init_gain=ODE_INIT_GAIN),
                    GroupBatchNorm(widths[i + 1]),
                    nn.ReLU(),
                ]
        self.features = nn.Sequential(*layers)
        self.head = InvariantHead(widths[-1], out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class NeuralODE(nn.Module):
    """A neural-ODE layer ``x -> y(T)`` with ``y' = f(t, y)``, ``y(0) = x`` (Chen et al., NeurIPS 2018),
    integrated by :func:`remodel_core.integrate.odeint` (Euler, Heun, RK4 or adaptive Dormand–Prince);
    gradients by backpropagation through the steps.

    ``torch.save`` of the whole layer works (with ``f`` an ``nn.Module`` or a module-level function);
    ``torch.export`` does not: the integrator reads its time grid as Python numbers, a data-dependent guard
    under export (docs/export.rst). The fixed-step blocks (:class:`ParabolicBlock`, :class:`HamiltonianBlock`)
    export.

    Parameters
    ----------
    func : nn.Module or callable
        The right-hand side ``f(t, y)`` (any shape; e.g. a :class:`GroupParabolicBlock`'s ``velocity``).
    T : float
        Final time.
    method : {"euler", "heun", "rk4", "dopri5"}
        Integrator.
    dt : float, optional
        Step of the fixed-step methods (default: one step over ``[0, T]``).
    rtol, atol : float
        Tolerances of ``dopri5``.

    Examples
    --------
    >>> layer = NeuralODE(lambda t, y: -y, T=1.0, method="rk4", dt=0.1)
    >>> round(float(layer(torch.ones(1, dtype=torch.float64))), 5)  # exp(-1) = 0.367879...
    0.36788
    """

    def __init__(
        self,
        func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        *,
        T: float = 1.0,
        method: str = "rk4",
        dt: float | None = None,
        rtol: float = 1e-6,
        atol: float = 1e-8,
    ) -> None:
        super().__init__()
        if not callable(func):
            raise TypeError(f"func must be callable f(t, y), got {type(func).__name__}")
        from remodel_core.integrate import METHODS

        if method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
        self.func, self.T, self.method = func, _check_h(T), method
        self.dt = None if dt is None else _check_h(dt)
        self.rtol, self.atol = rtol, atol
        self.nfe = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from remodel_core.integrate import odeint

        t = torch.tensor([0.0, self.T], dtype=x.dtype, device=x.device)
        kwargs = {"rtol": self.rtol, "atol": self.atol} if self.method == "dopri5" else {"dt": self.dt or self.T}
        ys, stats = odeint(self.func, x, t, self.method, return_stats=True, **kwargs)
        self.nfe = int(stats["nfev"])
        return ys[-1]
