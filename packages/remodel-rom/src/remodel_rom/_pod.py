"""Proper orthogonal decomposition as a scikit-learn estimator: exact, randomized and incremental SVD."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin

from ._linalg import RANK_RTOL, GramSchmidt, apply_product, check_product
from ._sklearn import validate_X

METHODS = ("exact", "randomized", "incremental")


def check_snapshots(X: np.ndarray, name: str = "X", n_features: int | None = None) -> np.ndarray:
    """``X`` as a finite 2-D float64 array of snapshots (rows), with a clear error otherwise."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of snapshots (n_samples, n_features), got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features per snapshot, expected {n_features} (as in fit)")
    if X.shape[0] == 0:
        raise ValueError(f"{name} holds no snapshots")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or Inf")
    return X


def energy_rank(singular_values: np.ndarray, energy: float) -> int:
    """Smallest ``r`` with ``sum_{i<r} s_i^2 >= energy * sum_i s_i^2`` (the POD energy criterion).

    Parameters
    ----------
    singular_values : numpy.ndarray
        Singular values, in decreasing order.
    energy : float
        Fraction of the squared sum to keep, in ``(0, 1]``.

    Returns
    -------
    int

    Examples
    --------
    >>> energy_rank(np.array([3.0, 1.0, 0.1]), 0.85)
    1
    >>> energy_rank(np.array([3.0, 1.0, 0.1]), 0.999)
    2
    """
    s = np.asarray(singular_values, dtype=np.float64)
    if s.ndim != 1 or len(s) == 0 or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"singular_values must be a non-empty 1-D array of finite values >= 0, got {s!r}")
    if isinstance(energy, bool) or not (isinstance(energy, float | int) and 0 < energy <= 1):
        raise ValueError(f"energy must lie in (0, 1], got {energy!r}")
    e = np.cumsum(s**2)
    if e[-1] == 0:
        raise ValueError("singular_values are all zero: the energy criterion is undefined (no energy to keep)")
    return int(min(np.searchsorted(e / e[-1], energy - 1e-15) + 1, len(singular_values)))


