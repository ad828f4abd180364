"""The 1-D viscous Burgers equation as a nonlinear full-order model, and its POD-DEIM reduced model."""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
from remodel_core import check_positive

from ._deim import deim_points
from ._pod import POD


@numba.njit(cache=True)
def _burgers_fom(u0, nu_dt_h2, dt, h, nt, save_every):  # pragma: no cover - compiled
    n = u0.shape[0]
    # Thomas factorisation of tridiag(-c, 1 + 2c, -c), c = nu*dt/h^2
    c = nu_dt_h2
    diag = np.empty(n)
    low = np.empty(n)
    diag[0] = 1.0 + 2.0 * c
    for i in range(1, n):
        low[i] = -c / diag[i - 1]
        diag[i] = 1.0 + 2.0 * c - low[i] * (-c)
    n_save = nt // save_every + 1
    out = np.empty((n_save, n))
    out[0] = u0
    u = u0.copy()
    rhs = np.empty(n)
    s = 1
    k = dt / (4.0 * h)
    for step in range(1, nt + 1):
        for i in range(n):
            um = u[i - 1] if i > 0 else 0.0
            up = u[i + 1] if i < n - 1 else 0.0
            rhs[i] = u[i] - k * (up * up - um * um)
        for i in range(1, n):
            rhs[i] -= low[i] * rhs[i - 1]
        u[n - 1] = rhs[n - 1] / diag[n - 1]
        for i in range(n - 2, -1, -1):
            u[i] = (rhs[i] + c * u[i + 1]) / diag[i]
        if step % save_every == 0:
            out[s] = u
            s += 1
    return out


@numba.njit(cache=True)
def _burgers_rom(a0, Linv, E, Vm, Vc, Vp, k, nt, save_every):  # pragma: no cover - compiled
    r = a0.shape[0]
    m = Vc.shape[0]
    n_save = nt // save_every + 1
    out = np.empty((n_save, r))
    out[0] = a0
    a = a0.copy()
    g = np.empty(m)
    b = np.empty(r)
    s = 1
    for step in range(1, nt + 1):
        for j in range(m):
            wm = 0.0
            wp = 0.0
            for i in range(r):
                wm += Vm[j, i] * a[i]
                wp += Vp[j, i] * a[i]
            g[j] = -k * (wp * wp - wm * wm)
        for i in range(r):
            acc = a[i]
            for j in range(m):
                acc += E[i, j] * g[j]
            b[i] = acc
        for i in range(r):
            acc = 0.0
            for j in range(r):
                acc += Linv[i, j] * b[j]
            a[i] = acc
        if step % save_every == 0:
            out[s] = a
            s += 1
    return out


class BurgersModel:
    """``u_t + (u^2/2)_x = nu u_xx`` on (0, 1), ``u(0) = u(1) = 0``, ``u(x, 0) = a sin(pi x)``; ``mu = (a, nu)``.

    Finite differences on ``n`` interior points: the diffusion implicitly (a Thomas solve per step), the
    conservative central flux ``-(u_{i+1}^2 - u_{i-1}^2) / (4h)`` explicitly (IMEX Euler), numba loops.
    The linear part is affine in ``nu``: ``(I - dt nu D2) u^{k+1} = u^k + dt N(u^k)``.

    Parameters
    ----------
    n : int
        Interior grid points.
    nt : int
        Time steps to ``T``.
    T : float
        Final time.
    save_every : int
        Store every ``save_every``-th step of the trajectory.
    parameter_ranges : sequence of (low, high)
        Ranges of the amplitude ``a`` and the viscosity ``nu``.

    Examples
    --------
    >>> fom = BurgersModel(n=200, nt=400, save_every=40)
    >>> fom.solve([1.0, 0.02]).shape
    (11, 200)
    """

    def __init__(
        self,
        n: int = 2000,
        nt: int = 2000,
        T: float = 0.5,
        save_every: int = 20,
        parameter_ranges: Sequence[tuple[float, float]] = ((0.5, 1.0), (0.01, 0.05)),
    ) -> None:
        for name, value in (("n", n), ("nt", nt), ("save_every", save_every)):
            check_positive(name, value, integer=True)
        if nt % save_every:
            raise ValueError(f"nt must be a multiple of save_every, got nt={nt}, save_every={save_every}")
        if not T > 0:
            raise ValueError(f"T must be > 0, got {T!r}")
        self.n, self.nt, self.T, self.save_every = n, nt, float(T), save_every
        self.h = 1.0 / (n + 1)
        self.dt = self.T / nt
        self.x = np.linspace(self.h, 1.0 - self.h, n)
        self.parameter_ranges = np.asarray(parameter_ranges, dtype=np.float64)
        if self.parameter_ranges.shape != (2, 2):
            raise ValueError("parameter_ranges must hold two (low, high) pairs: amplitude and viscosity")
        amax = float(np.max(np.abs(self.parameter_ranges[0])))
        if self.dt * amax / self.h > 1.0:
            raise ValueError(f"nt={nt} violates the convective CFL condition dt*max|u|/h <= 1; increase nt")
        self.name = "burgers"

    @property
    def n_parameters(self) -> int:
        return 2

    @property
    def n_dofs(self) -> int:
        return self.n

    def parse(self, mu: Sequence[float] | np.ndarray) -> np.ndarray:
        mu = np.asarray(mu, dtype=np.float64)
        if mu.shape != (2,):
            raise ValueError(f"mu must have shape (2,) (amplitude, viscosity), got {mu.shape}")
        if not np.all(np.isfinite(mu)):
            raise ValueError(f"mu must be finite, got {mu}")
        if mu[1] <= 0:
            raise ValueError(f"the viscosity mu[1] must be > 0, got {mu[1]}")
        if self.dt * abs(mu[0]) / self.h > 1.0:
            # the explicit convective flux is stable for dt * max|u| / h <= 1 (max|u| = |a| by the maximum
            # principle); the constructor checked it on parameter_ranges only
            raise ValueError(
                f"mu[0] (the amplitude) = {mu[0]} violates the convective CFL condition dt * |a| / h <= 1 of "
                f"this model (|a| <= {self.h / self.dt:.4g}); build it with a larger nt"
            )
        return mu

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        lo, hi = self.parameter_ranges[:, 0], self.parameter_ranges[:, 1]
        return lo + (hi - lo) * rng.random((n, 2))

    def initial(self, mu: np.ndarray) -> np.ndarray:
        return mu[0] * np.sin(np.pi * self.x)

    def nonlinear(self, U: np.ndarray) -> np.ndarray:
        """The convective term ``N(u)_i = -(u_{i+1}^2 - u_{i-1}^2) / (4h)`` of each row of ``U``."""
        P = np.pad(np.atleast_2d(U), ((0, 0), (1, 1)))
        return -(P[:, 2:] ** 2 - P[:, :-2] ** 2) / (4.0 * self.h)

    def laplacian(self) -> np.ndarray:
        """The second-difference matrix ``D2`` (sparse, zero Dirichlet values) of the grid."""
        import scipy.sparse as sp

        e = np.ones(self.n)
        return sp.diags([e[:-1], -2 * e, e[:-1]], [-1, 0, 1]) / self.h**2

    def solve(self, mu: Sequence[float] | np.ndarray) -> np.ndarray:
        """The trajectory at the stored times, shape ``(nt // save_every + 1, n)``."""
        mu = self.parse(mu)
        return _burgers_fom(self.initial(mu), mu[1] * self.dt / self.h**2, self.dt, self.h, self.nt, self.save_every)

    def __repr__(self) -> str:
        return f"BurgersModel(n={self.n}, nt={self.nt}, T={self.T})"


