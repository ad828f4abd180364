"""1-Lipschitz convolutional layers with certified bounds, and nonexpansive denoisers built from them.

Every layer here has a method ``lipschitz_bound()`` returning a *certified* upper bound of its Lipschitz
constant in the Euclidean norm, valid for every image size; :func:`lipschitz_bound` multiplies them along a
network (composition), and :func:`lipschitz_estimate` gives a lower estimate by power iteration on the
network's Jacobian (autograd), to compare the two.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import as_image_batch, check_positive_ints

__all__ = [
    "AveragedDenoiser",
    "LipschitzDenoiser",
    "SLLConv2d",
    "SpectralConv2d",
    "circular_conv2d",
    "circular_conv2d_adjoint",
    "conv_norm_bound",
    "conv_operator_norm",
    "lipschitz_bound",
    "lipschitz_estimate",
]


def _check_kernel(kernel: torch.Tensor) -> None:
    if not isinstance(kernel, torch.Tensor) or kernel.dim() != 4:
        raise ValueError(f"kernel must be a 4-D tensor (out, in, kh, kw), got {getattr(kernel, 'shape', kernel)!r}")
    if kernel.shape[-1] % 2 == 0 or kernel.shape[-2] % 2 == 0:
        raise ValueError(f"kernel must have odd spatial sizes, got {list(kernel.shape[-2:])}")


def circular_conv2d(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Periodic ('circular') 2-D convolution (cross-correlation, as ``torch.nn.functional.conv2d``), same size.

    Parameters
    ----------
    x : torch.Tensor
        Images ``(n, in, H, W)``.
    kernel : torch.Tensor
        Weights ``(out, in, kh, kw)`` with odd ``kh``, ``kw``.
    bias : torch.Tensor, optional
        One bias per output channel, ``(out,)``.

    Returns
    -------
    torch.Tensor
        ``(n, out, H, W)``.

    Examples
    --------
    >>> k = torch.zeros(1, 1, 3, 3); k[0, 0, 1, 1] = 1.0
    >>> x = torch.randn(2, 1, 5, 5)
    >>> torch.equal(circular_conv2d(x, k), x)
    True
    """
    _check_kernel(kernel)
    ph, pw = kernel.shape[-2] // 2, kernel.shape[-1] // 2
    return F.conv2d(F.pad(x, (pw, pw, ph, ph), mode="circular"), kernel, bias)


