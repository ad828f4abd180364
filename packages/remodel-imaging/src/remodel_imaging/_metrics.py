"""Image quality measures."""

from __future__ import annotations

import math

import torch


def psnr(x: torch.Tensor, reference: torch.Tensor, *, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio ``10 log10(range^2 / mse)`` in dB of ``x`` against ``reference``.

    Parameters
    ----------
    x : torch.Tensor
        The image to rate.
    reference : torch.Tensor
        The ground truth, of the same shape.
    data_range : float, optional
        The peak value range; default ``reference.max() - reference.min()``; must be ``> 0``.

    Returns
    -------
    float
        PSNR in dB (``inf`` when ``x == reference``).

    Examples
    --------
    >>> ref = torch.zeros(4, 4); ref[0, 0] = 1.0
    >>> round(psnr(ref + 0.1, ref), 6)
    20.0
    """
    if not isinstance(x, torch.Tensor) or not isinstance(reference, torch.Tensor):
        raise TypeError("x and reference must be torch tensors")
    if x.shape != reference.shape:
        raise ValueError(f"x and reference must have the same shape, got {list(x.shape)} and {list(reference.shape)}")
    rng = float(reference.max() - reference.min()) if data_range is None else float(data_range)
    if not rng > 0:
        raise ValueError(f"data_range must be > 0, got {rng!r}")
    mse = float(((x.double() - reference.double()) ** 2).mean())
    if not math.isfinite(mse):
        return math.nan if math.isnan(mse) else -math.inf
    return math.inf if mse == 0 else 10.0 * math.log10(rng**2 / mse)


def ssim(x: torch.Tensor, reference: torch.Tensor, *, data_range: float = 1.0) -> float:
    """Structural similarity (Wang et al. 2004) of two 2-D images by ``skimage.metrics.structural_similarity``.

    Parameters
    ----------
    x : torch.Tensor
        The 2-D image to rate.
    reference : torch.Tensor
        The 2-D ground truth, of the same shape.
    data_range : float, default 1.0
        The value range of the images, ``> 0``.

    Returns
    -------
    float
        The mean SSIM, in ``[-1, 1]`` (1 for identical images).

    Examples
    --------
    >>> ref = torch.rand(16, 16, generator=torch.Generator().manual_seed(0))
    >>> ssim(ref, ref)
    1.0
    """
    if not isinstance(x, torch.Tensor) or not isinstance(reference, torch.Tensor):
        raise TypeError("x and reference must be torch tensors")
    if x.shape != reference.shape or x.dim() != 2:
        raise ValueError(
            f"x and reference must be 2-D images of the same shape, got {list(x.shape)} and {list(reference.shape)}"
        )
    if not data_range > 0:
        raise ValueError(f"data_range must be > 0, got {data_range!r}")
    from skimage.metrics import structural_similarity

    return float(
        structural_similarity(
            x.detach().double().cpu().numpy(), reference.detach().double().cpu().numpy(), data_range=float(data_range)
        )
    )
