"""numba kernels: points of overlapping box subdomains, and partition-of-unity weights on them."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._decomposition import BoxDecomposition, Partition, as_points

_CHUNKS = 64  # fixed work split of the parallel kernels (the output does not depend on it)


@njit(cache=True, inline="always")
def _axis_range(xi: float, low: float, inv_h: float, ab: np.ndarray, m: int, overlap: float) -> tuple[int, int]:
    """The contiguous cells ``j`` along one axis whose extended interval ``ab[j]`` contains ``xi``.

    Cell ``j`` spans ``[low + j h - overlap, low + (j + 1) h + overlap]``, so ``j`` runs from
    ``ceil((x - low - overlap) / h - 1)`` to ``floor((x - low + overlap) / h)``; the guess is then checked
    with exact comparisons against the same bounds the numpy reference uses (the widened cells along an
    axis that contain a point are consecutive). Empty when ``lo > hi``.
    """
    lo = int(math.ceil((xi - low - overlap) * inv_h - 1.0))
    hi = int(math.floor((xi - low + overlap) * inv_h))
    lo = max(lo, 0)
    hi = min(hi, m - 1)
    # exact fix-ups against the reference's bounds (rounding can put the guess one cell off)
    while lo > 0 and ab[lo - 1, 0] <= xi <= ab[lo - 1, 1]:
        lo -= 1
    while lo <= hi and not (ab[lo, 0] <= xi <= ab[lo, 1]):
        lo += 1
    while hi < m - 1 and hi >= lo and ab[hi + 1, 0] <= xi <= ab[hi + 1, 1]:
        hi += 1
    while hi >= lo and not (ab[hi, 0] <= xi <= ab[hi, 1]):
        hi -= 1
    return lo, hi


@njit(cache=True, inline="always")
def _bump(r: float) -> float:
    if abs(r) >= 1.0:
        return 0.0
    return math.exp(1.0 - 1.0 / (1.0 - r * r))


@njit(cache=True)
def _partition_kernel(
    x: np.ndarray,
    axis_bounds: np.ndarray,
    subs: np.ndarray,
    low: np.ndarray,
    inv_h: np.ndarray,
    overlap: float,
    bounds: np.ndarray,
    with_weights: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A counting sort of (point, subdomain) pairs over fixed chunks of points.

    Pass 1: per-axis cell ranges of every point and counts per chunk and subdomain. Pass 2: each chunk
    fills its own slots, so the indices come out ascending per subdomain (the chunks are independent, ready
    for ``prange``; kept serial because on a shared two-core machine a parallel kernel measured slower);
    with ``with_weights`` the bump weights are normalised over the point's subdomains on the spot.
    """
    n, d = x.shape
    nsub = bounds.shape[0]
    m1 = subs[1] if d == 2 else 1
    nchunks = min(_CHUNKS, max(n, 1))
    size = (n + nchunks - 1) // nchunks
    ranges = np.empty((n, 4), dtype=np.int64)
    counts = np.zeros((nchunks, nsub), dtype=np.int64)
    for c in range(nchunks):
        for p in range(c * size, min(n, (c + 1) * size)):
            a0, b0 = _axis_range(x[p, 0], low[0], inv_h[0], axis_bounds[0], subs[0], overlap)
            a1, b1 = 0, 0
            if d == 2:
                a1, b1 = _axis_range(x[p, 1], low[1], inv_h[1], axis_bounds[1], subs[1], overlap)
            ranges[p, 0], ranges[p, 1], ranges[p, 2], ranges[p, 3] = a0, b0, a1, b1
            for j0 in range(a0, b0 + 1):
                for j1 in range(a1, b1 + 1):
                    counts[c, j0 * m1 + j1] += 1
    offsets = np.zeros(nsub + 1, dtype=np.int64)
    start = np.empty((nchunks, nsub), dtype=np.int64)
    for k in range(nsub):
        run = offsets[k]
        for c in range(nchunks):
            start[c, k] = run
            run += counts[c, k]
        offsets[k + 1] = run
    entries = offsets[nsub]
    indices = np.empty(entries, dtype=np.int64)
    weights = np.empty(entries if with_weights else 0)
    mass = np.zeros(n if with_weights else 0)
    for c in range(nchunks):
        cursor = start[c].copy()
        slots = np.empty(nsub, dtype=np.int64)
        for p in range(c * size, min(n, (c + 1) * size)):
            used = 0
            total = 0.0
            for j0 in range(ranges[p, 0], ranges[p, 1] + 1):
                for j1 in range(ranges[p, 2], ranges[p, 3] + 1):
                    k = j0 * m1 + j1
                    e = cursor[k]
                    cursor[k] += 1
                    indices[e] = p
                    if with_weights:
                        w = 1.0
                        for i in range(d):
                            centre = 0.5 * (bounds[k, i, 0] + bounds[k, i, 1])
                            half = 0.5 * (bounds[k, i, 1] - bounds[k, i, 0])
                            w *= _bump((x[p, i] - centre) / half)
                        weights[e] = w
                        total += w
                        slots[used] = e
                        used += 1
            if with_weights:
                mass[p] = total
                if total > 0.0:
                    for q in range(used):
                        weights[slots[q]] /= total
    return offsets, indices, weights, mass


