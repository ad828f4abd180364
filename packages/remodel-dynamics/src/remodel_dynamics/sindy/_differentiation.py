"""Time derivatives of sampled trajectories: finite differences of any even order and Savitzky-Golay smoothing."""

from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter


def _real(x: np.ndarray) -> np.ndarray:
    """``x`` as a float64 array; complex samples are refused (the cast would drop the imaginary part)."""
    if np.iscomplexobj(x):
        raise TypeError("x must be real (differentiate the real and imaginary parts separately), got complex")
    return np.asarray(x, dtype=np.float64)


def _times(x: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    n = x.shape[0]
    if np.ndim(t) == 0:
        dt = float(t)
        if not (dt > 0 and np.isfinite(dt)):
            raise ValueError(f"t (the time step) must be finite and > 0, got {t!r}")
        return dt * np.arange(n)
    t = np.asarray(t, dtype=np.float64)
    if t.shape != (n,):
        raise ValueError(f"t must be a time step or an array of {n} times, got shape {t.shape}")
    if not np.all(np.diff(t) > 0):
        raise ValueError("t must be strictly increasing")
    return t


def fornberg_weights(x0: float, nodes: np.ndarray, m: int = 1) -> np.ndarray:
    """Weights ``w`` with ``f^(m)(x0) ~= sum_j w_j f(nodes_j)`` (Fornberg, Math. Comp. 1988).

    Parameters
    ----------
    x0 : float
        Where the derivative is approximated.
    nodes : numpy.ndarray, shape (k,)
        Distinct sample locations, ``k > m``.
    m : int, default 1
        Order of the derivative.

    Returns
    -------
    numpy.ndarray, shape (k,)
        The weights.

    Examples
    --------
    >>> fornberg_weights(0.0, np.array([-1.0, 0.0, 1.0])).tolist()
    [-0.5, 0.0, 0.5]
    """
    nodes = np.asarray(nodes, dtype=np.float64)
    n = nodes.size
    c = np.zeros((n, m + 1))
    c1, c4 = 1.0, nodes[0] - x0
    c[0, 0] = 1.0
    for i in range(1, n):
        mn = min(i, m)
        c2, c5, c4 = 1.0, c4, nodes[i] - x0
        for j in range(i):
            c3 = nodes[i] - nodes[j]
            c2 *= c3
            if j == i - 1:
                for k in range(mn, 0, -1):
                    c[i, k] = c1 * (k * c[i - 1, k - 1] - c5 * c[i - 1, k]) / c2
                c[i, 0] = -c1 * c5 * c[i - 1, 0] / c2
            for k in range(mn, 0, -1):
                c[j, k] = (c4 * c[j, k] - k * c[j, k - 1]) / c3
            c[j, 0] = c4 * c[j, 0] / c3
        c1 = c2
    return c[:, m]


def finite_difference(x: np.ndarray, t: float | np.ndarray, order: int = 2) -> np.ndarray:
    """First time derivative by finite differences of accuracy ``order`` (2, 4, 6, ...).

    Interior points use the centred ``order + 1``-point stencil, the first and last ``order / 2`` points
    one-sided stencils of the same number of points (same order); non-uniform times are allowed.

    Parameters
    ----------
    x : array, shape (n_times, ...)
        Samples along the first axis.
    t : float or array
        The time step, or the ``n_times`` sample times.
    order : int
        Even accuracy order.

    Examples
    --------
    >>> t = np.linspace(0, 1, 11)
    >>> float(np.abs(finite_difference(t**3, t, order=4) - 3 * t**2).max()) < 1e-12
    True
    """
    x = _real(x)
    if x.ndim == 0:
        raise ValueError("x must have a time axis")
    if isinstance(order, bool) or not isinstance(order, int | np.integer) or order < 2 or order % 2:
        raise ValueError(f"order must be an even integer >= 2, got {order!r}")
    ts = _times(x, t)
    n, width = x.shape[0], order + 1
    if n < width:
        raise ValueError(f"finite differences of order {order} need at least {width} samples, got n_samples = {n}")
    half = order // 2
    uniform = np.allclose(np.diff(ts), ts[1] - ts[0], rtol=1e-10, atol=0.0)
    out = np.empty_like(x)
    if uniform:
        h = ts[1] - ts[0]
        # interior: one centred stencil applied as a sliding sum; the ends: one-sided stencils
        w = fornberg_weights(0.0, (np.arange(width) - half) * h)
        out[half : n - half] = sum(w[j] * x[j : n - width + 1 + j] for j in range(width))
        for i in list(range(half)) + list(range(n - half, n)):
            start = min(max(i - half, 0), n - width)
            wi = fornberg_weights(0.0, (np.arange(width) - (i - start)) * h)
            out[i] = np.tensordot(wi, x[start : start + width], axes=(0, 0))
        return out
    for i in range(n):
        start = min(max(i - half, 0), n - width)
        w = fornberg_weights(ts[i], ts[start : start + width])
        out[i] = np.tensordot(w, x[start : start + width], axes=(0, 0))
    return out


def savgol_derivative(x: np.ndarray, t: float | np.ndarray, window: int = 11, polyorder: int = 3) -> np.ndarray:
    """Smoothed first derivative: local least-squares polynomials (Savitzky & Golay 1964), uniform steps.

    Parameters
    ----------
    x : numpy.ndarray, shape (n,) or (n, d)
        Samples at uniform times.
    t : float or numpy.ndarray
        The time step, or the uniform sample times.
    window : int, default 11
        Odd number of samples in each local fit.
    polyorder : int, default 3
        Degree of the local polynomial, below ``window``.

    Returns
    -------
    numpy.ndarray
        ``dx/dt``, same shape as ``x``.

    Examples
    --------
    >>> t = np.linspace(0, 1, 101)
    >>> float(np.abs(savgol_derivative(t**2, t) - 2 * t).max()) < 1e-10
    True
    """
    x = _real(x)
    ts = _times(x, t)
    dts = np.diff(ts)
    if not np.allclose(dts, dts[0], rtol=1e-8, atol=0.0):
        raise ValueError("savgol_derivative needs uniformly spaced times")
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 3 or window % 2 == 0:
        raise ValueError(f"window must be an odd integer >= 3, got {window!r}")
    if isinstance(polyorder, bool) or not isinstance(polyorder, int | np.integer) or not 0 < polyorder < window:
        raise ValueError(f"polyorder must be an integer in [1, window), got {polyorder!r}")
    if x.shape[0] < window:
        raise ValueError(f"window ({window}) exceeds the number of samples ({x.shape[0]})")
    return savgol_filter(x, window, polyorder, deriv=1, delta=float(dts[0]), axis=0, mode="interp")
