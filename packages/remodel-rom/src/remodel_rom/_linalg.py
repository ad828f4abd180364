"""Small linear-algebra helpers: Gram-Schmidt in a product, product norms."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


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
