"""The discrete empirical interpolation method (DEIM) of Chaturantabut & Sorensen (2010)."""

from __future__ import annotations

import numpy as np

_RANK_RTOL = 1e-10


def deim_points(U: np.ndarray) -> np.ndarray:
    """Greedy DEIM interpolation indices of the basis ``U`` (N, m) (Chaturantabut & Sorensen 2010, Alg. 1).

    Point ``j`` is where the interpolation of basis vector ``j`` by the first ``j`` vectors at the first
    ``j`` points errs most; ``U[points]`` is then invertible.

    Parameters
    ----------
    U : numpy.ndarray, shape (N, m)
        Linearly independent basis vectors, ``m <= N``.

    Returns
    -------
    numpy.ndarray of int, shape (m,)
        Distinct row indices.

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
    if not np.all(np.isfinite(U)):
        raise ValueError("U must be finite")
    points: list[int] = []
    for j in range(U.shape[1]):
        if j == 0:
            r = U[:, 0]
        else:
            c = np.linalg.solve(U[points, :j], U[points, j])
            r = U[:, j] - U[:, :j] @ c
        p = int(np.argmax(np.abs(r)))
        # the pivot |r_p| is the interpolation error of column j; (numerically) zero means column j lies in the
        # span of the previous ones and U[points] would be singular
        if not abs(r[p]) > _RANK_RTOL * max(float(np.abs(U[:, j]).max()), np.finfo(np.float64).tiny):
            raise ValueError(
                f"U is (numerically) rank deficient: column {j} is interpolated exactly by columns "
                f"0..{j - 1} (DEIM pivot {abs(r[p]):.1e}); pass a basis of independent columns "
                "(e.g. POD modes)"
            )
        points.append(p)
    return np.array(points, dtype=np.int64)


def deim_interpolate(U: np.ndarray, points: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The DEIM approximation ``U (P^T U)^{-1} values`` of a vector known only at ``points``.

    Parameters
    ----------
    U : numpy.ndarray, shape (N, m)
        The DEIM basis.
    points : numpy.ndarray of int, shape (m,)
        Interpolation indices (from :func:`deim_points`).
    values : numpy.ndarray, shape (m,) or (m, k)
        The vector(s) at ``points``.

    Returns
    -------
    numpy.ndarray, shape (N,) or (N, k)

    Examples
    --------
    >>> U = np.linalg.qr(np.random.default_rng(0).standard_normal((20, 3)))[0]
    >>> f = U @ np.array([1.0, -2.0, 0.5])
    >>> p = deim_points(U)
    >>> bool(np.allclose(deim_interpolate(U, p, f[p]), f))
    True
    """
    U = np.asarray(U, dtype=np.float64)
    if U.ndim != 2:
        raise ValueError(f"U must be a 2-D basis (N, m), got shape {U.shape}")
    points = np.asarray(points)
    if (
        points.shape != (U.shape[1],)
        or not np.issubdtype(points.dtype, np.integer)
        or len(np.unique(points)) != len(points)
        or np.any(points < 0)
        or np.any(points >= U.shape[0])
    ):
        raise ValueError(
            f"points must be {U.shape[1]} distinct row indices of U in [0, {U.shape[0]}) "
            f"(from deim_points), got {points!r}"
        )
    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] != len(points):
        raise ValueError(f"values must have {len(points)} rows (one per point), got shape {values.shape}")
    return U @ np.linalg.solve(U[points], values)
