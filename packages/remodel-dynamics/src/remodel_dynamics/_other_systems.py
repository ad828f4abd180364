"""Systems that are not written in canonical (q, p) form: the double pendulum (Lagrangian) and Lorenz (dissipative).

Trajectories are integrated by ``remodel_core.integrate.odeint`` with the adaptive Dormand-Prince method at tight
tolerances in float64.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ._systems import check_parameter, split_state


def _odeint_accurate(f, x0: torch.Tensor, t: torch.Tensor, tol: float) -> torch.Tensor:
    from remodel_core.integrate import odeint

    ys = odeint(lambda _t, y: f(y), x0.to(torch.float64), t.to(torch.float64), method="dopri5", rtol=tol, atol=tol)
    return ys.movedim(0, -2).to(x0.dtype)


@dataclasses.dataclass(frozen=True)
class DoublePendulum:
    """Planar double pendulum in angles ``q = (theta1, theta2)`` and angular velocities ``v``.

    ``L = (m1 + m2) l1^2 v1^2 / 2 + m2 l2^2 v2^2 / 2 + m2 l1 l2 v1 v2 cos(theta1 - theta2)
    + (m1 + m2) g l1 cos(theta1) + m2 g l2 cos(theta2)``; the state is ``s = (q, v)`` (Cranmer et al. 2020).

    Parameters
    ----------
    m1, m2 : float, default 1
        Masses of the two bobs.
    l1, l2 : float, default 1
        Lengths of the two rods.
    g : float, default 1
        Gravitational acceleration.

    Examples
    --------
    >>> dp = DoublePendulum()
    >>> s = torch.tensor([0.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    >>> float(dp.energy(s))
    -3.0
    """

    m1: float = 1.0
    m2: float = 1.0
    l1: float = 1.0
    l2: float = 1.0
    g: float = 1.0
    dof = 2
    name = "double_pendulum"

    def __post_init__(self) -> None:
        for name in ("m1", "m2", "l1", "l2"):
            check_parameter(name, getattr(self, name))
        check_parameter("g", self.g, allow_zero=True)

    def lagrangian(self, q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``L(q, v)`` per sample."""
        t1, t2, w1, w2 = q[..., 0], q[..., 1], v[..., 0], v[..., 1]
        m1, m2, l1, l2, g = self.m1, self.m2, self.l1, self.l2, self.g
        kinetic = (
            0.5 * (m1 + m2) * l1**2 * w1**2 + 0.5 * m2 * l2**2 * w2**2 + m2 * l1 * l2 * w1 * w2 * torch.cos(t1 - t2)
        )
        potential = -(m1 + m2) * g * l1 * torch.cos(t1) - m2 * g * l2 * torch.cos(t2)
        return kinetic - potential

    def energy(self, s: torch.Tensor) -> torch.Tensor:
        """Total energy ``T + V`` at states ``s = (q, v)``."""
        q, v = split_state(s, 2, "s")
        t1, t2, w1, w2 = q[..., 0], q[..., 1], v[..., 0], v[..., 1]
        m1, m2, l1, l2, g = self.m1, self.m2, self.l1, self.l2, self.g
        kinetic = (
            0.5 * (m1 + m2) * l1**2 * w1**2 + 0.5 * m2 * l2**2 * w2**2 + m2 * l1 * l2 * w1 * w2 * torch.cos(t1 - t2)
        )
        return kinetic - (m1 + m2) * g * l1 * torch.cos(t1) - m2 * g * l2 * torch.cos(t2)

    def acceleration(self, q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Closed-form angular accelerations from the Euler-Lagrange equations."""
        t1, t2, w1, w2 = q[..., 0], q[..., 1], v[..., 0], v[..., 1]
        m1, m2, l1, l2, g = self.m1, self.m2, self.l1, self.l2, self.g
        a1 = (l2 / l1) * (m2 / (m1 + m2)) * torch.cos(t1 - t2)
        a2 = (l1 / l2) * torch.cos(t1 - t2)
        f1 = -(l2 / l1) * (m2 / (m1 + m2)) * w2**2 * torch.sin(t1 - t2) - (g / l1) * torch.sin(t1)
        f2 = (l1 / l2) * w1**2 * torch.sin(t1 - t2) - (g / l2) * torch.sin(t2)
        det = 1.0 - a1 * a2
        return torch.stack([(f1 - a1 * f2) / det, (f2 - a2 * f1) / det], dim=-1)

    def vector_field(self, s: torch.Tensor) -> torch.Tensor:
        """``s' = (v, a(q, v))``."""
        q, v = split_state(s, 2, "s")
        return torch.cat([v, self.acceleration(q, v)], dim=-1)

    def sample_initial(self, n: int, rng: np.random.Generator) -> torch.Tensor:
        """Angles uniform in ``[-pi/2, pi/2]``, angular velocities uniform in ``[-1, 1]``."""
        q = rng.uniform(-np.pi / 2, np.pi / 2, size=(n, 2))
        v = rng.uniform(-1.0, 1.0, size=(n, 2))
        return torch.from_numpy(np.concatenate([q, v], axis=1))

    def flow(self, s0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Trajectories (n, len(t), 4) by adaptive Dormand-Prince at tolerance 1e-11."""
        split_state(s0, 2, "s0")
        return _odeint_accurate(self.vector_field, s0, t, 1e-11)


@dataclasses.dataclass(frozen=True)
class Lorenz:
    """Lorenz (1963) system ``x' = sigma (y - x)``, ``y' = x (rho - z) - y``, ``z' = x y - beta z``.

    Parameters
    ----------
    sigma, rho, beta : float
        The parameters, by default Lorenz's chaotic ``10, 28, 8/3``.

    Examples
    --------
    >>> Lorenz().vector_field(torch.tensor([1.0, 1.0, 3.0], dtype=torch.float64)).tolist()
    [0.0, 24.0, -7.0]
    """

    sigma: float = 10.0
    rho: float = 28.0
    beta: float = 8.0 / 3.0
    name = "lorenz"

    def __post_init__(self) -> None:
        for name in ("sigma", "rho", "beta"):
            check_parameter(name, getattr(self, name))

    def vector_field(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim == 0 or x.shape[-1] != 3:
            raise ValueError(f"x must have last dimension 3, got {getattr(x, 'shape', type(x).__name__)}")
        a, b, c = x[..., 0], x[..., 1], x[..., 2]
        return torch.stack([self.sigma * (b - a), a * (self.rho - c) - b, a * b - self.beta * c], dim=-1)

    def coefficients(self) -> np.ndarray:
        """The exact coefficients on the degree-2 polynomial library ``[1, x, y, z, x^2, xy, xz, y^2, yz, z^2]``."""
        xi = np.zeros((3, 10))
        xi[0, 1], xi[0, 2] = -self.sigma, self.sigma
        xi[1, 1], xi[1, 2], xi[1, 6] = self.rho, -1.0, -1.0
        xi[2, 3], xi[2, 5] = -self.beta, 1.0
        return xi

    def flow(self, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Trajectory/ies at times ``t`` by adaptive Dormand-Prince at tolerance 1e-12 (float64)."""
        return _odeint_accurate(self.vector_field, x0, t, 1e-12)
