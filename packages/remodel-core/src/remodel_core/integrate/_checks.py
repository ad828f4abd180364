"""Input checks and small helpers shared by the integrators."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .._algorithm import check_positive


def check_callable(name: str, fn: Any) -> None:
    """Raise ``TypeError`` unless ``fn`` is callable."""
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}")


def check_state(name: str, y: Any) -> torch.Tensor:
    """Return ``y`` if it is a floating-point tensor, else raise ``TypeError`` naming ``name``."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
    if not y.is_floating_point():
        raise TypeError(f"{name} must have a real floating-point dtype, got {y.dtype}")
    return y


def check_method(method: Any, valid: Sequence[str]) -> str:
    """Return ``method`` if it names one of ``valid``, else raise ``ValueError`` listing them."""
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, one of {sorted(valid)}, got {type(method).__name__}")
    if method not in valid:
        raise ValueError(f"unknown method {method!r}; valid methods are {sorted(valid)}")
    return method


def check_times(t: Any, like: torch.Tensor) -> list[float]:
    """Validate the output times ``t`` against the state ``like``; return them as Python floats.

    ``t`` is a 1-D, finite, strictly increasing tensor of the same dtype as the state (a list or tuple of
    numbers is accepted too). Times are handed to the right-hand side as 0-d tensors of the state's dtype
    and device, so ``t`` may live on any device.
    """
    if isinstance(t, torch.Tensor):
        if t.dtype != like.dtype:
            raise TypeError(f"t must have the dtype of the initial state ({like.dtype}), got {t.dtype}")
        if t.ndim != 1:
            raise ValueError(f"t must be a 1-D tensor of output times, got shape {tuple(t.shape)}")
        values = [float(v) for v in t.detach().cpu().tolist()]
    elif isinstance(t, (list, tuple)):
        try:
            values = [float(v) for v in t]
        except (TypeError, ValueError) as err:
            raise TypeError("t must be a 1-D tensor or a sequence of numbers") from err
    else:
        raise TypeError(f"t must be a 1-D torch.Tensor of output times, got {type(t).__name__}")
    if len(values) == 0:
        raise ValueError("t must hold at least one time")
    if not all(math.isfinite(v) for v in values):
        raise ValueError("t must be finite")
    if any(b <= a for a, b in zip(values[:-1], values[1:])):
        raise ValueError("t must be strictly increasing")
    return values


def check_dt(dt: Any) -> float | None:
    """Return ``dt`` as a float (or ``None``), raising on non-positive or non-numeric values."""
    if dt is None:
        return None
    if isinstance(dt, torch.Tensor) and dt.numel() == 1:
        dt = float(dt)
    check_positive("dt", dt)
    if not math.isfinite(dt):
        raise ValueError(f"dt must be finite, got {dt!r}")
    return float(dt)


def substeps(t0: float, t1: float, dt: float | None) -> tuple[int, float]:
    """Split ``[t0, t1]`` into ``ceil((t1 - t0) / dt)`` equal steps; return ``(n, h)``.

    A ratio within ``1e-9`` of an integer is rounded to it, so ``dt = 0.1`` splits ``[0, 1]`` in 10 steps.
    """
    length = t1 - t0
    if dt is None:
        return 1, length
    ratio = length / dt
    n = max(1, math.ceil(ratio - 1e-9 * max(1.0, ratio)))
    return n, length / n


def default_tol(dtype: torch.dtype) -> float:
    """Default fixed-point tolerance of the implicit methods for a dtype (1e-12 in float64)."""
    if dtype == torch.float64:
        return 1e-12
    if dtype == torch.float32:
        return 1e-6
    return 1e-3


class Counted:
    """Wrap a function, count its calls and check the shape of its first result."""

    def __init__(self, fn: Callable[..., Any], name: str, shape: torch.Size | None = None) -> None:
        self.fn = fn
        self.name = name
        self.shape = shape
        self.calls = 0

    def __call__(self, *args: Any) -> Any:
        out = self.fn(*args)
        if self.calls == 0 and self.shape is not None:
            if not isinstance(out, torch.Tensor):
                raise TypeError(f"{self.name} must return a torch.Tensor, got {type(out).__name__}")
            if out.shape != self.shape:
                raise ValueError(
                    f"{self.name} returned shape {tuple(out.shape)}, expected the state's shape {tuple(self.shape)}"
                )
            if out.is_floating_point() and not bool(torch.isfinite(out.detach()).all()):
                raise ValueError(f"{self.name} returned NaN/Inf at the initial state (its first call)")
        self.calls += 1
        return out
