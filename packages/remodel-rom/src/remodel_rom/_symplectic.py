"""Symplectic model reduction: the cotangent-lift POD of Peng & Mohseni (2016)."""

from __future__ import annotations

import numpy as np
from remodel_core import check_positive
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin

from ._pod import POD
from ._sklearn import validate_X


def poisson_matrix(n: int) -> np.ndarray:
    """The canonical Poisson matrix ``J_2n = [[0, I], [-I, 0]]``.

    Parameters
    ----------
    n : int
        Number of degrees of freedom.

    Returns
    -------
    numpy.ndarray, shape (2n, 2n)

    Examples
    --------
    >>> poisson_matrix(1)
    array([[ 0.,  1.],
           [-1.,  0.]])
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer (degrees of freedom), got {n!r}")
    J = np.zeros((2 * n, 2 * n))
    J[:n, n:] = np.eye(n)
    J[n:, :n] = -np.eye(n)
    return J


class CotangentLiftPOD(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Symplectic basis ``A = blkdiag(Phi, Phi)`` from the POD of the stacked snapshots ``[Q, P]``.

    Peng & Mohseni (2016), "Symplectic model reduction of Hamiltonian systems", SIAM J. Sci. Comput. 38:
    ``Phi`` is the POD basis of the position and momentum snapshots together, so ``A^T J_2n A = J_2k`` and
    the Galerkin projection ``z' = J_2k grad H_r(z)``, ``H_r(z) = H(A z)``, is again Hamiltonian: a
    symplectic integrator then conserves the reduced energy.

    Parameters
    ----------
    n_components : int
        Size ``k`` of ``Phi`` (the reduced system has ``2k`` unknowns).

    Attributes
    ----------
    phi_ : ndarray (n, k)
    basis_ : ndarray (2n, 2k)
    singular_values_ : ndarray

    Examples
    --------
    >>> X = np.random.default_rng(0).standard_normal((30, 10))   # rows: states (q, p) with n = 5
    >>> pod = CotangentLiftPOD(n_components=2).fit(X)
    >>> A = pod.basis_
    >>> bool(np.allclose(A.T @ poisson_matrix(5) @ A, poisson_matrix(2)))
    True
    """

    def __init__(self, n_components: int = 10) -> None:
        self.n_components = n_components

    def fit(self, X: np.ndarray, y: None = None) -> CotangentLiftPOD:
        """``X`` (n_samples, 2n): states ``(q, p)``."""
        X = validate_X(self, X, reset=True)
        if X.shape[1] % 2:
            raise ValueError(
                f"X must hold states (q, p) with an even number of features, got n_features = {X.shape[1]}"
            )
        n = X.shape[1] // 2
        if (
            isinstance(self.n_components, bool)
            or not isinstance(self.n_components, int | np.integer)
            or not (1 <= self.n_components <= n)
        ):
            raise ValueError(f"n_components must be an integer in [1, {n}], got {self.n_components!r}")
        pod = POD(n_components=int(self.n_components)).fit(np.vstack([X[:, :n], X[:, n:]]))
        self.phi_ = pod.components_.T
        k = self.phi_.shape[1]
        A = np.zeros((2 * n, 2 * k))
        A[:n, :k] = self.phi_
        A[n:, k:] = self.phi_
        self.basis_ = A
        self.singular_values_ = pod.singular_values_
        self.n_features_in_ = 2 * n
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Reduced coordinates ``A^+ x`` with the symplectic inverse ``A^+ = J_2k^T A^T J_2n`` (= ``A^T`` here)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "basis_")
        X = validate_X(self, X, reset=False)
        return X @ self.basis_

    @property
    def _n_features_out(self) -> int:
        """Number of reduced coordinates ``2k`` (names ``cotangentliftpod0, ...`` in ``get_feature_names_out``)."""
        return self.basis_.shape[1]

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """States ``A z`` from reduced coordinates ``Z`` (n_samples, 2k)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "basis_")
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.basis_.shape[1]:
            raise ValueError(f"Z must have shape (n_samples, {self.basis_.shape[1]}), got {Z.shape}")
        return Z @ self.basis_.T

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags

    def reduce_linear(self, K: np.ndarray) -> np.ndarray:
        """Reduced Hessian ``A^T K A`` of a quadratic Hamiltonian ``H(x) = x^T K x / 2``."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "basis_")
        return self.basis_.T @ (K @ self.basis_)


def implicit_midpoint_linear(K: np.ndarray, z0: np.ndarray, dt: float, n_steps: int) -> np.ndarray:
    """Implicit midpoint rule (symplectic) for ``z' = J K z``; conserves ``z^T K z / 2`` exactly.

    Parameters
    ----------
    K : numpy.ndarray, shape (2n, 2n)
        Symmetric matrix of the quadratic Hamiltonian ``z^T K z / 2``.
    z0 : numpy.ndarray, shape (2n,)
        Initial state.
    dt : float
        Time step.
    n_steps : int
        Number of steps.

    Returns
    -------
    numpy.ndarray, shape (n_steps + 1, 2n)
        The trajectory, ``z0`` first.

    Examples
    --------
    >>> Z = implicit_midpoint_linear(np.eye(2), np.array([1.0, 0.0]), 0.1, 100)   # harmonic oscillator
    >>> bool(np.allclose((Z**2).sum(1), 1.0))
    True
    """
    z0 = np.asarray(z0, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    if z0.ndim != 1 or z0.size == 0 or z0.size % 2 or not np.all(np.isfinite(z0)):
        raise ValueError(f"z0 must be a finite state (q, p) of even length 2n, got shape {z0.shape}")
    if K.shape != (z0.size, z0.size) or not np.all(np.isfinite(K)):
        raise ValueError(f"K must be a finite {z0.size} x {z0.size} matrix (like z0), got shape {K.shape}")
    check_positive("dt", dt)
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    m = len(z0) // 2
    L = poisson_matrix(m) @ K
    eye = np.eye(len(z0))
    step = np.linalg.solve(eye - 0.5 * dt * L, eye + 0.5 * dt * L)
    out = np.empty((n_steps + 1, len(z0)))
    out[0] = z0
    for k in range(n_steps):
        out[k + 1] = step @ out[k]
    return out
