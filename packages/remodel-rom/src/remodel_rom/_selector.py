"""A learned choice of preconditioner from problem features."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numba
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.neighbors import KNeighborsClassifier

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
        X = np.asarray(features, dtype=np.float64)
        C = np.asarray(costs, dtype=np.float64)
        if X.ndim != 2 or C.ndim != 2 or len(X) != len(C):
            raise ValueError(f"features (n, d) and costs (n, n_solvers) must share n, got {X.shape} and {C.shape}")
        self.mean_, self.std_ = X.mean(0), X.std(0) + 1e-12
        labels = np.argmin(C, axis=1)
        base = KNeighborsClassifier(n_neighbors=min(3, len(X))) if self.classifier is None else self.classifier
        self.classifier_ = clone(base).fit((X - self.mean_) / self.std_, labels)
        self.best_fixed_ = int(np.argmin(C.sum(axis=0)))
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        X = np.asarray(features, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"features must have shape (n, {self.n_features_in_}), got {X.shape}")
        return self.classifier_.predict((X - self.mean_) / self.std_)

    def evaluate(self, features: np.ndarray, costs: np.ndarray) -> dict[str, float]:
        """Mean cost of the selected solvers against the best fixed choice and the oracle."""
        C = np.asarray(costs, dtype=np.float64)
        chosen = C[np.arange(len(C)), self.predict(features)]
        return {
            "selected": float(chosen.mean()),
            "best_fixed": float(C[:, self.best_fixed_].mean()),
            "oracle": float(C.min(axis=1).mean()),
        }