@njit(cache=True)
def _weights_kernel(
    x: np.ndarray, bounds: np.ndarray, offsets: np.ndarray, indices: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weights on a given partition: raw bumps per entry, totals per point, then normalisation."""
    n, d = x.shape
    nsub = bounds.shape[0]
    raw = np.empty(indices.shape[0])
    total = np.zeros(n)
    for k in range(nsub):
        for e in range(offsets[k], offsets[k + 1]):
            p = indices[e]
            w = 1.0
            for i in range(d):
                centre = 0.5 * (bounds[k, i, 0] + bounds[k, i, 1])
                half = 0.5 * (bounds[k, i, 1] - bounds[k, i, 0])
                w *= _bump((x[p, i] - centre) / half)
            raw[e] = w
            total[p] += w
    for e in range(indices.shape[0]):
        if total[indices[e]] > 0.0:
            raw[e] /= total[indices[e]]
    return raw, total


def _geometry(dec: BoxDecomposition) -> tuple[np.ndarray, ...]:
    """Bounds per subdomain, the same bounds per axis ``[dim, max cells, 2]``, counts, low, 1 / cell widths."""
    low, high, subs = dec.arrays()
    bounds = dec.bounds()
    axis_bounds = np.zeros((dec.dim, int(subs.max()), 2))
    for i in range(dec.dim):
        for j in range(subs[i]):
            idx = [0] * dec.dim
            idx[i] = j
            axis_bounds[i, j] = bounds[np.ravel_multi_index(idx, dec.subdomains), i]
    return bounds, axis_bounds, subs, low, subs / (high - low)


def _run(x: np.ndarray, dec: BoxDecomposition, with_weights: bool) -> tuple[np.ndarray, ...]:
    bounds, axis_bounds, subs, low, inv_h = _geometry(dec)
    return _partition_kernel(x, axis_bounds, subs, low, inv_h, dec.overlap, bounds, with_weights)


def box_partition(points: np.ndarray, dec: BoxDecomposition) -> Partition:
    """Indices of the points inside each closed, overlap-extended subdomain of ``dec`` (numba, ``cache=True``).

    Two passes over the points (per-axis cell ranges and counts, then fill), each visiting only the few
    cells near a point, where :func:`~remodel_core.kernels.partition_reference` makes one boolean mask per
    subdomain over all points; the indices are identical.

    Parameters
    ----------
    points : array_like or torch.Tensor
        Shape ``[n, dim]`` (``[n]`` for one dimension).
    dec : BoxDecomposition
        The subdomains.

    Returns
    -------
    Partition
        ``offsets`` (``[n_subdomains + 1]``) and ascending ``indices`` per subdomain.

    Examples
    --------
    >>> dec = BoxDecomposition(low=0.0, high=1.0, subdomains=2, overlap=0.1)
    >>> p = box_partition(np.array([0.05, 0.45, 0.55, 0.95]), dec)
    >>> p.subdomain(0).tolist(), p.subdomain(1).tolist()
    ([0, 1, 2], [1, 2, 3])
    """
    if not isinstance(dec, BoxDecomposition):
        raise TypeError(f"dec must be a BoxDecomposition, got {type(dec).__name__}")
    x = as_points(points, dec.dim)
    offsets, indices, _, _ = _run(x, dec, False)
    return Partition(offsets=offsets, indices=indices)


def partition_of_unity(points: np.ndarray, dec: BoxDecomposition, partition: Partition | None = None) -> Partition:
    """Partition-of-unity weights ``w_k(x) = psi_k(x) / sum_j psi_j(x)`` on the points of each subdomain.

    ``psi_k`` is the product over axes of the C-infinity bump ``exp(1 - 1/(1 - r^2))``, ``r`` the coordinate
    scaled to ``[-1, 1]`` on the extended subdomain, so ``w_k`` is smooth, vanishes with all its derivatives
    on the subdomain's boundary and sums to 1 (the window construction of finite-basis PINNs, Moseley,
    Markham & Nissen-Meyer 2023, with bumps in place of sigmoids). Needs ``overlap > 0`` for every point of
    the box to lie inside some subdomain.

    Parameters
    ----------
    points : numpy.ndarray, shape (n, d)
        The points, ``d`` the dimension of ``dec``.
    dec : BoxDecomposition
        The overlapping subdomains.
    partition : Partition, optional
        The points of each subdomain, when already computed (by :func:`box_partition`).

    Returns
    -------
    Partition
        The partition (computed unless given) with ``weights`` aligned to its ``indices``.

    Examples
    --------
    >>> dec = BoxDecomposition(low=(0.0, 0.0), high=(1.0, 1.0), subdomains=(2, 2), overlap=0.2)
    >>> x = np.random.default_rng(0).random((50, 2))
    >>> p = partition_of_unity(x, dec)
    >>> bool(np.allclose(p.dense_weights(50).sum(axis=1), 1.0))
    True
    """
    if not isinstance(dec, BoxDecomposition):
        raise TypeError(f"dec must be a BoxDecomposition, got {type(dec).__name__}")
    x = as_points(points, dec.dim)
    if partition is None:  # one fused kernel: indices and normalised weights in the same pass
        offsets, indices, weights, total = _run(x, dec, True)
        part = Partition(offsets=offsets, indices=indices)
    else:
        part = partition
        if not isinstance(part, Partition) or part.n_subdomains != dec.n_subdomains:
            raise ValueError("partition must be a Partition of this decomposition")
        weights, total = _weights_kernel(x, dec.bounds(), part.offsets, part.indices)
    if not np.all(total > 0):
        raise ValueError("some points lie in no subdomain interior (overlap must be > 0 and points inside the box)")
    return Partition(offsets=part.offsets, indices=part.indices, weights=weights)
