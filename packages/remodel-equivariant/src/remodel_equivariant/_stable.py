"""Stable residual blocks from the PDE view of ResNets (Ruthotto & Haber 2020; Haber & Ruthotto 2017)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

_MONOTONE = {"relu": torch.relu, "tanh": torch.tanh}


def _activation(name: str):
    if name not in _MONOTONE:
        raise ValueError(f"activation must be one of {sorted(_MONOTONE)} (monotone, 1-Lipschitz), got {name!r}")
    return _MONOTONE[name]


def _check(h: float, channels: int, kernel_size: int, name: str = "channels") -> None:
    if isinstance(h, bool) or not isinstance(h, int | float) or not h > 0 or math.isinf(h):
        raise ValueError(f"h must be a finite number > 0, got {h!r}")
    if isinstance(channels, bool) or not isinstance(channels, int) or channels <= 0:
        raise ValueError(f"{name} must be a positive integer, got {channels!r}")
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size <= 0 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")


def _conv_weight(channels: int, kernel_size: int) -> nn.Parameter:
    w = torch.empty(channels, channels, kernel_size, kernel_size)
    nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    return nn.Parameter(w)


def conv_norm(weight: torch.Tensor, shape: Sequence[int], *, iters: int = 200, seed: int = 0) -> float:
    """Operator norm of the zero-padded ``same`` convolution with ``weight`` on images of ``shape = (H, W)``,
    by power iteration on ``K^T K`` (``K^T`` is the transposed convolution, its exact adjoint).

    Parameters
    ----------
    weight : torch.Tensor
        Convolution weight ``[C_out, C_in, k, k]`` (odd ``k``).
    shape : sequence of int
        Image size ``(H, W)``.
    iters : int
        Power iterations.
    seed : int
        Seed of the random start vector.

    Returns
    -------
    float
        The estimate of ``||K||_2`` (from below; it converges to the norm).

    Examples
    --------
    >>> w = torch.zeros(1, 1, 3, 3); w[0, 0, 1, 1] = 2.0
    >>> round(conv_norm(w, (4, 4)), 6)
    2.0
    """
    c = weight.shape[1]
    pad = weight.shape[-1] // 2
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, c, *shape, generator=gen, dtype=weight.dtype)
    lam = 0.0
    with torch.no_grad():
        for _ in range(iters):
            x = x / x.norm()
            z = F.conv_transpose2d(F.conv2d(x, weight, padding=pad), weight, padding=pad)
            lam = float((x * z).sum())
            x = z
    return math.sqrt(max(lam, 0.0))


class ParabolicBlock(nn.Module):
    """Forward-Euler step of the parabolic (diffusion-like) CNN of Ruthotto & Haber,
    "Deep neural networks motivated by partial differential equations", J. Math. Imaging Vis. 62 (2020):

    ``Y <- Y - h K^T σ(K Y + b)``.

    The dynamics are the gradient flow of the convex energy ``sum Φ(K Y + b)`` (``Φ' = σ`` monotone), so
    the continuous flow is non-expansive, and so is the step when ``h <= 2 / (L_σ ||K||^2)``
    (:meth:`stable_step`). ``K`` is a ``same`` convolution, ``K^T`` the matching transposed convolution.

    Parameters
    ----------
    channels : int
        Channels of the state.
    h : float
        Step size.
    kernel_size : int
        Odd kernel size of ``K``.
    activation : {"relu", "tanh"}
        Monotone ``σ``.

    Examples
    --------
    >>> block = ParabolicBlock(channels=2, h=0.1)
    >>> block(torch.randn(1, 2, 8, 8)).shape
    torch.Size([1, 2, 8, 8])
    """

    def __init__(self, channels: int, h: float = 0.1, *, kernel_size: int = 3, activation: str = "relu") -> None:
        super().__init__()
        _check(h, channels, kernel_size)
        self.h, self.act = float(h), _activation(activation)
        self.weight = _conv_weight(channels, kernel_size)
        self.bias = nn.Parameter(torch.zeros(channels))

    def velocity(self, y: torch.Tensor) -> torch.Tensor:
        """The right-hand side ``-K^T σ(K Y + b)``."""
        pad = self.weight.shape[-1] // 2
        return -F.conv_transpose2d(self.act(F.conv2d(y, self.weight, self.bias, padding=pad)), self.weight, padding=pad)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y + self.h * self.velocity(y)

    def stable_step(self, shape: Sequence[int]) -> float:
        """The largest ``h`` for which the step is non-expansive on images of ``shape``: ``2 / ||K||^2``."""
        return 2.0 / conv_norm(self.weight.detach(), shape) ** 2


class HamiltonianBlock(nn.Module):
    """Leapfrog step of the Hamiltonian CNN of Ruthotto & Haber (2020) on a state ``[Y, Z]`` (channels split):

    ``Z <- Z - h K_2^T σ(K_2 Y + b_2)``, then ``Y <- Y + h K_1^T σ(K_1 Z + b_1)``.

    The linearised dynamics ``[[0, K_1^T D_1 K_1], [-K_2^T D_2 K_2, 0]]`` (``D_i = σ'``, ``K_i^T D_i K_i``
    positive semi-definite) have purely imaginary eigenvalues, so the forward propagation neither grows nor
    decays; the step is a composition of two shears, hence volume preserving and exactly invertible
    (:meth:`inverse`).

    Parameters
    ----------
    channels : int
        Channels of each half ``Y``, ``Z`` of the state.
    h : float
        Step size.
    kernel_size : int
        Odd kernel size.
    activation : {"tanh", "relu"}
        Monotone ``σ``.

    Examples
    --------
    >>> block = HamiltonianBlock(channels=2, h=0.2)
    >>> x = torch.randn(1, 4, 6, 6, dtype=torch.float64)
    >>> block = block.double()
    >>> bool((block.inverse(block(x)) - x).abs().max() < 1e-12)
    True
    """

    def __init__(self, channels: int, h: float = 0.1, *, kernel_size: int = 3, activation: str = "tanh") -> None:
        super().__init__()
        _check(h, channels, kernel_size)
        self.channels, self.h, self.act = channels, float(h), _activation(activation)
        self.weight_y = _conv_weight(channels, kernel_size)
        self.weight_z = _conv_weight(channels, kernel_size)
        self.bias_y = nn.Parameter(torch.zeros(channels))
        self.bias_z = nn.Parameter(torch.zeros(channels))

    def _flow(self, u: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        pad = weight.shape[-1] // 2
        return F.conv_transpose2d(self.act(F.conv2d(u, weight, bias, padding=pad)), weight, padding=pad)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != 2 * self.channels:
            raise ValueError(f"x must have shape [B, 2 * channels = {2 * self.channels}, H, W], got {list(x.shape)}")
        return x[:, : self.channels], x[:, self.channels :]

    def velocity(self, x: torch.Tensor) -> torch.Tensor:
        """The Hamiltonian vector field ``(K_1^T σ(K_1 Z + b_1), -K_2^T σ(K_2 Y + b_2))``."""
        y, z = self._split(x)
        return torch.cat((self._flow(z, self.weight_y, self.bias_y), -self._flow(y, self.weight_z, self.bias_z)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, z = self._split(x)
        z = z - self.h * self._flow(y, self.weight_z, self.bias_z)
        y = y + self.h * self._flow(z, self.weight_y, self.bias_y)
        return torch.cat((y, z), 1)

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        """The exact inverse of :meth:`forward` (run the two shears backwards)."""
        y, z = self._split(x)
        y = y - self.h * self._flow(z, self.weight_y, self.bias_y)
        z = z + self.h * self._flow(y, self.weight_z, self.bias_z)
        return torch.cat((y, z), 1)


class AntisymmetricBlock(nn.Module):
    """Forward-Euler step of the antisymmetric ResNet ``y' = σ((W - W^T - γ I) y + b)`` (Haber & Ruthotto,
    "Stable architectures for deep neural networks", Inverse Problems 34, 2018; Chang et al., ICLR 2019).

    The Jacobian of the right-hand side is ``D (W - W^T - γ I)`` with ``D = diag(σ') > 0``, similar to
    ``D^{1/2} (W - W^T) D^{1/2} - γ D``: for ``γ = 0`` its eigenvalues are purely imaginary (no growth or
    decay of perturbations), for ``γ > 0`` they have negative real parts (damping).

    Parameters
    ----------
    width : int
        Dimension of the state.
    h : float
        Step size.
    gamma : float
        Damping ``γ >= 0``.
    activation : {"tanh", "relu"}
        Monotone ``σ``.

    Examples
    --------
    >>> block = AntisymmetricBlock(width=4, h=0.1)
    >>> block(torch.randn(3, 4)).shape
    torch.Size([3, 4])
    """

    def __init__(self, width: int, h: float = 0.1, *, gamma: float = 0.0, activation: str = "tanh") -> None:
        super().__init__()
        _check(h, width, 1, name="width")
        if isinstance(gamma, bool) or not isinstance(gamma, int | float) or not gamma >= 0:
            raise ValueError(f"gamma must be a number >= 0, got {gamma!r}")
        self.h, self.gamma, self.act = float(h), float(gamma), _activation(activation)
        self.weight = nn.Parameter(torch.randn(width, width) / math.sqrt(width))
        self.bias = nn.Parameter(torch.zeros(width))

    def matrix(self) -> torch.Tensor:
        """``W - W^T - γ I``."""
        eye = torch.eye(self.weight.shape[0], dtype=self.weight.dtype, device=self.weight.device)
        return self.weight - self.weight.T - self.gamma * eye

    def velocity(self, y: torch.Tensor) -> torch.Tensor:
        return self.act(y @ self.matrix().T + self.bias)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y + self.h * self.velocity(y)
