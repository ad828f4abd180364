"""Initial and boundary conditions of a :class:`PINNProblem`, each enforced as a penalty term."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch import nn

from ._derivatives import _scalar_output, derivatives
from ._domain import Box, Geometry

GROUPS = ("initial", "boundary")
ALL = "all"


def _check_group(group: str) -> None:
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")


def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if k < n % parts else 0) for k in range(parts)]


@dataclasses.dataclass(frozen=True)
class Dirichlet:
    """``u = g`` (or ``du/dx_derivative = g``) on faces of the box, or on boundary pieces of any geometry.

    Parameters
    ----------
    group : {"initial", "boundary"}
        The loss weight key the term belongs to.
    faces : tuple of (dim, side), or of piece names
        Faces ``x[dim] = low[dim]`` (side 0) or ``high[dim]`` (side 1) of a :class:`Box`, points split evenly
        between them (scrambled Sobol); or names of boundary pieces of the problem's
        :class:`~remodel_core.pde.Geometry` (``"all"`` for the whole boundary), points uniform in surface
        measure over them.
    target : callable
        ``g(x) -> [n]`` tensor of prescribed values.
    derivative : int, optional
        When set, prescribe ``du/dx_derivative`` instead of ``u`` (an initial velocity, a Neumann condition).

    Examples
    --------
    >>> c = Dirichlet("initial", ((1, 0),), lambda x: -torch.sin(torch.pi * x[:, 0]))
    >>> c.sample(Box((-1.0, 0.0), (1.0, 1.0)), 4, seed=0)[:, 1].tolist()
    [0.0, 0.0, 0.0, 0.0]
    """

    group: str
    faces: tuple[tuple[int, int], ...]
    target: Callable[[torch.Tensor], torch.Tensor]
    derivative: int | None = None

    def __post_init__(self) -> None:
        _check_group(self.group)
        _check_faces(self.faces)
        if not callable(self.target):
            raise TypeError(f"target must be callable, got {type(self.target).__name__}")

    def sample(self, box: Geometry, n: int, *, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``n`` Sobol points on the faces (float64 unless ``dtype`` says otherwise)."""
        if _named(self.faces):
            return _sample_pieces(box, self.faces, n, seed=seed, dtype=dtype)[0]
        _check_box(box, self.faces)
        counts = _split(n, len(self.faces))
        pts = [
            box.sample_face(m, dim=dim, side=side, seed=seed + 7919 * k, dtype=dtype)
            for k, ((dim, side), m) in enumerate(zip(self.faces, counts))
            if m > 0
        ]
        return torch.cat(pts)

    def residual(self, model: nn.Module, x: torch.Tensor, route: str = "auto") -> torch.Tensor:
        """Pointwise mismatch ``u - g`` (or ``du/dx_derivative - g``)."""
        if self.derivative is None:
            value = _scalar_output(model(x), x.shape[0])
        else:
            value = derivatives(model, x, route=route).dx(self.derivative)
        return value - self.target(x)


