"""Parametric time-dependent heat conduction ``M u' + A(mu) u = f`` and its POD-Galerkin reduced model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from remodel_core import check_positive

from ._fem import assemble_mass, unit_square_mesh
from ._stationary import StationaryAffineModel, thermal_block


class InstationaryAffineModel:
    """``M u' + A(mu) u = f``, ``u(0) = 0``, implicit Euler with ``nt`` steps to ``T``.

    ``A(mu) = sum_q theta_q(mu) A_q`` comes from a :class:`StationaryAffineModel` (its operators, theta,
    right-hand side and parameter box).

    Parameters
    ----------
    stationary : StationaryAffineModel
        Gives ``A_q``, ``theta``, ``f`` and the parameter box.
    mass : scipy.sparse matrix
        The mass matrix ``M`` on the same unknowns.
    T : float, default 1
        Final time.
    nt : int, default 50
        Number of implicit Euler steps.

    Examples
    --------
    >>> fom = heat_model(n=8, nt=10)
    >>> fom.solve([0.2, 0.4, 0.6, 0.8]).shape
    (11, 49)
    """

    def __init__(self, stationary: StationaryAffineModel, mass: sp.spmatrix, T: float = 1.0, nt: int = 50) -> None:
        check_positive("nt", nt, integer=True)
        check_positive("T", T)
        if not np.isfinite(T):
            raise ValueError(f"T must be finite, got {T!r}")
        if mass.shape != (stationary.n_dofs, stationary.n_dofs):
            raise ValueError(f"mass must be {stationary.n_dofs} x {stationary.n_dofs}, got {mass.shape}")
        self.stationary = stationary
        self.mass = sp.csr_matrix(mass)
        self.T, self.nt = float(T), nt
        self.dt = self.T / nt
        self.parameter_ranges = stationary.parameter_ranges
        self.name = "heat_" + stationary.name

    @property
    def n_parameters(self) -> int:
        return self.stationary.n_parameters

    @property
    def n_dofs(self) -> int:
        return self.stationary.n_dofs

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.stationary.sample(n, rng)

    def solve(self, mu: Sequence[float] | np.ndarray) -> np.ndarray:
        """The trajectory ``(nt + 1, N)`` including the initial state."""
        lu = spla.splu((self.mass + self.dt * self.stationary.operator(mu)).tocsc())
        U = np.zeros((self.nt + 1, self.n_dofs))
        b = self.dt * self.stationary.rhs
        for k in range(self.nt):
            U[k + 1] = lu.solve(self.mass @ U[k] + b)
        return U

    def __repr__(self) -> str:
        return f"InstationaryAffineModel({self.name!r}, dofs={self.n_dofs}, nt={self.nt})"


def heat_model(blocks: tuple[int, int] = (2, 2), n: int = 32, T: float = 0.2, nt: int = 50) -> InstationaryAffineModel:
    """Heat conduction in the thermal block: ``u' - div(d(x; mu) grad u) = 1``, zero initial and boundary values.

    Parameters
    ----------
    blocks : tuple of int, default (2, 2)
        Blocks along x and y (one conductivity each).
    n : int, default 32
        Squares per side of the mesh.
    T : float, default 0.2
        Final time.
    nt : int, default 50
        Number of implicit Euler steps.

    Returns
    -------
    InstationaryAffineModel

    Examples
    --------
    >>> heat_model(n=8).n_dofs
    49
    """
    stat = thermal_block(blocks=blocks, n=n)
    nodes, tris = unit_square_mesh(n)
    _, interior = stat.grid
    M = assemble_mass(nodes, tris)[interior][:, interior]
    return InstationaryAffineModel(stat, M, T=T, nt=nt)


class ReducedInstationaryModel:
    """Galerkin projection of :class:`InstationaryAffineModel` onto an orthonormal basis ``V``.

    ``(M_r + dt A_r(mu)) a^{k+1} = M_r a^k + dt f_r`` with ``A_r(mu) = sum_q theta_q(mu) V^T A_q V``.

    Parameters
    ----------
    fom : InstationaryAffineModel
        The full model.
    basis : numpy.ndarray, shape (n_dofs, r)
        The basis ``V``, orthonormal.

    Examples
    --------
    >>> fom = heat_model(n=8, nt=10)
    >>> V = np.linalg.qr(fom.solve([0.5, 0.5, 0.5, 0.5]).T)[0][:, :5]
    >>> ReducedInstationaryModel(fom, V).solve([0.3, 0.6, 0.9, 0.2]).shape
    (11, 5)
    """

    def __init__(self, fom: InstationaryAffineModel, basis: np.ndarray) -> None:
        self.fom = fom
        self.basis = np.ascontiguousarray(basis)
        V = self.basis
        self.mass = V.T @ (fom.mass @ V)
        self.operators = np.stack([V.T @ (A @ V) for A in fom.stationary.operators])
        self.rhs = V.T @ fom.stationary.rhs

    @property
    def basis_size(self) -> int:
        return self.basis.shape[1]

    def solve(self, mu: Sequence[float] | np.ndarray) -> np.ndarray:
        th = self.fom.stationary.theta(self.fom.stationary.parse(mu))
        dt = self.fom.dt
        A = np.tensordot(th, self.operators, 1)
        step = np.linalg.solve(self.mass + dt * A, np.column_stack([self.mass, dt * self.rhs]))
        Phi, c = step[:, :-1], step[:, -1]
        a = np.zeros((self.fom.nt + 1, self.basis_size))
        for k in range(self.fom.nt):
            a[k + 1] = Phi @ a[k] + c
        return a

    def reconstruct(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(a) @ self.basis.T

    def __repr__(self) -> str:
        return f"ReducedInstationaryModel(basis_size={self.basis_size})"
