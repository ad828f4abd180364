"""Reduced stationary models: Galerkin projection with offline/online splitting and a residual error estimator."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse.linalg as spla

from ._linalg import GramSchmidt
from ._stationary import StationaryAffineModel


class ResidualEstimator:
    """Offline/online residual norm ``||f - A(mu) V u_r||_{X'}`` of an affine model.

    The Riesz representers ``X^{-1} f`` and ``X^{-1} A_q v_i`` are orthonormalised in the product ``X``
    (Gram-Schmidt with re-orthogonalisation, as pyMOR's ``ResidualReductor`` does), so the dual norm is
    the Euclidean norm of ``R c(mu)`` with ``c = (1, -theta_q(mu) u_r,i)``: no cancellation in a Gram
    matrix, accurate down to machine precision relative to ``||f||``.

    Parameters
    ----------
    fom : StationaryAffineModel
        The full model; its product ``X`` defines the dual norm.

    Examples
    --------
    >>> from remodel_rom import thermal_block
    >>> fom = thermal_block(n=8)
    >>> est = ResidualEstimator(fom)
    >>> est.extend(fom.solve([0.5, 0.5, 0.5, 0.5]))
    >>> [m.shape for m in est.matrices(1)]   # f = sum_q mu_q A_q u: 5 representers span 4 dimensions
    [(4,), (4, 4, 1)]
    """

    def __init__(self, fom: StationaryAffineModel) -> None:
        self.fom = fom
        self._lu = spla.splu(fom.product.tocsc())
        self._gs = GramSchmidt(fom.n_dofs, fom.product)
        self._gs.add(self._lu.solve(fom.rhs))
        self._cols: list[tuple[int, int]] = [(-1, -1)]  # (q, i) of each representer column
        self.n_basis = 0

    def extend(self, v: np.ndarray) -> None:
        """Add the representers ``X^{-1} A_q v`` of one new basis vector."""
        i = self.n_basis
        for q, Aq in enumerate(self.fom.operators):
            self._gs.add(self._lu.solve(Aq @ v))
            self._cols.append((q, i))
        self.n_basis += 1

    def matrices(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(R_f, R_A)`` for the first ``n`` basis vectors: ``R_f`` (k,), ``R_A`` (k, Q, n)."""
        R = self._gs.R
        Q = len(self.fom.operators)
        RA = np.zeros((R.shape[0], Q, n))
        for j, (q, i) in enumerate(self._cols[1:], start=1):
            if i < n:
                RA[:, q, i] = R[:, j]
        return R[:, 0].copy(), RA


def _check_size(n: int, available: int) -> int:
    """``n`` basis vectors out of ``available``: an integer in ``[1, available]``, else a clear error."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= available:
        raise ValueError(f"n must be an integer in [1, {available}] (basis vectors to use), got {n!r}")
    return int(n)


class ReducedStationaryModel:
    """A Galerkin reduced model of a :class:`StationaryAffineModel`.

    Online: ``A_r(mu) = sum_q theta_q(mu) V^T A_q V`` (a few ``n x n`` additions) and one dense solve;
    the a-posteriori bound ``||u(mu) - V u_r(mu)||_X <= ||r(mu)||_{X'} / alpha_LB(mu)`` (Rozza, Huynh &
    Patera 2008) costs ``O(Q n k)`` more.

    Parameters
    ----------
    fom : StationaryAffineModel
        The full model.
    basis : numpy.ndarray, shape (n_dofs, k)
        The reduced basis ``V``.
    estimator : ResidualEstimator, optional
        Offline data of the error bound; built here when not given.
    n : int, optional
        Use the first ``n`` basis vectors only (default: all).

    Examples
    --------
    >>> from remodel_rom import thermal_block, POD
    >>> fom = thermal_block(n=8)
    >>> S = np.array([fom.solve(mu) for mu in fom.sample(20, np.random.default_rng(0))])
    >>> V = POD(n_components=5, product=fom.product).fit(S).components_.T
    >>> rom = ReducedStationaryModel(fom, V)
    >>> rom.solve([0.2, 0.4, 0.6, 0.8]).shape
    (5,)
    """

    def __init__(
        self,
        fom: StationaryAffineModel,
        basis: np.ndarray,
        *,
        estimator: ResidualEstimator | None = None,
        n: int | None = None,
    ) -> None:
        basis = np.asarray(basis, dtype=np.float64)
        if basis.ndim != 2 or basis.shape[0] != fom.n_dofs or basis.shape[1] == 0:
            raise ValueError(f"basis must have shape ({fom.n_dofs}, n) with n >= 1, got {basis.shape}")
        if not np.all(np.isfinite(basis)):
            raise ValueError("basis must be finite (it contains NaN or Inf)")
        n = basis.shape[1] if n is None else _check_size(n, basis.shape[1])
        self.fom = fom
        self.basis = np.ascontiguousarray(basis[:, :n])
        self.theta = fom.theta
        self.operators = np.stack([self.basis.T @ (Aq @ self.basis) for Aq in fom.operators])  # (Q, n, n)
        self.rhs = self.basis.T @ fom.rhs
        if estimator is None:
            estimator = ResidualEstimator(fom)
            for j in range(n):
                estimator.extend(self.basis[:, j])
        self._estimator = estimator
        self._rf, self._rA = estimator.matrices(n)
        self._flat_ops = self.operators.reshape(len(self.operators), -1)

    @property
    def basis_size(self) -> int:
        return self.basis.shape[1]

    def truncate(self, n: int) -> ReducedStationaryModel:
        """The reduced model of the first ``n`` basis vectors (estimator data reused)."""
        n = _check_size(n, self.basis_size)
        return ReducedStationaryModel(self.fom, self.basis, estimator=self._estimator, n=n)

    def solve(self, mu: Sequence[float] | np.ndarray) -> np.ndarray:
        """Reduced coefficients ``u_r(mu)``: reduced assembly and one dense solve."""
        mu = self.fom.parse(mu)
        if mu.ndim != 1:
            raise ValueError(f"mu must have shape ({self.fom.n_parameters},) (one parameter), got {mu.shape}")
        th = self.theta(mu)
        n = self.basis_size
        A = (th @ self._flat_ops).reshape(n, n)
        return np.linalg.solve(A, self.rhs)

    def solve_many(self, mus: np.ndarray) -> np.ndarray:
        """Reduced coefficients for a batch of parameters, shape ``(m, n)``."""
        th = self.theta(np.atleast_2d(self.fom.parse(mus, "mus")))
        n = self.basis_size
        A = (th @ self._flat_ops).reshape(-1, n, n)
        return np.linalg.solve(A, np.broadcast_to(self.rhs, (len(A), n))[..., None])[..., 0]

    def residual_norm(self, mus: np.ndarray, u_r: np.ndarray) -> np.ndarray:
        """Dual norms of the residuals for a batch ``mus`` (m, p) and coefficients ``u_r`` (m, n)."""
        th = self.theta(np.atleast_2d(self.fom.parse(mus, "mus")))  # (m, Q)
        r = self._rf[None, :] - np.einsum("kqi,mq,mi->mk", self._rA, th, u_r)
        return np.linalg.norm(r, axis=1)

    def estimate_error(self, mu: Sequence[float] | np.ndarray, u_r: np.ndarray | None = None) -> float:
        """Upper bound of the error ``||u(mu) - V u_r(mu)||`` in the model's energy product (one ``mu``)."""
        mu = self.fom.parse(mu)
        if mu.ndim != 1:
            raise ValueError(
                f"mu must have shape ({self.fom.n_parameters},) (one parameter; estimate_errors takes a batch), "
                f"got {mu.shape}"
            )
        mu = mu[None, :]
        if u_r is not None:
            u_r = np.asarray(u_r, dtype=np.float64)
            if u_r.shape not in ((self.basis_size,), (1, self.basis_size)):
                raise ValueError(f"u_r must have shape ({self.basis_size},) (reduced coefficients), got {u_r.shape}")
        u = self.solve_many(mu) if u_r is None else np.atleast_2d(u_r)
        return float((self.residual_norm(mu, u) / self.fom.coercivity_lower_bound(mu))[0])

    def estimate_errors(self, mus: np.ndarray) -> np.ndarray:
        """:meth:`estimate_error` for a batch of parameters."""
        mus = np.atleast_2d(self.fom.parse(mus, "mus"))
        return self.residual_norm(mus, self.solve_many(mus)) / self.fom.coercivity_lower_bound(mus)

    def reconstruct(self, u_r: np.ndarray) -> np.ndarray:
        """The full-order vector ``V u_r`` (``u_r`` of shape (n,), or (n, m) for m vectors)."""
        u_r = np.asarray(u_r, dtype=np.float64)
        if u_r.ndim not in (1, 2) or u_r.shape[0] != self.basis_size:
            raise ValueError(f"u_r must have {self.basis_size} rows (reduced coefficients), got shape {u_r.shape}")
        return self.basis @ u_r

    def __repr__(self) -> str:
        return f"ReducedStationaryModel(fom={self.fom.name!r}, basis_size={self.basis_size})"
