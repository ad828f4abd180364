"""scikit-learn input validation shared by the rom estimators (sklearn is imported only when an estimator runs)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _named(err: Exception, name: str) -> Exception:
    msg = str(err)
    return type(err)(msg if msg.startswith(name) else f"{name}: {msg}")


def validate_X(estimator: Any, X: Any, *, reset: bool, name: str = "X", min_samples: int = 1) -> np.ndarray:
    """``X`` as a finite 2-D float64 array through ``sklearn.utils.validation.validate_data``.

    Sets ``n_features_in_`` when ``reset`` and checks it otherwise; the messages are scikit-learn's (sparse,
    complex, empty, 1-D input, NaN/Inf), prefixed with the argument's name (``mu: ...``) unless they start with it.
    """
    from sklearn.utils.validation import validate_data

    try:
        return validate_data(
            estimator, X, reset=reset, dtype=np.float64, ensure_all_finite=True, ensure_min_samples=min_samples
        )
    except (ValueError, TypeError) as err:
        raise _named(err, name) from None


def validate_Xy(
    estimator: Any, X: Any, y: Any, *, names: tuple[str, str] = ("X", "y"), min_samples: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` validated together (same number of samples, ``y`` 1-D or 2-D numeric); sets ``n_features_in_``."""
    from sklearn.utils.validation import check_array, validate_data

    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y is None ({names[1]} is required)"
        )
    try:
        X = validate_data(
            estimator, X, reset=True, dtype=np.float64, ensure_all_finite=True, ensure_min_samples=min_samples
        )
    except (ValueError, TypeError) as err:
        raise _named(err, names[0]) from None
    try:
        y = check_array(y, dtype=np.float64, ensure_2d=False, ensure_all_finite=True, input_name=names[1])
    except (ValueError, TypeError) as err:
        raise _named(err, names[1]) from None
    if y.ndim not in (1, 2) or len(y) != len(X):
        raise ValueError(
            f"{names[1]} must have shape ({len(X)},) or ({len(X)}, n_outputs) like {names[0]}, got {y.shape}"
        )
    return X, y
