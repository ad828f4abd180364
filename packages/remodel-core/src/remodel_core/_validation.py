"""Argument checks shared by every package (a leaf module: it imports nothing from remodel_core)."""

from __future__ import annotations

import numbers


def check_positive(
    name: str, value: float, *, allow_zero: bool = False, integer: bool = False, allow_inf: bool = False
) -> None:
    """Raise a clear error unless ``value`` is a positive (or non-negative) number.

    Parameters
    ----------
    name : str
        The argument's name, used in the message.
    value : int or float
        The value to check; ``bool`` and NaN are refused, and ``inf`` unless ``allow_inf``.
    allow_zero : bool
        Accept 0 (``>= 0`` instead of ``> 0``).
    integer : bool
        Require an ``int``.
    allow_inf : bool
        Accept ``inf`` (an unbounded budget, say).

    Examples
    --------
    >>> check_positive("lr", 0.1)
    >>> check_positive("lr", -1.0)
    Traceback (most recent call last):
    ...
    ValueError: lr must be > 0, got -1.0
    >>> check_positive("lr", float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: lr must be finite, got inf
    """
    kind = numbers.Integral if integer else numbers.Real  # numpy scalars too (np.arange grids of GridSearchCV)
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = "an integer" if integer else "a number"
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}")
    if value != value:  # NaN
        raise ValueError(f"{name} must be a number, got NaN")
    if (value < 0) if allow_zero else (value <= 0):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    if not allow_inf and value == float("inf"):
        raise ValueError(f"{name} must be finite, got {value!r}")
