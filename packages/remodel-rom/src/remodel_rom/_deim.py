"""The discrete empirical interpolation method (DEIM) of Chaturantabut & Sorensen (2010)."""

from __future__ import annotations

import numpy as np


def deim_points(U: np.ndarray) -> np.ndarray:
    """Greedy DEIM interpolation indices of the basis ``U`` (N, m) (Chaturantabut & Sorensen 2010, Alg. 1).

    Point ``j`` is where the interpolation of basis vector ``j`` by the first ``j`` vectors at the first
    ``j`` points errs most; ``U[points]`` is then invertible.

    Examples
    --------
    >>> U = np.linalg.qr(np.random.default_rng(0).standard_normal((30, 4)))[0]
    >>> p = deim_points(U)
    >>> len(set(p.tolist())), bool(abs(np.linalg.det(U[p])) > 0)
    (4, True)
    """
    U = np.asarray(U, dtype=np.float64)
    if U.ndim != 2 or U.shape[1] > U.shape[0] or U.shape[1] == 0:
        raise ValueError(f"U must have shape (N, m) with 1 <= m <= N, got {U.shape}")
    points = [int(np.argmax(np.abs(U[:, 0])))]
    for j in range(1, U.shape[1]):
        c = np.linalg.solve(U[points, :j], U[points, j])
        r = U[:, j] - U[:, :j] @ c
        points.append(int(np.argmax(np.abs(r))))
    return np.array(points, dtype=np.int64)


def deim_interpolate(U: np.ndarray, points: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The DEIM approximation ``U (P^T U)^{-1} values`` of a vector known only at ``points``.

    Examples
    --------
    >>> U = np.linalg.qr(np.random.default_rng(0).standard_normal((20, 3)))[0]
    >>> f = U @ np.array([1.0, -2.0, 0.5])
    >>> p = deim_points(U)
    >>> bool(np.allclose(deim_interpolate(U, p, f[p]), f))
    True
    """
    return U @ np.linalg.solve(U[points], values)
