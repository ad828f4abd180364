"""Initial and boundary conditions of a :class:`PINNProblem`, each enforced as a penalty term."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch import nn

from ._derivatives import _scalar_output, derivatives
from ._domain import Box

GROUPS = ("initial", "boundary")


def _check_group(group: str) -> None:
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")


def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if k < n % parts else 0) for k in range(parts)]


@dataclasses.dataclass(frozen=True)
class Dirichlet:
    """``u = g`` (or ``du/dx_derivative = g``) on faces of the box.

    Parameters
    ----------
    group : {"initial", "boundary"}
        The loss weight key the term belongs to.
    faces : tuple of (dim, side)
        Faces ``x[dim] = low[dim]`` (side 0) or ``high[dim]`` (side 1); points are split evenly between them.
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
        if not self.faces:
            raise ValueError("faces must name at least one (dim, side) face")
        if not callable(self.target):
            raise TypeError(f"target must be callable, got {type(self.target).__name__}")

    def sample(self, box: Box, n: int, *, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``n`` Sobol points on the faces (float64 unless ``dtype`` says otherwise)."""
        counts = _split(n, len(self.faces))
        pts = [box.sample_face(m, dim=dim, side=side, seed=seed + 7919 * k, dtype=dtype)
               for k, ((dim, side), m) in enumerate(zip(self.faces, counts)) if m > 0]
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

    def sample(self, box: Box, n: int, *, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``n`` points on the lower face; :meth:`residual` pairs each with its image on the upper face."""
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
