"""Reductor algorithms on a :class:`ReductionProblem`: POD-Galerkin and the reduced-basis weak greedy."""

from __future__ import annotations

import dataclasses

import numpy as np
from remodel_core import Algorithm, ProgressBar, ReturnCode, Solution, SolveContext, check_positive, want_progress

from ._linalg import GramSchmidt
from ._pod import POD
from ._problem import ReductionProblem
from ._reduced import ReducedStationaryModel, ResidualEstimator
from ._stationary import StationaryAffineModel


def _snapshots(fom, mus: np.ndarray, ctx: SolveContext, label: str = "snapshots") -> np.ndarray:
    rows = []
    with ProgressBar(label, len(mus), enabled=want_progress(ctx.options.progress)) as bar:
        for mu in mus:
            rows.append(fom.solve(mu))
            bar.advance()
    ctx.stats["fom_solves"] = ctx.stats.get("fom_solves", 0) + len(mus)
    return np.array(rows)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PODGalerkin(Algorithm):
    """POD-Galerkin reduction with offline/online splitting.

    Offline: full solves on the training set, a POD in the model's energy product, projection of every
    affine component (``V^T A_q V``) and of the residual's Riesz representers. Online: reduced assembly and a
    dense solve (see :class:`ReducedStationaryModel`). For a :class:`BurgersModel` or
    :class:`InstationaryAffineModel` the snapshots are whole trajectories and nonlinear terms are
    hyper-reduced with DEIM (Chaturantabut & Sorensen 2010) using ``deim_size`` points.

    Parameters
    ----------
    basis_size : int, optional
        Number of POD modes (default: the energy criterion).
    energy : float
        POD energy kept when ``basis_size`` is None.
    deim_size : int, optional
        DEIM points for a nonlinear model (default ``2 * basis_size``).

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_rom import ReductionProblem, thermal_block
    >>> sol = solve(ReductionProblem(thermal_block(n=16), training=20), PODGalerkin(basis_size=8))
    >>> sol.u.basis_size, sol.stats["fom_solves"]
    (8, 20)
    """

    problem_types = (ReductionProblem,)
    supported_options = frozenset({"seed", "progress"})
    basis_size: int | None = None
    energy: float = 0.99999999
    deim_size: int | None = None

    def validate(self) -> None:
        if self.basis_size is not None:
            check_positive("basis_size", self.basis_size, integer=True)
        if not (0 < self.energy <= 1):
            raise ValueError(f"energy must lie in (0, 1], got {self.energy!r}")
        if self.deim_size is not None:
            check_positive("deim_size", self.deim_size, integer=True)

    def _solve(self, problem: ReductionProblem, ctx: SolveContext) -> Solution:
        fom = problem.fom
        mus = problem.training_set(ctx.rng)
        if not isinstance(fom, StationaryAffineModel):
            from ._timedep import reduce_instationary

            return reduce_instationary(self, fom, mus, ctx)
        S = _snapshots(fom, mus, ctx)
        pod = POD(n_components=self.basis_size, energy=self.energy, product=fom.product).fit(S)
        rom = ReducedStationaryModel(fom, pod.components_.T)
        ctx.stats["basis_size"] = rom.basis_size
        ctx.log(basis_size=rom.basis_size, energy=pod.explained_energy_ratio_)
        rom.singular_values = pod.singular_values_
        return Solution(u=rom, retcode=ReturnCode.Success, stats=dict(ctx.stats), history=ctx.history)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RBGreedy(Algorithm):
    """The reduced-basis weak greedy with a residual-based a-posteriori error estimator.

    Each step picks the training parameter with the largest error bound
    ``Delta(mu) = ||r(mu)||_{X'} / alpha_LB(mu)`` (min-theta coercivity lower bound), solves the full model
    there and adds the ``X``-orthonormalised solution to the basis (Veroy, Prud'homme, Rovas & Patera 2003;
    Binev et al. 2011 for the weak-greedy rates). The estimator of all training parameters is evaluated
    online in one batch.

    Parameters
    ----------
    basis_size : int
        Maximal basis size.
    atol : float, optional
        Stop when the largest estimated error on the training set falls below ``atol``.
    rtol : float, optional
        The same relative to the energy norm of the first snapshot.

    The shared options of :func:`remodel_core.solve` apply per extension: ``maxiters`` caps the number of
    greedy steps, ``maxtime`` the offline time, and ``callback`` may stop the greedy.

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_rom import ReductionProblem, thermal_block
    >>> sol = solve(ReductionProblem(thermal_block(n=16), training=40), RBGreedy(basis_size=10))
    >>> sol.u.basis_size, sol.history["max_estimate"][-1] < sol.history["max_estimate"][0]
    (10, True)
    """

    problem_types = (ReductionProblem,)
    supported_options = frozenset({"maxiters", "maxtime", "callback", "seed", "progress"})
    basis_size: int = 20
    atol: float | None = None
    rtol: float | None = None

    def validate(self) -> None:
        check_positive("basis_size", self.basis_size, integer=True)
        if self.atol is not None:
            check_positive("atol", self.atol)
        if self.rtol is not None:
            check_positive("rtol", self.rtol)

    def _solve(self, problem: ReductionProblem, ctx: SolveContext) -> Solution:
        fom = problem.fom
        if not isinstance(fom, StationaryAffineModel):
            raise TypeError(f"RBGreedy reduces a StationaryAffineModel, got {type(fom).__name__}")
        mus = problem.training_set(ctx.rng)
        estimator = ResidualEstimator(fom)
        basis = GramSchmidt(fom.n_dofs, fom.product)
        rom: ReducedStationaryModel | None = None
        scale: float | None = None
        retcode = ReturnCode.MaxIters
        with ProgressBar("rb greedy", self.basis_size, enabled=want_progress(ctx.options.progress)) as bar:
            while True:
                if rom is None:
                    # the empty basis: u_r = 0, residual f, bound ||f||_X' / alpha_LB(mu) (as pyMOR's rb_greedy)
                    est = np.linalg.norm(estimator.matrices(0)[0]) / fom.coercivity_lower_bound(mus)
                    k = int(np.argmax(est))
                else:
                    est = rom.estimate_errors(mus)
                    k = int(np.argmax(est))
                    ctx.log(basis_size=rom.basis_size, max_estimate=float(est[k]), time=ctx.elapsed())
                    if self.atol is not None and est[k] <= self.atol:
                        retcode = ReturnCode.Success
                        break
                    if self.rtol is not None and scale is not None and est[k] <= self.rtol * scale:
                        retcode = ReturnCode.Success
                        break
                    if rom.basis_size >= self.basis_size:
                        break
                    reason = ctx.stop_reason(iteration=rom.basis_size)  # maxiters, maxtime, callback of solve
                    if reason is not None:
                        retcode = reason
                        break
                u = fom.solve(mus[k])
                ctx.stats["fom_solves"] = ctx.stats.get("fom_solves", 0) + 1
                if scale is None:
                    scale = fom.energy_norm(u)
                if not basis.add(u):
                    retcode = ReturnCode.Success  # the training set's solutions are already in the basis
                    break
                estimator.extend(basis.Q[:, -1])
                rom = ReducedStationaryModel(fom, basis.Q, estimator=estimator)
                bar.advance(status=f"max est={float(np.max(est)):.2e}")
        assert rom is not None
        ctx.stats["basis_size"] = ctx.stats["iterations"] = rom.basis_size
        return Solution(u=rom, retcode=retcode, stats=dict(ctx.stats), history=ctx.history)
