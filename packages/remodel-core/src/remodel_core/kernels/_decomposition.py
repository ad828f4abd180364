"""Overlapping box decompositions of a domain: the geometry shared by the numba kernels and their references."""

from __future__ import annotations

import dataclasses
import math

import numpy as np


def as_points(points: np.ndarray, dim: int, name: str = "points") -> np.ndarray:
    """``points`` as a C-contiguous float64 array of shape ``[n, dim]`` (a 1-D array is read as ``[n, 1]``)."""
    try:
        import torch

        if isinstance(points, torch.Tensor):
            points = points.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1 and dim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"{name} must have shape [n, {dim}], got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return np.ascontiguousarray(arr)


@dataclasses.dataclass(frozen=True)
class BoxDecomposition:
    """The box ``[low, high]`` split into a grid of ``subdomains[i]`` equal cells per axis, each cell
    widened by ``overlap`` on every side (overlapping Schwarz subdomains; finite-basis PINNs, Moseley,
    Markham & Nissen-Meyer, Adv. Comput. Math. 49, 2023).

    Subdomain ``k`` is the cell with multi-index ``numpy.unravel_index(k, subdomains)`` (first axis slowest);
    its closed extended interval along axis ``i`` is ``[a - overlap, b + overlap]`` with
    ``a = low + j h``, ``b = low + (j + 1) h``, ``h = (high - low) / subdomains[i]``.

    Parameters
    ----------
    low, high : tuple of float
        Opposite corners of the box, one entry per axis.
    subdomains : tuple of int
        Number of equal cells per axis.
    overlap : float
        Width by which each cell is widened on every side (>= 0).

    Examples
    --------
    >>> dec = BoxDecomposition(low=(0.0, 0.0), high=(1.0, 1.0), subdomains=(2, 2), overlap=0.1)
    >>> dec.n_subdomains, dec.bounds()[0].tolist()
    (4, [[-0.1, 0.6], [-0.1, 0.6]])
    """

    low: tuple[float, ...]
    high: tuple[float, ...]
    subdomains: tuple[int, ...]
    overlap: float

    def __post_init__(self) -> None:
        low = (float(self.low),) if isinstance(self.low, (int, float)) else tuple(float(v) for v in self.low)
        high = (float(self.high),) if isinstance(self.high, (int, float)) else tuple(float(v) for v in self.high)
        subs = (self.subdomains,) if isinstance(self.subdomains, int) else tuple(self.subdomains)
        if len(low) not in (1, 2) or len(high) != len(low):
            raise ValueError(f"low and high must both have 1 or 2 entries, got {low} and {high}")
        if len(subs) == 1 and len(low) == 2:
            subs = subs * 2
        if len(subs) != len(low):
            raise ValueError(f"subdomains must give one count per axis ({len(low)}), got {subs}")
        for i, (a, b) in enumerate(zip(low, high)):
            if not (math.isfinite(a) and math.isfinite(b) and a < b):
                raise ValueError(f"need finite low[{i}] < high[{i}], got {a} and {b}")
        for i, m in enumerate(subs):
            if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m <= 0:
                raise ValueError(f"subdomains[{i}] must be a positive integer, got {m!r}")
        overlap = self.overlap
        if (
            isinstance(overlap, bool)
            or not isinstance(overlap, (int, float))
            or not math.isfinite(overlap)
            or overlap < 0
        ):
            raise ValueError(f"overlap must be a finite number >= 0, got {overlap!r}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "subdomains", tuple(int(m) for m in subs))
        object.__setattr__(self, "overlap", float(overlap))

    @property
    def dim(self) -> int:
        return len(self.low)

    @property
    def n_subdomains(self) -> int:
        return int(np.prod(self.subdomains))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``low``, ``high`` (float64) and ``subdomains`` (int64) as arrays, for the kernels."""
        return (
            np.asarray(self.low, dtype=np.float64),
            np.asarray(self.high, dtype=np.float64),
            np.asarray(self.subdomains, dtype=np.int64),
        )

    def bounds(self) -> np.ndarray:
        """Extended bounds ``[n_subdomains, dim, 2]`` (computed as the kernels compute them)."""
        low, high, subs = self.arrays()
        out = np.empty((self.n_subdomains, self.dim, 2))
        for k in range(self.n_subdomains):
            idx = np.unravel_index(k, self.subdomains)
            for i in range(self.dim):
                h = (high[i] - low[i]) / subs[i]
                out[k, i, 0] = low[i] + idx[i] * h - self.overlap
                out[k, i, 1] = low[i] + (idx[i] + 1) * h + self.overlap
        return out


@dataclasses.dataclass(frozen=True)
class Partition:
    """Points per subdomain in compressed form: subdomain ``k`` holds ``indices[offsets[k]:offsets[k + 1]]``
    (ascending), and ``weights`` (when computed) are aligned with ``indices``.

    Parameters
    ----------
    offsets : numpy.ndarray of int, shape (n_subdomains + 1,)
        Start of each subdomain's run in ``indices``; ``offsets[0] == 0``, ``offsets[-1] == len(indices)``.
    indices : numpy.ndarray of int
        Point indices, subdomain after subdomain, ascending within each.
    weights : numpy.ndarray of float, optional
        Partition-of-unity weights aligned with ``indices``.

    Examples
    --------
    >>> p = Partition(offsets=np.array([0, 2, 3]), indices=np.array([0, 1, 1]))
    >>> p.subdomain(0).tolist(), p.n_subdomains, p.counts().tolist()
    ([0, 1], 2, [2, 1])
    """

    offsets: np.ndarray
    indices: np.ndarray
    weights: np.ndarray | None = None

    @property
    def n_subdomains(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def subdomain(self, k: int) -> np.ndarray:
        """Indices of the points in subdomain ``k``."""
        if not 0 <= k < self.n_subdomains:
            raise ValueError(f"k must be in [0, {self.n_subdomains}), got {k!r}")
        return self.indices[self.offsets[k] : self.offsets[k + 1]]

    def subdomain_weights(self, k: int) -> np.ndarray:
        """Partition-of-unity weights of the points of subdomain ``k``."""
        if self.weights is None:
            raise ValueError("this partition carries no weights (use partition_of_unity)")
        return self.weights[self.offsets[k] : self.offsets[k + 1]]

    def counts(self) -> np.ndarray:
        """Number of points per subdomain."""
        return np.diff(self.offsets)

    def dense_weights(self, n_points: int) -> np.ndarray:
        """Weights as a dense ``[n_points, n_subdomains]`` array (for small problems and checks)."""
        if self.weights is None:
            raise ValueError("this partition carries no weights (use partition_of_unity)")
        out = np.zeros((n_points, self.n_subdomains))
        for k in range(self.n_subdomains):
            out[self.subdomain(k), k] = self.subdomain_weights(k)
        return out
