"""Argument and image-shape checks shared by the denoisers, layers and unrolled networks of this package."""

from __future__ import annotations

import math

import torch


def check_box(box: tuple[float, float] | None) -> None:
    """Raise ``ValueError`` unless ``box`` is ``None`` or a tuple ``(lo, hi)`` of finite numbers with ``lo < hi``.

    Examples
    --------
    >>> check_box((0.0, 1.0))
    >>> check_box((1.0, 0.0))
    Traceback (most recent call last):
    ...
    ValueError: box must be None or a tuple (lo, hi) of finite numbers with lo < hi, got (1.0, 0.0)
    """
    if box is None:
        return
    ok = (
        isinstance(box, tuple)
        and len(box) == 2
        and all(isinstance(b, int | float) and not isinstance(b, bool) and math.isfinite(b) for b in box)
    )
    if not ok or not box[0] < box[1]:
        raise ValueError(f"box must be None or a tuple (lo, hi) of finite numbers with lo < hi, got {box!r}")


def check_finite_positive(name: str, value: float) -> float:
    """``value`` as a float; ``ValueError`` naming ``name`` unless it is a finite number > 0 (``bool`` refused).

    Examples
    --------
    >>> check_finite_positive("gamma", 2)
    2.0
    >>> check_finite_positive("gamma", float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: gamma must be a finite number > 0, got inf
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_positive_ints(**values: int) -> None:
    """Raise ``ValueError`` naming the first argument that is not a positive ``int`` (``bool`` refused).

    Parameters
    ----------
    **values : int
        The arguments to check, by name.

    Examples
    --------
    >>> check_positive_ints(channels=4, depth=2)
    >>> check_positive_ints(channels=4, depth=0)
    Traceback (most recent call last):
    ...
    ValueError: depth must be a positive integer, got 0
    """
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def as_image_batch(x: torch.Tensor, name: str) -> tuple[torch.Tensor, bool]:
    """``x`` of shape ``(H, W)`` or ``(batch, 1, H, W)`` as a 4-D batch, and whether it was a single image.

    Parameters
    ----------
    x : torch.Tensor
        One grey image or a batch of them.
    name : str
        The argument's name, used in the error message.

    Examples
    --------
    >>> batch, single = as_image_batch(torch.zeros(5, 6), "x")
    >>> tuple(batch.shape), single
    ((1, 1, 5, 6), True)
    """
    single = x.dim() == 2
    if single:
        x = x[None, None]
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"{name} must have shape (H, W) or (batch, 1, H, W), got {list(x.shape)}")
    return x, single
