"""TV deblurring: REMODEL's preconditioned primal-dual and deepinv's PGD with its TV prior solve the same problem.

The benchmark compares the two at convergence (same lambda, same objective); this checks on a small problem that
they reach the same minimiser, which holds only if the discretisation (isotropic forward differences, Neumann
boundary) and the scaling of the data term (``1/2 ||Ax - y||^2``) agree. deepinv is in the ``bench`` group.
"""

from __future__ import annotations

import pytest
import torch
from remodel_core import solve
from remodel_imaging import GaussianBlur, InverseProblem, TVPrimalDual, camera, psnr, tv_objective

deepinv = pytest.importorskip("deepinv")


def _deepinv_tv(prob: InverseProblem, lam: float, iters: int) -> torch.Tensor:
    from deepinv.optim.prior import TVPrior

    A = prob.operator
    physics = deepinv.physics.LinearPhysics(A=lambda x, **kw: A.apply(x), A_adjoint=lambda y, **kw: A.apply_adjoint(y))
    model = deepinv.optim.PGD(
        data_fidelity=deepinv.optim.data_fidelity.L2(),
        prior=TVPrior(n_it_max=100),
        lambda_reg=lam,
        stepsize=1.9 / A.norm() ** 2,
        max_iter=iters,
        crit_conv="residual",
        thres_conv=1e-8,
        early_stop=True,
    )
    with torch.no_grad():
        return model(prob.y[None, None], physics)[0, 0].double()


def test_tv_primal_dual_and_deepinv_reach_the_same_minimiser():
    torch.set_num_threads(1)
    x = camera(24)
    prob = InverseProblem.simulate(GaussianBlur(x.shape, sigma=1.5), x, noise_sigma=0.03, seed=0)
    lam = 0.01
    ours = solve(prob, TVPrimalDual(lam=lam, tol=1e-7), maxiters=5000).u
    theirs = _deepinv_tv(prob, lam, 600)
    f_ours, f_theirs = tv_objective(ours, prob, lam), tv_objective(theirs, prob, lam)
    assert abs(f_ours - f_theirs) <= 1e-5 * f_theirs
    # a TV weight off by 10 % in either solver (a wrong scaling of the TV or data term) gives 4e-4, 5.7e-3, 0.085
    assert float((ours - theirs).norm() / theirs.norm()) < 3e-3
    assert abs(psnr(ours, x) - psnr(theirs, x)) < 0.02
