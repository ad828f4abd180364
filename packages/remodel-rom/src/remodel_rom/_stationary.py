"""Parametric stationary full-order models with an explicit affine decomposition, and the thermal block."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from remodel_core import check_positive

from ._fem import assemble_load, assemble_stiffness, boundary_nodes, unit_square_mesh
from ._linalg import asymmetry, check_product, is_positive_definite


@dataclasses.dataclass(frozen=True)
class AffineCoefficients:
    """The coefficient functions ``theta(mu) = (1, ..., 1, mu_1, ..., mu_p)`` (``n_constant`` leading ones).

    Parameters
    ----------
    n_constant : int, default 0
        Number of leading constant coefficients.

    Examples
    --------
    >>> AffineCoefficients(n_constant=1)(np.array([0.5, 2.0]))
    array([1. , 0.5, 2. ])
    """

    n_constant: int = 0

    def __call__(self, mu: np.ndarray) -> np.ndarray:
        mu = np.asarray(mu, dtype=np.float64)
        if self.n_constant == 0:
            return mu
        ones = np.ones(mu.shape[:-1] + (self.n_constant,))
        return np.concatenate([ones, mu], axis=-1)


class StationaryAffineModel:
    """The full-order model ``A(mu) u = f`` with ``A(mu) = sum_q theta_q(mu) A_q``.

    The decomposition is explicit: ``operators`` are the ``A_q`` (scipy.sparse), ``theta`` the coefficient
    functions, vectorised over leading parameter axes. The energy product ``product`` defaults to
    ``A(mu_bar)``; the coercivity lower bound is the min-theta bound (Patera & Rozza 2007),
    ``alpha_LB(mu) = min_q theta_q(mu) / theta_q(mu_bar)``, valid when every ``A_q`` is positive
    semi-definite and every ``theta_q > 0``. It is a lower bound in ``product`` only if ``v^T product v <=
    v^T A(mu_bar) v`` for the errors ``v`` (true for the default product): with a stronger ``product``
    (e.g. ``10 * A(mu_bar)``) the error "bound" of the reduced models is too small by that factor.

    Parameters
    ----------
    operators : sequence of sparse matrices
        The affine components ``A_q``, all ``N x N``.
    rhs : ndarray, shape (N,)
        The (parameter-independent) right-hand side.
    parameter_ranges : sequence of (low, high)
        Box of admissible parameters, one pair per parameter.
    theta : callable, optional
        ``theta(mu) -> (Q,)`` coefficients; default :class:`AffineCoefficients` ``()`` (``theta = mu``).
    mu_bar : ndarray, optional
        Reference parameter of the energy product (default: all ones).
    product : sparse matrix, optional
        Inner product of the solution space (default ``A(mu_bar)``).
    grid : tuple, optional
        ``(n, interior_nodes)`` of a :func:`unit_square_mesh`, used only to plot fields.
    name : str

    Examples
    --------
    >>> fom = thermal_block(blocks=(2, 2), n=8)
    >>> u = fom.solve([0.1, 0.5, 1.0, 0.3])
    >>> u.shape, fom.n_parameters
    ((49,), 4)
    """

    def __init__(
        self,
        operators: Sequence[sp.spmatrix],
        rhs: np.ndarray,
        parameter_ranges: Sequence[tuple[float, float]],
        *,
        theta: Callable[[np.ndarray], np.ndarray] | None = None,
        mu_bar: np.ndarray | None = None,
        product: sp.spmatrix | None = None,
        grid: tuple | None = None,
        name: str = "stationary",
    ) -> None:
        if not operators:
            raise ValueError("operators must hold at least one matrix")
        self.operators = [sp.csr_matrix(A, dtype=np.float64) for A in operators]
        n = self.operators[0].shape[0]
        if any(A.shape != (n, n) for A in self.operators):
            raise ValueError(f"operators must all be square of the same size, got {[A.shape for A in self.operators]}")
        self.rhs = np.asarray(rhs, dtype=np.float64).reshape(-1)
        if self.rhs.shape != (n,):
            raise ValueError(f"rhs must have shape ({n},), got {np.shape(rhs)}")
        ranges = np.asarray(parameter_ranges, dtype=np.float64)
        if (
            ranges.ndim != 2
            or ranges.shape[1] != 2
            or len(ranges) == 0
            or not np.all(np.isfinite(ranges))
            or np.any(ranges[:, 0] > ranges[:, 1])
        ):
            raise ValueError(
                "parameter_ranges must be a non-empty sequence of finite (low, high) pairs with "
                f"low <= high, got {parameter_ranges!r}"
            )
        self.parameter_ranges = ranges
        self.theta = theta if theta is not None else AffineCoefficients()
        self.mu_bar = np.ones(len(ranges)) if mu_bar is None else np.asarray(mu_bar, dtype=np.float64)
        if self.mu_bar.shape != (len(ranges),) or not np.all(np.isfinite(self.mu_bar)):
            raise ValueError(f"mu_bar must be a finite array of shape ({len(ranges)},), got {mu_bar!r}")
        q = self.theta(self.mu_bar)
        if q.shape != (len(self.operators),):
            raise ValueError(f"theta(mu) must return {len(self.operators)} coefficients, got shape {q.shape}")
        if not np.all(q > 0):
            raise ValueError(f"theta(mu_bar) must be > 0 (the min-theta coercivity bound divides by it), got {q}")
        self._theta_bar = q
        if product is None:
            P = self._assemble(self.mu_bar)
            a = asymmetry(P)
            if a > 1e-10:
                # a non-symmetric A(mu_bar) (advection) is no inner product: use its symmetric part, the energy
                # product of coercive non-symmetric problems (Patera & Rozza 2007, ch. 4)
                warnings.warn(
                    f"the default energy product A(mu_bar) is not symmetric (max|A - A^T| / max|A| = "
                    f"{a:.2e}); using its symmetric part (A + A^T) / 2 as the inner product",
                    UserWarning,
                    stacklevel=2,
                )
                P = ((P + P.T) * 0.5).tocsr()
            if not is_positive_definite(P):
                raise ValueError(
                    "the default energy product A(mu_bar) (symmetric part) is not positive definite: "
                    "pass product= (a symmetric positive definite matrix) or another mu_bar"
                )
            self.product = P
        else:
            self.product = sp.csr_matrix(check_product(product, n))
        self.grid = grid
        self.name = name

    # ------------------------------------------------------------------ basic queries
    @property
    def n_dofs(self) -> int:
        return self.operators[0].shape[0]

    @property
    def n_parameters(self) -> int:
        return len(self.parameter_ranges)

    def parse(self, mu: Sequence[float] | np.ndarray, name: str = "mu") -> np.ndarray:
        """``mu`` (one parameter, or a batch of shape ``(m, p)``) as a float array inside the parameter box.

        Raises ``ValueError`` naming ``mu`` for a wrong shape, NaN/Inf or a value outside ``parameter_ranges``
        (where the model is not defined: e.g. a conductivity ``<= 0``).
        """
        try:
            mu = np.asarray(mu, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be an array of {self.n_parameters} numbers, got {mu!r}") from err
        if mu.shape[-1:] != (self.n_parameters,) or mu.ndim > 2:
            raise ValueError(f"{name} must have shape ({self.n_parameters},), got {mu.shape}")
        if not np.all(np.isfinite(mu)):
            raise ValueError(f"{name} must be finite, got {mu}")
        lo, hi = self.parameter_ranges[:, 0], self.parameter_ranges[:, 1]
        slack = 1e-12 * np.maximum(np.abs(lo), np.abs(hi))
        if np.any(mu < lo - slack) or np.any(mu > hi + slack):
            raise ValueError(f"{name} must lie in the parameter box {self.parameter_ranges.tolist()}, got {mu}")
        return mu

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` parameters drawn uniformly from the parameter box."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        lo, hi = self.parameter_ranges[:, 0], self.parameter_ranges[:, 1]
        return lo + (hi - lo) * rng.random((n, self.n_parameters))

    def operator(self, mu: Sequence[float] | np.ndarray) -> sp.csr_matrix:
        """The assembled ``A(mu)`` (``mu`` checked against the parameter box)."""
        mu = self.parse(mu)
        if mu.ndim != 1:
            raise ValueError(f"mu must have shape ({self.n_parameters},) (one parameter), got {mu.shape}")
        return self._assemble(mu)

    def _assemble(self, mu: np.ndarray) -> sp.csr_matrix:
        th = self.theta(mu)
        A = self.operators[0] * th[0]
        for t, Aq in zip(th[1:], self.operators[1:]):
            A = A + t * Aq
        return A.tocsr()

    def coercivity_lower_bound(self, mu: np.ndarray) -> np.ndarray:
        """Min-theta lower bound of the coercivity constant w.r.t. ``product`` (vectorised over rows)."""
        return np.min(self.theta(self.parse(mu)) / self._theta_bar, axis=-1)

    def solve(self, mu: Sequence[float] | np.ndarray) -> np.ndarray:
        """Solve the full model at ``mu`` (sparse direct solver)."""
        return spla.spsolve(self.operator(mu).tocsc(), self.rhs)

    def energy_norm(self, u: np.ndarray, mu: Sequence[float] | np.ndarray | None = None) -> float:
        """``sqrt(u^T A(mu) u)``, or the ``product`` norm when ``mu`` is None."""
        M = self.product if mu is None else self.operator(mu)
        return float(np.sqrt(max(u @ (M @ u), 0.0)))

    def field(self, u: np.ndarray) -> np.ndarray:
        """A solution vector as an ``(n+1) x (n+1)`` image (zero Dirichlet boundary), when the model has a grid."""
        if self.grid is None:
            raise ValueError("this model has no structured grid to plot on")
        n, interior = self.grid
        full = np.zeros((n + 1) ** 2)
        full[interior] = u
        return full.reshape(n + 1, n + 1)

    def __repr__(self) -> str:
        return f"StationaryAffineModel({self.name!r}, dofs={self.n_dofs}, Q={len(self.operators)})"


def thermal_block(
    blocks: tuple[int, int] = (2, 2), n: int = 64, mu_range: tuple[float, float] = (0.1, 1.0)
) -> StationaryAffineModel:
    """The thermal block problem (Maday & Ronquist 2004; pyMOR's ``thermal_block_problem``).

    ``-div(d(x; mu) grad u) = 1`` in the unit square, ``u = 0`` on the boundary, ``d = mu_q`` on block ``q``
    (blocks numbered along x first). P1 finite elements on ``n x n`` squares cut into two triangles each,
    assembled with numba; the Dirichlet nodes are eliminated, so ``A(mu) = sum_q mu_q A_q`` holds on the
    ``(n-1)**2`` interior unknowns and the energy product ``A(1)`` is the H1_0 semi-inner product.
    The conductivities range over ``mu_range`` (``0 < low <= high``); ``solve`` refuses a ``mu`` outside it.

    Parameters
    ----------
    blocks : tuple of int, default (2, 2)
        Blocks along x and y (one conductivity each).
    n : int, default 64
        Squares per side of the mesh (a multiple of each block count).
    mu_range : tuple of float, default (0.1, 1.0)
        Range of each conductivity.

    Returns
    -------
    StationaryAffineModel

    Examples
    --------
    >>> fom = thermal_block(blocks=(3, 3), n=12)
    >>> len(fom.operators), fom.n_dofs
    (9, 121)
    """
    if not isinstance(blocks, tuple | list) or len(blocks) != 2:
        raise TypeError(f"blocks must be a pair (bx, by), got {blocks!r}")
    bx, by = blocks
    for name, value in (("blocks[0]", bx), ("blocks[1]", by), ("n", n)):
        check_positive(name, value, integer=True)
    if not isinstance(mu_range, tuple | list) or len(mu_range) != 2:
        raise TypeError(f"mu_range must be a pair (low, high), got {mu_range!r}")
    lo, hi = mu_range
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (lo, hi)) or not (
        0 < lo <= hi
    ):
        raise ValueError(f"mu_range must be finite conductivities with 0 < low <= high, got {mu_range!r}")
    if n % bx or n % by:
        raise ValueError(f"n must be divisible by the number of blocks in each direction, got n={n}, blocks={blocks}")
    nodes, tris = unit_square_mesh(n)
    centroid = nodes[tris].mean(axis=1)
    ix = np.minimum((centroid[:, 0] * bx).astype(int), bx - 1)
    block = ix + bx * np.minimum((centroid[:, 1] * by).astype(int), by - 1)
    interior = np.setdiff1d(np.arange(len(nodes)), boundary_nodes(n))
    ops = []
    for q in range(bx * by):
        K = assemble_stiffness(nodes, tris, (block == q).astype(np.float64))
        ops.append(K[interior][:, interior])
    f = assemble_load(nodes, tris)[interior]
    return StationaryAffineModel(ops, f, [mu_range] * (bx * by), grid=(n, interior), name=f"thermal_block_{bx}x{by}")
