"""Test images bundled with scikit-image (no download)."""

from __future__ import annotations

import torch


def camera(size: int = 128) -> torch.Tensor:
    """The ``cameraman`` image of ``skimage.data`` (bundled), anti-aliased to ``size x size``, float64 in [0, 1].

    Examples
    --------
    >>> x = camera(32)
    >>> x.shape, x.dtype, bool(0 <= x.min() and x.max() <= 1)
    (torch.Size([32, 32]), torch.float64, True)
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 4 <= size <= 512:
        raise ValueError(f"size must be an integer in [4, 512], got {size!r}")
    from skimage import data, transform

    img = data.camera().astype("float64") / 255.0
    if size != img.shape[0]:
        img = transform.resize(img, (size, size), anti_aliasing=True)
    return torch.from_numpy(img.clip(0.0, 1.0))
