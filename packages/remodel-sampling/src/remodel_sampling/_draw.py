"""Weighted draws from large candidate sets: numba kernels with numpy references.

Without replacement: the exponential-key method of Efraimidis & Spirakis ("Weighted random sampling with a
reservoir", Inf. Process. Lett. 97, 2006): with ``u_i ~ U(0, 1)`` the ``n`` largest keys ``log(u_i) / w_i``
are a weighted sample without replacement (the same law as ``n`` successive draws with probabilities
proportional to the remaining weights, as ``numpy.random.choice(replace=False, p=...)``). The kernel keeps
the ``n`` best keys in a binary min-heap in one pass over the ``M`` candidates (``O(M log n)``, no
``M``-sized key array). With replacement: inverse-CDF draws by binary search in the cumulative weights.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _sift_down(keys: np.ndarray, idx: np.ndarray, n: int, i: int) -> None:
    while True:
        left = 2 * i + 1
        if left >= n:
            return
        small = left
        if left + 1 < n and keys[left + 1] < keys[left]:
            small = left + 1
        if keys[small] < keys[i]:
            keys[i], keys[small] = keys[small], keys[i]
            idx[i], idx[small] = idx[small], idx[i]
            i = small
        else:
            return


@numba.njit(cache=True)
def _es_kernel(weights: np.ndarray, u: np.ndarray, n: int) -> np.ndarray:  # pragma: no cover - compiled
    keys = np.empty(n, dtype=np.float64)
    idx = np.empty(n, dtype=np.int64)
    filled = 0
    for j in range(weights.shape[0]):
        w = weights[j]
        if w <= 0.0:
            continue
        k = np.log(u[j]) / w
        if filled < n:  # build the heap
            keys[filled] = k
            idx[filled] = j
            i = filled
            filled += 1
            while i > 0:  # sift up
                parent = (i - 1) // 2
                if keys[i] < keys[parent]:
                    keys[i], keys[parent] = keys[parent], keys[i]
                    idx[i], idx[parent] = idx[parent], idx[i]
                    i = parent
                else:
                    break
        elif k > keys[0]:
            keys[0] = k
            idx[0] = j
            _sift_down(keys, idx, n, 0)
    order = np.argsort(-keys[:filled], kind="mergesort")
    return idx[:filled][order]


def _check(weights: np.ndarray, n: int, replace: bool) -> np.ndarray:
    w = np.ascontiguousarray(weights, dtype=np.float64).reshape(-1)
    if w.size == 0 or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be a non-empty array of finite numbers >= 0")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    positive = int((w > 0).sum())
    if positive == 0 or (not replace and positive < n):
        raise ValueError(f"n = {n} distinct draws need at least n positive weights, got {positive}")
    return w


def weighted_choice(weights: np.ndarray, n: int, rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """Indices of ``n`` distinct candidates drawn with probabilities proportional to ``weights`` (numba).

    The order is the order of the successive draws. Uses ``M`` uniforms of ``rng``, so it equals
    :func:`weighted_choice_reference` for the same generator state. This is the Efraimidis–Spirakis
    weighted sampling without replacement (keys ``log(u_i) / w_i``, the ``n`` largest kept by a heap).

    Parameters
    ----------
    weights : numpy.ndarray
        Non-negative finite weights of the ``M`` candidates; at least ``n`` of them positive.
    n : int
        Number of distinct indices to draw, positive.
    rng : numpy.random.Generator, int or None, default 0
        The generator, or a seed for ``numpy.random.default_rng`` (``None``: fresh entropy).

    Returns
    -------
    numpy.ndarray
        ``n`` distinct int64 indices into ``weights``, in the order of the draws.

    Examples
    --------
    >>> w = np.array([0.0, 1.0, 1.0, 8.0])
    >>> idx = weighted_choice(w, 2, rng=0)
    >>> len(set(idx.tolist())), 0 in idx
    (2, False)
    """
    w = _check(weights, n, replace=False)
    u = np.random.default_rng(rng).random(w.size)
    u[u == 0.0] = np.finfo(np.float64).tiny
    return _es_kernel(w, u, int(n))


def weighted_choice_reference(weights: np.ndarray, n: int, rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """The numpy reference of :func:`weighted_choice`: all keys, then a stable sort.

    Parameters
    ----------
    weights : numpy.ndarray
        Non-negative finite weights of the ``M`` candidates; at least ``n`` of them positive.
    n : int
        Number of distinct indices to draw, positive.
    rng : numpy.random.Generator, int or None, default 0
        The generator, or a seed for ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray
        ``n`` distinct int64 indices, equal to :func:`weighted_choice`'s for the same generator state.

    Examples
    --------
    >>> w = np.random.default_rng(1).random(1000)
    >>> bool(np.array_equal(weighted_choice(w, 50, rng=3), weighted_choice_reference(w, 50, rng=3)))
    True
    """
    w = _check(weights, n, replace=False)
    u = np.random.default_rng(rng).random(w.size)
    u[u == 0.0] = np.finfo(np.float64).tiny
    with np.errstate(divide="ignore"):
        keys = np.where(w > 0, np.log(u) / np.where(w > 0, w, 1.0), -np.inf)
    return np.argsort(-keys, kind="mergesort")[:n].astype(np.int64)


@numba.njit(cache=True)
def _cdf_kernel(weights: np.ndarray, u: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    m = weights.shape[0]
    cdf = np.empty(m, dtype=np.float64)
    acc = 0.0
    for j in range(m):
        acc += weights[j]
        cdf[j] = acc
    out = np.empty(u.shape[0], dtype=np.int64)
    for i in range(u.shape[0]):
        target = u[i] * acc
        lo, hi = 0, m - 1
        while lo < hi:  # first j with cdf[j] > target
            mid = (lo + hi) // 2
            if cdf[mid] > target:
                hi = mid
            else:
                lo = mid + 1
        out[i] = lo
    return out


def weighted_draw(weights: np.ndarray, n: int, rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """Indices of ``n`` independent draws (with replacement) with probabilities proportional to ``weights``.

    Inverse-transform sampling by binary search in the cumulative weights (numba).

    Parameters
    ----------
    weights : numpy.ndarray
        Non-negative finite weights, at least one positive.
    n : int
        Number of draws, positive.
    rng : numpy.random.Generator, int or None, default 0
        The generator, or a seed for ``numpy.random.default_rng`` (``None``: fresh entropy).

    Returns
    -------
    numpy.ndarray
        ``n`` int64 indices into ``weights`` (repeats possible).

    Examples
    --------
    >>> weighted_draw(np.array([0.0, 1.0]), 3, rng=0).tolist()
    [1, 1, 1]
    """
    w = _check(weights, n, replace=True)
    u = np.random.default_rng(rng).random(int(n))
    return _cdf_kernel(w, u)


def weighted_draw_reference(weights: np.ndarray, n: int, rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """The numpy reference of :func:`weighted_draw` (``searchsorted`` in the cumulative sum).

    Parameters
    ----------
    weights : numpy.ndarray
        Non-negative finite weights, at least one positive.
    n : int
        Number of draws, positive.
    rng : numpy.random.Generator, int or None, default 0
        The generator, or a seed for ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray
        ``n`` int64 indices, equal to :func:`weighted_draw`'s for the same generator state.

    Examples
    --------
    >>> w = np.random.default_rng(0).random(100)
    >>> bool(np.array_equal(weighted_draw(w, 500, rng=1), weighted_draw_reference(w, 500, rng=1)))
    True
    """
    w = _check(weights, n, replace=True)
    u = np.random.default_rng(rng).random(int(n))
    cdf = np.cumsum(w)
    return np.searchsorted(cdf, u * cdf[-1], side="right").astype(np.int64)
