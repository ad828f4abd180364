"""Denoisers: the unconstrained DnCNN baseline and the training of any denoiser through ``remodel_core.solve``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

from ._checks import as_image_batch, check_finite_positive, check_positive_ints

if TYPE_CHECKING:
    from remodel_core import Solution, TrainingProblem


class DnCNN(nn.Module):
    """DnCNN (Zhang, Zuo, Chen, Meng & Zhang, "Beyond a Gaussian denoiser: residual learning of deep CNN for
    image denoising", IEEE TIP 2017): ``depth`` 3x3 convolutions with ReLU, predicting the noise (residual
    learning), ``D(x) = x - R(x)``. Unconstrained: no Lipschitz control (the baseline). Batch normalisation is
    left out (as in most plug-and-play uses). ``padding="circular"`` matches periodic forward operators.

    Parameters
    ----------
    depth : int
        Number of convolutions (>= 2).
    features : int
        Channels of the hidden convolutions.
    padding : str
        ``"circular"`` or ``"zeros"``.

    Examples
    --------
    >>> den = DnCNN(depth=3, features=8)
    >>> den(torch.rand(16, 16)).shape
    torch.Size([16, 16])
    """

    def __init__(self, *, depth: int = 10, features: int = 32, padding: str = "circular") -> None:
        super().__init__()
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
            raise ValueError(f"depth must be an integer >= 2, got {depth!r}")
        if isinstance(features, bool) or not isinstance(features, int) or features <= 0:
            raise ValueError(f"features must be a positive integer, got {features!r}")
        if padding not in ("circular", "zeros"):
            raise ValueError(f"padding must be 'circular' or 'zeros', got {padding!r}")
        layers: list[nn.Module] = [nn.Conv2d(1, features, 3, padding=1, padding_mode=padding), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(features, features, 3, padding=1, padding_mode=padding), nn.ReLU()]
        layers.append(nn.Conv2d(features, 1, 3, padding=1, padding_mode=padding))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, squeeze = as_image_batch(x, "x")
        out = x - self.body(x)
        return out[0, 0] if squeeze else out


def denoising_problem(
    model: nn.Module,
    patches: torch.Tensor,
    *,
    noise_sigma: float,
    batch_size: int = 16,
    seed: int = 0,
    name: str = "denoiser",
) -> TrainingProblem:
    """The :class:`~remodel_core.TrainingProblem` of learning a Gaussian denoiser at level ``noise_sigma``:
    minimise the mean of ``||model(x + noise_sigma n) - x||^2`` over clean ``patches`` ``(N, 1, S, S)``.
    The noise ``n`` is drawn once per patch (seeded), so minibatches and checkpoints stay reproducible.

    Parameters
    ----------
    model : nn.Module
        The denoiser, ``(B, 1, S, S) -> (B, 1, S, S)``.
    patches : torch.Tensor
        Clean training patches.
    noise_sigma : float
        Noise standard deviation (images in [0, 1]).
    batch_size : int
        Minibatch size.
    seed : int
        Seed of the noise.

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_core.optim import Adam
    >>> prob = denoising_problem(DnCNN(depth=2, features=4), torch.rand(8, 1, 8, 8), noise_sigma=0.1)
    >>> solve(prob, Adam(lr=1e-3), maxiters=2).stats["iterations"]
    2
    """
    from remodel_core import TrainingProblem

    if not isinstance(patches, torch.Tensor) or patches.dim() != 4 or patches.shape[1] != 1:
        raise ValueError(f"patches must be a tensor (N, 1, S, S), got {getattr(patches, 'shape', patches)!r}")
    check_finite_positive("noise_sigma", noise_sigma)
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(patches.shape, generator=gen, dtype=patches.dtype) * float(noise_sigma)

    def loss(m: nn.Module, clean: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        return (m(clean + n) - clean).pow(2).mean()

    return TrainingProblem(model=model, loss=loss, data=(patches, noise), batch_size=batch_size, name=name)


class _CosineAdam(torch.optim.Adam):
    """Adam whose step size follows the cosine annealing of Loshchilov & Hutter ("SGDR: stochastic gradient
    descent with warm restarts", ICLR 2017, without restarts): ``lr_k = lr_end + (lr - lr_end)(1 + cos(π k /
    total)) / 2`` at step ``k``. The step counter lives in the parameter group, so it is checkpointed."""

    def __init__(self, params, *, lr: float, lr_end: float, total: int) -> None:
        super().__init__(params, lr=lr)
        for group in self.param_groups:
            group.update(lr_start=lr, lr_end=lr_end, total=total, k=0)

    def step(self, closure=None):  # type: ignore[override]
        for g in self.param_groups:
            frac = min(g["k"], g["total"]) / g["total"]
            g["lr"] = g["lr_end"] + (g["lr_start"] - g["lr_end"]) * (1 + math.cos(math.pi * frac)) / 2
            g["k"] += 1
        return super().step(closure)


def _cosine_adam(lr: float, lr_end: float, total: int):
    from remodel_core.optim import Adam

    class CosineAdam(Adam):
        def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
            params = [p for p in model.parameters() if p.requires_grad]
            return _CosineAdam(params, lr=self.lr, lr_end=lr_end, total=total)

    return CosineAdam(lr=lr)


def train_denoiser(
    model: nn.Module,
    patches: torch.Tensor,
    *,
    noise_sigma: float,
    iters: int = 1000,
    lr: float = 1e-3,
    batch_size: int = 16,
    seed: int = 0,
    lr_end: float | None = None,
    **options,
) -> Solution:
    """Train ``model`` as a Gaussian denoiser with Adam through :func:`remodel_core.solve` (checkpoints,
    resume, progress and the NaN guard of the shared training loop: pass ``checkpoint=PATH`` etc.).

    Parameters
    ----------
    model : torch.nn.Module
        The denoiser, mapping noisy patches ``(b, 1, H, W)`` to clean estimates of the same shape.
    patches : torch.Tensor
        Clean training patches ``(n, 1, H, W)``.
    noise_sigma : float
        Standard deviation of the Gaussian noise added to the patches (one fixed draw per patch, seeded).
    iters : int, default 1000
        Adam steps (``maxiters`` of ``solve``).
    lr : float, default 1e-3
        Adam's learning rate.
    batch_size : int, default 16
        Patches per minibatch.
    seed : int, default 0
        Seed of the noise and of the minibatch order.
    lr_end : float, optional
        If given, the step size decays from ``lr`` to ``lr_end`` over the ``iters`` steps by cosine annealing
        (Loshchilov & Hutter, ICLR 2017); otherwise it stays ``lr``.
    **options
        Further shared options of :func:`remodel_core.solve` (``checkpoint``, ``progress``, ``callback``,
        ``maxtime`` ...).

    Returns
    -------
    remodel_core.Solution
        The result of ``solve``; the trained model is ``Solution.u``, the loss history ``Solution.history``.

    Examples
    --------
    >>> sol = train_denoiser(DnCNN(depth=2, features=4), torch.rand(8, 1, 8, 8), noise_sigma=0.1, iters=3)
    >>> sol.retcode.name
    'MaxIters'
    """
    from remodel_core import solve
    from remodel_core.optim import Adam

    prob = denoising_problem(
        model, patches, noise_sigma=noise_sigma, batch_size=batch_size, seed=seed, name=type(model).__name__
    )
    if lr_end is None:
        return solve(prob, Adam(lr=lr), maxiters=iters, seed=seed, **options)
    if isinstance(lr_end, bool) or not isinstance(lr_end, int | float) or not 0 < lr_end <= lr:
        raise ValueError(f"lr_end must be a number in (0, lr], got {lr_end!r}")
    check_positive_ints(iters=iters)
    return solve(prob, _cosine_adam(lr, lr_end, iters), maxiters=iters, seed=seed, **options)
