"""Samplers of collocation points on boxes and on any geometry: Sobol, Halton, Latin hypercube, plain Monte Carlo
and grids. The QMC sequences come from :func:`remodel_core.pde.unit_points` (the project's one Sobol')."""

from __future__ import annotations

import dataclasses
import warnings
from typing import ClassVar

import numpy as np
import torch
from remodel_core.pde import Geometry, unit_points

from ._bounds import Bounds, as_bounds, check_n, check_seed, scale


def _check_scramble(scramble: object) -> None:
    if not isinstance(scramble, bool | np.bool_):
        raise TypeError(f"scramble must be a bool, got {scramble!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sampler:
    """Base class: ``sampler.sample(n, bounds, seed)`` draws ``n`` points in a box as a ``[n, d]`` tensor.

    Subclasses implement :meth:`_unit`, which returns ``n`` points of ``[0, 1)^d`` as a numpy array. On a
    :class:`~remodel_core.pde.Geometry` the points of the bounding box that fall inside are kept in sequence
    order (rejection), so the distribution stays uniform and a QMC prefix stays a QMC prefix.
    """

    name: ClassVar[str] = "sampler"

    def _unit(self, n: int, d: int, seed: int | None) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample(
        self,
        n: int,
        bounds: Bounds | Geometry,
        seed: int | None = 0,
        *,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
    ) -> torch.Tensor:
        """Draw ``n`` points in the box ``bounds`` or inside a geometry.

        Parameters
        ----------
        n : int
            Number of points.
        bounds : sequence of (low, high), or Geometry
            One pair per dimension, ``low < high``; or a :class:`~remodel_core.pde.Geometry` (rejection from
            its bounding box).
        seed : int or None
            Seed of the randomisation (scrambling for the QMC samplers); the same seed gives the same points.
        dtype, device
            Of the returned tensor (float64 on the CPU by default).

        Returns
        -------
        torch.Tensor
            Shape ``[n, d]``.
        """
        n = check_n(n)
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        seed = check_seed(seed)
        if isinstance(bounds, Geometry):
            return self._inside(n, bounds, seed).to(dtype=dtype, device=device)
        box = as_bounds(bounds)
        unit = self._unit(n, box.shape[0], seed)
        return torch.as_tensor(scale(unit, box), dtype=dtype, device=device)

    def _inside(self, n: int, geometry: Geometry, seed: int | None) -> torch.Tensor:
        box = np.asarray(geometry.bounds, dtype=np.float64).T
        m = n
        for _ in range(40):
            x = torch.from_numpy(scale(self._unit(m, geometry.dim, seed), box))
            inside = x[geometry.contains(x, tol=0.0)]
            if inside.shape[0] >= n:
                return inside[:n]
            rate = max(inside.shape[0] / m, 1e-3)
            m = int(min(max(2 * m, 1.2 * n / rate + 16), 1 << 26))
        raise ValueError(f"bounds: could not draw {n} points inside {geometry!r} (it fills too little of its box)")


@dataclasses.dataclass(frozen=True, kw_only=True)
class UniformRandom(Sampler):
    """Independent uniform (Monte Carlo) points, the baseline of the quasi-random samplers.

    Examples
    --------
    >>> UniformRandom().sample(4, [(0, 1), (0, 2)], seed=0).shape
    torch.Size([4, 2])
    """

    name: ClassVar[str] = "uniform"

    def _unit(self, n: int, d: int, seed: int | None) -> np.ndarray:
        return np.random.default_rng(seed).random((n, d))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sobol(Sampler):
    """Sobol' low-discrepancy points (Sobol' 1967), direction numbers of Joe & Kuo (2008).

    With ``scramble=True`` (default) the points are randomised by linear matrix scrambling plus a digital
    shift (Owen 1995; Matoušek 1998), which keeps the net structure and makes the quadrature unbiased with
    root-mean-square error ``O(n^{-3/2+eps})`` for smooth integrands. The first ``n`` points of the sequence
    are returned; ``n`` a power of two keeps the balance properties of the net.

    Parameters
    ----------
    scramble : bool, default True
        Randomise the points (linear matrix scrambling and digital shift, seeded by ``sample``'s ``seed``);
        ``False`` gives the plain sequence.

    Examples
    --------
    >>> x = Sobol().sample(8, [(0, 1)], seed=1)
    >>> sorted((x[:, 0] * 8).floor().int().tolist())   # one point in each eighth: a (0, 3, 1)-net
    [0, 1, 2, 3, 4, 5, 6, 7]
    """

    scramble: bool = True
    name: ClassVar[str] = "sobol"

    def __post_init__(self) -> None:
        _check_scramble(self.scramble)

    def _unit(self, n: int, d: int, seed: int | None) -> np.ndarray:
        return unit_points("sobol", n, d, seed=seed, scramble=self.scramble)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Halton(Sampler):
    """Halton points (Halton 1960), radical inverses in the first ``d`` primes.

    With ``scramble=True`` (default) the digits are randomly permuted (Owen-type permutation scrambling as in
    ``scipy.stats.qmc.Halton``), which removes the correlation of the higher dimensions.

    Parameters
    ----------
    scramble : bool, default True
        Permute the digits at random (seeded by ``sample``'s ``seed``); ``False`` gives the plain sequence.

    Examples
    --------
    >>> Halton(scramble=False).sample(4, [(0, 1), (0, 1)]).tolist()[1]
    [0.5, 0.3333333333333333]
    """

    scramble: bool = True
    name: ClassVar[str] = "halton"

    def __post_init__(self) -> None:
        _check_scramble(self.scramble)

    def _unit(self, n: int, d: int, seed: int | None) -> np.ndarray:
        return unit_points("halton", n, d, seed=seed, scramble=self.scramble)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LatinHypercube(Sampler):
    """Latin hypercube points (McKay, Beckman & Conover 1979): one point in each of the ``n`` slabs of
    every coordinate.

    ``scramble=True`` places each point uniformly inside its cell, ``False`` at the cell centre;
    ``optimization="random-cd"`` permutes coordinates to lower the centred discrepancy (Damblin et al. 2013).

    Parameters
    ----------
    scramble : bool, default True
        Place each point uniformly at random inside its cell (``True``) or at the cell centre (``False``).
    optimization : {None, "random-cd", "lloyd"}, default None
        Post-processing of ``scipy.stats.qmc.LatinHypercube``: none, coordinate permutations that lower the
        centred discrepancy, or Lloyd-Max iterations.

    Examples
    --------
    >>> x = LatinHypercube().sample(5, [(0, 1), (0, 1)], seed=0)
    >>> sorted((x[:, 1] * 5).floor().int().tolist())
    [0, 1, 2, 3, 4]
    """

    scramble: bool = True
    optimization: str | None = None
    name: ClassVar[str] = "lhs"

    def __post_init__(self) -> None:
        _check_scramble(self.scramble)
        if self.optimization not in (None, "random-cd", "lloyd"):
            raise ValueError(f"optimization must be None, 'random-cd' or 'lloyd', got {self.optimization!r}")

    def _unit(self, n: int, d: int, seed: int | None) -> np.ndarray:
        from scipy.stats import qmc  # lazy: scipy.stats is slow to import

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            engine = qmc.LatinHypercube(d, scramble=self.scramble, optimization=self.optimization, rng=seed)
            return engine.random(n)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid(Sampler):
    """Cell-centred tensor grid: ``ceil(n^(1/d))`` cells per axis, the first ``n`` centres in a seeded random
    order (deterministic and evenly spread; ``n = k^d`` gives the full grid).

    Examples
    --------
    >>> Grid().sample(4, [(0, 1), (0, 1)]).sort(dim=0).values[:, 0].tolist()
    [0.25, 0.25, 0.75, 0.75]
    """

    name: ClassVar[str] = "grid"

    def _unit(self, n: int, d: int, seed: int | None) -> np.ndarray:
        k = max(1, round(n ** (1.0 / d)))
        while k**d < n:
            k += 1
        axes = [(np.arange(k) + 0.5) / k] * d
        pts = np.stack([m.reshape(-1) for m in np.meshgrid(*axes, indexing="ij")], axis=1)
        if pts.shape[0] > n:
            pts = pts[np.random.default_rng(seed).permutation(pts.shape[0])[:n]]
        return pts


SAMPLERS: dict[str, type[Sampler]] = {c.name: c for c in (UniformRandom, Sobol, Halton, LatinHypercube, Grid)}


def get_sampler(sampler: str | Sampler) -> Sampler:
    """A sampler from its name (``uniform``, ``sobol``, ``halton``, ``lhs``, ``grid``) or the sampler itself.

    Parameters
    ----------
    sampler : str or Sampler
        A registered name (then the sampler with its default options is built) or a ``Sampler`` instance.

    Returns
    -------
    Sampler
        ``sampler`` itself when it is a ``Sampler``, else a new instance of the named class.

    Examples
    --------
    >>> get_sampler("sobol")
    Sobol(scramble=True)
    """
    if isinstance(sampler, Sampler):
        return sampler
    if isinstance(sampler, str) and sampler in SAMPLERS:
        return SAMPLERS[sampler]()
    raise ValueError(f"sampler must be a Sampler or one of {sorted(SAMPLERS)}, got {sampler!r}")
