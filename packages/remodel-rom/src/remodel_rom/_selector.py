"""A learned choice of preconditioner from problem features."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numba
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin

from ._solvers import conjugate_gradient


@numba.njit(cache=True)
def _ssor_apply(indptr, indices, data, diag, omega, r):  # pragma: no cover - compiled
    n = r.shape[0]
    y = np.empty(n)
    for i in range(n):  # (D/omega + L) y = r
        s = r[i]
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            if j < i:
                s -= data[k] * y[j]
        y[i] = s * omega / diag[i]
    for i in range(n):
        y[i] *= diag[i] / omega
    z = np.empty(n)
    for i in range(n - 1, -1, -1):  # (D/omega + U) z = (D/omega) y
        s = y[i]
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            if j > i:
                s -= data[k] * z[j]
        z[i] = s * omega / diag[i]
    return z * (2.0 - omega) / omega


def ssor_preconditioner(A: sp.spmatrix, omega: float) -> Callable[[np.ndarray], np.ndarray]:
    """Symmetric SOR preconditioner ``M^{-1} r`` of an SPD matrix (numba sweeps), ``0 < omega < 2``.

    Parameters
    ----------
    A : scipy.sparse matrix
        Symmetric positive definite, with a positive diagonal.
    omega : float
        Relaxation factor in ``(0, 2)``.

    Returns
    -------
    callable
        ``r -> M^{-1} r``.

    Examples
    --------
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(30, 30)).tocsr()
    >>> cold = conjugate_gradient(A, np.ones(30))[1]
    >>> pre = conjugate_gradient(A, np.ones(30), preconditioner=ssor_preconditioner(A, 1.5))[1]
    >>> pre < cold
    True
    """
    if not 0 < omega < 2:
        raise ValueError(f"omega must lie in (0, 2), got {omega!r}")
    A = sp.csr_matrix(A)
    diag = A.diagonal()
    return lambda r: _ssor_apply(A.indptr, A.indices, A.data, diag, float(omega), np.ascontiguousarray(r))


def jacobi_preconditioner(A: sp.spmatrix) -> Callable[[np.ndarray], np.ndarray]:
    """Diagonal (Jacobi) preconditioner ``r -> D^{-1} r``.

    Examples
    --------
    >>> jacobi_preconditioner(sp.diags([2.0, 4.0]))(np.ones(2))
    array([0.5 , 0.25])
    """
    d = 1.0 / A.diagonal()
    return lambda r: d * r


#: candidate solvers: name -> (preconditioner factory or None, work per iteration in matrix-vector products)
DEFAULT_SOLVERS: dict[str, tuple[Callable[[sp.spmatrix], Callable] | None, float]] = {
    "cg": (None, 1.0),
    "jacobi-cg": (jacobi_preconditioner, 1.0),
    "ssor(1.0)-cg": (lambda A: ssor_preconditioner(A, 1.0), 2.0),
    "ssor(1.5)-cg": (lambda A: ssor_preconditioner(A, 1.5), 2.0),
    "ssor(1.8)-cg": (lambda A: ssor_preconditioner(A, 1.8), 2.0),
    "ssor(1.95)-cg": (lambda A: ssor_preconditioner(A, 1.95), 2.0),
}


def solver_costs(
    systems: Sequence[tuple[sp.spmatrix, np.ndarray]], solvers: dict | None = None, *, rtol: float = 1e-8
) -> tuple[np.ndarray, np.ndarray]:
    """Iterations and work (matrix-vector products) of every candidate solver on every system ``(A, b)``.

    Returns ``(iterations, work)``, both of shape ``(n_systems, n_solvers)``.

    Parameters
    ----------
    systems : sequence of (A, b)
        Sparse SPD matrices and right-hand sides.
    solvers : dict, optional
        ``name -> (preconditioner factory or None, matrix-vector products per iteration)``; by default
        the six candidates of ``DEFAULT_SOLVERS``.
    rtol : float, default 1e-8
        Relative residual tolerance.

    Examples
    --------
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(20, 20)).tocsr()
    >>> its, work = solver_costs([(A, np.ones(20))])
    >>> its.shape, bool(work[0, 2] == 2 * its[0, 2])
    ((1, 6), True)
    """
    solvers = DEFAULT_SOLVERS if solvers is None else solvers
    its = np.zeros((len(systems), len(solvers)))
    work = np.zeros_like(its)
    for i, (A, b) in enumerate(systems):
        for j, (factory, per_it) in enumerate(solvers.values()):
            pre = None if factory is None else factory(A)
            its[i, j] = conjugate_gradient(A, b, rtol=rtol, preconditioner=pre)[1]
            work[i, j] = its[i, j] * per_it
    return its, work


class SolverSelector(ClassifierMixin, BaseEstimator):
    """Pick the cheapest solver for a problem from its features (a learned algorithm selection).

    Trained on measured costs: the label of a training problem is its cheapest candidate; a classifier
    (default: 3-nearest neighbours on standardised features) maps features to labels. The classical
    setting of Rice's (1976) algorithm-selection problem, here choosing the SSOR relaxation, whose optimum
    moves with mesh size and coefficient contrast.

    Parameters
    ----------
    classifier : scikit-learn classifier, optional

    Attributes
    ----------
    classifier_ : fitted classifier
    best_fixed_ : int
        The single candidate with the least total cost on the training set (the baseline to beat).

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1]])
    >>> costs = np.array([[1.0, 2.0], [1.0, 2.0], [3.0, 1.0], [3.0, 1.0]])
    >>> SolverSelector().fit(X, costs).predict(np.array([[0.05], [1.05]])).tolist()
    [0, 1]
    """

    def __init__(self, classifier: object | None = None) -> None:
        self.classifier = classifier

    def fit(self, features: np.ndarray, costs: np.ndarray) -> SolverSelector:
        """Fit to ``features`` (n, d) and measured ``costs`` (n, n_solvers), or directly to the labels (n,) of the
        cheapest solver per problem."""
        from sklearn.base import clone
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import check_array

        from ._sklearn import validate_X

        X = validate_X(self, features, reset=True, name="features")
        if costs is None:
            raise ValueError("SolverSelector requires y to be passed, but the target y is None (costs is required)")
        y = np.asarray(costs)
        if y.ndim == 2:  # a cost matrix: the label is the cheapest solver, the baseline the cheapest on average
            C = check_array(costs, dtype=np.float64, ensure_all_finite=True, input_name="costs")
            if len(C) != len(X):
                raise ValueError(f"costs must have one row per problem ({len(X)}), got shape {C.shape}")
            labels = np.argmin(C, axis=1)
            self.best_fixed_ = int(np.argmin(C.sum(axis=0)))
        else:
            labels = check_array(costs, ensure_2d=False, dtype=None, input_name="costs")
            if labels.ndim != 1 or len(labels) != len(X):
                raise ValueError(
                    f"costs must be a cost matrix (n, n_solvers) or labels of shape ({len(X)},), "
                    f"got shape {labels.shape}"
                )
            check_classification_targets(labels)
            values, counts = np.unique(labels, return_counts=True)
            self.best_fixed_ = values[np.argmax(counts)]  # without costs: the most frequent choice
        self.mean_, self.std_ = X.mean(0), X.std(0) + 1e-12
        base = KNeighborsClassifier(n_neighbors=min(3, len(X))) if self.classifier is None else self.classifier
        self.classifier_ = clone(base).fit((X - self.mean_) / self.std_, labels)
        self.classes_ = self.classifier_.classes_
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The chosen solver (its column index in the costs, or its label) for each row of ``features``."""
        from sklearn.utils.validation import check_is_fitted

        from ._sklearn import validate_X

        check_is_fitted(self, "classifier_")
        X = validate_X(self, features, reset=False, name="features")
        return self.classifier_.predict((X - self.mean_) / self.std_)

    def score(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        """Mean accuracy of the choices for the features ``X``: against the cheapest solver per row when ``y`` is
        a cost matrix (n, n_solvers), as in :meth:`fit`, or against labels (n,).

        ``cross_val_score`` and ``GridSearchCV`` pass the same costs to ``fit`` and ``score``, so both read
        them the same way.
        """
        from sklearn.utils.validation import check_array

        if y is not None and np.ndim(y) == 2:
            y = np.argmin(check_array(y, dtype=np.float64, ensure_all_finite=True, input_name="costs"), axis=1)
        return super().score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    def evaluate(self, features: np.ndarray, costs: np.ndarray) -> dict[str, float]:
        """Mean cost of the selected solvers against the best fixed choice and the oracle."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "classifier_")
        C = np.asarray(costs, dtype=np.float64)
        if C.ndim != 2 or len(C) != len(np.asarray(features)):
            raise ValueError(f"costs must be a cost matrix (n, n_solvers) with one row per feature row, got {C.shape}")
        cls = self.classes_
        if not (np.issubdtype(cls.dtype, np.integer) and np.all((cls >= 0) & (cls < C.shape[1]))):
            raise ValueError(
                f"evaluate needs choices that are columns of costs (a selector fitted to a cost matrix, or to "
                f"integer labels in [0, {C.shape[1]})), got classes {self.classes_.tolist()}"
            )
        chosen = C[np.arange(len(C)), self.predict(features)]
        return {
            "selected": float(chosen.mean()),
            "best_fixed": float(C[:, self.best_fixed_].mean()),
            "oracle": float(C.min(axis=1).mean()),
        }
