"""Small argument checks shared by the modules of remodel-gen."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch


def check_nonnegative_float(name: str, value: Any) -> float:
    """``value`` as a float, or a ``TypeError``/``ValueError`` naming ``name`` unless it is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_positive_int(name: str, value: Any) -> int:
    """``value`` unless it is not a positive integer (then an error naming ``name``)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def as_tensor(name: str, value: Any, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A floating tensor from a tensor or array, or a ``TypeError`` naming ``name``."""
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(value).__name__}")
    if not (value.is_floating_point() or value.dtype in (torch.int32, torch.int64, torch.uint8)):
        raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")
    value = value.detach()
    if not value.is_floating_point():
        value = value.double()
    if dtype is not None:
        value = value.to(dtype)
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must be finite (it holds NaN or Inf)")
    return value


def check_pair(x0: Any, x1: Any, names: tuple[str, str] = ("x0", "x1")) -> tuple[torch.Tensor, torch.Tensor]:
    """Two tensors of samples ``[n, ...]`` and ``[m, ...]`` with the same sample shape."""
    for name, x in zip(names, (x0, x1)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() < 2 or x.shape[0] < 1:
            raise ValueError(f"{name} must have shape [n, ...] with n >= 1, got {list(x.shape)}")
    if x0.shape[1:] != x1.shape[1:]:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same sample shape, got "
            f"{list(x0.shape[1:])} and {list(x1.shape[1:])}"
        )
    return x0, x1
