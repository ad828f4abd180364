"""Operator inference (Peherstorfer & Willcox 2016) with Tikhonov regularisation."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from remodel_core import check_positive
from sklearn.base import BaseEstimator, RegressorMixin

from ._sklearn import validate_X, validate_Xy


def quadratic_features(Q: np.ndarray) -> np.ndarray:
    """Compact Kronecker square ``(q_i q_j)_{i <= j}`` of each row of ``Q``: shape ``(K, r(r+1)/2)``.

    Parameters
    ----------
    Q : numpy.ndarray, shape (K, r)
        Reduced states, one per row.

    Returns
    -------
    numpy.ndarray, shape (K, r(r+1)/2)

    Examples
    --------
    >>> quadratic_features(np.array([[1.0, 2.0]]))
    array([[1., 2., 4.]])
    """
    Q = np.asarray(Q, dtype=np.float64)
    if Q.ndim != 2:
        raise ValueError(f"Q must be a 2-D array of reduced states (K, r), got shape {Q.shape}")
    i, j = np.triu_indices(Q.shape[1])
    return Q[:, i] * Q[:, j]


def time_derivatives(Q: np.ndarray, dt: float) -> np.ndarray:
    """Second-order finite-difference time derivatives of the rows of ``Q`` (equispaced by ``dt``).

    Parameters
    ----------
    Q : numpy.ndarray, shape (K, r)
        Reduced states at ``K >= 3`` equispaced times.
    dt : float
        The time step.

    Returns
    -------
    numpy.ndarray, shape (K, r)
        Central differences inside, one-sided second-order differences at both ends.

    Examples
    --------
    >>> t = np.linspace(0, 1, 11)[:, None]
    >>> bool(np.allclose(time_derivatives(t**2, 0.1), 2 * t))
    True
    """
    Q = np.asarray(Q, dtype=np.float64)
    if Q.ndim not in (1, 2) or len(Q) < 3:
        raise ValueError(f"Q needs at least 3 time steps (rows), got shape {Q.shape}")
    if not np.all(np.isfinite(Q)):
        raise ValueError("Q must be finite (it contains NaN or Inf)")
    check_positive("dt", dt)
    return np.gradient(Q, float(dt), axis=0, edge_order=2)


class OperatorInference(RegressorMixin, BaseEstimator):
    """Learn reduced operators ``dq/dt = c + A q + H (q x q)`` from reduced state data by least squares.

    Peherstorfer & Willcox (2016), "Data-driven operator inference for nonintrusive projection-based model
    reduction": with states ``Q`` (K, r) and right-hand sides ``R`` (K, r) (time derivatives, or the next
    states for a discrete-time model ``q_{k+1} = c + A q_k + H (q_k x q_k)``), solve
    ``min ||D O^T - R||^2 + lambda ||O||^2`` with the data matrix ``D = [1, Q, Q x Q]``. ``R`` may also hold
    other outputs (``m`` columns, e.g. an output operator ``y = c + A q + ...``); :meth:`rollout` and
    :meth:`integrate` need ``m = r``.

    Parameters
    ----------
    operators : str
        Which terms to learn: any of ``"c"`` (constant), ``"A"`` (linear), ``"H"`` (quadratic).
    regularization : float
        Tikhonov parameter ``lambda >= 0``.

    Attributes
    ----------
    c_ : ndarray (r,) or None
    A_ : ndarray (r, r) or None
    H_ : ndarray (r, r(r+1)/2) or None
    residual_ : float
        Relative least-squares residual of the fit.

    Examples
    --------
    >>> A = np.array([[-1.0, 0.5], [0.0, -2.0]])
    >>> Q = np.random.default_rng(0).standard_normal((20, 2))
    >>> model = OperatorInference(operators="A", regularization=0.0).fit(Q, Q @ A.T)
    >>> bool(np.allclose(model.A_, A))
    True
    """

    def __init__(self, operators: str = "cA", regularization: float = 0.0) -> None:
        self.operators = operators
        self.regularization = regularization

    def _data(self, Q: np.ndarray) -> np.ndarray:
        blocks = []
        if "c" in self.operators:
            blocks.append(np.ones((len(Q), 1)))
        if "A" in self.operators:
            blocks.append(Q)
        if "H" in self.operators:
            blocks.append(quadratic_features(Q))
        return np.hstack(blocks)

    def fit(self, Q: np.ndarray, R: np.ndarray) -> OperatorInference:
        """Fit the operators to states ``Q`` (K, r) and right-hand sides ``R`` (K, r)."""
        if not isinstance(self.operators, str) or not self.operators or set(self.operators) - set("cAH"):
            raise ValueError(f"operators must be a non-empty string of 'c', 'A', 'H', got {self.operators!r}")
        if isinstance(self.regularization, bool) or not (
            isinstance(self.regularization, numbers.Real) and 0 <= self.regularization < float("inf")
        ):
            raise ValueError(f"regularization must be a finite number >= 0, got {self.regularization!r}")
        Q, R = validate_Xy(self, Q, R, names=("Q", "R"))
        self._1d_output = R.ndim == 1
        R = R[:, None] if R.ndim == 1 else R
        D = self._data(Q)
        lam = float(self.regularization)
        if lam == 0 and D.shape[0] < D.shape[1]:
            raise ValueError(
                f"Q holds {D.shape[0]} snapshots (n_samples = {D.shape[0]}) but operators={self.operators!r} "
                f"with r={Q.shape[1]} have {D.shape[1]} unknowns per equation: the least-squares problem is "
                "under-determined (give more snapshots, fewer operators, or regularization > 0)"
            )
        if lam == 0 and np.linalg.matrix_rank(D) < D.shape[1]:
            warnings.warn(
                f"the data matrix [1, Q, Q x Q] of Q is rank deficient (rank {np.linalg.matrix_rank(D)} < "
                f"{D.shape[1]}): the operators are the minimum-norm solution; set regularization > 0",
                RuntimeWarning,
                stacklevel=2,
            )
        if lam > 0:
            Daug = np.vstack([D, np.sqrt(lam) * np.eye(D.shape[1])])
            Raug = np.vstack([R, np.zeros((D.shape[1], R.shape[1]))])
        else:
            Daug, Raug = D, R
        O = np.linalg.lstsq(Daug, Raug, rcond=None)[0].T  # (r, d)
        r = Q.shape[1]
        k = 0
        self.n_outputs_ = R.shape[1]
        self.c_ = self.A_ = self.H_ = None
        if "c" in self.operators:
            self.c_, k = O[:, 0], 1
        if "A" in self.operators:
            self.A_, k = O[:, k : k + r], k + r
        if "H" in self.operators:
            self.H_ = O[:, k:]
        self.residual_ = float(np.linalg.norm(D @ O.T - R) / max(np.linalg.norm(R), 1e-300))
        return self

    def predict(self, Q: np.ndarray) -> np.ndarray:
        """The learned right-hand side at the states ``Q`` (K, r)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_outputs_")
        Q = validate_X(self, Q, reset=False, name="Q")
        out = np.zeros((len(Q), self.n_outputs_))
        if self.c_ is not None:
            out += self.c_
        if self.A_ is not None:
            out += Q @ self.A_.T
        if self.H_ is not None:
            out += quadratic_features(Q) @ self.H_.T
        return out[:, 0] if getattr(self, "_1d_output", False) else out

    def _check_square(self, q0: np.ndarray) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_outputs_")
        if self.n_outputs_ != self.n_features_in_ or getattr(self, "_1d_output", False):
            raise ValueError(
                f"a model with {self.n_outputs_} outputs for {self.n_features_in_} states cannot be "
                "iterated: fit R of the shape of Q"
            )
        q0 = np.asarray(q0, dtype=np.float64)
        if q0.shape != (self.n_features_in_,) or not np.all(np.isfinite(q0)):
            raise ValueError(f"q0 must be a finite array of shape ({self.n_features_in_},), got {q0.shape}")
        return q0

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.target_tags.multi_output = True
        return tags

    def rollout(self, q0: np.ndarray, n_steps: int) -> np.ndarray:
        """Iterate a discrete-time model ``q_{k+1} = f(q_k)``: shape ``(n_steps + 1, r)``."""
        q0 = self._check_square(q0)
        if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 0:
            raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
        out = np.empty((n_steps + 1, self.n_features_in_))
        out[0] = q0
        for k in range(n_steps):
            out[k + 1] = self.predict(out[k][None, :])[0]
        return out

    def integrate(self, q0: np.ndarray, t: np.ndarray, method: str = "BDF") -> np.ndarray:
        """Integrate a continuous-time model with ``scipy.integrate.solve_ivp`` at the times ``t``."""
        import scipy.integrate

        q0 = self._check_square(q0)
        t = np.asarray(t, dtype=np.float64)
        if t.ndim != 1 or len(t) < 2 or not np.all(np.diff(t) > 0):
            raise ValueError(f"t must be an increasing 1-D array of at least 2 times, got shape {t.shape}")
        sol = scipy.integrate.solve_ivp(
            lambda _, q: self.predict(q[None, :])[0], (t[0], t[-1]), q0, t_eval=t, method=method, rtol=1e-10, atol=1e-12
        )
        return sol.y.T
