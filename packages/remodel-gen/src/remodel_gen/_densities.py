"""Toy 2-D target densities, generated in-package (no data download)."""

from __future__ import annotations

import math

import torch
from remodel_core import check_positive


def _check(n: int, generator: torch.Generator | None) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")


def two_moons(
    n: int, generator: torch.Generator | None = None, *, noise: float = 0.05, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``n`` points of the two interleaving half circles (as ``sklearn.datasets.make_moons``), centred and
    scaled by 2, with Gaussian noise of standard deviation ``noise`` (before scaling).

    Parameters
    ----------
    n : int
        Number of points, positive.
    generator : torch.Generator, optional
        The random generator (``None``: torch's global one).
    noise : float, default 0.05
        Standard deviation of the Gaussian noise added before the scaling by 2.
    dtype : torch.dtype, default torch.float32
        The dtype of the result (the points are drawn in float64).

    Returns
    -------
    torch.Tensor
        Points ``[n, 2]``.

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


def eight_gaussians(
    n: int,
    generator: torch.Generator | None = None,
    *,
    radius: float = 2.0,
    std: float = 0.15,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``n`` points of an equal mixture of 8 isotropic Gaussians (standard deviation ``std``) centred on the
    circle of radius ``radius`` (the benchmark of Grathwohl et al. 2019 and Tong et al. 2024).

    Parameters
    ----------
    n : int
        Number of points, positive.
    generator : torch.Generator, optional
        The random generator (``None``: torch's global one).
    radius : float, default 2.0
        Radius of the circle carrying the 8 centres (at angles ``k pi / 4``).
    std : float, default 0.15
        Standard deviation of each Gaussian.
    dtype : torch.dtype, default torch.float32
        The dtype of the result.

    Returns
    -------
    torch.Tensor
        Points ``[n, 2]``.

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

    Parameters
    ----------
    mean : float or list of float
        The mean; its length is the dimension.
    std : float, default 1.0
        The standard deviation of every coordinate, ``> 0``.

    Returns
    -------
    callable
        ``sample(n, generator=None, *, dtype=torch.float32)`` returning ``[n, dim]``; it carries ``mean`` and
        ``std`` as attributes.

    Examples
    --------
    >>> gaussian([1.0, -1.0], 0.5)(1000, torch.Generator().manual_seed(0)).mean(0).round(decimals=1)
    tensor([ 1., -1.])
    """
    try:
        m = torch.as_tensor(mean, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"mean must be a number or a list of numbers, got {mean!r}") from err
    if m.numel() == 0 or not bool(torch.isfinite(m).all()):
        raise ValueError(f"mean must be finite and not empty, got {mean!r}")
    check_positive("std", std)

    def sample(n: int, generator: torch.Generator | None = None, *, dtype: torch.dtype = torch.float32):
        _check(n, generator)
        return (m + std * torch.randn(n, m.numel(), generator=generator, dtype=torch.float64)).to(dtype)

    sample.mean, sample.std = m, float(std)  # type: ignore[attr-defined]
    return sample


def checkerboard(
    n: int, generator: torch.Generator | None = None, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``n`` points uniform on the black squares of a 4x4 checkerboard on ``[-4, 4]^2`` (the toy density of
    Grathwohl et al., FFJORD, ICLR 2019).

    Parameters
    ----------
    n : int
        Number of points, positive.
    generator : torch.Generator, optional
        The random generator (``None``: torch's global one).
    dtype : torch.dtype, default torch.float32
        The dtype of the result.

    Returns
    -------
    torch.Tensor
        Points ``[n, 2]`` in ``[-4, 4]^2``.

    Examples
    --------
    >>> x = checkerboard(1000, torch.Generator().manual_seed(0))
    >>> bool((x.abs() <= 4).all()), bool((((x[:, 0] // 2) + (x[:, 1] // 2)) % 2 == 0).all())
    (True, True)
    """
    _check(n, generator)
    x1 = 4 * torch.rand(n, generator=generator, dtype=torch.float64) - 2
    x2 = torch.rand(n, generator=generator, dtype=torch.float64) - 2 * torch.randint(
        0, 2, (n,), generator=generator
    ).to(torch.float64)
    x2 = x2 + torch.floor(x1) % 2
    return (2 * torch.stack((x1, x2), dim=1)).to(dtype)


def spirals(
    n: int, generator: torch.Generator | None = None, *, noise: float = 0.1, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``n`` points of two interleaved spirals (the ``2spirals`` density of Grathwohl et al. 2019), with
    Gaussian noise of standard deviation ``noise``.

    Parameters
    ----------
    n : int
        Number of points, positive.
    generator : torch.Generator, optional
        The random generator (``None``: torch's global one).
    noise : float, default 0.1
        Standard deviation of the Gaussian noise.
    dtype : torch.dtype, default torch.float32
        The dtype of the result.

    Returns
    -------
    torch.Tensor
        Points ``[n, 2]``.

    Examples
    --------
    >>> spirals(10, torch.Generator().manual_seed(0)).shape
    torch.Size([10, 2])
    """
    _check(n, generator)
    r = torch.sqrt(torch.rand(n, generator=generator, dtype=torch.float64)) * 3 * math.pi
    sign = torch.where(torch.rand(n, generator=generator, dtype=torch.float64) < 0.5, -1.0, 1.0).to(torch.float64)
    jitter = 0.5 * torch.rand(n, 2, generator=generator, dtype=torch.float64)
    pts = torch.stack((-torch.cos(r) * r, torch.sin(r) * r), dim=1) + jitter
    pts = sign[:, None] * pts / 3 + noise * torch.randn(n, 2, generator=generator, dtype=torch.float64)
    return pts.to(dtype)


def digits(size: int = 16, *, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1797 handwritten digits (8x8, shipped inside the package: no download), upsampled
    bilinearly to ``size x size`` and scaled to ``[-1, 1]``.

    Parameters
    ----------
    size : int
        Side of the images (8 keeps the originals).
    dtype : torch.dtype
        Of the images.

    Returns
    -------
    images : torch.Tensor
        ``[1797, 1, size, size]`` in ``[-1, 1]``.
    labels : torch.Tensor
        ``[1797]`` (long) in ``0..9``.

    Examples
    --------
    >>> x, y = digits(16)
    >>> x.shape, y.shape, float(x.min()), float(x.max())
    (torch.Size([1797, 1, 16, 16]), torch.Size([1797]), -1.0, 1.0)
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}")
    from sklearn.datasets import load_digits  # lazy: scikit-learn is slow to import

    raw = load_digits()
    x = torch.as_tensor(raw.images, dtype=torch.float64)[:, None] / 16.0
    if size != 8:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x = (2 * x - 1).clamp(-1, 1)
    return x.to(dtype), torch.as_tensor(raw.target, dtype=torch.long)


DENSITIES = {
    "two_moons": two_moons,
    "eight_gaussians": eight_gaussians,
    "checkerboard": checkerboard,
    "spirals": spirals,
}
