"""Hamiltonian test systems with accurate data: mass-spring, ideal pendulum, two-body (Kepler) problem.

All are of the form ``H(q, p) = p^T M^{-1} p / 2 + V(q)`` with a constant diagonal mass matrix ``M``, so each has a
Lagrangian ``L(q, v) = v^T M v / 2 - V(q)`` and velocities ``v = M^{-1} p`` (used by the Lagrangian networks).
The mass-spring has its exact flow; the others are integrated by ``remodel_core.integrate.hamiltonian_odeint``
with the fourth-order symplectic Yoshida method at a fine step in float64.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np
import torch
from remodel_core import check_positive


def check_parameter(name: str, value: float, *, allow_zero: bool = False) -> None:
    """A physical parameter: a finite number ``> 0`` (``>= 0`` with ``allow_zero``), else a clear error."""
    check_positive(name, value, allow_zero=allow_zero)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")


def check_radius(name: str, value: tuple[float, float]) -> None:
    """A range ``(low, high)`` of radii with ``0 <= low <= high < inf``."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (low, high), got {value!r}")
    check_parameter(f"{name}[0]", value[0], allow_zero=True)
    check_parameter(f"{name}[1]", value[1])
    if value[0] > value[1]:
        raise ValueError(f"{name} must satisfy low <= high, got {tuple(value)!r}")


