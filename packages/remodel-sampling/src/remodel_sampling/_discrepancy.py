"""Discrepancy of point sets: how far their empirical distribution is from the uniform one."""

from __future__ import annotations

import numpy as np
import torch

from ._bounds import Bounds, as_bounds, to_unit

METHODS = ("CD", "WD", "MD", "L2-star")


def discrepancy(points: torch.Tensor | np.ndarray, bounds: Bounds | None = None, *, method: str = "CD") -> float:
    """The squared L2-type discrepancy of ``points`` in the box ``bounds`` (default ``[0, 1]^d``).

    ``method`` is one of ``"CD"`` (centred, Hickernell 1998), ``"WD"`` (wrap-around), ``"MD"`` (mixture) or
    ``"L2-star"``; they are computed in closed form (``scipy.stats.qmc.discrepancy``) after mapping the box
    onto the unit cube; like scipy, the square is returned. Lower is more uniform: the squared discrepancy
    of quasi-random sets decays like ``O(n^{-2} log^{2d} n)``, of random ones like ``O(n^{-1})``.

    Parameters
    ----------
    points : torch.Tensor or numpy.ndarray
        The point set, shape ``[n, d]`` with ``n > 0``, inside ``bounds``.
    bounds : sequence of (low, high) pairs, optional
        The box of the points, one pair per dimension; default the unit cube ``[0, 1]^d``.
    method : {"CD", "WD", "MD", "L2-star"}, default "CD"
        The discrepancy: centred, wrap-around, mixture or L2-star.

    Returns
    -------
    float
        The squared discrepancy (as ``scipy.stats.qmc.discrepancy`` returns it); lower is more uniform.

    Examples
    --------
    >>> from remodel_sampling import Sobol, UniformRandom
    >>> box = [(0, 1), (0, 1)]
    >>> discrepancy(Sobol().sample(256, box, seed=0)) < discrepancy(UniformRandom().sample(256, box, seed=0))
    True
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if isinstance(points, torch.Tensor):
        points = points.detach().cpu().numpy()
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"points must have shape [n, d] with n > 0, got shape {list(x.shape)}")
    if not np.isfinite(x).all():
        raise ValueError("points must be finite (they hold NaN or Inf)")
    box = as_bounds(bounds if bounds is not None else [(0.0, 1.0)] * x.shape[1])
    if box.shape[0] != x.shape[1]:
        raise ValueError(f"bounds has {box.shape[0]} dimensions but points have {x.shape[1]}")
    unit = to_unit(x, box)
    if unit.min() < -1e-12 or unit.max() > 1 + 1e-12:
        raise ValueError("points must lie inside bounds")
    from scipy.stats import qmc  # lazy: scipy.stats is slow to import

    return float(qmc.discrepancy(np.clip(unit, 0.0, 1.0), method=method))
