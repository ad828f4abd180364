"""Small linear-algebra helpers: Gram-Schmidt in a product, product norms, inner-product checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

#: singular values at or below ``RANK_RTOL * s_max`` count as zero in every POD method (one rule for all)
RANK_RTOL = 1e-12


def asymmetry(P: Any) -> float:
    """``max |P - P^T| / max |P|`` (0 for a symmetric matrix)."""
    D = P - P.T
    scale = abs(P).max()
    return float(abs(D).max() / scale) if scale > 0 else 0.0


def is_positive_definite(P: Any) -> bool:
    """Whether the symmetric matrix ``P`` (dense or sparse) is positive definite.

    Dense: a Cholesky factorisation. Sparse: an LU factorisation with a symmetric fill-reducing ordering and
    no pivoting, ``P = L D U``; by Sylvester's law of inertia ``P`` is positive definite iff every pivot is.

    Examples
    --------
    >>> is_positive_definite(sp.diags([2.0, 1.0])), is_positive_definite(-np.eye(2))
    (True, False)
    """
    if not sp.issparse(P):
        try:
            np.linalg.cholesky(np.asarray(P, dtype=np.float64))
        except np.linalg.LinAlgError:
            return False
        return True
    import scipy.sparse.linalg as spla

    try:
        lu = spla.splu(
            sp.csc_matrix(P, dtype=np.float64),
            permc_spec="MMD_AT_PLUS_A",
            diag_pivot_thresh=0.0,
            options={"SymmetricMode": True},
        )
    except RuntimeError:  # exactly singular
        return False
    if not np.array_equal(lu.perm_r, lu.perm_c):  # pivoting happened: decide densely (small or pathological)
        return is_positive_definite(P.toarray())
    return bool(np.all(lu.U.diagonal() > 0))


def check_product(product: Any, n: int, name: str = "product") -> Any:
    """``product`` as a float64 ``n x n`` symmetric positive definite matrix (dense or sparse), else a clear error.

    Examples
    --------
    >>> check_product(-np.eye(2), 2)
    Traceback (most recent call last):
    ...
    ValueError: product must be positive definite (an inner product), got a matrix that is not
    """
    if not (sp.issparse(product) or isinstance(product, np.ndarray)):
        raise TypeError(f"{name} must be a numpy array or a scipy.sparse matrix, got {type(product).__name__}")
    P = sp.csr_matrix(product, dtype=np.float64) if sp.issparse(product) else np.asarray(product, dtype=np.float64)
    if P.shape != (n, n):
        raise ValueError(f"{name} must be {n} x {n} (one row per unknown), got shape {P.shape}")
    data = P.data if sp.issparse(P) else P
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{name} contains NaN or Inf")
    a = asymmetry(P)
    if a > 1e-10:
        raise ValueError(f"{name} must be symmetric (an inner product), got max|P - P^T| / max|P| = {a:.2e}")
    if not is_positive_definite(P):
        raise ValueError(f"{name} must be positive definite (an inner product), got a matrix that is not")
    return P


def apply_product(product: sp.spmatrix | np.ndarray | None, x: np.ndarray) -> np.ndarray:
    """``product @ x`` or ``x`` itself for the Euclidean product (``product=None``)."""
    return x if product is None else product @ x


def product_norm(x: np.ndarray, product: sp.spmatrix | np.ndarray | None = None) -> np.ndarray:
    """Norm(s) ``sqrt(x^T P x)`` of a vector or of the columns of a matrix."""
    px = apply_product(product, x)
    return np.sqrt(np.maximum(np.sum(x * px, axis=0), 0.0))


class GramSchmidt:
    """Incremental modified Gram-Schmidt with re-orthogonalisation in the inner product ``product``.

    Keeps an orthonormal basis ``Q`` (columns), ``PQ = product @ Q`` and the coefficients ``R`` with
    ``W = Q R`` for every vector ``W`` added so far (columns that add nothing new are kept in ``R`` only).

    Examples
    --------
    >>> gs = GramSchmidt(3)
    >>> gs.extend(np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]))
    >>> gs.Q.shape, bool(np.allclose(gs.Q @ gs.R, [[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]))
    ((3, 2), True)
    """

    def __init__(self, dim: int, product: sp.spmatrix | np.ndarray | None = None, rtol: float = 1e-13) -> None:
        self.dim, self.product, self.rtol = dim, product, rtol
        self._q: list[np.ndarray] = []
        self._pq: list[np.ndarray] = []
        self._r: list[np.ndarray] = []  # coefficient columns (variable length, padded on read)

    @property
    def Q(self) -> np.ndarray:
        return np.column_stack(self._q) if self._q else np.zeros((self.dim, 0))

    @property
    def PQ(self) -> np.ndarray:
        return np.column_stack(self._pq) if self._pq else np.zeros((self.dim, 0))

    @property
    def R(self) -> np.ndarray:
        k = len(self._q)
        out = np.zeros((k, len(self._r)))
        for j, col in enumerate(self._r):
            out[: len(col), j] = col
        return out

    def add(self, w: np.ndarray) -> bool:
        """Add one vector; return True when it extended the basis."""
        w = np.array(w, dtype=np.float64, copy=True)
        if w.shape != (self.dim,):
            raise ValueError(f"w must have shape ({self.dim},), got {w.shape}")
        pw = apply_product(self.product, w)
        norm0 = float(np.sqrt(max(w @ pw, 0.0)))
        coeff = np.zeros(len(self._q))
        if self._q:
            Q, PQ = np.column_stack(self._q), np.column_stack(self._pq)
            for _ in range(2):
                h = PQ.T @ w
                w -= Q @ h
                coeff += h
            pw = apply_product(self.product, w)
        norm = float(np.sqrt(max(w @ pw, 0.0)))
        if norm0 == 0.0 or norm <= self.rtol * norm0:
            self._r.append(coeff)
            return False
        self._q.append(w / norm)
        self._pq.append(pw / norm)
        self._r.append(np.append(coeff, norm))
        return True

    def extend(self, W: np.ndarray) -> None:
        """Add the columns of ``W`` one after another."""
        for j in range(W.shape[1]):
            self.add(W[:, j])
