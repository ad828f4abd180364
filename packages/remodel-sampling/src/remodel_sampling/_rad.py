"""Residual-based adaptive distribution (RAD) of collocation points (Wu et al. 2023)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import torch

from ._bounds import Bounds, as_bounds, check_n, check_seed
from ._samplers import Sampler, UniformRandom, get_sampler

Residual = Callable[[torch.Tensor], torch.Tensor]


def rad_density(residual_values: torch.Tensor, *, k: float = 1.0, c: float = 1.0) -> torch.Tensor:
    """The RAD probabilities ``p_i ∝ |r_i|^k / mean(|r|^k) + c`` of candidate points, normalised to sum 1.

    Examples
    --------
    >>> rad_density(torch.tensor([0.0, 1.0, 3.0]), k=1.0, c=0.0).tolist()
    [0.0, 0.25, 0.75]
    """
    _check_kc(k, c)
    r = residual_values.detach().abs().reshape(-1).to(torch.float64)
    if r.numel() == 0:
        raise ValueError("residual_values must not be empty")
    if not bool(torch.isfinite(r).all()):
        raise ValueError("residual_values must be finite")
    rk = r.pow(k)
    mean = rk.mean()
    p = (rk / mean if mean > 0 else torch.zeros_like(rk)) + c
    if float(p.sum()) <= 0.0:  # zero residual everywhere and c = 0: nothing to prefer, fall back to uniform
        p = torch.ones_like(p)
    return p / p.sum()


def rad_resample(residual: Residual, n: int, bounds: Bounds, *, k: float = 1.0, c: float = 1.0,
                 n_candidates: int | None = None, sampler: str | Sampler | None = None, seed: int | None = 0,
                 dtype: torch.dtype = torch.float64) -> torch.Tensor:
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
    bounds : sequence of (low, high)
        The box.
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
    box = as_bounds(bounds)
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
    p = rad_density(values, k=k, c=c)
    fresh = int(np.random.SeedSequence().entropy % 2**62)  # seed=None: fresh entropy, no global RNG touched
    gen = torch.Generator().manual_seed(seed if seed is not None else fresh)
    nonzero = int((p > 0).sum())
    if nonzero < n:  # too few candidates carry mass (c = 0): add the floor needed to draw n distinct points
        p = p + 1e-12
        p = p / p.sum()
    idx = torch.multinomial(p, n, replacement=False, generator=gen)
    return candidates[idx].detach()


def _check_kc(k: float, c: float) -> None:
    for name, value in (("k", k), ("c", c)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RAD:
    """The RAD resampling strategy (Wu et al. 2023) as a configuration object; see :func:`rad_resample`.

    Examples
    --------
    >>> strategy = RAD(k=1.0, c=1.0)
    >>> strategy.resample(lambda x: x.sum(1), 16, [(0, 1), (0, 1)], seed=0).shape
    torch.Size([16, 2])
    """

    k: float = 1.0
    c: float = 1.0
    candidates_factor: int = 10
    sampler: str | Sampler = "uniform"

    def __post_init__(self) -> None:
        _check_kc(self.k, self.c)
        check_n(self.candidates_factor, "candidates_factor")
        get_sampler(self.sampler)

    def resample(self, residual: Residual, n: int, bounds: Bounds, seed: int | None = 0,
                 dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Draw ``n`` points from the RAD density of ``residual``."""
        n = check_n(n)
        return rad_resample(residual, n, bounds, k=self.k, c=self.c, n_candidates=max(self.candidates_factor * n, 1000),
                            sampler=self.sampler, seed=seed, dtype=dtype)
