"""Geometry of PINN problems: boxes, balls, polygons, their unions, differences and intersections, and products
with a time interval; inside tests, signed distances, interior and boundary sampling with outward normals.

The one quasi-random point generator of the project is :func:`unit_points` (``scipy.stats.qmc``, imported
lazily); ``remodel_sampling``'s samplers build on it.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch

UNIT_METHODS = ("sobol", "halton", "lhs", "uniform")


def _check_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def unit_points(method: str, n: int, dim: int, *, seed: int | None, scramble: bool = True) -> np.ndarray:
    """``n`` points in ``[0, 1)^dim`` (float64 numpy array) from a seeded generator.

    ``method`` is ``"sobol"`` (Sobol' 1967, Owen-scrambled), ``"halton"`` (scrambled), ``"lhs"`` (Latin
    hypercube, McKay et al. 1979) or ``"uniform"`` (numpy's PCG64); the QMC ones come from
    ``scipy.stats.qmc``, imported here so that importing the package stays light. A Sobol' prefix of any
    length ``n`` is returned (a power of two keeps the net property).

    Parameters
    ----------
    method : {"sobol", "halton", "lhs", "uniform"}
        The point generator.
    n : int
        Number of points, positive.
    dim : int
        Dimension, positive.
    seed : int or None
        Seed of the scrambling (QMC) or of the generator (``"uniform"``); ``None`` draws fresh entropy.
    scramble : bool, default True
        Randomise the QMC points (ignored by ``"uniform"``).

    Returns
    -------
    numpy.ndarray
        float64 points ``[n, dim]`` in ``[0, 1)^dim``.

    Examples
    --------
    >>> unit_points("sobol", 4, 2, seed=0).shape
    (4, 2)
    """
    if method not in UNIT_METHODS:
        raise ValueError(f"method must be one of {UNIT_METHODS}, got {method!r}")
    n, dim = _check_int("n", n), _check_int("dim", dim)
    if method == "uniform":
        return np.random.default_rng(seed).random((n, dim))
    from scipy.stats import qmc  # lazy: scipy.stats is slow to import

    with warnings.catch_warnings():  # n need not be a power of two: the prefix is still low-discrepancy
        warnings.simplefilter("ignore", UserWarning)
        if method == "sobol":
            return qmc.Sobol(dim, scramble=scramble, rng=seed).random(n)
        if method == "halton":
            return qmc.Halton(dim, scramble=scramble, rng=seed).random(n)
        return qmc.LatinHypercube(dim, scramble=scramble, rng=seed).random(n)


def sobol(n: int, dim: int, *, seed: int) -> torch.Tensor:
    """``n`` points of a scrambled, seeded Sobol sequence in ``[0, 1)^dim`` (float64); see :func:`unit_points`.

    Parameters
    ----------
    n : int
        Number of points, positive.
    dim : int
        Dimension, positive.
    seed : int
        Seed of the scrambling.

    Returns
    -------
    torch.Tensor
        float64 points ``[n, dim]``.

    Examples
    --------
    >>> sobol(4, 2, seed=0).shape
    torch.Size([4, 2])
    """
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    return torch.from_numpy(unit_points("sobol", n, dim, seed=seed))


def _points(x: torch.Tensor, dim: int, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{name} must be a tensor of shape [n, {dim}], got {getattr(x, 'shape', type(x).__name__)}")
    return x


def _largest_remainder(n: int, weights: Sequence[float]) -> list[int]:
    w = np.asarray(weights, dtype=np.float64)
    raw = n * w / w.sum()
    counts = np.floor(raw).astype(np.int64)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - int(counts.sum())]:
        counts[i] += 1
    return counts.tolist()


class Geometry:
    """Base class of the domains of PINN problems (closed sets in ``R^dim``).

    Every geometry answers :meth:`contains` and :meth:`distance` (signed: negative inside), has a bounding
    box :attr:`bounds`, named boundary pieces (:attr:`boundary_pieces`), and draws interior points
    (:meth:`sample`, rejection from the bounding box with any :func:`unit_points` method) and boundary
    points with their outward unit normals (:meth:`sample_boundary`, uniform in surface measure, on all or
    some pieces). Combine with ``|`` (union), ``-`` (difference), ``&`` (intersection) and ``*`` an
    :class:`Interval` (product with a time interval).

    Examples
    --------
    >>> domain = Box((-1.0, -1.0), (1.0, 1.0)) - Disk((0.0, 0.0), 0.5)
    >>> x = domain.sample(100, seed=0)
    >>> bool(domain.contains(x).all()), bool((x.norm(dim=1) >= 0.5).all())
    (True, True)
    >>> xb, nb = domain.sample_boundary(50, seed=0, pieces=["1/circle"])
    >>> bool(torch.allclose(xb.norm(dim=1), torch.full((50,), 0.5, dtype=torch.float64)))
    True
    """

    dim: int

    # -- to implement -----------------------------------------------------------------------------------
    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:  # pragma: no cover - abstract
        """``(low, high)`` corners of a bounding box."""
        raise NotImplementedError

    @property
    def boundary_pieces(self) -> tuple[str, ...]:  # pragma: no cover - abstract
        """Names of the boundary pieces, for :meth:`sample_boundary` and boundary conditions."""
        raise NotImplementedError

    def distance(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Signed distance to the boundary, negative inside (exact for primitives; for CSG the min/max
        combination, exact in sign and a bound on the magnitude)."""
        raise NotImplementedError

    def piece_measure(self, piece: str) -> float:  # pragma: no cover - abstract
        """Surface measure (an upper bound for CSG pieces, which are cut from their parent's)."""
        raise NotImplementedError

    def _piece_candidates(self, piece: str, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Up to ``n`` points uniform on ``piece`` (of a CSG piece: those of ``n`` parent points that survive)."""
        raise NotImplementedError  # pragma: no cover - abstract

    # -- shared -----------------------------------------------------------------------------------------
    def contains(self, x: torch.Tensor, *, tol: float = 1e-12) -> torch.Tensor:
        """Boolean mask of the rows of ``x`` inside the closed set (within ``tol``)."""
        return self.distance(_points(x, self.dim)) <= tol

    def volume(self, *, samples: int = 1 << 16) -> float:
        """Volume (area, length): exact for primitives, a scrambled-Sobol estimate for CSG."""
        low, high = self.bounds
        box = math.prod(h - lo for lo, h in zip(low, high))
        u = torch.from_numpy(unit_points("sobol", samples, self.dim, seed=12345))
        x = torch.tensor(low, dtype=torch.float64) + u * (
            torch.tensor(high, dtype=torch.float64) - torch.tensor(low, dtype=torch.float64)
        )
        return box * float(self.contains(x, tol=0.0).double().mean())

    def _check_pieces(self, pieces: Sequence[str] | str | None) -> tuple[str, ...]:
        if pieces is None:
            return self.boundary_pieces
        if isinstance(pieces, str):
            pieces = (pieces,)
        pieces = tuple(pieces)
        bad = [p for p in pieces if p not in self.boundary_pieces]
        if bad or not pieces:
            raise ValueError(f"pieces must name boundary pieces among {list(self.boundary_pieces)}, got {list(pieces)}")
        return pieces

    def sample(
        self,
        n: int,
        *,
        seed: int | None = 0,
        method: str = "sobol",
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """``n`` interior points, shape ``[n, dim]``: the first ``n`` points of a ``method`` sequence on the
        bounding box (:func:`unit_points`) that fall inside (rejection keeps the distribution uniform and
        the QMC prefix property)."""
        n = _check_int("n", n)
        low, high = self.bounds
        lo, hi = torch.tensor(low, dtype=torch.float64), torch.tensor(high, dtype=torch.float64)
        m = n
        for _ in range(40):
            x = lo + (hi - lo) * torch.from_numpy(unit_points(method, m, self.dim, seed=seed))
            inside = x[self.contains(x, tol=0.0)]
            if inside.shape[0] >= n:
                return inside[:n].to(dtype=dtype, device=device)
            rate = max(inside.shape[0] / m, 1e-3)
            m = int(min(max(2 * m, 1.2 * n / rate + 16), 1 << 26))
        raise ValueError(f"could not draw {n} points inside {self!r}: it fills too little of its bounding box")

    def sample_boundary(
        self,
        n: int,
        *,
        seed: int | None = 0,
        pieces: Sequence[str] | str | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` points uniform (in surface measure) on the chosen boundary ``pieces`` (default all) and their
        outward unit normals, both ``[n, dim]``."""
        n = _check_int("n", n)
        names = self._check_pieces(pieces)
        gen = torch.Generator().manual_seed(seed if seed is not None else int(torch.seed() % 2**62))
        weights = [self.piece_measure(p) for p in names]
        got_x, got_n, total, m = [], [], 0, n
        for _ in range(60):
            counts = (
                torch.multinomial(torch.tensor(weights, dtype=torch.float64), m, replacement=True, generator=gen)
                .bincount(minlength=len(names))
                .tolist()
            )
            for piece, c in zip(names, counts):
                if c:
                    px, pn = self._piece_candidates(piece, c, gen)
                    got_x.append(px)
                    got_n.append(pn)
                    total += px.shape[0]
            if total >= n:
                x, nrm = torch.cat(got_x), torch.cat(got_n)
                keep = torch.randperm(x.shape[0], generator=gen)[:n]
                return x[keep].to(dtype=dtype, device=device), nrm[keep].to(dtype=dtype, device=device)
            m = min(4 * m, 1 << 24)
        raise ValueError(
            f"could not draw {n} boundary points on pieces {list(names)} of {self!r}: they have (almost) no length/area"
        )

    def grid(self, *sizes: int) -> torch.Tensor:
        """The points of a tensor grid on the bounding box that lie inside, shape ``[m, dim]``."""
        low, high = self.bounds
        pts = Box(low, high).grid(*sizes)
        return pts[self.contains(pts)]

    # -- constructive solid geometry ------------------------------------------------------------------------
    def __or__(self, other: Geometry) -> Geometry:
        return Union(self, other)

    def __sub__(self, other: Geometry) -> Geometry:
        return Difference(self, other)

    def __and__(self, other: Geometry) -> Geometry:
        return Intersection(self, other)

    def __mul__(self, other: Interval) -> Geometry:
        if not (isinstance(other, Box) and other.dim == 1):
            raise TypeError(f"a geometry times an Interval gives a space-time domain, got {type(other).__name__}")
        return SpaceTime(self, other.low[0], other.high[0])


@dataclasses.dataclass(frozen=True)
class Box(Geometry):
    """The box ``[low_0, high_0] x ... x [low_{d-1}, high_{d-1}]``.

    For time-dependent problems the last coordinate is time: ``Box((-1, 0), (1, 1))`` is
    ``x in [-1, 1], t in [0, 1]``. Boundary pieces ``"x{i}_low"`` and ``"x{i}_high"`` are the faces
    ``x[i] = low[i]`` and ``x[i] = high[i]``.

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
    def dim(self) -> int:  # type: ignore[override]
        return len(self.low)

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return self.low, self.high

    @property
    def boundary_pieces(self) -> tuple[str, ...]:
        return tuple(f"x{i}_{side}" for i in range(self.dim) for side in ("low", "high"))

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        x = _points(x, self.dim)
        lo = torch.tensor(self.low, dtype=x.dtype, device=x.device)
        hi = torch.tensor(self.high, dtype=x.dtype, device=x.device)
        q = torch.maximum(lo - x, x - hi)  # per axis: > 0 outside that slab
        outside = q.clamp_min(0).norm(dim=1)
        inside = q.max(dim=1).values.clamp_max(0)
        return outside + inside

    def contains(self, x: torch.Tensor, *, tol: float = 1e-12) -> torch.Tensor:
        """Boolean mask of the rows of ``x`` inside the (closed) box."""
        x = _points(x, self.dim)
        lo = torch.tensor(self.low, dtype=x.dtype, device=x.device)
        hi = torch.tensor(self.high, dtype=x.dtype, device=x.device)
        return ((x >= lo - tol) & (x <= hi + tol)).all(dim=1)

    def volume(self, *, samples: int = 0) -> float:
        return math.prod(b - a for a, b in zip(self.low, self.high))

    def _face(self, piece: str) -> tuple[int, int]:
        axis, side = piece[1:].split("_")
        return int(axis), 0 if side == "low" else 1

    def piece_measure(self, piece: str) -> float:
        dim, _ = self._face(piece)
        return math.prod(b - a for i, (a, b) in enumerate(zip(self.low, self.high)) if i != dim)

    def _piece_candidates(self, piece: str, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        dim, side = self._face(piece)
        lo, hi = torch.tensor(self.low, dtype=torch.float64), torch.tensor(self.high, dtype=torch.float64)
        x = lo + (hi - lo) * torch.rand(n, self.dim, generator=gen, dtype=torch.float64)
        x[:, dim] = self.high[dim] if side else self.low[dim]
        normal = torch.zeros(n, self.dim, dtype=torch.float64)
        normal[:, dim] = 1.0 if side else -1.0
        return x, normal

    def _scale(self, u: torch.Tensor, dims: list[int]) -> torch.Tensor:
        lo = torch.tensor([self.low[i] for i in dims], dtype=u.dtype)
        hi = torch.tensor([self.high[i] for i in dims], dtype=u.dtype)
        return lo + (hi - lo) * u

    def sample(
        self,
        n: int,
        *,
        seed: int | None = 0,
        method: str = "sobol",
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """``n`` points in the box (scrambled Sobol by default), shape ``[n, dim]``."""
        n = _check_int("n", n)
        pts = self._scale(torch.from_numpy(unit_points(method, n, self.dim, seed=seed)), list(range(self.dim)))
        return pts.to(dtype=dtype, device=device)

    def sample_face(
        self,
        n: int,
        *,
        dim: int,
        side: int,
        seed: int,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
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


def Interval(low: float, high: float) -> Box:  # noqa: N802 - a geometry constructor
    """The interval ``[low, high]``, a one-dimensional :class:`Box` (pieces ``"x0_low"``, ``"x0_high"``).

    Parameters
    ----------
    low : float
        Left end.
    high : float
        Right end, ``> low``.

    Returns
    -------
    Box
        The one-dimensional box.

    Examples
    --------
    >>> Interval(0.0, 2.0).volume()
    2.0
    """
    return Box((low,), (high,))


@dataclasses.dataclass(frozen=True)
class Ball(Geometry):
    """The closed ball ``|x - center| <= radius`` in ``len(center)`` dimensions (a disc in 2D); one boundary
    piece ``"sphere"`` (``"circle"`` in 2D).

    Parameters
    ----------
    center : tuple of float
        The centre, at least 2 finite coordinates (use :func:`Interval` in 1D); its length is the dimension.
    radius : float
        The radius, finite and ``> 0``.

    Examples
    --------
    >>> ball = Ball((0.0, 0.0, 0.0), 2.0)
    >>> ball.distance(torch.zeros(1, 3, dtype=torch.float64)).item(), round(ball.volume(), 6)
    (-2.0, 33.510322)
    """

    center: tuple[float, ...]
    radius: float

    def __post_init__(self) -> None:
        try:
            center = tuple(float(v) for v in self.center)
        except (TypeError, ValueError) as err:
            raise TypeError(f"center must be a sequence of numbers: {err}") from None
        if len(center) < 2 or not all(math.isfinite(c) for c in center):
            raise ValueError(f"center must hold at least 2 finite coordinates (use Interval in 1D), got {center}")
        r = self.radius
        if isinstance(r, bool) or not isinstance(r, int | float) or not (math.isfinite(r) and r > 0):
            raise ValueError(f"radius must be a finite number > 0, got {r!r}")
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "radius", float(r))

    @property
    def dim(self) -> int:  # type: ignore[override]
        return len(self.center)

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return tuple(c - self.radius for c in self.center), tuple(c + self.radius for c in self.center)

    @property
    def boundary_pieces(self) -> tuple[str, ...]:
        return ("circle",) if self.dim == 2 else ("sphere",)

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        x = _points(x, self.dim)
        return (x - torch.tensor(self.center, dtype=x.dtype, device=x.device)).norm(dim=1) - self.radius

    def volume(self, *, samples: int = 0) -> float:
        d = self.dim
        return math.pi ** (d / 2) / math.gamma(d / 2 + 1) * self.radius**d

    def piece_measure(self, piece: str) -> float:
        d = self.dim
        return 2 * math.pi ** (d / 2) / math.gamma(d / 2) * self.radius ** (d - 1)

    def _piece_candidates(self, piece: str, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if self.dim == 2:  # exact angles: cos/sin are unit to rounding
            theta = 2 * math.pi * torch.rand(n, generator=gen, dtype=torch.float64)
            normal = torch.stack([torch.cos(theta), torch.sin(theta)], dim=1)
        else:  # a normalised Gaussian is uniform on the sphere (Muller 1959)
            g = torch.randn(n, self.dim, generator=gen, dtype=torch.float64)
            normal = g / g.norm(dim=1, keepdim=True)
        return torch.tensor(self.center, dtype=torch.float64) + self.radius * normal, normal


def Disk(center: Sequence[float], radius: float) -> Ball:  # noqa: N802 - a geometry constructor
    """The closed disc of ``radius`` around a 2D ``center`` (a :class:`Ball`, piece ``"circle"``).

    Parameters
    ----------
    center : sequence of float
        The centre ``(x, y)``.
    radius : float
        The radius, finite and ``> 0``.

    Returns
    -------
    Ball
        The two-dimensional ball.

    Examples
    --------
    >>> round(Disk((0.0, 0.0), 1.0).volume(), 12)
    3.14159265359
    """
    if len(tuple(center)) != 2:
        raise ValueError(f"center of a Disk must have 2 coordinates, got {tuple(center)}")
    return Ball(tuple(center), radius)


@dataclasses.dataclass(frozen=True)
class Polygon(Geometry):
    """A simple polygon given by its vertices (either orientation); pieces ``"edge{j}"`` from vertex ``j`` to
    ``j + 1``.

    Parameters
    ----------
    vertices : sequence of (x, y) pairs
        At least 3 finite vertices, in order around the polygon, enclosing a non-zero area; the last one is
        joined to the first.

    Examples
    --------
    >>> tri = Polygon([(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)])
    >>> tri.volume(), tri.contains(torch.tensor([[0.2, 0.2], [0.8, 0.8]], dtype=torch.float64)).tolist()
    (0.5, [True, False])
    """

    vertices: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        try:
            v = np.asarray(self.vertices, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"vertices must be a sequence of (x, y) pairs: {err}") from None
        if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3 or not np.isfinite(v).all():
            raise ValueError(f"vertices must be at least 3 finite (x, y) pairs, got shape {list(v.shape)}")
        area2 = float(np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1]))
        if abs(area2) < 1e-14:
            raise ValueError("vertices must enclose a non-zero area (they are collinear)")
        if area2 < 0:  # counter-clockwise, so that the outward normal of edge (dx, dy) is (dy, -dx)
            v = v[::-1].copy()
        m = v.shape[0]
        edges = [(v[i], v[(i + 1) % m]) for i in range(m)]
        if any(np.allclose(a, b) for a, b in edges):
            raise ValueError("vertices must be distinct (a polygon edge has zero length)")
        for i in range(m):
            for j in range(i + 2, m):
                if i == 0 and j == m - 1:
                    continue
                if _segments_cross(*edges[i], *edges[j]):
                    raise ValueError(f"vertices must form a simple polygon: edges {i} and {j} intersect")
        object.__setattr__(self, "vertices", tuple((float(a), float(b)) for a, b in v))

    dim = 2

    @property
    def _v(self) -> torch.Tensor:
        return torch.tensor(self.vertices, dtype=torch.float64)

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        v = np.asarray(self.vertices)
        return tuple(v.min(0).tolist()), tuple(v.max(0).tolist())

    @property
    def boundary_pieces(self) -> tuple[str, ...]:
        return tuple(f"edge{j}" for j in range(len(self.vertices)))

    def volume(self, *, samples: int = 0) -> float:
        v = np.asarray(self.vertices)
        return 0.5 * float(np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1]))

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        x = _points(x, 2)
        a = self._v.to(dtype=x.dtype, device=x.device)
        b = torch.roll(a, -1, 0)
        e = b - a  # [m, 2]
        w = x[:, None, :] - a[None]  # [n, m, 2]
        t = ((w * e).sum(-1) / (e * e).sum(-1)).clamp(0, 1)
        dist = (w - t[..., None] * e).norm(dim=-1).min(dim=1).values
        # even-odd rule: count edges crossed by the ray to +x
        ya, yb = a[:, 1][None], b[:, 1][None]
        cond = (ya > x[:, 1:2]) != (yb > x[:, 1:2])
        xcross = a[:, 0][None] + (x[:, 1:2] - ya) * (e[:, 0] / torch.where(e[:, 1] == 0, 1.0, e[:, 1]))[None]
        inside = (cond & (x[:, 0:1] < xcross)).sum(1) % 2 == 1
        return torch.where(inside, -dist, dist)

    def piece_measure(self, piece: str) -> float:
        j = int(piece[4:])
        a, b = self.vertices[j], self.vertices[(j + 1) % len(self.vertices)]
        return math.hypot(b[0] - a[0], b[1] - a[1])

    def _piece_candidates(self, piece: str, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        j = int(piece[4:])
        a = torch.tensor(self.vertices[j], dtype=torch.float64)
        b = torch.tensor(self.vertices[(j + 1) % len(self.vertices)], dtype=torch.float64)
        t = torch.rand(n, 1, generator=gen, dtype=torch.float64)
        e = b - a
        normal = torch.stack([e[1], -e[0]]) / e.norm()
        return a + t * e, normal.expand(n, 2).clone()


def _segments_cross(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> bool:
    def orient(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
        return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    d1, d2, d3, d4 = orient(q1, q2, p1), orient(q1, q2, p2), orient(p1, p2, q1), orient(p1, p2, q2)
    return (d1 * d2 < 0) and (d3 * d4 < 0)


class _CSG(Geometry):
    """Two geometries of the same dimension combined; pieces ``"0/<piece of a>"`` and ``"1/<piece of b>"``."""

    kind = "csg"

    def __init__(self, a: Geometry, b: Geometry) -> None:
        for name, g in (("a", a), ("b", b)):
            if not isinstance(g, Geometry):
                raise TypeError(f"{name} must be a Geometry, got {type(g).__name__}")
        if a.dim != b.dim:
            raise ValueError(f"a and b must have the same dimension, got {a.dim} and {b.dim}")
        self.a, self.b, self.dim = a, b, a.dim

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.a!r}, {self.b!r})"

    @property
    def boundary_pieces(self) -> tuple[str, ...]:
        return tuple(f"0/{p}" for p in self.a.boundary_pieces) + tuple(f"1/{p}" for p in self.b.boundary_pieces)

    def _split(self, piece: str) -> tuple[int, str]:
        side, rest = piece.split("/", 1)
        return int(side), rest

    def piece_measure(self, piece: str) -> float:
        side, rest = self._split(piece)
        return (self.a if side == 0 else self.b).piece_measure(rest)

    def _keep(self, side: int, x: torch.Tensor) -> tuple[torch.Tensor, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _piece_candidates(self, piece: str, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        side, rest = self._split(piece)
        x, normal = (self.a if side == 0 else self.b)._piece_candidates(rest, n, gen)
        keep, sign = self._keep(side, x)
        return x[keep], sign * normal[keep]


class Union(_CSG):
    """``a ∪ b``: a boundary point of one part is kept when it lies outside the other. Also written ``a | b``.

    Parameters
    ----------
    a, b : Geometry
        The two parts, of the same dimension; boundary pieces are named ``"0/<piece of a>"`` and
        ``"1/<piece of b>"``.

    Examples
    --------
    >>> u = Disk((0.0, 0.0), 1.0) | Disk((1.5, 0.0), 1.0)
    >>> u.contains(torch.tensor([[0.0, 0.0], [1.5, 0.0], [0.75, 0.9]], dtype=torch.float64)).tolist()
    [True, True, False]
    """

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        (la, ha), (lb, hb) = self.a.bounds, self.b.bounds
        return tuple(map(min, la, lb)), tuple(map(max, ha, hb))

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        return torch.minimum(self.a.distance(x), self.b.distance(x))

    def _keep(self, side: int, x: torch.Tensor) -> tuple[torch.Tensor, float]:
        return (self.b if side == 0 else self.a).distance(x) > 0, 1.0


class Intersection(_CSG):
    """``a ∩ b``: a boundary point of one part is kept when it lies inside the other. Also written ``a & b``.

    Parameters
    ----------
    a, b : Geometry
        The two parts, of the same dimension; boundary pieces are named ``"0/<piece of a>"`` and
        ``"1/<piece of b>"``.

    Examples
    --------
    >>> lens = Disk((0.0, 0.0), 1.0) & Disk((1.0, 0.0), 1.0)
    >>> lens.contains(torch.tensor([[0.5, 0.0], [-0.5, 0.0]], dtype=torch.float64)).tolist()
    [True, False]
    """

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        (la, ha), (lb, hb) = self.a.bounds, self.b.bounds
        low, high = tuple(map(max, la, lb)), tuple(map(min, ha, hb))
        if any(lo >= hi for lo, hi in zip(low, high)):
            raise ValueError(f"the intersection of {self.a!r} and {self.b!r} is empty")
        return low, high

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        return torch.maximum(self.a.distance(x), self.b.distance(x))

    def _keep(self, side: int, x: torch.Tensor) -> tuple[torch.Tensor, float]:
        return (self.b if side == 0 else self.a).distance(x) < 0, 1.0


class Difference(_CSG):
    """``a \\ b`` (closed): the boundary of ``a`` outside ``b`` and the boundary of ``b`` inside ``a``, whose
    outward normals point into ``b``. Also written ``a - b``.

    Parameters
    ----------
    a, b : Geometry
        The two parts, of the same dimension; boundary pieces are named ``"0/<piece of a>"`` and
        ``"1/<piece of b>"``.

    Examples
    --------
    >>> holed = Box((0.0, 0.0), (1.0, 1.0)) - Disk((0.5, 0.5), 0.25)
    >>> holed.contains(torch.tensor([[0.5, 0.5], [0.1, 0.1]], dtype=torch.float64)).tolist()
    [False, True]
    """

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return self.a.bounds

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        return torch.maximum(self.a.distance(x), -self.b.distance(x))

    def _keep(self, side: int, x: torch.Tensor) -> tuple[torch.Tensor, float]:
        if side == 0:
            return self.b.distance(x) > 0, 1.0
        return self.a.distance(x) < 0, -1.0


class SpaceTime(Geometry):
    """``space x [t0, t1]``, time as the last coordinate. Pieces: those of ``space`` (lateral boundary),
    ``"initial"`` (``t = t0``, normal ``-e_t``) and ``"final"`` (``t = t1``). Also written
    ``space * Interval(t0, t1)``.

    Parameters
    ----------
    space : Geometry
        The spatial domain (not itself a ``SpaceTime``).
    t0 : float
        Initial time, finite.
    t1 : float
        Final time, finite, ``> t0``.

    Examples
    --------
    >>> st = (Disk((0.0, 0.0), 1.0) - Disk((0.0, 0.0), 0.5)) * Interval(0.0, 2.0)
    >>> st.dim, st.boundary_pieces
    (3, ('0/circle', '1/circle', 'initial', 'final'))
    """

    def __init__(self, space: Geometry, t0: float, t1: float) -> None:
        if not isinstance(space, Geometry):
            raise TypeError(f"space must be a Geometry, got {type(space).__name__}")
        if isinstance(space, SpaceTime):
            raise ValueError("space is already a space-time domain")
        if not (math.isfinite(t0) and math.isfinite(t1) and t0 < t1):
            raise ValueError(f"need finite t0 < t1, got {t0} and {t1}")
        self.space, self.t0, self.t1, self.dim = space, float(t0), float(t1), space.dim + 1

    def __repr__(self) -> str:
        return f"SpaceTime({self.space!r}, {self.t0}, {self.t1})"

    @property
    def bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        low, high = self.space.bounds
        return (*low, self.t0), (*high, self.t1)

    @property
    def boundary_pieces(self) -> tuple[str, ...]:
        return (*self.space.boundary_pieces, "initial", "final")

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        x = _points(x, self.dim)
        t = x[:, -1]
        dt = torch.maximum(self.t0 - t, t - self.t1)
        return torch.maximum(self.space.distance(x[:, :-1]), dt)

    def volume(self, *, samples: int = 1 << 16) -> float:
        return self.space.volume(samples=samples) * (self.t1 - self.t0)

    def piece_measure(self, piece: str) -> float:
        if piece in ("initial", "final"):
            return self.space.volume()
        return self.space.piece_measure(piece) * (self.t1 - self.t0)

    def _piece_candidates(self, piece: str, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if piece in ("initial", "final"):
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
            xs = self.space.sample(n, seed=seed, method="uniform")
            t = torch.full((n, 1), self.t0 if piece == "initial" else self.t1, dtype=torch.float64)
            normal = torch.zeros(n, self.dim, dtype=torch.float64)
            normal[:, -1] = -1.0 if piece == "initial" else 1.0
            return torch.cat([xs, t], 1), normal
        xs, ns = self.space._piece_candidates(piece, n, gen)
        t = self.t0 + (self.t1 - self.t0) * torch.rand(xs.shape[0], 1, generator=gen, dtype=torch.float64)
        return torch.cat([xs, t], 1), torch.cat([ns, torch.zeros_like(t)], 1)
