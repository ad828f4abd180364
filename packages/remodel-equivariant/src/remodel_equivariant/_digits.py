"""Rotated-digits data: scikit-learn's 8x8 digits upsampled and padded, and image rotation by any angle."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812


def digits_images(size: int = 29, *, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's digits (1,797 images, shipped with scikit-learn) as ``[n, 1, size, size]`` images in
    ``[0, 1]``: upsampled bilinearly to about ``0.72 * size`` and zero-padded to ``size`` so that rotations by
    any angle keep the digit inside the frame; labels ``[n]``.

    Parameters
    ----------
    size : int
        Odd output size, at least 15.
    dtype : torch.dtype
        Floating dtype of the images.

    Examples
    --------
    >>> x, y = digits_images(29)
    >>> tuple(x.shape), int(y.max())
    ((1797, 1, 29, 29), 9)
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 15 or size % 2 == 0:
        raise ValueError(f"size must be an odd integer >= 15, got {size!r}")
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float64).unsqueeze(1) / 16.0
    inner = int(round(0.72 * size)) | 1
    x = F.interpolate(x, size=(inner, inner), mode="bilinear", align_corners=False)
    pad = (size - inner) // 2
    x = F.pad(x, (pad, pad, pad, pad))
    return x.to(dtype), torch.tensor(data.target, dtype=torch.long)


def rotate_images(x: torch.Tensor, angle: float | torch.Tensor) -> torch.Tensor:
    """Rotate images ``[n, C, H, W]`` about their centre by ``angle`` radians (one angle or one per image), in
    the sense of :func:`torch.rot90`, by bilinear interpolation with zero fill.

    Parameters
    ----------
    x : torch.Tensor
        Images.
    angle : float or torch.Tensor
        Angle(s) in radians.

    Examples
    --------
    >>> x = torch.randn(2, 1, 9, 9, dtype=torch.float64)
    >>> bool(torch.allclose(rotate_images(x, math.pi / 2), torch.rot90(x, 1, (-2, -1)), atol=1e-12))
    True
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"x must be images [n, C, H, W], got {getattr(x, 'shape', type(x).__name__)}")
    n = x.shape[0]
    a = torch.as_tensor(angle, dtype=x.dtype, device=x.device).expand(n)
    cos, sin = torch.cos(a), torch.sin(a)
    # output pixel (row u, col v) samples the input at A (u, v) with A = [[cos, sin], [-sin, cos]] (rot90 sense);
    # affine_grid works in (x = col, y = row) order
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin, cos
    grid = F.affine_grid(theta, list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def random_angles(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` angles uniform in ``[0, 2 pi)`` from a seeded generator.

    Examples
    --------
    >>> random_angles(3, seed=1).shape
    torch.Size([3])
    """
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, generator=gen, dtype=torch.float64) * 2 * math.pi