def incremental_svd(
    X: np.ndarray, rank: int, batch_size: int, rtol: float = RANK_RTOL
) -> tuple[np.ndarray, np.ndarray]:
    """Truncated SVD of the columns of ``X`` added in batches (Brand 2002, "Incremental SVD").

    Returns the left singular vectors ``U`` (N, r) and singular values ``s``; only ``U``, ``s`` and one batch
    are held in memory at a time. Singular values at or below ``rtol * s_max`` are dropped (``r <= rank``).

    Parameters
    ----------
    X : numpy.ndarray, shape (N, K)
        The snapshots as columns.
    rank : int
        Largest number of singular triplets kept.
    batch_size : int
        Columns added per update.
    rtol : float, default 1e-12
        Relative cut-off of singular values.

    Examples
    --------
    >>> X = np.random.default_rng(0).standard_normal((40, 3)) @ np.random.default_rng(1).standard_normal((3, 25))
    >>> U, s = incremental_svd(X, rank=3, batch_size=7)
    >>> bool(np.allclose(s, np.linalg.svd(X, compute_uv=False)[:3]))
    True
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.size == 0:
        raise ValueError(f"X must be a non-empty 2-D array (columns are snapshots), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite (it contains NaN or Inf)")
    for name, value in (("rank", rank), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not (isinstance(rtol, float | int) and 0 <= rtol < 1):
        raise ValueError(f"rtol must lie in [0, 1), got {rtol!r}")
    N = X.shape[0]
    U = np.zeros((N, 0))
    s = np.zeros(0)
    for start in range(0, X.shape[1], batch_size):
        C = X[:, start : start + batch_size]
        M = U.T @ C
        P = C - U @ M
        M2 = U.T @ P  # re-orthogonalise once
        P -= U @ M2
        M += M2
        Qp, Rp = np.linalg.qr(P)
        k = len(s)
        K = np.zeros((k + Rp.shape[0], k + C.shape[1]))
        K[:k, :k] = np.diag(s)
        K[:k, k:] = M
        K[k:, k:] = Rp
        Uk, sk, _ = np.linalg.svd(K, full_matrices=False)
        keep = sk > rtol * max(sk[0], 1e-300)
        keep[rank:] = False
        U = np.hstack([U, Qp]) @ Uk[:, keep]
        s = sk[keep]
    return U, s


class POD(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Proper orthogonal decomposition of snapshots (rows of ``X``), optionally in an inner product.

    The modes are the leading left singular vectors of the snapshot matrix (Sirovich 1987; with the
    product ``P`` the ``P``-orthonormal POD via a ``P``-orthonormal basis of the snapshots, which avoids
    the squared condition number of the method of snapshots). ``method="randomized"`` uses Halko,
    Martinsson & Tropp (2011); ``"incremental"`` Brand's (2002) incremental SVD over batches of snapshots.

    Parameters
    ----------
    n_components : int, optional
        Number of modes; if None, the smallest number meeting ``energy``.
    energy : float
        Fraction of the snapshot energy ``sum s_i^2`` the modes keep when ``n_components`` is None.
    method : {"exact", "randomized", "incremental"}
    product : sparse matrix or ndarray, optional
        Inner product of the snapshot space (``"exact"`` only); modes are orthonormal in it. It must be
        symmetric positive definite (checked at ``fit``).
    batch_size : int
        Snapshots per update of the incremental SVD.
    random_state : int
        Seed of the randomized SVD.

    Attributes
    ----------
    components_ : ndarray, shape (``n_components_``, n_features)
    singular_values_ : ndarray
        All computed singular values above ``1e-12 * s_max`` (not only the kept ones).
    explained_energy_ratio_ : float
        Fraction of the snapshot energy ``||X||^2`` (in ``product``) that the kept modes hold.
    n_components_ : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 3)) @ rng.standard_normal((3, 200))
    >>> pod = POD(energy=0.999999).fit(X)
    >>> pod.n_components_, bool(np.allclose(pod.inverse_transform(pod.transform(X)), X))
    (3, True)
    """

    def __init__(
        self,
        n_components: int | None = None,
        *,
        energy: float = 0.9999,
        method: str = "exact",
        product: sp.spmatrix | np.ndarray | None = None,
        batch_size: int = 50,
        random_state: int = 0,
    ) -> None:
        self.n_components = n_components
        self.energy = energy
        self.method = method
        self.product = product
        self.batch_size = batch_size
        self.random_state = random_state

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False  # snapshots are dense; products may be sparse
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags

    def _check_params(self, n_samples: int) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.n_components is not None and (
            isinstance(self.n_components, bool)
            or not isinstance(self.n_components, int | np.integer)
            or self.n_components < 1
        ):
            raise ValueError(f"n_components must be a positive integer or None, got {self.n_components!r}")
        if isinstance(self.energy, bool) or not (isinstance(self.energy, float | int) and 0 < self.energy <= 1):
            raise ValueError(f"energy must lie in (0, 1], got {self.energy!r}")
        if self.product is not None and self.method != "exact":
            raise ValueError(f"product is supported by method='exact' only, got method={self.method!r}")
        if self.method == "randomized" and self.n_components is None:
            raise ValueError("method='randomized' needs n_components")
        if (
            isinstance(self.batch_size, bool)
            or not isinstance(self.batch_size, int | np.integer)
            or self.batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")

    def fit(self, X: np.ndarray, y: None = None) -> POD:
        """Compute the modes of the snapshots ``X`` (n_samples, n_features).

        One rule for every ``method``: singular values at or below ``1e-12 * s_max`` count as zero and their
        modes are never returned (they would be arbitrary); asking for more modes than the snapshots have
        (``n_components`` above the number of snapshots or the numerical rank) keeps the available ones with a
        ``UserWarning``; all-zero snapshots have no modes and raise ``ValueError``.
        """
        X = validate_X(self, X, reset=True)
        self._check_params(X.shape[0])
        S = X.T  # columns are snapshots
        if not np.any(S):
            raise ValueError(
                "X: every snapshot is zero, so there is no mode to compute (POD needs a non-zero snapshot)"
            )
        limit = min(S.shape)
        if self.n_components is not None and self.n_components > limit:
            warnings.warn(
                f"n_components={self.n_components} exceeds min(n_samples, n_features) = {limit}: "
                f"at most {limit} modes exist",
                UserWarning,
                stacklevel=2,
            )
        k = limit if self.n_components is None else min(self.n_components, limit)
        if self.method == "exact":
            if self.product is None:
                U, s, _ = np.linalg.svd(S, full_matrices=False)
            else:
                gs = GramSchmidt(S.shape[0], check_product(self.product, S.shape[0]))
                gs.extend(S)
                Ur, s, _ = np.linalg.svd(gs.R, full_matrices=False)
                U = gs.Q @ Ur
        elif self.method == "randomized":
            from sklearn.utils.extmath import randomized_svd

            U, s, _ = randomized_svd(S, k, n_oversamples=10, n_iter=4, random_state=self.random_state)
        else:
            U, s = incremental_svd(S, k, self.batch_size, rtol=RANK_RTOL)
        rank = int(np.sum(s > RANK_RTOL * s[0])) if len(s) else 0
        U, s = U[:, :rank], s[:rank]
        if self.n_components is None:
            r = energy_rank(s, self.energy)
        else:
            r = min(k, rank)
            if r < k:
                warnings.warn(
                    f"only {rank} singular values of X exceed {RANK_RTOL:g} * s_max (the numerical rank); "
                    f"keeping {r} modes instead of n_components={self.n_components}",
                    UserWarning,
                    stacklevel=2,
                )
        self.components_ = np.ascontiguousarray(U[:, :r].T)
        self.singular_values_ = s
        # the total energy is ||X||^2: the sum of all squared singular values, of which the randomized and
        # incremental SVDs compute only the leading ones (their own sum would give a ratio of 1)
        total = np.sum(s**2) if self.method == "exact" else np.sum(X**2)
        self.explained_energy_ratio_ = float(np.sum(s[:r] ** 2) / total)
        self.n_components_ = r
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Coefficients of the (product-)orthogonal projection of ``X`` onto the modes."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "components_")
        X = validate_X(self, X, reset=False)
        return apply_product(self.product, X.T).T @ self.components_.T

    def reduce(self, fom: object) -> object:
        """Galerkin projection of a full-order model onto the fitted modes: ``rom.solve``, ``rom.reconstruct``.

        Examples
        --------
        >>> from remodel_rom import thermal_block
        >>> fom = thermal_block(n=8)
        >>> S = np.array([fom.solve(mu) for mu in fom.sample(10, np.random.default_rng(0))])
        >>> rom = POD(n_components=4, product=fom.product).fit(S).reduce(fom)
        >>> rom.reconstruct(rom.solve([0.5, 0.5, 0.5, 0.5])).shape
        (49,)
        """
        from sklearn.utils.validation import check_is_fitted

        from ._heat import InstationaryAffineModel, ReducedInstationaryModel
        from ._reduced import ReducedStationaryModel
        from ._stationary import StationaryAffineModel

        check_is_fitted(self, "components_")
        if getattr(fom, "n_dofs", None) != self.n_features_in_:
            raise ValueError(
                f"fom must have {self.n_features_in_} unknowns like the snapshots, got {getattr(fom, 'n_dofs', None)}"
            )
        if isinstance(fom, StationaryAffineModel):
            return ReducedStationaryModel(fom, self.components_.T)
        if isinstance(fom, InstationaryAffineModel):
            return ReducedInstationaryModel(fom, self.components_.T)
        raise TypeError(
            f"POD.reduce projects a StationaryAffineModel or InstationaryAffineModel, got "
            f"{type(fom).__name__} (use PODGalerkin for Burgers with DEIM)"
        )

    @property
    def _n_features_out(self) -> int:
        """Number of modes (names ``pod0, pod1, ...`` in ``get_feature_names_out``)."""
        return self.n_components_

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """Snapshots ``Z @ components_`` from coefficients of shape (n_samples, ``n_components_``)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "components_")
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.n_components_:
            raise ValueError(f"Z must have shape (n_samples, {self.n_components_}), got {Z.shape}")
        return Z @ self.components_