class ReducedBurgersModel:
    """POD-Galerkin reduced Burgers model with DEIM for the convective term (Chaturantabut & Sorensen 2010).

    Online cost per time step: ``O(r m + r^2)`` with ``r`` modes and ``m`` DEIM points; the implicit reduced
    operator ``(I - dt nu V^T D2 V)^{-1}`` is formed from the affine ``nu`` dependence at the start of a solve.

    Parameters
    ----------
    fom : BurgersModel
        The full model.
    basis : numpy.ndarray, shape (n, r)
        Orthonormal POD modes of the state.
    deim_basis : numpy.ndarray, shape (n, m)
        Modes of the convective term, interpolated at their DEIM points.

    Examples
    --------
    >>> fom = BurgersModel(n=100, nt=200, save_every=20)
    >>> rom = reduce_burgers(fom, [fom.solve([0.8, 0.03]), fom.solve([0.6, 0.02])], 6, 1.0, 12)
    >>> rom.reconstruct(rom.solve([0.7, 0.025])).shape
    (11, 100)
    """

    def __init__(self, fom: BurgersModel, basis: np.ndarray, deim_basis: np.ndarray) -> None:
        self.fom = fom
        self.basis = np.ascontiguousarray(basis)
        self.deim_basis = deim_basis
        self.points = deim_points(deim_basis)
        V, U, p = self.basis, deim_basis, self.points
        self.E = np.ascontiguousarray(V.T @ U @ np.linalg.inv(U[p]))
        zero = np.zeros((1, V.shape[1]))
        Vpad = np.vstack([zero, V, zero])
        self.Vm = np.ascontiguousarray(Vpad[p])
        self.Vc = np.ascontiguousarray(Vpad[p + 1])
        self.Vp = np.ascontiguousarray(Vpad[p + 2])
        self.D2r = V.T @ (fom.laplacian() @ V)

    @property
    def basis_size(self) -> int:
        return self.basis.shape[1]

    def solve(self, mu: Sequence[float] | np.ndarray) -> np.ndarray:
        """Reduced coefficient trajectory, shape ``(n_save, r)``."""
        mu = self.fom.parse(mu)
        fom = self.fom
        Linv = np.linalg.inv(np.eye(self.basis_size) - fom.dt * mu[1] * self.D2r)
        a0 = self.basis.T @ fom.initial(mu)
        return _burgers_rom(a0, Linv, self.E, self.Vm, self.Vc, self.Vp, fom.dt / (4 * fom.h), fom.nt, fom.save_every)

    def reconstruct(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(a) @ self.basis.T

    def __repr__(self) -> str:
        return f"ReducedBurgersModel(basis_size={self.basis_size}, deim_points={len(self.points)})"


def reduce_burgers(
    fom: BurgersModel, trajectories: list[np.ndarray], basis_size: int | None, energy: float, deim_size: int | None
) -> ReducedBurgersModel:
    """POD of the state and of the nonlinear-term snapshots, then DEIM."""
    S = np.concatenate(trajectories)
    pod = POD(n_components=basis_size, energy=energy).fit(S)
    m = deim_size if deim_size is not None else 2 * pod.n_components_
    F = fom.nonlinear(S)
    deim = POD(n_components=min(m, F.shape[0], F.shape[1])).fit(F)
    return ReducedBurgersModel(fom, pod.components_.T, deim.components_.T)