@dataclasses.dataclass(frozen=True)
class Periodic:
    """``u`` and its first ``order`` normal derivatives agree on the two faces normal to ``dim``.

    Parameters
    ----------
    dim : int
        The coordinate whose two faces of the :class:`Box` are identified.
    order : {0, 1}, default 1
        ``0``: the values agree; ``1``: the values and the first derivatives along ``dim`` agree.
    group : {"initial", "boundary"}, default "boundary"
        The loss weight key.

    Examples
    --------
    >>> c = Periodic(dim=0)
    >>> c.sample(Box((-1.0, 0.0), (1.0, 1.0)), 3, seed=0)[:, 0].tolist()  # 3 pairs: lower face, then upper
    [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]
    """

    dim: int
    order: int = 1
    group: str = "boundary"

    def __post_init__(self) -> None:
        _check_group(self.group)
        if isinstance(self.order, bool) or not isinstance(self.order, int) or self.order not in (0, 1):
            raise ValueError(f"order must be 0 or 1, got {self.order!r}")

    def sample(self, box: Geometry, n: int, *, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``n`` points on the lower face; :meth:`residual` pairs each with its image on the upper face."""
        if not isinstance(box, Box):
            raise TypeError(f"a Periodic condition needs a Box domain, got {type(box).__name__}")
        low = box.sample_face(n, dim=self.dim, side=0, seed=seed, dtype=dtype)
        period = box.high[self.dim] - box.low[self.dim]
        high = low.clone()
        high[:, self.dim] += period
        return torch.cat([low, high])

    def residual(self, model: nn.Module, x: torch.Tensor, route: str = "auto") -> torch.Tensor:
        """``u(low) - u(high)`` (and the same for ``du/dx_dim``), stacked."""
        m = x.shape[0] // 2
        if self.order == 0:
            u = _scalar_output(model(x), x.shape[0])
            return u[:m] - u[m:]
        d = derivatives(model, x, route=route)
        return torch.cat([d.u[:m] - d.u[m:], d.dx(self.dim)[:m] - d.dx(self.dim)[m:]])


def _named(faces: tuple) -> bool:
    return all(isinstance(f, str) for f in faces)


def _check_faces(faces: object) -> None:
    if not isinstance(faces, tuple) or not faces:
        raise ValueError(f"faces must be a non-empty tuple of (dim, side) faces or of piece names, got {faces!r}")
    if _named(faces):
        return
    for f in faces:
        if not (
            isinstance(f, tuple)
            and len(f) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in f)
            and f[1] in (0, 1)
            and f[0] >= 0
        ):
            raise ValueError(f"faces must hold (dim, side) pairs with side 0 or 1, or only piece names; got {f!r}")


def _check_box(domain: Geometry, faces: tuple) -> None:
    if not isinstance(domain, Box):
        raise TypeError(
            f"(dim, side) faces need a Box domain; name boundary pieces of a {type(domain).__name__} "
            f"instead (its pieces: {list(domain.boundary_pieces)})"
        )
    for dim, _ in faces:
        if dim >= domain.dim:
            raise ValueError(f"faces name dimension {dim} of a {domain.dim}-dimensional box")


def _sample_pieces(
    domain: Geometry, faces: tuple, n: int, *, seed: int, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    pieces = None if ALL in faces else faces
    return domain.sample_boundary(n, seed=seed, pieces=pieces, dtype=dtype)


@dataclasses.dataclass(frozen=True)
class Robin:
    """``a u + b du/dn = g`` on boundary pieces, ``n`` the outward unit normal (``a = 0``: Neumann).

    The fixed points of the condition carry their normals: :meth:`sample` returns ``[n, 2 d]``, the points
    then the normals.

    Parameters
    ----------
    group : {"initial", "boundary"}
        The loss weight key.
    faces : tuple of str or of (dim, side)
        Boundary pieces of the geometry (``"all"`` for all), or faces of a :class:`Box`.
    target : callable
        ``g(x) -> [n]``.
    a, b : float
        Coefficients, not both zero.

    Examples
    --------
    >>> from remodel_core.pde import Disk
    >>> c = Neumann("boundary", ("all",), lambda x: torch.zeros_like(x[:, 0]))
    >>> pts = c.sample(Disk((0.0, 0.0), 1.0), 8, seed=0)
    >>> pts.shape, bool(torch.allclose(pts[:, :2], pts[:, 2:]))  # on the unit circle the normal is the point
    (torch.Size([8, 4]), True)
    """

    group: str
    faces: tuple
    target: Callable[[torch.Tensor], torch.Tensor]
    a: float = 0.0
    b: float = 1.0

    def __post_init__(self) -> None:
        _check_group(self.group)
        _check_faces(self.faces)
        if not callable(self.target):
            raise TypeError(f"target must be callable, got {type(self.target).__name__}")
        for name in ("a", "b"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or v != v or abs(v) == float("inf"):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
        if self.a == 0 and self.b == 0:
            raise ValueError("a and b must not both be zero")

    def sample(self, domain: Geometry, n: int, *, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``n`` points and their outward normals, ``[n, 2 d]``."""
        if _named(self.faces):
            x, normal = _sample_pieces(domain, self.faces, n, seed=seed, dtype=dtype)
        else:
            _check_box(domain, self.faces)
            assert isinstance(domain, Box)
            xs, ns = [], []
            for k, ((dim, side), m) in enumerate(zip(self.faces, _split(n, len(self.faces)))):
                if m:
                    xs.append(domain.sample_face(m, dim=dim, side=side, seed=seed + 7919 * k, dtype=dtype))
                    nk = torch.zeros(m, domain.dim, dtype=dtype)
                    nk[:, dim] = 1.0 if side else -1.0
                    ns.append(nk)
            x, normal = torch.cat(xs), torch.cat(ns)
        return torch.cat([x, normal], 1)

    def residual(self, model: nn.Module, x: torch.Tensor, route: str = "auto") -> torch.Tensor:
        """``a u + b du/dn - g`` at the points (the first half of the columns of ``x``)."""
        d = x.shape[1] // 2
        pts, normal = x[:, :d], x[:, d:]
        der = derivatives(model, pts, route=route)
        dudn = sum(der.dx(i) * normal[:, i] for i in range(d))
        return self.a * der.u + self.b * dudn - self.target(pts)


def Neumann(group: str, faces: tuple, target: Callable[[torch.Tensor], torch.Tensor]) -> Robin:  # noqa: N802
    """``du/dn = g`` on boundary pieces: a :class:`Robin` condition with ``a = 0, b = 1``.

    Parameters
    ----------
    group : {"initial", "boundary"}
        The loss weight key.
    faces : tuple of str or of (dim, side)
        Boundary pieces of the geometry (``"all"`` for all), or faces of a :class:`Box`.
    target : callable
        ``g(x) -> [n]``, the prescribed outward normal derivative.

    Returns
    -------
    Robin
        The condition.

    Examples
    --------
    >>> Neumann("boundary", ("all",), lambda x: x[:, 0]).b
    1.0
    """
    return Robin(group, faces, target, a=0.0, b=1.0)


@dataclasses.dataclass(frozen=True)
class Given:
    """A condition on explicit points with explicit values: ``u(x_i) = values_i`` (or, for a Robin/Neumann
    ``base``, ``a u + b du/dn = values_i`` at points ``[n, 2 d]`` carrying their normals).

    Made by :meth:`~remodel_core.pde.PINNProblem.discretize` when ``boundary_points`` gives a
    ``(points, values)`` pair for a condition.

    Parameters
    ----------
    base : Dirichlet or Robin
        The condition whose form (and ``group``) is kept; its ``target`` is replaced by ``values``.
    values : torch.Tensor
        The prescribed values ``[n]``, one per point the condition is evaluated at.

    Examples
    --------
    >>> c = Given(Dirichlet("boundary", ((0, 0),), lambda x: x[:, 0]), torch.ones(3, dtype=torch.float64))
    >>> c.group
    'boundary'
    """

    base: Dirichlet | Robin
    values: torch.Tensor

    @property
    def group(self) -> str:
        return self.base.group

    def residual(self, model: nn.Module, x: torch.Tensor, route: str = "auto") -> torch.Tensor:
        values = self.values.to(dtype=x.dtype, device=x.device)
        target = lambda _x: values  # noqa: E731
        return dataclasses.replace(self.base, target=target).residual(model, x, route)
