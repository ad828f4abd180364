"""Residual-based adaptive sampling strategies (Wu, Zhu, Tan, Kartha & Lu, CMAME 403, 2023).

Each strategy turns the current collocation points, a dense candidate set and the PDE residual on the
candidates into the next collocation points; :class:`~remodel_sampling.AdaptiveSampling` calls it between
rounds of training inside ``solve``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch


def _check_kc(k: float, c: float) -> None:
    for name, value in (("k", k), ("c", c)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_m(m: int) -> None:
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m <= 0:
        raise ValueError(f"m must be a positive integer, got {m!r}")


def density(residual_values: torch.Tensor | np.ndarray, *, k: float = 1.0, c: float = 1.0) -> np.ndarray:
    """Unnormalised RAD weights ``|r|^k / mean(|r|^k) + c`` of candidate points (Wu et al. 2023, eq. 2),
    as a float64 numpy array; all ones when the residual vanishes everywhere and ``c = 0``.

    Parameters
    ----------
    residual_values : torch.Tensor or numpy.ndarray
        The PDE residual at the candidate points (its absolute value is used), finite, not empty.
    k : float, default 1.0
        The exponent of the residual, ``>= 0``.
    c : float, default 1.0
        The constant added to the normalised residual, ``>= 0``.

    Returns
    -------
    numpy.ndarray
        float64 weights, one per candidate, not normalised.

    Examples
    --------
    >>> density(np.array([0.0, 1.0, 3.0]), k=1.0, c=0.0).tolist()
    [0.0, 0.75, 2.25]
    """
    _check_kc(k, c)
    if isinstance(residual_values, torch.Tensor):
        residual_values = residual_values.detach().cpu().double().numpy()
    r = np.abs(np.asarray(residual_values, dtype=np.float64).reshape(-1))
    if r.size == 0:
        raise ValueError("residual_values must not be empty")
    if not np.isfinite(r).all():
        raise ValueError("residual_values must be finite")
    with np.errstate(over="ignore", under="ignore"):
        rk = r**k
    if r.max() > 0 and not (np.isfinite(rk).all() and rk.max() >= np.finfo(np.float64).tiny):
        rk = (r / r.max()) ** k  # |r|^k overflowed or underflowed: the same weights from the scaled residual
    mean = rk.mean()
    w = (rk / mean if mean > 0 else np.zeros_like(rk)) + c
    return w if w.sum() > 0 else np.ones_like(w)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Strategy:
    """Base class: :meth:`update` gives the next collocation points (``None``: keep them).

    ``update(points, candidates, residual, rng)`` gets the current points ``[N, d]``, candidates ``[M, d]``,
    the absolute PDE residual on the candidates ``[M]`` and a numpy generator.
    """

    name: ClassVar[str] = "strategy"
    adaptive: ClassVar[bool] = True
    replaces: ClassVar[bool] = False  # True: every point is new after an update (RAD), else points are added

    def update(
        self, points: torch.Tensor, candidates: torch.Tensor, residual: torch.Tensor, rng: np.random.Generator
    ) -> torch.Tensor | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def initial_points(self, final: int, rounds: int) -> int:
        """How many points to start with so that ``final`` are used after ``rounds`` updates."""
        return final


@dataclasses.dataclass(frozen=True, kw_only=True)
class Static(Strategy):
    """No resampling: the points stay fixed (the non-adaptive baseline, with the same schedule).

    Examples
    --------
    >>> Static().update(torch.zeros(2, 1), torch.ones(5, 1), torch.ones(5), np.random.default_rng(0)) is None
    True
    """

    name: ClassVar[str] = "static"
    adaptive: ClassVar[bool] = False

    def update(
        self, points: torch.Tensor, candidates: torch.Tensor, residual: torch.Tensor, rng: np.random.Generator
    ) -> torch.Tensor | None:
        return None


@dataclasses.dataclass(frozen=True, kw_only=True)
class RARG(Strategy):
    """Residual-based adaptive refinement with greed (RAR-G; Lu, Meng, Mao & Karniadakis, SIAM Rev. 63, 2021):
    add the ``m`` candidates with the largest residual.

    Parameters
    ----------
    m : int, default 10
        Number of points added in each round, positive.

    Examples
    --------
    >>> new = RARG(m=2).update(torch.zeros(3, 1), torch.arange(5.0)[:, None], torch.arange(5.0),
    ...                        np.random.default_rng(0))
    >>> new[3:, 0].tolist()
    [4.0, 3.0]
    """

    m: int = 10
    name: ClassVar[str] = "rar_g"

    def __post_init__(self) -> None:
        _check_m(self.m)

    def update(
        self, points: torch.Tensor, candidates: torch.Tensor, residual: torch.Tensor, rng: np.random.Generator
    ) -> torch.Tensor | None:
        m = min(self.m, candidates.shape[0])
        idx = torch.topk(residual.reshape(-1), m).indices.to(candidates.device)
        return torch.cat([points, candidates[idx].to(points.dtype)])

    def initial_points(self, final: int, rounds: int) -> int:
        start = final - rounds * self.m
        if start <= 0:
            raise ValueError(f"m = {self.m} points in each of {rounds} rounds leave no initial points of {final}")
        return start


@dataclasses.dataclass(frozen=True, kw_only=True)
class RAD(Strategy):
    """Residual-based adaptive distribution (RAD; Wu et al. 2023): replace all ``N`` points by ``N`` distinct
    candidates drawn with probability ``p(x) ∝ ε^k(x) / E[ε^k] + c``, ``ε`` the absolute PDE residual.

    ``k = 1, c = 1`` is the paper's recommended default; ``k = 0`` (or ``c → ∞``) is uniform resampling
    (Random-R); ``c = 0`` samples only where the residual is. The draw is the numba kernel
    :func:`~remodel_sampling.weighted_choice`.

    Parameters
    ----------
    k : float, default 1.0
        The exponent of the residual in the density, ``>= 0``.
    c : float, default 1.0
        The constant added to the normalised residual, ``>= 0``.

    Examples
    --------
    >>> cand = torch.linspace(0, 1, 1001)[:, None]
    >>> new = RAD(k=1.0, c=0.0).update(torch.zeros(100, 1), cand, (cand[:, 0] > 0.9).double(),
    ...                               np.random.default_rng(0))
    >>> new.shape, bool((new > 0.9).all())
    (torch.Size([100, 1]), True)
    """

    k: float = 1.0
    c: float = 1.0
    name: ClassVar[str] = "rad"
    replaces: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_kc(self.k, self.c)

    def update(
        self, points: torch.Tensor, candidates: torch.Tensor, residual: torch.Tensor, rng: np.random.Generator
    ) -> torch.Tensor | None:
        from ._draw import weighted_choice

        n = points.shape[0]
        if candidates.shape[0] < n:
            raise ValueError(
                f"candidates must hold at least as many points as the collocation set ({n}), got {candidates.shape[0]}"
            )
        w = density(residual, k=self.k, c=self.c)
        if int((w > 0).sum()) < n:  # c = 0 and too few candidates with a residual: a tiny floor keeps n distinct
            w = w + 1e-12 * w.max()
        idx = torch.from_numpy(weighted_choice(w, n, rng)).to(candidates.device)
        return candidates[idx].to(points.dtype)

    def resample(
        self,
        residual: Callable[[torch.Tensor], torch.Tensor],
        n: int,
        bounds: Any,
        seed: int | None = 0,
        dtype: torch.dtype = torch.float64,
        candidates: int | None = None,
    ) -> torch.Tensor:
        """Draw ``n`` points from the RAD density of ``residual`` on a box or geometry (see :func:`rad_resample`)."""
        from ._rad import rad_resample

        m = max(10 * n, 1000) if candidates is None else candidates
        return rad_resample(residual, n, bounds, k=self.k, c=self.c, n_candidates=m, seed=seed, dtype=dtype)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RARD(Strategy):
    """Residual-based adaptive refinement with distribution (RAR-D; Wu et al. 2023): add ``m`` distinct
    candidates drawn from the RAD density (defaults ``k = 2, c = 0``, the paper's choice for RAR-D).

    Parameters
    ----------
    k : float, default 2.0
        The exponent of the residual in the density, ``>= 0``.
    c : float, default 0.0
        The constant added to the normalised residual, ``>= 0``.
    m : int, default 10
        Number of points added in each round, positive.

    Examples
    --------
    >>> new = RARD(m=5).update(torch.zeros(10, 2), torch.rand(100, 2), torch.rand(100), np.random.default_rng(0))
    >>> new.shape
    torch.Size([15, 2])
    """

    k: float = 2.0
    c: float = 0.0
    m: int = 10
    name: ClassVar[str] = "rar_d"

    def __post_init__(self) -> None:
        _check_kc(self.k, self.c)
        _check_m(self.m)

    def update(
        self, points: torch.Tensor, candidates: torch.Tensor, residual: torch.Tensor, rng: np.random.Generator
    ) -> torch.Tensor | None:
        from ._draw import weighted_choice

        m = min(self.m, candidates.shape[0])
        w = density(residual, k=self.k, c=self.c)
        if int((w > 0).sum()) < m:
            w = w + 1e-12 * w.max()
        idx = torch.from_numpy(weighted_choice(w, m, rng)).to(candidates.device)
        return torch.cat([points, candidates[idx].to(points.dtype)])

    initial_points = RARG.initial_points


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImportanceSampling(Strategy):
    """Residual-based importance sampling with loss reweighting (Nabian, Gladstone & Meidani, Comput.-Aided
    Civ. Inf. 36, 2021): ``N`` points drawn with replacement from ``q ∝ ε^k / E[ε^k] + c`` on the candidates,
    each carrying the weight ``w_i = 1 / (M q_i)`` so that ``mean(w r^2)`` stays an unbiased estimate of the
    uniform mean ``mean(r^2)`` over the domain: the loss is the same, its variance lower where the residual
    concentrates. :meth:`update` returns ``[N, d + 1]``: the points, then the weights;
    :class:`~remodel_sampling.AdaptiveSampling` passes the weights to the weighted PINN loss.

    Parameters
    ----------
    k : float, default 1.0
        The exponent of the residual in the proposal density ``q``, ``>= 0``.
    c : float, default 1.0
        The constant added to the normalised residual, ``>= 0``; ``c > 0`` keeps every weight ``w_i`` bounded.

    Examples
    --------
    >>> out = ImportanceSampling().update(torch.zeros(4, 1), torch.rand(50, 1), torch.rand(50),
    ...                                   np.random.default_rng(0))
    >>> out.shape
    torch.Size([4, 2])
    """

    k: float = 1.0
    c: float = 1.0
    name: ClassVar[str] = "importance"
    replaces: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_kc(self.k, self.c)

    def update(
        self, points: torch.Tensor, candidates: torch.Tensor, residual: torch.Tensor, rng: np.random.Generator
    ) -> torch.Tensor | None:
        from ._draw import weighted_draw

        n = points.shape[0]
        q = density(residual, k=self.k, c=self.c)
        q = q / q.sum()
        idx = weighted_draw(q, n, rng)
        weights = torch.from_numpy(1.0 / (q.size * q[idx])).to(device=candidates.device, dtype=points.dtype)
        x = candidates[torch.from_numpy(idx).to(candidates.device)].to(points.dtype)
        return torch.cat([x, weights[:, None]], 1)


STRATEGIES: dict[str, type[Strategy]] = {s.name: s for s in (Static, RARG, RAD, RARD, ImportanceSampling)}
