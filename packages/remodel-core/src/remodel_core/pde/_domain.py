"""Axis-aligned boxes: the domains of the PINN benchmarks, with scrambled Sobol sampling."""

from __future__ import annotations

import dataclasses
import math
import warnings

import torch
from scipy.stats import qmc


def sobol(n: int, dim: int, *, seed: int) -> torch.Tensor:
    """``n`` points of a scrambled, seeded Sobol sequence in ``[0, 1)^dim`` (float64).

    Examples
    --------
    >>> sobol(4, 2, seed=0).shape
    torch.Size([4, 2])
    """
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    engine = qmc.Sobol(dim, scramble=True, rng=seed)
    with warnings.catch_warnings():  # n need not be a power of two: the prefix is still low-discrepancy
        warnings.simplefilter("ignore", UserWarning)
        pts = engine.random(n)
    return torch.from_numpy(pts)


@dataclasses.dataclass(frozen=True)
class Box:
    """The box ``[low_0, high_0] x ... x [low_{d-1}, high_{d-1}]``.

    For time-dependent problems the last coordinate is time: ``Box((-1, 0), (1, 1))`` is
    ``x in [-1, 1], t in [0, 1]``.

    Parameters
    ----------
    low, high : tuple of float
        Lower and upper corners, ``low[i] < high[i]``.

    Examples
    --------
    >>> box = Box((-1.0, 0.0), (1.0, 1.0))
    >>> box.dim, box.sample(8, seed=0).shape, box.sample_face(4, dim=1, side=0, seed=1)[:, 1].tolist()
    (2, torch.Size([8, 2]), [0.0, 0.0, 0.0, 0.0])
    """

    low: tuple[float, ...]
    high: tuple[float, ...]

    def __post_init__(self) -> None:
        try:
            low = tuple(float(v) for v in self.low)
            high = tuple(float(v) for v in self.high)
        except (TypeError, ValueError) as err:
            raise TypeError(f"low and high must be sequences of numbers: {err}") from None
        if not low or len(low) != len(high):
            raise ValueError(f"low and high must be non-empty and of equal length, got {low} and {high}")
        for i, (a, b) in enumerate(zip(low, high)):
            if not (math.isfinite(a) and math.isfinite(b) and a < b):
                raise ValueError(f"need finite low[{i}] < high[{i}], got {a} and {b}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def dim(self) -> int:
        return len(self.low)

    def _scale(self, u: torch.Tensor, dims: list[int]) -> torch.Tensor:
        lo = torch.tensor([self.low[i] for i in dims], dtype=u.dtype)
        hi = torch.tensor([self.high[i] for i in dims], dtype=u.dtype)
        return lo + (hi - lo) * u

    def sample(self, n: int, *, seed: int, dtype: torch.dtype = torch.float64,
               device: torch.device | str | None = None) -> torch.Tensor:
        """``n`` scrambled Sobol points in the box, shape ``[n, dim]``."""
        pts = self._scale(sobol(n, self.dim, seed=seed), list(range(self.dim)))
        return pts.to(dtype=dtype, device=device)

    def sample_face(self, n: int, *, dim: int, side: int, seed: int, dtype: torch.dtype = torch.float64,
                    device: torch.device | str | None = None) -> torch.Tensor:
        """``n`` Sobol points on the face ``x[dim] = low[dim]`` (side 0) or ``high[dim]`` (side 1)."""
        if isinstance(dim, bool) or not isinstance(dim, int) or not 0 <= dim < self.dim:
            raise ValueError(f"dim must be an integer in [0, {self.dim}), got {dim!r}")
        if side not in (0, 1):
            raise ValueError(f"side must be 0 or 1, got {side!r}")
        others = [i for i in range(self.dim) if i != dim]
        pts = torch.empty(n, self.dim, dtype=torch.float64)
        if others:
            pts[:, others] = self._scale(sobol(n, len(others), seed=seed), others)
        pts[:, dim] = self.low[dim] if side == 0 else self.high[dim]
        return pts.to(dtype=dtype, device=device)

    def grid(self, *sizes: int, endpoint: bool | tuple[bool, ...] = True) -> torch.Tensor:
        """Tensor-product grid with ``sizes[i]`` points along axis ``i``, shape ``[prod(sizes), dim]``.

        The first axis varies slowest (``indexing="ij"``). ``endpoint=False`` on an axis leaves out its
        upper end (periodic directions).
        """
        if len(sizes) != self.dim:
            raise ValueError(f"sizes must give one size per dimension ({self.dim}), got {sizes}")
        ends = (endpoint,) * self.dim if isinstance(endpoint, bool) else tuple(endpoint)
        axes = []
        for i, n in enumerate(sizes):
            if isinstance(n, bool) or not isinstance(n, int) or n < 2:
                raise ValueError(f"sizes[{i}] must be an integer >= 2, got {n!r}")
            if ends[i]:
                axes.append(torch.linspace(self.low[i], self.high[i], n, dtype=torch.float64))
            else:
                h = (self.high[i] - self.low[i]) / n
                axes.append(self.low[i] + h * torch.arange(n, dtype=torch.float64))
        mesh = torch.meshgrid(*axes, indexing="ij")
        return torch.stack([m.reshape(-1) for m in mesh], dim=1)

    def contains(self, x: torch.Tensor, *, tol: float = 1e-12) -> torch.Tensor:
        """Boolean mask of the rows of ``x`` inside the (closed) box."""
        lo = torch.tensor(self.low, dtype=x.dtype, device=x.device)
        hi = torch.tensor(self.high, dtype=x.dtype, device=x.device)
        return ((x >= lo - tol) & (x <= hi + tol)).all(dim=1)
