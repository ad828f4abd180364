"""Allen–Cahn equation with a Fourier-spectral / ETDRK4 reference solution computed in-package."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import scipy.fft
import torch

from ._conditions import Dirichlet, Periodic
from ._derivatives import Derivatives
from ._domain import Box
from ._problem import PINNProblem

_CHUNK = 512


def _initial_np(x: np.ndarray) -> np.ndarray:
    return x**2 * np.cos(np.pi * x)


def _initial_coefficients(n: int) -> np.ndarray:
    """Exact Fourier coefficients of ``x^2 cos(pi x)`` on ``[-1, 1)``, scaled to ``rfft`` of the grid values.

    The initial condition's derivative jumps at ``x = +-1`` (a corner of the periodic extension), so grid
    values alias an ``O(n^-2)`` error into every mode; the exact, truncated coefficients do not, and the
    truncated modes are damped by ``exp(-eps k^2 t)`` within a few time steps.
    """
    m = np.arange(n // 2 + 1, dtype=np.float64)

    def cos_moment(j: np.ndarray) -> np.ndarray:  # int_0^1 x^2 cos(j pi x) dx
        j = np.abs(j)
        out = np.full_like(j, 1.0 / 3.0)
        nz = j != 0
        out[nz] = 2.0 * (-1.0) ** j[nz] / (j[nz] * np.pi) ** 2
        return out

    c = 0.5 * (cos_moment(m + 1) + cos_moment(m - 1))
    v = n * (-1.0) ** m * c
    v[-1] = 0.0  # drop the Nyquist mode
    return v.astype(np.complex128)


@dataclasses.dataclass(frozen=True, eq=False)
class SpectralSolution:
    """Fourier coefficients of an Allen–Cahn solution at equispaced times, with evaluation helpers.

    Parameters
    ----------
    n : int
        Fourier grid size on ``[-1, 1)``.
    t : numpy.ndarray
        Snapshot times.
    coefficients, rates : numpy.ndarray
        ``rfft`` of the solution and of its time derivative at each snapshot, shape ``[len(t), n//2 + 1]``.
    eps, reaction : float
        The equation ``u_t = eps u_xx + reaction (u - u^3)``.
    """

    n: int
    t: np.ndarray
    coefficients: np.ndarray
    rates: np.ndarray
    eps: float
    reaction: float

    @property
    def x(self) -> np.ndarray:
        """The grid ``-1 + 2 j / n``."""
        return -1.0 + 2.0 * np.arange(self.n) / self.n

    def grid_values(self, stride: int = 1) -> np.ndarray:
        """Solution on the grid, ``[len(t), n // stride]``; the ``t = 0`` row is the exact initial condition."""
        u = scipy.fft.irfft(self.coefficients, self.n, axis=1)[:, ::stride]
        u[0] = _initial_np(self.x[::stride])
        return u

    def energy(self) -> np.ndarray:
        """Ginzburg–Landau energy ``int eps/2 u_x^2 + reaction/4 (u^2 - 1)^2 dx`` at each snapshot."""
        k = np.pi * np.arange(self.n // 2 + 1)
        u = scipy.fft.irfft(self.coefficients, self.n, axis=1)
        ux = scipy.fft.irfft(1j * k * self.coefficients, self.n, axis=1)
        density = 0.5 * self.eps * ux**2 + 0.25 * self.reaction * (u**2 - 1.0) ** 2
        return 2.0 * density.mean(axis=1)

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Solution at arbitrary ``(x, t)``: Fourier series in ``x``, cubic Hermite in ``t`` (with ``u_t``)."""
        x, t = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64))
        shape = x.shape
        x, t = x.reshape(-1), t.reshape(-1)
        if np.any(t < self.t[0] - 1e-12) or np.any(t > self.t[-1] + 1e-12):
            raise ValueError(f"t must lie in [{self.t[0]}, {self.t[-1]}]")
        dt = self.t[1] - self.t[0]
        j = np.clip(np.floor((t - self.t[0]) / dt).astype(np.int64), 0, len(self.t) - 2)
        s = np.clip((t - self.t[j]) / dt, 0.0, 1.0)
        h00, h10 = (1 + 2 * s) * (1 - s) ** 2, s * (1 - s) ** 2
        h01, h11 = s**2 * (3 - 2 * s), s**2 * (s - 1)
        k = np.pi * np.arange(self.n // 2 + 1)
        w = np.full(k.shape, 2.0 / self.n)
        w[0] = 1.0 / self.n
        out = np.empty_like(x)
        for a in range(0, x.size, _CHUNK):
            sl = slice(a, a + _CHUNK)
            phase = np.exp(1j * np.outer(x[sl] + 1.0, k)) * w
            coef = (
                h00[sl, None] * self.coefficients[j[sl]]
                + h01[sl, None] * self.coefficients[j[sl] + 1]
                + dt * (h10[sl, None] * self.rates[j[sl]] + h11[sl, None] * self.rates[j[sl] + 1])
            )
            out[sl] = np.real((coef * phase).sum(axis=1))
        at0 = t <= self.t[0]
        out[at0] = _initial_np(x[at0])
        return out.reshape(shape)


@functools.lru_cache(maxsize=4)
def allen_cahn_reference(
    n: int = 2048,
    dt: float = 1e-3,
    *,
    eps: float = 1e-4,
    reaction: float = 5.0,
    t_final: float = 1.0,
    contour_points: int = 32,
) -> SpectralSolution:
    """Solve ``u_t = eps u_xx + reaction (u - u^3)``, ``u(x, 0) = x^2 cos(pi x)``, periodic on ``[-1, 1)``.

    Fourier pseudo-spectral discretisation in ``x`` and the exponential time-differencing Runge–Kutta
    scheme ETDRK4 of Cox & Matthews (J. Comput. Phys. 176, 2002), with its coefficients evaluated by the
    contour integrals of Kassam & Trefethen (*Fourth-order time-stepping for stiff PDEs*, SIAM J. Sci.
    Comput. 26, 2005); the stiff linear part ``reaction - eps k^2`` is integrated exactly. The initial data
    enter through their exact Fourier coefficients (their periodic extension has a corner at ``x = +-1``).
    With the defaults the solution on ``t >= 0.005`` agrees with ``n = 4096`` to about 2e-7 and with
    ``dt = 5e-4`` to about 1e-10; it takes about a second and is cached in memory.

    Examples
    --------
    >>> sol = allen_cahn_reference(256, 1e-2, t_final=0.1)
    >>> sol.grid_values().shape
    (11, 256)
    """
    for name, value in (("n", n), ("contour_points", contour_points)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 4 or value % 2:
            raise ValueError(f"{name} must be an even integer >= 4, got {value!r}")
    for name, value in (("dt", dt), ("eps", eps), ("t_final", t_final)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    steps = round(t_final / dt)
    if steps < 1 or abs(steps * dt - t_final) > 1e-9 * t_final:
        raise ValueError(f"dt must divide t_final, got dt={dt!r}, t_final={t_final!r}")
    k = np.pi * np.arange(n // 2 + 1)
    lin = reaction - eps * k**2
    e, e2 = np.exp(dt * lin), np.exp(dt * lin / 2)
    r = np.exp(1j * np.pi * (np.arange(1, contour_points + 1) - 0.5) / contour_points)
    lr = dt * lin[:, None] + r[None, :]
    q = dt * np.real(np.mean((np.exp(lr / 2) - 1) / lr, axis=1))
    f1 = dt * np.real(np.mean((-4 - lr + np.exp(lr) * (4 - 3 * lr + lr**2)) / lr**3, axis=1))
    f2 = dt * np.real(np.mean((2 + lr + np.exp(lr) * (-2 + lr)) / lr**3, axis=1))
    f3 = dt * np.real(np.mean((-4 - 3 * lr - lr**2 + np.exp(lr) * (4 - lr)) / lr**3, axis=1))

    def nonlinear(v: np.ndarray) -> np.ndarray:
        u = scipy.fft.irfft(v, n)
        out = scipy.fft.rfft(-reaction * u**3)
        out[-1] = 0.0
        return out

    v = _initial_coefficients(n)
    coefs = np.empty((steps + 1, v.size), dtype=np.complex128)
    coefs[0] = v
    for s in range(steps):
        nv = nonlinear(v)
        a = e2 * v + q * nv
        na = nonlinear(a)
        b = e2 * v + q * na
        nb = nonlinear(b)
        c = e2 * a + q * (2 * nb - nv)
        nc = nonlinear(c)
        v = e * v + nv * f1 + 2 * (na + nb) * f2 + nc * f3
        coefs[s + 1] = v
    rates = lin * coefs + np.stack([nonlinear(c) for c in coefs])
    t = dt * np.arange(steps + 1)
    return SpectralSolution(n=n, t=t, coefficients=coefs, rates=rates, eps=float(eps), reaction=float(reaction))


def _solution(x: torch.Tensor) -> torch.Tensor:
    xn = x.detach().cpu().double().numpy()
    return torch.from_numpy(allen_cahn_reference()(xn[:, 0], xn[:, 1]))


@functools.lru_cache(maxsize=1)
def _evaluation() -> tuple[torch.Tensor, torch.Tensor]:
    ref = allen_cahn_reference()
    stride_t = round(0.005 / (ref.t[1] - ref.t[0]))
    values = ref.grid_values(stride=ref.n // 512)[::stride_t]  # [201, 512]
    pts = Box((-1.0, 0.0), (1.0, 1.0)).grid(512, 201, endpoint=(False, True))
    return pts, torch.from_numpy(np.ascontiguousarray(values.T).reshape(-1))


def _residual(x: torch.Tensor, d: Derivatives) -> torch.Tensor:
    return d.dx(1) - 1e-4 * d.dxx(0) + 5.0 * d.u**3 - 5.0 * d.u


def _initial(x: torch.Tensor) -> torch.Tensor:
    return x[:, 0] ** 2 * torch.cos(math.pi * x[:, 0])


def allen_cahn() -> PINNProblem:
    """Allen–Cahn ``u_t - 0.0001 u_xx + 5 u^3 - 5 u = 0`` on ``x in [-1, 1], t in [0, 1]``, inputs ``(x, t)``.

    ``u(x, 0) = x^2 cos(pi x)``, periodic in ``x`` (``u`` and ``u_x`` agree at ``x = +-1``): the benchmark of
    Raissi, Perdikaris & Karniadakis (2019). Reference from :func:`allen_cahn_reference` (Fourier + ETDRK4);
    :meth:`~PINNProblem.relative_l2` uses the 512 x 201 grid of Raissi's data (``x = -1 + j/256``,
    ``t = 0, 0.005, ..., 1``).

    Examples
    --------
    >>> prob = allen_cahn()
    >>> prob.reference(torch.tensor([[0.5, 0.0]], dtype=torch.float64)).item()  # 0.25 cos(pi/2)
    1.5308084989341915e-17
    """
    return PINNProblem(
        name="allen_cahn",
        domain=Box((-1.0, 0.0), (1.0, 1.0)),
        pde=_residual,
        second=(0,),
        conditions=(Dirichlet("initial", ((1, 0),), _initial), Periodic(dim=0, order=1)),
        solution=_solution,
        evaluation=_evaluation,
        parameters={"eps": 1e-4, "reaction": 5.0},
    )