def split_state(x: torch.Tensor, dof: int, name: str = "x") -> tuple[torch.Tensor, torch.Tensor]:
    """``(q, p)`` halves of states ``x`` of shape ``(..., 2 * dof)``; a clear error for other shapes."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim == 0 or x.shape[-1] != 2 * dof:
        raise ValueError(f"{name} must have last dimension 2 * dof = {2 * dof} (q then p), got shape {tuple(x.shape)}")
    return x[..., :dof], x[..., dof:]


@dataclasses.dataclass(frozen=True)
class HamiltonianSystem:
    """Base class of the systems ``H(q, p) = p^T M^{-1} p / 2 + V(q)``; subclasses define :meth:`potential`.

    States are tensors ``x = (q, p)`` of shape ``(..., 2 * dof)``.

    Examples
    --------
    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class Quartic(HamiltonianSystem):
    ...     def inverse_mass(self, like):
    ...         return torch.ones(1, dtype=like.dtype)
    ...     def potential(self, q):
    ...         return (q**4).sum(-1) / 4
    >>> Quartic().vector_field(torch.tensor([[2.0, 1.0]])).tolist()
    [[1.0, -8.0]]
    """

    name: ClassVar[str] = "system"
    dof: ClassVar[int] = 1
    fine_dt: ClassVar[float] = 1e-3

    # physics ------------------------------------------------------------------------------------------
    def inverse_mass(self, like: torch.Tensor) -> torch.Tensor:
        """Diagonal of ``M^{-1}`` (length ``dof``)."""
        raise NotImplementedError

    def potential(self, q: torch.Tensor) -> torch.Tensor:
        """Potential energy ``V(q)`` per sample."""
        raise NotImplementedError

    def hamiltonian(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """Total energy ``H(q, p)`` per sample (shape ``q.shape[:-1]``)."""
        return 0.5 * (self.inverse_mass(p) * p**2).sum(-1) + self.potential(q)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """``H`` at states ``x = (q, p)``."""
        q, p = split_state(x, self.dof)
        return self.hamiltonian(q, p)

    def grad_potential(self, q: torch.Tensor) -> torch.Tensor:
        """``dV/dq`` (by autograd unless a subclass gives it in closed form)."""
        with torch.enable_grad():
            qq = q.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.potential(qq).sum(), qq)
        return g

    def grad_hamiltonian(self, q: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dH/dq, dH/dp)``."""
        return self.grad_potential(q), self.inverse_mass(p) * p

    def vector_field(self, x: torch.Tensor) -> torch.Tensor:
        """Hamilton's equations ``x' = J grad H(x) = (dH/dp, -dH/dq)``."""
        q, p = split_state(x, self.dof)
        dq, dp = self.grad_hamiltonian(q, p)
        return torch.cat([dp, -dq], dim=-1)

    def lagrangian(self, q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``L(q, v) = v^T M v / 2 - V(q)``."""
        return 0.5 * (v**2 / self.inverse_mass(v)).sum(-1) - self.potential(q)

    def to_velocity(self, x: torch.Tensor) -> torch.Tensor:
        """``(q, p) -> (q, v)`` with ``v = M^{-1} p``."""
        q, p = split_state(x, self.dof)
        return torch.cat([q, self.inverse_mass(p) * p], dim=-1)

    def to_momentum(self, s: torch.Tensor) -> torch.Tensor:
        """``(q, v) -> (q, p)`` with ``p = M v``."""
        q, v = split_state(s, self.dof, "s")
        return torch.cat([q, v / self.inverse_mass(v)], dim=-1)

    # data ---------------------------------------------------------------------------------------------
    def sample_initial(self, n: int, rng: np.random.Generator) -> torch.Tensor:
        """``n`` random initial states (float64) from the system's distribution."""
        raise NotImplementedError

    def flow(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Accurate trajectories from ``x0`` (n, 2 dof) at times ``t`` (starting at ``t[0]``): shape (n, len(t), 2 dof).

        Integrated in float64 with the symplectic Yoshida-4 method at step ``fine_dt``.
        """
        from remodel_core.integrate import hamiltonian_odeint

        q0, p0 = split_state(x0.to(torch.float64), self.dof, "x0")
        qs, ps = hamiltonian_odeint(
            lambda q, p: self.grad_hamiltonian(q, p), q0, p0, t.to(torch.float64), method="yoshida4", dt=self.fine_dt
        )
        return torch.cat([qs, ps], dim=-1).transpose(0, 1).to(x0.dtype)


def _uniform_radius(n: int, rng: np.random.Generator, dim: int, lo: float, hi: float) -> np.ndarray:
    d = rng.standard_normal((n, dim))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return d * rng.uniform(lo, hi, size=(n, 1))


@dataclasses.dataclass(frozen=True)
class MassSpring(HamiltonianSystem):
    """Ideal mass-spring ``H = p^2 / (2 m) + k q^2 / 2`` (Greydanus et al. 2019 use ``k = 2, m = 1/2``).

    Initial states lie at a radius uniform in ``radius`` around the origin of the (q, p) plane.

    Parameters
    ----------
    k : float, default 1
        Spring constant.
    m : float, default 1
        Mass.
    radius : tuple of float, default (0.1, 1.0)
        Range of the radius of the initial states in the ``(q, p)`` plane.

    Examples
    --------
    >>> sys = MassSpring()
    >>> x0 = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    >>> float(sys.flow(x0, torch.tensor([0.0, math.pi], dtype=torch.float64))[0, -1, 0])
    -1.0
    """

    k: float = 1.0
    m: float = 1.0
    radius: tuple[float, float] = (0.1, 1.0)
    name: ClassVar[str] = "mass_spring"

    def __post_init__(self) -> None:
        check_parameter("k", self.k)
        check_parameter("m", self.m)
        check_radius("radius", self.radius)

    def inverse_mass(self, like: torch.Tensor) -> torch.Tensor:
        return torch.full((1,), 1.0 / self.m, dtype=like.dtype, device=like.device)

    def potential(self, q: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.k * (q**2).sum(-1)

    def grad_potential(self, q: torch.Tensor) -> torch.Tensor:
        return self.k * q

    def sample_initial(self, n: int, rng: np.random.Generator) -> torch.Tensor:
        return torch.from_numpy(_uniform_radius(n, rng, 2, *self.radius))

    def flow(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The exact flow ``q(t) = q0 cos(w t) + p0 / (m w) sin(w t)``, ``w = sqrt(k / m)``."""
        q0, p0 = split_state(x0, 1, "x0")
        w = math.sqrt(self.k / self.m)
        tt = (t - t[0]).to(x0.dtype)[None, :, None]
        c, s = torch.cos(w * tt), torch.sin(w * tt)
        q = q0[:, None] * c + p0[:, None] / (self.m * w) * s
        p = -self.m * w * q0[:, None] * s + p0[:, None] * c
        return torch.cat([q, p], dim=-1)


@dataclasses.dataclass(frozen=True)
class Pendulum(HamiltonianSystem):
    """Ideal pendulum ``H = p^2 / (2 m l^2) + m g l (1 - cos q)`` (Greydanus et al.: ``m l^2 = 1/2, m g l = 3``).

    Parameters
    ----------
    m : float, default 1
        Mass.
    l : float, default 1
        Length.
    g : float, default 1
        Gravitational acceleration.
    radius : tuple of float, default (1.3, 2.2)
        Range of the radius of the initial states in the ``(q, p)`` plane.

    Examples
    --------
    >>> sys = Pendulum()
    >>> float(sys.energy(torch.tensor([math.pi, 0.0])))
    2.0
    """

    m: float = 1.0
    l: float = 1.0
    g: float = 1.0
    radius: tuple[float, float] = (1.3, 2.2)
    name: ClassVar[str] = "pendulum"

    def __post_init__(self) -> None:
        check_parameter("m", self.m)
        check_parameter("l", self.l)
        check_parameter("g", self.g, allow_zero=True)
        check_radius("radius", self.radius)

    def inverse_mass(self, like: torch.Tensor) -> torch.Tensor:
        return torch.full((1,), 1.0 / (self.m * self.l**2), dtype=like.dtype, device=like.device)

    def potential(self, q: torch.Tensor) -> torch.Tensor:
        return (self.m * self.g * self.l * (1.0 - torch.cos(q))).sum(-1)

    def grad_potential(self, q: torch.Tensor) -> torch.Tensor:
        return self.m * self.g * self.l * torch.sin(q)

    def sample_initial(self, n: int, rng: np.random.Generator) -> torch.Tensor:
        return torch.from_numpy(_uniform_radius(n, rng, 2, *self.radius))


@dataclasses.dataclass(frozen=True)
class TwoBody(HamiltonianSystem):
    """Two gravitating bodies in the plane, ``H = |p1|^2/(2 m1) + |p2|^2/(2 m2) - G m1 m2 / |q1 - q2|``.

    ``q = (x1, y1, x2, y2)``. Initial states follow Greydanus et al. (2019): equal masses placed symmetrically
    at a distance ``r`` uniform in ``radius`` from the origin with the velocity of a circular orbit scaled by
    ``1 + orbit_noise * U(-1, 1)``, giving slightly elliptic orbits about a fixed centre of mass.

    Parameters
    ----------
    m1, m2 : float, default 1
        Masses.
    G : float, default 1
        Gravitational constant.
    radius : tuple of float, default (0.5, 1.5)
        Range of the initial distance of each body from the origin.
    orbit_noise : float, default 0.2
        Relative perturbation of the circular-orbit velocity.

    Examples
    --------
    >>> sys = TwoBody()
    >>> x = torch.tensor([1.0, 0.0, -1.0, 0.0, 0.0, 0.5, 0.0, -0.5], dtype=torch.float64)
    >>> float(sys.energy(x))
    -0.25
    """

    m1: float = 1.0
    m2: float = 1.0
    G: float = 1.0
    radius: tuple[float, float] = (0.5, 1.5)
    orbit_noise: float = 0.2
    name: ClassVar[str] = "two_body"
    dof: ClassVar[int] = 4

    def __post_init__(self) -> None:
        for name in ("m1", "m2", "G"):
            check_parameter(name, getattr(self, name))
        check_radius("radius", self.radius)
        if self.radius[0] <= 0:
            raise ValueError(f"radius[0] must be > 0 (the bodies would collide), got {self.radius[0]!r}")
        check_parameter("orbit_noise", self.orbit_noise, allow_zero=True)
        if self.orbit_noise >= 1:
            raise ValueError(
                f"orbit_noise must lie in [0, 1) (the orbit speed factor 1 +- orbit_noise stays > 0), "
                f"got {self.orbit_noise!r}"
            )

    def inverse_mass(self, like: torch.Tensor) -> torch.Tensor:
        return torch.tensor([1 / self.m1, 1 / self.m1, 1 / self.m2, 1 / self.m2], dtype=like.dtype, device=like.device)

    def potential(self, q: torch.Tensor) -> torch.Tensor:
        r = torch.linalg.vector_norm(q[..., :2] - q[..., 2:], dim=-1)
        return -self.G * self.m1 * self.m2 / r

    def grad_potential(self, q: torch.Tensor) -> torch.Tensor:
        d = q[..., :2] - q[..., 2:]
        r3 = torch.linalg.vector_norm(d, dim=-1, keepdim=True) ** 3
        g = self.G * self.m1 * self.m2 * d / r3
        return torch.cat([g, -g], dim=-1)

    def sample_initial(self, n: int, rng: np.random.Generator) -> torch.Tensor:
        if self.m1 != self.m2:
            raise ValueError("TwoBody.sample_initial draws symmetric orbits and needs m1 == m2")
        pos = _uniform_radius(n, rng, 2, *self.radius)
        r = np.linalg.norm(pos, axis=1, keepdims=True)
        speed = np.sqrt(self.G * self.m2 / (4.0 * r))  # circular orbit about the centre of mass
        speed = speed * (1.0 + self.orbit_noise * rng.uniform(-1.0, 1.0, size=(n, 1)))
        vel = np.stack([-pos[:, 1], pos[:, 0]], axis=1) / r * speed
        q = np.concatenate([pos, -pos], axis=1)
        p = np.concatenate([self.m1 * vel, -self.m2 * vel], axis=1)
        return torch.from_numpy(np.concatenate([q, p], axis=1))
