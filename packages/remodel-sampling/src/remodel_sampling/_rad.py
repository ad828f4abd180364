"""Residual-based adaptive distribution (RAD) of collocation points (Wu et al. 2023)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from remodel_core.pde import Geometry

from ._bounds import Bounds, as_bounds, check_n, check_seed
from ._samplers import Sampler, UniformRandom, get_sampler
from ._strategies import _check_kc, density

Residual = Callable[[torch.Tensor], torch.Tensor]


def rad_density(residual_values: torch.Tensor, *, k: float = 1.0, c: float = 1.0) -> torch.Tensor:
    """The RAD probabilities ``p_i ∝ |r_i|^k / mean(|r|^k) + c`` of candidate points, normalised to sum 1.

    Parameters
    ----------
    residual_values : torch.Tensor
        The PDE residual at the candidate points (its absolute value is used), finite, not empty.
    k : float, default 1.0
        The exponent of the residual, ``>= 0`` (``k = 0``: uniform).
    c : float, default 1.0
        The constant added to the normalised residual, ``>= 0`` (large ``c``: close to uniform).

    Returns
    -------
    torch.Tensor
        float64 probabilities, one per candidate, summing to 1.

    Examples
    --------
    >>> rad_density(torch.tensor([0.0, 1.0, 3.0]), k=1.0, c=0.0).tolist()
    [0.0, 0.25, 0.75]
    """
    w = torch.from_numpy(density(residual_values, k=k, c=c))
    return w / w.sum()


def rad_resample(
    residual: Residual,
    n: int,
    bounds: Bounds | Geometry,
    *,
    k: float = 1.0,
    c: float = 1.0,
    n_candidates: int | None = None,
    sampler: str | Sampler | None = None,
    seed: int | None = 0,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Draw ``n`` collocation points from the residual-based adaptive distribution (RAD).

    RAD (Wu, Zhu, Tan, Kartha & Lu, "A comprehensive study of non-adaptive and residual-based adaptive
    sampling for physics-informed neural networks", CMAME 403, 2023) samples from the density

    .. math:: p(x) \\propto \\frac{\\varepsilon^k(x)}{\\mathbb{E}[\\varepsilon^k(x)]} + c,

    where ``ε(x) = |residual(x)|``. As in the paper, the density is realised on a dense candidate set
    ``S_0`` (``n_candidates`` points, uniform by default) and ``n`` distinct points are chosen from it with
    probabilities ``p``. ``k = 0`` or ``c → ∞`` gives uniform sampling; ``k = 1, c = 1`` is the paper's
    recommended default; ``c = 0`` samples where the residual is.

    Parameters
    ----------
    residual : callable
        ``residual(x) -> tensor`` of shape ``[m]`` or ``[m, 1]`` for points ``x`` of shape ``[m, d]``
        (may use autograd inside; the result is detached).
    n : int
        Number of points to return.
    bounds : sequence of (low, high), or Geometry
        The box, or any :class:`~remodel_core.pde.Geometry`.
    k, c : float
        Exponent (``k >= 0``) and uniform floor (``c >= 0``) of the density.
    n_candidates : int, optional
        Size of the candidate set, at least ``n`` (default ``max(10 n, 1000)``).
    sampler : str or Sampler, optional
        How the candidates are drawn (default :class:`UniformRandom`).
    seed : int or None
        Seed of the candidates and of the choice.
    dtype : torch.dtype
        Of the returned points.

    Returns
    -------
    torch.Tensor
        ``[n, d]`` points.

    Examples
    --------
    >>> x = rad_resample(lambda x: torch.exp(-100 * (x - 0.8) ** 2).sum(1), 200, [(0, 1)], c=0.0, seed=0)
    >>> bool((x - 0.8).abs().median() < 0.1)
    True
    """
    _check_kc(k, c)
    n = check_n(n)
    box = bounds if isinstance(bounds, Geometry) else as_bounds(bounds)
    seed = check_seed(seed)
    m = max(10 * n, 1000) if n_candidates is None else check_n(n_candidates, "n_candidates")
    if m < n:
        raise ValueError(f"n_candidates must be >= n = {n}, got {m}")
    if not callable(residual):
        raise TypeError(f"residual must be callable, got {type(residual).__name__}")
    candidates = get_sampler(sampler if sampler is not None else UniformRandom()).sample(m, box, seed, dtype=dtype)
    values = residual(candidates)
    if not isinstance(values, torch.Tensor) or values.numel() != m:
        shape = list(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        raise ValueError(f"residual must return one value per point ({m}), got {shape}")
    from ._draw import weighted_choice

    w = density(values, k=k, c=c)
    if int((w > 0).sum()) < n:  # too few candidates carry mass (c = 0): a tiny floor to draw n distinct points
        w = w + 1e-12 * w.max()
    rng = np.random.default_rng(None if seed is None else [seed, 1])  # a stream apart from the candidates'
    idx = torch.from_numpy(weighted_choice(w, n, rng))
    return candidates[idx].detach()
