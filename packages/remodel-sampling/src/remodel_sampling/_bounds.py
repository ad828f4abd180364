"""Checking and using box bounds ``[(low_1, high_1), ..., (low_d, high_d)]``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

Bounds = Sequence[Sequence[float]] | np.ndarray | torch.Tensor


def as_bounds(bounds: Bounds) -> np.ndarray:
    """The bounds as a float64 array of shape ``[d, 2]``, checked.

    Parameters
    ----------
    bounds : sequence of (low, high) pairs, numpy.ndarray or torch.Tensor
        One ``(low, high)`` pair per dimension, ``low < high``, finite.

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``[d, 2]``: column 0 the lows, column 1 the highs.

    Raises
    ------
    ValueError
        When ``bounds`` is not ``d`` pairs ``(low, high)`` of finite numbers with ``low < high``.

    Examples
    --------
    >>> as_bounds([(0, 1), (-1, 1)]).tolist()
    [[0.0, 1.0], [-1.0, 1.0]]
    """
    if isinstance(bounds, torch.Tensor):
        bounds = bounds.detach().cpu().numpy()
    try:
        arr = np.asarray(bounds, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"bounds must be a sequence of (low, high) pairs, got {bounds!r}") from err
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ValueError(
            f"bounds must have shape [d, 2] (one (low, high) pair per dimension), got shape {list(arr.shape)}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"bounds must be finite, got {arr.tolist()}")
    bad = np.nonzero(arr[:, 0] >= arr[:, 1])[0]
    if bad.size:
        raise ValueError(
            f"bounds must have low < high in every dimension; dimension {int(bad[0])} has {tuple(arr[bad[0]].tolist())}"
        )
    return arr


def check_n(n: int, name: str = "n") -> int:
    """Check a positive integer number of points."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def check_seed(seed: int | None) -> int | None:
    """Check a seed (a non-negative integer, or None for fresh entropy)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def scale(unit: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Map points of ``[0, 1)^d`` affinely onto the box."""
    return box[:, 0] + unit * (box[:, 1] - box[:, 0])


def to_unit(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Map points of the box affinely onto ``[0, 1]^d``."""
    return (points - box[:, 0]) / (box[:, 1] - box[:, 0])


def next_pow2(n: int) -> int:
    return 1 << max(0, math.ceil(math.log2(n)))