def circular_conv2d_adjoint(z: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The exact adjoint of :func:`circular_conv2d` (without bias): correlation with the flipped, transposed kernel.

    Parameters
    ----------
    z : torch.Tensor
        Images ``(n, out, H, W)`` in the range of the convolution.
    kernel : torch.Tensor
        The forward convolution's weights ``(out, in, kh, kw)``, odd ``kh``, ``kw``.

    Returns
    -------
    torch.Tensor
        ``(n, in, H, W)``.

    Examples
    --------
    >>> k = torch.randn(4, 2, 3, 3, dtype=torch.float64)
    >>> x, z = torch.randn(1, 2, 6, 6, dtype=torch.float64), torch.randn(1, 4, 6, 6, dtype=torch.float64)
    >>> lhs = (circular_conv2d(x, k) * z).sum(); rhs = (x * circular_conv2d_adjoint(z, k)).sum()
    >>> bool(abs(lhs - rhs) < 1e-10)
    True
    """
    return circular_conv2d(z, kernel.transpose(0, 1).flip(-2, -1))


def _symbol(kernel: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """The matrix symbol ``K^(ω) = sum_u K[:, :, u] e^{-i ω.u}`` on a frequency ``grid``, shape (g1, g2, out, in)."""
    kh, kw = kernel.shape[-2:]
    g1, g2 = grid
    if g1 < kh or g2 < kw:
        raise ValueError(f"grid {grid} must be at least the kernel size {(kh, kw)}")
    pad = torch.zeros((*kernel.shape[:2], g1, g2), dtype=kernel.dtype, device=kernel.device)
    pad[..., :kh, :kw] = kernel
    return torch.fft.fft2(pad).permute(2, 3, 0, 1)


def conv_operator_norm(kernel: torch.Tensor, shape: tuple[int, int]) -> float:
    """Exact spectral norm of the circular convolution with ``kernel`` on images of size ``shape``.

    A circular convolution is block-diagonalised by the 2-D DFT (Sedghi, Gupta & Long, "The singular values of
    convolutional layers", ICLR 2019): its singular values are those of the ``out x in`` matrices
    ``K^(ω)`` at the ``shape`` DFT frequencies, so the norm is their largest singular value.

    Parameters
    ----------
    kernel : torch.Tensor
        Weights ``(out, in, kh, kw)`` with odd ``kh``, ``kw``.
    shape : tuple of int
        Image size ``(H, W)``, at least the kernel size.

    Returns
    -------
    float
        The operator 2-norm of ``x -> circular_conv2d(x, kernel)`` on ``(in, H, W)`` images.

    Examples
    --------
    >>> k = torch.zeros(1, 1, 3, 3, dtype=torch.float64); k[0, 0, 1] = torch.tensor([-1.0, 2.0, -1.0])
    >>> round(conv_operator_norm(k, (8, 8)), 12)     # 1-D second difference: norm 4
    4.0
    """
    _check_kernel(kernel)
    return float(torch.linalg.matrix_norm(_symbol(kernel.detach(), tuple(shape)), ord=2).max())


def conv_norm_bound(kernel: torch.Tensor, *, grid: int = 64) -> float:
    """A certified upper bound of the norm of the convolution with ``kernel`` on images of *any* size.

    Every circular convolution's norm is at most ``sup_ω ||K^(ω)||_2`` (see :func:`conv_operator_norm`), and a
    zero-padded one is a compression of a circular one on a larger grid, so the same sup bounds it. The sup is
    bounded from above by its maximum over a ``grid x grid`` frequency grid plus the Lipschitz constant of the
    symbol times the largest distance to the grid: ``||K^(ω) - K^(ω')|| <= sum_u ||K[u]||_2 |u . (ω - ω')|``
    with ``|ω_i - ω'_i| <= π / grid`` and ``u`` the kernel offsets from its centre.

    Parameters
    ----------
    kernel : torch.Tensor
        Weights ``(out, in, kh, kw)`` with odd ``kh``, ``kw``.
    grid : int, default 64
        Frequencies per axis of the grid (at least the kernel size); a finer grid gives a tighter bound.

    Returns
    -------
    float
        An upper bound of the convolution's norm, valid for every image size, circular or zero padding.

    Examples
    --------
    >>> k = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    >>> conv_norm_bound(k) >= conv_operator_norm(k, (17, 23))
    True
    """
    _check_kernel(kernel)
    kernel = kernel.detach()
    sup_grid = float(torch.linalg.matrix_norm(_symbol(kernel, (grid, grid)), ord=2).max())
    kh, kw = kernel.shape[-2:]
    uy = torch.arange(kh, dtype=kernel.dtype) - kh // 2
    ux = torch.arange(kw, dtype=kernel.dtype) - kw // 2
    weights = (uy.abs()[:, None] + ux.abs()[None, :]).reshape(-1)
    mats = kernel.permute(2, 3, 0, 1).reshape(kh * kw, *kernel.shape[:2])
    norms = torch.linalg.matrix_norm(mats, ord=2)
    return sup_grid + math.pi / grid * float((weights * norms).sum())


class SpectralConv2d(nn.Module):
    """Circular convolution normalised to operator norm at most ``1`` by power iteration on the convolution.

    The weight ``V`` is divided by ``max(1, s)`` where ``s`` is the norm of the convolution operator on
    ``shape``-sized images estimated by power iteration on ``C^T C`` (Miyato et al., "Spectral normalization
    for generative adversarial networks", ICLR 2018, with the convolution operator itself rather than the
    reshaped kernel matrix, as in Ryu et al., ICML 2019). A persistent vector carries the iteration across
    training steps (``power_iters`` per forward in training). The estimate approaches the norm from below, so
    the normalised layer's *certified* bound (:meth:`lipschitz_bound`) uses :func:`conv_norm_bound`, which
    holds for every image size; call :meth:`certify` after training to rescale to a certified bound ``<= 1``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels.
    kernel_size : int
        Odd kernel size.
    shape : tuple of int
        Image size on which the power iteration runs.
    power_iters : int
        Power-iteration steps per training forward.
    bias : bool
        Learnable bias (does not change the Lipschitz constant).

    Examples
    --------
    >>> layer = SpectralConv2d(1, 4, 3, shape=(16, 16))
    >>> _ = layer(torch.randn(2, 1, 16, 16))
    >>> layer.certify() <= 1.0
    True
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        shape: tuple[int, int] = (32, 32),
        power_iters: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        check_positive_ints(
            in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size, power_iters=power_iters
        )
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if not isinstance(shape, tuple | list) or len(shape) != 2:
            raise ValueError(f"shape must be a pair (H, W) of positive integers, got {shape!r}")
        check_positive_ints(**{"shape[0]": shape[0], "shape[1]": shape[1]})
        if shape[0] < kernel_size // 2 or shape[1] < kernel_size // 2:
            raise ValueError(f"shape must be at least kernel_size // 2 = {kernel_size // 2} per side, got {shape!r}")
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.power_iters = power_iters
        self.register_buffer("u", torch.randn(1, in_channels, *shape, generator=torch.Generator().manual_seed(0)))
        self.register_buffer("scale", torch.ones(()))  # extra certified rescaling set by certify()

    def _sigma(self) -> torch.Tensor:
        u = self.u
        with torch.no_grad():
            for _ in range(self.power_iters if self.training else 0):
                v = circular_conv2d_adjoint(circular_conv2d(u, self.weight), self.weight)
                u = v / v.norm().clamp_min(1e-12)
            if self.training:
                self.u.copy_(u)
        return circular_conv2d(u, self.weight).norm() / u.norm().clamp_min(1e-12)

    def normalised_weight(self) -> torch.Tensor:
        """The weight actually applied: ``V / max(1, s) * scale``."""
        return self.weight / torch.clamp(self._sigma(), min=1.0) * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return circular_conv2d(x, self.normalised_weight(), self.bias)

    def lipschitz_bound(self) -> float:
        """Certified bound of the layer's Lipschitz constant (any image size)."""
        return conv_norm_bound(self.normalised_weight().detach().double())

    @torch.no_grad()
    def certify(self) -> float:
        """Rescale so that the certified bound is at most 1; returns the new bound."""
        bound = self.lipschitz_bound()
        if bound > 1.0:
            self.scale.mul_(1.0 / (bound * (1 + 1e-9)))
        return self.lipschitz_bound()


class SLLConv2d(nn.Module):
    """Convolutional SDP-based Lipschitz layer ``h(x) = x - 2 K^T T^{-1} relu(K x + b)`` (1-Lipschitz).

    Araujo, Havens, Delattre, Allauzen & Hu, "A unified algebraic perspective on Lipschitz neural networks",
    ICLR 2023, Theorem 3: with ``T = diag_i(sum_j |K K^T|_{ij} q_j / q_i)`` (``q > 0`` learnable) one has
    ``T ⪰ K K^T`` and the layer is 1-Lipschitz for any activation with slope in ``[0, 1]``. For the circular
    convolution ``K`` (``channels -> hidden``), ``K K^T`` is the circular convolution on the hidden channels
    with kernel ``(K ⋆ K)[i, j, d] = sum_{c,u} K[i, c, u] K[j, c, u + d]``, so the row sums
    ``sum_{j,d} |(K ⋆ K)[i, j, d]| q_j / q_i`` give ``T`` (periodic wrap-around only merges terms, which the
    triangle inequality covers: the bound holds for every image size). ``(I + h) / 2 = x - K^T T^{-1}
    relu(Kx + b)`` is a gradient step on a convex potential (firmly nonexpansive).

    The activation is ``relu`` (the paper's) or ``"clip"``: ``σ(z) = clamp(z, -τ_i, τ_i)`` with a learnable
    threshold ``τ_i > 0`` per hidden channel. Its slopes are 0 and 1, inside the theorem's ``[0, 1]``, so the
    bound still holds, and ``x - K^T T^{-1} clamp(Kx + b)`` is soft thresholding of the coefficients ``Kx + b``
    in the frame ``K`` (``z - clamp(z, -τ, τ)`` is the soft-thresholding of ``z``): the classic shrinkage
    denoiser, which a one-sided ReLU cannot express with positive weights ``T^{-1}``.

    Parameters
    ----------
    channels : int
        Channels of the input and output.
    hidden : int
        Channels of ``K x``.
    kernel_size : int
        Odd kernel size.
    activation : str
        ``"relu"`` or ``"clip"``.
    relaxed : bool
        Learn the relaxation: ``(1 - α) x + α h(x) = x - 2α K^T T^{-1} σ(Kx + b)`` with ``α = sigmoid(s) ∈ (0, 1)``
        (learnable, ``1/2`` at the start), a convex combination of two nonexpansive maps, so still 1-Lipschitz.
        Without it the layer is ``x - 2 K^T T^{-1} σ(...)``: for a tight ``T`` a reflection in the active
        directions (``x - 2 P x``), which cannot shrink a coefficient by a factor in ``(0, 1)``.

    Examples
    --------
    >>> layer = SLLConv2d(2, 4).double()
    >>> x, z = torch.randn(1, 2, 8, 8, dtype=torch.float64), torch.randn(1, 2, 8, 8, dtype=torch.float64)
    >>> bool((layer(x) - layer(z)).norm() <= (x - z).norm())
    True
    """

    def __init__(
        self, channels: int, hidden: int, kernel_size: int = 3, *, activation: str = "relu", relaxed: bool = False
    ) -> None:
        super().__init__()
        check_positive_ints(channels=channels, hidden=hidden, kernel_size=kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if activation not in ("relu", "clip"):
            raise ValueError(f"activation must be 'relu' or 'clip', got {activation!r}")
        self.activation = activation
        self.weight = nn.Parameter(torch.empty(hidden, channels, kernel_size, kernel_size))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.log_q = nn.Parameter(torch.zeros(hidden))
        if activation == "clip":
            self.log_tau = nn.Parameter(torch.full((hidden,), math.log(0.05)))
        if not isinstance(relaxed, bool):
            raise TypeError(f"relaxed must be a bool, got {relaxed!r}")
        self.relaxed = relaxed
        if relaxed:
            self.alpha_logit = nn.Parameter(torch.zeros(()))

    def t_diagonal(self) -> torch.Tensor:
        """The diagonal ``T`` (one entry per hidden channel)."""
        k = self.weight
        kh, kw = k.shape[-2:]
        # (K * K)[i, j, d] = sum_{c,u} K[i,c,u] K[j,c,u+d]: correlate K (as input, batch = i) with K (as kernel, j)
        kk = F.conv2d(F.pad(k, (kw - 1, kw - 1, kh - 1, kh - 1)), k)  # (hidden_i, hidden_j, 2kh-1, 2kw-1)
        q = torch.exp(self.log_q)
        return (kk.abs().sum((-2, -1)) * q[None, :]).sum(1) / q

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.t_diagonal()
        z = circular_conv2d(x, self.weight, self.bias)
        if self.activation == "clip":
            tau = torch.exp(self.log_tau)[:, None, None]
            z = torch.minimum(torch.maximum(z, -tau), tau)
        else:
            z = F.relu(z)
        z = z / t.clamp_min(1e-12)[:, None, None]
        factor = 2.0 * torch.sigmoid(self.alpha_logit) if self.relaxed else 2.0
        return x - factor * circular_conv2d_adjoint(z, self.weight)

    def lipschitz_bound(self) -> float:
        """Certified bound: 1 (by Theorem 3 of Araujo et al. 2023)."""
        return 1.0


class _Embed(nn.Module):
    """The isometry ``x -> (x, ..., x) / sqrt(c)`` from 1 to ``c`` channels (Lipschitz constant 1)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.expand(-1, self.channels, -1, -1) / math.sqrt(self.channels)

    def lipschitz_bound(self) -> float:
        return 1.0


class _Project(nn.Module):
    """The adjoint of :class:`_Embed`, ``z -> sum_c z_c / sqrt(c)`` (norm 1)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z.sum(1, keepdim=True) / math.sqrt(self.channels)

    def lipschitz_bound(self) -> float:
        return 1.0


def lipschitz_bound(net: nn.Module) -> float:
    """Certified Lipschitz bound of a composition: the product of the bounds of its layers.

    ``net`` is a layer with a ``lipschitz_bound()`` method, or an ``nn.Sequential`` of such layers and of
    1-Lipschitz activations (``ReLU``, ``LeakyReLU`` with slope <= 1, ``Tanh``, ``Identity``).

    Parameters
    ----------
    net : torch.nn.Module
        A layer with ``lipschitz_bound()``, a supported activation, or an ``nn.Sequential`` of those.

    Returns
    -------
    float
        The product of the layers' certified bounds (1.0 for a network of 1-Lipschitz layers).

    Raises
    ------
    TypeError
        When a layer has no certified bound.

    Examples
    --------
    >>> net = nn.Sequential(SLLConv2d(1, 4), nn.ReLU(), SLLConv2d(1, 4))
    >>> lipschitz_bound(net)
    1.0
    """
    if hasattr(net, "lipschitz_bound") and not isinstance(net, nn.Sequential):
        return float(net.lipschitz_bound())
    if isinstance(net, nn.Sequential):
        out = 1.0
        for layer in net:
            out *= lipschitz_bound(layer)
        return out
    if isinstance(net, nn.ReLU | nn.Tanh | nn.Identity):
        return 1.0
    if isinstance(net, nn.LeakyReLU):
        return max(1.0, abs(net.negative_slope))
    raise TypeError(f"net must be built from layers with a certified Lipschitz bound, got {type(net).__name__}")


def lipschitz_estimate(fn: nn.Module, x: torch.Tensor, *, iters: int = 50, seed: int = 0) -> float:
    """Local Lipschitz estimate ``||J(x)||_2`` of ``fn`` at ``x`` by power iteration on ``J^T J`` (autograd).

    A lower bound of the Lipschitz constant; compare with :func:`lipschitz_bound`.

    Parameters
    ----------
    fn : torch.nn.Module
        The map (any callable differentiable by autograd).
    x : torch.Tensor
        The point where the Jacobian is taken (its shape is the input shape of ``fn``).
    iters : int, default 50
        Power iterations (each one Jacobian-vector and one vector-Jacobian product).
    seed : int, default 0
        Seed of the random starting direction.

    Returns
    -------
    float
        The estimate of ``||J(x)||_2``.

    Examples
    --------
    >>> lin = nn.Linear(3, 3, bias=False)
    >>> est = lipschitz_estimate(lin, torch.randn(3), iters=200)
    >>> abs(est - float(torch.linalg.matrix_norm(lin.weight.detach(), ord=2))) < 1e-4
    True
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)
    v = v / v.norm()
    x = x.detach()
    est = 0.0
    for _ in range(iters):
        _, jv = torch.autograd.functional.jvp(fn, x, v)
        _, jtjv = torch.autograd.functional.vjp(fn, x, jv)
        est = float(jv.norm())
        n = jtjv.norm()
        if float(n) == 0.0:
            return 0.0
        v = jtjv / n
    return est


class LipschitzDenoiser(nn.Module):
    """A 1-Lipschitz (nonexpansive) image denoiser: a stack of :class:`SLLConv2d` layers between an isometric
    lifting to ``channels`` channels and its adjoint projection, optionally followed by the projection onto
    ``[0, 1]`` (also nonexpansive).

    Its certified Lipschitz bound is the product of its layers' bounds, 1 by construction. Input and output:
    ``(batch, 1, H, W)`` or ``(H, W)``.

    Parameters
    ----------
    channels : int
        Channels of the state the SLL layers act on.
    hidden : int
        Hidden channels of every SLL layer.
    depth : int
        Number of SLL layers.
    kernel_size : int
        Odd kernel size.
    clamp : bool
        Project the output onto ``[0, 1]``.
    activation : str
        Activation of the SLL layers, ``"relu"`` or ``"clip"`` (see :class:`SLLConv2d`).
    relaxed : bool
        SLL layers with a learned relaxation (see :class:`SLLConv2d`).

    Examples
    --------
    >>> den = LipschitzDenoiser(channels=4, hidden=8, depth=2)
    >>> den(torch.rand(16, 16)).shape, den.lipschitz_bound()
    (torch.Size([16, 16]), 1.0)
    """

    def __init__(
        self,
        *,
        channels: int = 16,
        hidden: int = 32,
        depth: int = 8,
        kernel_size: int = 3,
        clamp: bool = False,
        activation: str = "relu",
        relaxed: bool = False,
    ) -> None:
        super().__init__()
        check_positive_ints(channels=channels, hidden=hidden, depth=depth)
        self.net = nn.Sequential(
            _Embed(channels),
            *[SLLConv2d(channels, hidden, kernel_size, activation=activation, relaxed=relaxed) for _ in range(depth)],
            _Project(channels),
        )
        self.clamp = clamp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, squeeze = as_image_batch(x, "x")
        out = self.net(x)
        if self.clamp:
            out = out.clamp(0.0, 1.0)
        return out[0, 0] if squeeze else out

    def lipschitz_bound(self) -> float:
        """Certified Lipschitz bound (product over the layers; 1 by construction)."""
        return lipschitz_bound(self.net)


class AveragedDenoiser(nn.Module):
    """``D = (1 - alpha) I + alpha N`` for a nonexpansive ``N``: an ``alpha``-averaged operator.

    With ``alpha = 1/2`` it is firmly nonexpansive, i.e. the resolvent of a maximally monotone operator
    (Ryu et al., "Plug-and-play methods provably converge with properly trained denoisers", ICML 2019;
    Pesquet et al., SIAM J. Imaging Sci. 2021); plug-and-play iterations with it converge.

    Parameters
    ----------
    net : nn.Module
        The nonexpansive ``N`` (with a ``lipschitz_bound()``).
    alpha : float
        In ``(0, 1]``.

    Examples
    --------
    >>> den = AveragedDenoiser(LipschitzDenoiser(channels=2, hidden=4, depth=1), alpha=0.5)
    >>> den.lipschitz_bound()
    1.0
    """

    def __init__(self, net: nn.Module, alpha: float = 0.5) -> None:
        super().__init__()
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        self.net, self.alpha = net, float(alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (1 - self.alpha) * x + self.alpha * self.net(x)

    def lipschitz_bound(self) -> float:
        """``(1 - alpha) + alpha * bound(N)``."""
        return (1 - self.alpha) + self.alpha * lipschitz_bound(self.net)
