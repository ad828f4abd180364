"""Toy 2-D target densities, generated in-package (no data download)."""

from __future__ import annotations

import math

import torch


def _check(n: int, generator: torch.Generator | None) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")


def two_moons(n: int, generator: torch.Generator | None = None, *, noise: float = 0.05,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` points of the two interleaving half circles (as ``sklearn.datasets.make_moons``), centred and
    scaled by 2, with Gaussian noise of standard deviation ``noise`` (before scaling).

    Examples
    --------
    >>> two_moons(100, torch.Generator().manual_seed(0)).shape
    torch.Size([100, 2])
    """
    _check(n, generator)
    upper = torch.rand(n, generator=generator, dtype=torch.float64) < 0.5
    angle = math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
    x = torch.where(upper, torch.cos(angle), 1.0 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    pts = torch.stack((x - 0.5, y - 0.25), dim=1) + noise * torch.randn(n, 2, generator=generator, dtype=torch.float64)
    return (2.0 * pts).to(dtype)


def eight_gaussians(n: int, generator: torch.Generator | None = None, *, radius: float = 2.0, std: float = 0.15,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` points of an equal mixture of 8 isotropic Gaussians (standard deviation ``std``) centred on the
    circle of radius ``radius`` (the benchmark of Grathwohl et al. 2019 and Tong et al. 2024).

    Examples
    --------
    >>> eight_gaussians(64, torch.Generator().manual_seed(0)).norm(dim=1).mean().round()
    tensor(2.)
    """
    _check(n, generator)
    k = torch.randint(0, 8, (n,), generator=generator)
    angle = 2 * math.pi * k.to(torch.float64) / 8
    centres = radius * torch.stack((torch.cos(angle), torch.sin(angle)), dim=1)
    return (centres + std * torch.randn(n, 2, generator=generator, dtype=torch.float64)).to(dtype)


def gaussian(mean: float | list[float], std: float = 1.0):
    """A sampler of the isotropic Gaussian ``N(mean, std^2 I)`` (``dim = len(mean)``), for tests and baselines.

    Examples
    --------
    >>> gaussian([1.0, -1.0], 0.5)(1000, torch.Generator().manual_seed(0)).mean(0).round(decimals=1)
    tensor([ 1., -1.])
    """
    m = torch.as_tensor(mean, dtype=torch.float64).reshape(-1)
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std!r}")

    def sample(n: int, generator: torch.Generator | None = None, *, dtype: torch.dtype = torch.float32):
        _check(n, generator)
        return (m + std * torch.randn(n, m.numel(), generator=generator, dtype=torch.float64)).to(dtype)

    sample.mean, sample.std = m, float(std)  # type: ignore[attr-defined]
    return sample


DENSITIES = {"two_moons": two_moons, "eight_gaussians": eight_gaussians}
