"""P1 finite elements on a structured triangulation of the unit square, assembled with numba.

The stiffness matrices of the thermal block and heat models are assembled per triangle into COO
triplets by a numba kernel and summed by ``scipy.sparse``; :func:`assemble_stiffness_reference` is the
plain numpy version the tests compare against.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.sparse as sp


def unit_square_mesh(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and triangles of the unit square cut into ``n x n`` squares, each split along its diagonal.

    Parameters
    ----------
    n : int
        Squares per side.

    Returns
    -------
    nodes : ndarray, shape ((n+1)**2, 2)
        Node ``i + j*(n+1)`` lies at ``(i/n, j/n)``.
    triangles : ndarray, shape (2*n*n, 3)
        Vertex indices, counter-clockwise.

    Examples
    --------
    >>> nodes, tris = unit_square_mesh(2)
    >>> nodes.shape, tris.shape
    ((9, 2), (8, 3))
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    x = np.linspace(0.0, 1.0, n + 1)
    xx, yy = np.meshgrid(x, x, indexing="xy")
    nodes = np.column_stack([xx.ravel(), yy.ravel()])
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="xy")
    a = (i + j * (n + 1)).ravel()
    b, c, d = a + 1, a + n + 2, a + n + 1
    triangles = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])]).astype(np.int64)
    return nodes, triangles


@numba.njit(cache=True)
def _stiffness_triplets(nodes, triangles, coefficient):  # pragma: no cover - compiled
    nt = triangles.shape[0]
    rows = np.empty(9 * nt, dtype=np.int64)
    cols = np.empty(9 * nt, dtype=np.int64)
    vals = np.empty(9 * nt, dtype=np.float64)
    grads = np.empty((3, 2))
    for t in range(nt):
        i0, i1, i2 = triangles[t, 0], triangles[t, 1], triangles[t, 2]
        x0, y0 = nodes[i0, 0], nodes[i0, 1]
        x1, y1 = nodes[i1, 0], nodes[i1, 1]
        x2, y2 = nodes[i2, 0], nodes[i2, 1]
        det = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        area = 0.5 * abs(det)
        grads[0, 0], grads[0, 1] = (y1 - y2) / det, (x2 - x1) / det
        grads[1, 0], grads[1, 1] = (y2 - y0) / det, (x0 - x2) / det
        grads[2, 0], grads[2, 1] = (y0 - y1) / det, (x1 - x0) / det
        k = 9 * t
        for a in range(3):
            for b in range(3):
                rows[k] = triangles[t, a]
                cols[k] = triangles[t, b]
                vals[k] = coefficient[t] * area * (grads[a, 0] * grads[b, 0] + grads[a, 1] * grads[b, 1])
                k += 1
    return rows, cols, vals


@numba.njit(cache=True)
def _mass_triplets(nodes, triangles):  # pragma: no cover - compiled
    nt = triangles.shape[0]
    rows = np.empty(9 * nt, dtype=np.int64)
    cols = np.empty(9 * nt, dtype=np.int64)
    vals = np.empty(9 * nt, dtype=np.float64)
    for t in range(nt):
        i0, i1, i2 = triangles[t, 0], triangles[t, 1], triangles[t, 2]
        det = (nodes[i1, 0] - nodes[i0, 0]) * (nodes[i2, 1] - nodes[i0, 1]) - (nodes[i2, 0] - nodes[i0, 0]) * (
            nodes[i1, 1] - nodes[i0, 1]
        )
        area = 0.5 * abs(det)
        k = 9 * t
        for a in range(3):
            for b in range(3):
                rows[k] = triangles[t, a]
                cols[k] = triangles[t, b]
                vals[k] = area / 6.0 if a == b else area / 12.0
                k += 1
    return rows, cols, vals


def assemble_stiffness(nodes: np.ndarray, triangles: np.ndarray, coefficient: np.ndarray) -> sp.csr_matrix:
    """P1 stiffness matrix ``K_ij = sum_T c_T int_T grad(phi_i) . grad(phi_j)`` (numba kernel).

    Parameters
    ----------
    nodes : numpy.ndarray, shape (n_nodes, 2)
        Node coordinates.
    triangles : numpy.ndarray of int, shape (n_triangles, 3)
        Vertex indices.
    coefficient : numpy.ndarray, shape (n_triangles,)
        The conductivity ``c_T`` on each triangle.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n_nodes, n_nodes)

    Examples
    --------
    >>> nodes, tris = unit_square_mesh(4)
    >>> K = assemble_stiffness(nodes, tris, np.ones(len(tris)))
    >>> bool(abs(K.sum()) < 1e-12)   # constants are in the kernel
    True
    """
    coefficient = np.ascontiguousarray(coefficient, dtype=np.float64)
    if coefficient.shape != (len(triangles),):
        raise ValueError(f"coefficient must have one value per triangle ({len(triangles)}), got {coefficient.shape}")
    r, c, v = _stiffness_triplets(
        np.ascontiguousarray(nodes, dtype=np.float64), np.ascontiguousarray(triangles, dtype=np.int64), coefficient
    )
    n = len(nodes)
    return sp.coo_matrix((v, (r, c)), shape=(n, n)).tocsr()


def assemble_mass(nodes: np.ndarray, triangles: np.ndarray) -> sp.csr_matrix:
    """P1 mass matrix ``M_ij = int phi_i phi_j`` (numba kernel).

    Parameters
    ----------
    nodes : numpy.ndarray, shape (n_nodes, 2)
        Node coordinates.
    triangles : numpy.ndarray of int, shape (n_triangles, 3)
        Vertex indices.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n_nodes, n_nodes)

    Examples
    --------
    >>> nodes, tris = unit_square_mesh(3)
    >>> round(float(assemble_mass(nodes, tris).sum()), 12)   # the area
    1.0
    """
    r, c, v = _mass_triplets(
        np.ascontiguousarray(nodes, dtype=np.float64), np.ascontiguousarray(triangles, dtype=np.int64)
    )
    n = len(nodes)
    return sp.coo_matrix((v, (r, c)), shape=(n, n)).tocsr()


def assemble_load(nodes: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """P1 load vector of the constant source ``f = 1`` (one third of each triangle's area per vertex).

    Parameters
    ----------
    nodes : numpy.ndarray, shape (n_nodes, 2)
        Node coordinates.
    triangles : numpy.ndarray of int, shape (n_triangles, 3)
        Vertex indices.

    Returns
    -------
    numpy.ndarray, shape (n_nodes,)

    Examples
    --------
    >>> nodes, tris = unit_square_mesh(3)
    >>> round(float(assemble_load(nodes, tris).sum()), 12)
    1.0
    """
    p = nodes[triangles]
    det = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1])
    load = np.zeros(len(nodes))
    np.add.at(load, triangles.ravel(), np.repeat(np.abs(det) / 6.0, 3))
    return load


def assemble_stiffness_reference(nodes: np.ndarray, triangles: np.ndarray, coefficient: np.ndarray) -> np.ndarray:
    """Dense numpy reference of :func:`assemble_stiffness` (for tests on small meshes)."""
    n = len(nodes)
    K = np.zeros((n, n))
    for t, tri in enumerate(triangles):
        p = nodes[tri]
        B = np.array([p[1] - p[0], p[2] - p[0]]).T
        area = 0.5 * abs(np.linalg.det(B))
        G = np.linalg.solve(B.T, np.array([[-1.0, 1.0, 0.0], [-1.0, 0.0, 1.0]])).T
        K[np.ix_(tri, tri)] += coefficient[t] * area * G @ G.T
    return K


def boundary_nodes(n: int) -> np.ndarray:
    """Indices of the nodes of :func:`unit_square_mesh` on the boundary of the square."""
    i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="xy")
    on = (i == 0) | (j == 0) | (i == n) | (j == n)
    return np.flatnonzero(on.ravel())
