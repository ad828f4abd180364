"""Sequentially thresholded least squares (STLSQ) of Brunton, Proctor & Kutz (PNAS 2016).

Two implementations of the same algorithm: :func:`stlsq` (numba, ``@njit(cache=True)``, the default) and
:func:`stlsq_reference` (plain numpy), which the tests compare against each other.
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit


def rank_tolerance(s_max: float, shape: tuple[int, int]) -> float:
    """Singular values at or below ``max(shape) * eps * s_max`` count as zero (numpy's ``matrix_rank`` rule)."""
    return max(shape) * np.finfo(np.float64).eps * s_max


@njit(cache=True)
def _min_norm_lstsq_numba(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """Minimum-norm least squares by a truncated SVD, returning the solution and the numerical rank."""
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    k = a.shape[1]
    tol = max(a.shape[0], a.shape[1]) * np.finfo(np.float64).eps * (s[0] if s.size > 0 else 0.0)
    rank = 0
    for i in range(s.size):
        if s[i] > tol:
            rank += 1
    x = np.zeros(k)
    for i in range(rank):
        c = 0.0
        for r in range(a.shape[0]):
            c += u[r, i] * b[r]
        c /= s[i]
        for j in range(k):
            x[j] += c * vt[i, j]
    return x, rank


@njit(cache=True)
def _ridge_numba(theta: np.ndarray, y: np.ndarray, active: np.ndarray, alpha: float) -> tuple[np.ndarray, bool]:
    n_samples, n_features = theta.shape
    idx = np.nonzero(active)[0]
    k = idx.size
    coef = np.zeros(n_features)
    if k == 0:
        return coef, False
    extra = k if alpha > 0.0 else 0
    a = np.zeros((n_samples + extra, k))
    b = np.zeros(n_samples + extra)
    for i in range(n_samples):
        b[i] = y[i]
        for c in range(k):
            a[i, c] = theta[i, idx[c]]
    if alpha > 0.0:
        s = np.sqrt(alpha)
        for c in range(k):
            a[n_samples + c, c] = s
    sol, rank = _min_norm_lstsq_numba(a, b)
    for c in range(k):
        coef[idx[c]] = sol[c]
    return coef, rank < k


@njit(cache=True)
def _stlsq_numba(
    theta: np.ndarray, dx: np.ndarray, threshold: float, alpha: float, max_iter: int
) -> tuple[np.ndarray, bool]:
    n_features = theta.shape[1]
    n_targets = dx.shape[1]
    xi = np.zeros((n_features, n_targets))
    deficient = False
    for j in range(n_targets):
        y = np.ascontiguousarray(dx[:, j])
        active = np.ones(n_features, dtype=np.bool_)
        coef, d = _ridge_numba(theta, y, active, alpha)
        deficient = deficient or d
        for _ in range(max_iter):
            new_active = np.abs(coef) >= threshold
            same = True
            for c in range(n_features):
                if new_active[c] != active[c]:
                    same = False
                    break
            if same:
                break
            active = new_active
            coef, d = _ridge_numba(theta, y, active, alpha)
        xi[:, j] = coef
    return xi, deficient


def _warn_rank(deficient: bool, theta: np.ndarray) -> None:
    if deficient:
        warnings.warn(
            f"the library matrix theta ({theta.shape[0]} x {theta.shape[1]}) is rank deficient: some "
            "candidate functions are (numerically) linear combinations of others on these data; STLSQ "
            "returns the minimum-norm least-squares coefficients, which spread over the collinear terms "
            "(remove them from the library or set alpha > 0)",
            RuntimeWarning,
            stacklevel=3,
        )


def _check(theta: np.ndarray, dx: np.ndarray, threshold: float, alpha: float, max_iter: int) -> tuple:
    theta = np.ascontiguousarray(np.asarray(theta, dtype=np.float64))
    dx = np.asarray(dx, dtype=np.float64)
    if theta.ndim != 2:
        raise ValueError(f"theta must be a 2-d array (samples, features), got shape {theta.shape}")
    if theta.shape[0] == 0 or theta.shape[1] == 0:
        raise ValueError(f"theta must have at least one sample and one feature, got shape {theta.shape}")
    if dx.ndim == 1:
        dx = dx[:, None]
    if dx.ndim != 2 or dx.shape[0] != theta.shape[0]:
        raise ValueError(f"dx must have shape ({theta.shape[0]}, targets), got {dx.shape}")
    if not (np.isfinite(theta).all() and np.isfinite(dx).all()):
        raise ValueError("theta and dx must be finite")
    if not threshold >= 0:
        raise ValueError(f"threshold must be >= 0, got {threshold!r}")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer (rounds of thresholding), got {max_iter!r}")
    return theta, np.ascontiguousarray(dx), float(threshold), float(alpha), int(max_iter)


def stlsq(
    theta: np.ndarray, dx: np.ndarray, threshold: float = 0.1, alpha: float = 0.0, max_iter: int = 20
) -> np.ndarray:
    """Sparse coefficients ``Xi`` with ``theta @ Xi ~= dx`` by sequentially thresholded least squares (numba).

    Starting from the (ridge) least-squares solution, coefficients with ``|xi| < threshold`` are set to zero
    and the remaining ones refitted, until the active set stops changing (Brunton et al., PNAS 2016,
    Algorithm "STLSQ"), separately for each target column. Every fit is the minimum-norm least-squares
    solution by a truncated SVD (singular values ``<= max(shape) * eps * s_max`` count as zero, numpy's
    ``matrix_rank`` rule), so collinear library columns give the same bounded answer in both backends;
    a ``RuntimeWarning`` says when the library is rank deficient.

    Parameters
    ----------
    theta : array, shape (n_samples, n_features)
        The library evaluated at the samples.
    dx : array, shape (n_samples, n_targets)
        Time derivatives.
    threshold : float
        Sparsity threshold on the coefficients.
    alpha : float
        Ridge (Tikhonov) weight; 0 gives ordinary least squares.
    max_iter : int
        Most threshold-refit rounds.

    Returns
    -------
    array, shape (n_features, n_targets)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> theta = rng.standard_normal((50, 4))
    >>> xi = stlsq(theta, theta @ np.array([[1.0], [0.0], [-2.0], [0.0]]))
    >>> np.round(xi.ravel(), 6).tolist()
    [1.0, 0.0, -2.0, 0.0]
    """
    args = _check(theta, dx, threshold, alpha, max_iter)
    xi, deficient = _stlsq_numba(*args)
    _warn_rank(deficient, args[0])
    return xi


def stlsq_reference(
    theta: np.ndarray, dx: np.ndarray, threshold: float = 0.1, alpha: float = 0.0, max_iter: int = 20
) -> np.ndarray:
    """Plain numpy STLSQ, the reference :func:`stlsq` is tested against (same arguments and result).

    Parameters
    ----------
    theta : numpy.ndarray, shape (n, p)
        The library evaluated at the samples.
    dx : numpy.ndarray, shape (n, d)
        The derivatives to fit.
    threshold : float, default 0.1
        Coefficients below it in magnitude are set to zero.
    alpha : float, default 0
        Ridge penalty.
    max_iter : int, default 20
        Number of threshold-and-refit rounds.

    Returns
    -------
    numpy.ndarray, shape (p, d)
        The sparse coefficients.

    Examples
    --------
    >>> theta = np.eye(3)
    >>> stlsq_reference(theta, np.array([[1.0], [0.05], [3.0]])).ravel().tolist()
    [1.0, 0.0, 3.0]
    """
    theta, dx, threshold, alpha, max_iter = _check(theta, dx, threshold, alpha, max_iter)
    n_features = theta.shape[1]

    deficient = False

    def ridge(y: np.ndarray, active: np.ndarray) -> np.ndarray:
        nonlocal deficient
        coef = np.zeros(n_features)
        if not active.any():
            return coef
        a = theta[:, active]
        b = y
        if alpha > 0:
            a = np.vstack([a, np.sqrt(alpha) * np.eye(a.shape[1])])
            b = np.concatenate([y, np.zeros(a.shape[1])])
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        rank = int(np.sum(s > rank_tolerance(s[0], a.shape)))
        deficient = deficient or rank < a.shape[1]
        coef[active] = vt[:rank].T @ ((u[:, :rank].T @ b) / s[:rank])
        return coef

    xi = np.zeros((n_features, dx.shape[1]))
    for j in range(dx.shape[1]):
        active = np.ones(n_features, dtype=bool)
        coef = ridge(dx[:, j], active)
        for _ in range(max_iter):
            new_active = np.abs(coef) >= threshold
            if np.array_equal(new_active, active):
                break
            active = new_active
            coef = ridge(dx[:, j], active)
        xi[:, j] = coef
    _warn_rank(deficient, theta)
    return xi
