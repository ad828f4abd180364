"""Plain numpy references of the partition kernels (vectorised over points, one pass per subdomain)."""

from __future__ import annotations

import numpy as np

from ._decomposition import BoxDecomposition, Partition, as_points


def bump(r: np.ndarray) -> np.ndarray:
    """The C-infinity bump ``exp(1 - 1 / (1 - r^2))`` on ``|r| < 1``, zero elsewhere (equal to 1 at 0).

    Parameters
    ----------
    r : numpy.ndarray
        Scaled coordinates.

    Returns
    -------
    numpy.ndarray
        The bump at each entry of ``r``, same shape.

    Examples
    --------
    >>> bump(np.array([0.0, 0.5, 1.0])).round(4).tolist()
    [1.0, 0.7165, 0.0]
    """
    out = np.zeros_like(r)
    inside = np.abs(r) < 1.0
    out[inside] = np.exp(1.0 - 1.0 / (1.0 - r[inside] ** 2))
    return out


def partition_reference(points: np.ndarray, dec: BoxDecomposition) -> Partition:
    """Indices of the points in each closed extended subdomain (numpy reference of :func:`box_partition`).

    Parameters
    ----------
    points : numpy.ndarray, shape (n, d)
        The points.
    dec : BoxDecomposition
        The overlapping subdomains.

    Returns
    -------
    Partition
        Without weights.
    """
    x = as_points(points, dec.dim)
    bounds = dec.bounds()
    chunks, offsets = [], [0]
    for k in range(dec.n_subdomains):
        mask = np.ones(x.shape[0], dtype=bool)
        for i in range(dec.dim):
            mask &= (x[:, i] >= bounds[k, i, 0]) & (x[:, i] <= bounds[k, i, 1])
        idx = np.nonzero(mask)[0]
        chunks.append(idx)
        offsets.append(offsets[-1] + idx.size)
    indices = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    return Partition(offsets=np.asarray(offsets, dtype=np.int64), indices=indices.astype(np.int64))


def weights_reference(points: np.ndarray, dec: BoxDecomposition, partition: Partition | None = None) -> Partition:
    """Partition-of-unity weights (numpy reference of :func:`partition_of_unity`).

    Parameters
    ----------
    points : numpy.ndarray, shape (n, d)
        The points.
    dec : BoxDecomposition
        The overlapping subdomains.
    partition : Partition, optional
        The points of each subdomain, when already computed.

    Returns
    -------
    Partition
        With ``weights`` aligned to its ``indices``.
    """
    x = as_points(points, dec.dim)
    part = partition_reference(x, dec) if partition is None else partition
    bounds = dec.bounds()
    raw = np.empty(part.indices.shape[0])
    for k in range(dec.n_subdomains):
        sl = slice(part.offsets[k], part.offsets[k + 1])
        idx = part.indices[sl]
        w = np.ones(idx.size)
        for i in range(dec.dim):
            centre = 0.5 * (bounds[k, i, 0] + bounds[k, i, 1])
            half = 0.5 * (bounds[k, i, 1] - bounds[k, i, 0])
            w *= bump((x[idx, i] - centre) / half)
        raw[sl] = w
    total = np.bincount(part.indices, weights=raw, minlength=x.shape[0])
    if np.any(total[np.unique(part.indices)] <= 0) or np.unique(part.indices).size < x.shape[0]:
        raise ValueError("some points lie in no subdomain interior (overlap must be > 0 and points inside the box)")
    return Partition(offsets=part.offsets, indices=part.indices, weights=raw / total[part.indices])
