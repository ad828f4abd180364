"""FISTA for TV (Beck & Teboulle 2009), its FGP proximal map, and the discrepancy principle for lam."""

import math

import pytest
import torch
from remodel_core import solve
from remodel_imaging import (
    FISTA,
    DiscrepancyPrinciple,
    GaussianBlur,
    InverseProblem,
    LipschitzDenoiser,
    SLLConv2d,
    TVPrimalDual,
    camera,
    discrepancy_target,
    fgp_tv_prox,
    lipschitz_estimate,
    psnr,
    tv_objective,
)

LAM = 0.02


@pytest.fixture(scope="module")
def tv_case():
    x = camera(12)
    prob = InverseProblem.simulate(GaussianBlur((12, 12), sigma=1.0), x, noise_sigma=0.02, seed=0)
    ref = solve(prob, TVPrimalDual(lam=LAM, tol=1e-10), maxiters=20000)
    return prob, ref.u, tv_objective(ref.u, prob, LAM)


def test_fgp_prox_matches_the_primal_dual_tv_denoiser_and_its_optimality():
    gen = torch.Generator().manual_seed(0)
    b = camera(10) + 0.05 * torch.randn(10, 10, generator=gen, dtype=torch.float64)
    x, p, _ = fgp_tv_prox(b, 0.05, iters=5000, tol=1e-13)
    # the same minimiser as the primal-dual solver on the denoising problem (A = identity blur of width ~0)
    from remodel_imaging import Mask

    prob = InverseProblem(Mask(torch.ones(10, 10, dtype=torch.bool)), b)
    ref = solve(prob, TVPrimalDual(lam=0.05, tol=1e-10), maxiters=20000).u
    assert float((x - ref).norm() / ref.norm()) < 1e-5
    # the dual certifies it: x = b - t ∇^* p with |p| <= 1
    assert float(p.pow(2).sum(0).sqrt().max()) <= 1 + 1e-12
    # with a box, the constraint holds exactly
    xb, _, _ = fgp_tv_prox(b, 0.05, box=(0.2, 0.6), iters=200)
    assert float(xb.min()) >= 0.2 and float(xb.max()) <= 0.6


def test_fista_reaches_the_primal_dual_minimiser(tv_case):
    prob, x_star, f_star = tv_case
    sol = solve(prob, FISTA(lam=LAM, tol=1e-6, inner_tol=1e-9, inner_iters=300), maxiters=1000)
    assert sol.retcode.name == "Success"
    assert sol.stats["gap"] <= 1e-6 * f_star * 1.0001
    assert abs(tv_objective(sol.u, prob, LAM) - f_star) <= 1e-6 * f_star
    assert float((sol.u - x_star).norm() / x_star.norm()) < 1e-3


def test_fista_objective_gap_is_o_one_over_k_squared_and_beats_ista(tv_case):
    prob, x_star, f_star = tv_case
    opts = dict(lam=LAM, tol=0.0, inner_tol=1e-8, inner_iters=200)
    fista = solve(prob, FISTA(**opts), maxiters=60)
    ista = solve(prob, FISTA(accelerated=False, **opts), maxiters=60)
    gap_f = torch.tensor(fista.history["objective"], dtype=torch.float64) - f_star
    gap_i = torch.tensor(ista.history["objective"], dtype=torch.float64) - f_star
    k = torch.arange(1, 61, dtype=torch.float64)
    r2 = float((prob.operator.apply_adjoint(prob.y) - x_star).pow(2).sum())
    # Beck & Teboulle 2009, Theorem 4.4: F(x_k) - F* <= 2 L ||x_0 - x*||^2 / (k + 1)^2
    assert bool((gap_f <= 2 * fista.stats["L"] * r2 / (k + 1) ** 2 + 1e-9 * f_star).all())
    # and the acceleration is real: far below the plain proximal gradient after 60 steps
    assert float(gap_f[-1]) < 0.01 * float(gap_i[-1])


def test_monotone_fista_never_increases_the_objective(tv_case):
    prob, _, _ = tv_case
    sol = solve(prob, FISTA(lam=LAM, monotone=True, inner_iters=20, inner_tol=1e-3, tol=0.0), maxiters=40)
    obj = sol.history["objective"]
    assert all(b <= a + 1e-12 for a, b in zip(obj, obj[1:], strict=False))


def test_discrepancy_principle_finds_lam_near_the_oracle():
    x = camera(16)
    prob = InverseProblem.simulate(GaussianBlur((16, 16), sigma=1.0), x, noise_sigma=0.05, seed=0)
    base = TVPrimalDual(tol=1e-3)
    sol = solve(prob, DiscrepancyPrinciple(algorithm=base, rtol=0.01))
    assert sol.retcode.name == "Success"
    target = discrepancy_target(prob)
    assert target == pytest.approx(0.05 * 16)
    assert abs(sol.stats["residual"] - target) <= 0.01 * target
    # the residual grows with lam along the bisection's evaluations (Morozov's monotonicity)
    pairs = sorted(zip(sol.history["lam"], sol.history["residual"], strict=True))
    assert all(b[1] >= a[1] - 1e-6 * target for a, b in zip(pairs, pairs[1:], strict=False))
    lam = sol.stats["lam"]
    grid = [lam * 2.0**j for j in range(-3, 4)]
    scores = [psnr(solve(prob, TVPrimalDual(lam=g, tol=1e-3)).u, x) for g in grid]
    oracle = grid[max(range(len(grid)), key=scores.__getitem__)]
    # Morozov with tau = 1 over-smooths a little (the reconstruction also fits part of the noise): measured
    # lam = 4x the oracle on this 16x16 problem, 1.06 dB below the oracle's PSNR
    assert 1 / 5 <= lam / oracle <= 5
    assert psnr(sol.u, x) >= max(scores) - 1.5


def test_discrepancy_principle_needs_the_noise_level_and_a_bracket():
    prob = InverseProblem(GaussianBlur((8, 8), sigma=1.0), torch.zeros(8, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="noise_sigma"):
        solve(prob, DiscrepancyPrinciple(algorithm=TVPrimalDual()))
    with pytest.raises(ValueError, match="noise_sigma"):
        discrepancy_target(prob)
    # a noise level no lam can reach (tau far too large): Failure, not a silent answer
    x = camera(8)
    noisy = InverseProblem.simulate(GaussianBlur((8, 8), sigma=1.0), x, noise_sigma=0.01, seed=0)
    sol = solve(noisy, DiscrepancyPrinciple(algorithm=TVPrimalDual(tol=1e-3), tau=1e3, expand=1))
    assert sol.retcode.name == "Failure" and "no bracket" in sol.stats["message"]


@pytest.mark.parametrize(("activation", "relaxed"), [("clip", False), ("clip", True), ("relu", True)])
def test_sll_variants_stay_nonexpansive(activation, relaxed):
    gen = torch.Generator().manual_seed(1)
    layer = SLLConv2d(3, 6, activation=activation, relaxed=relaxed).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    for _ in range(5):
        x = torch.randn(2, 3, 8, 8, generator=gen, dtype=torch.float64)
        z = x + 0.1 * torch.randn(2, 3, 8, 8, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            assert float((layer(x) - layer(z)).norm()) <= float((x - z).norm()) * (1 + 1e-12)
    est = lipschitz_estimate(layer, torch.randn(1, 3, 8, 8, generator=gen, dtype=torch.float64), iters=100)
    assert est <= 1 + 1e-9
    den = LipschitzDenoiser(channels=2, hidden=4, depth=2, activation=activation, relaxed=relaxed)
    assert den.lipschitz_bound() == 1.0


def test_clip_activation_is_soft_thresholding_in_an_orthonormal_frame():
    # K = identity (1 channel -> 1 hidden, centre tap 1): T = 1 and (I + h)/2 = x - clamp(x, -tau, tau)
    layer = SLLConv2d(1, 1, activation="clip").double()
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[0, 0, 1, 1] = 1.0
        layer.log_tau.fill_(math.log(0.3))
    x = torch.linspace(-1, 1, 25, dtype=torch.float64).reshape(1, 1, 5, 5)
    with torch.no_grad():
        half = (x + layer(x)) / 2
    soft = torch.sign(x) * (x.abs() - 0.3).clamp_min(0)
    assert torch.allclose(half, soft, atol=1e-12)


def _blur_prob(n=8, sigma=0.0):
    return InverseProblem(GaussianBlur((n, n), sigma=1.0), torch.zeros(n, n, dtype=torch.float64), noise_sigma=sigma)


@pytest.mark.parametrize(
    ("alg", "exc", "match"),
    [
        (lambda: FISTA(lam=-1.0), ValueError, "lam"),
        (lambda: FISTA(lam="x"), TypeError, "lam"),
        (lambda: FISTA(tol=-1.0), ValueError, "tol"),
        (lambda: FISTA(inner_tol=-1.0), ValueError, "inner_tol"),
        (lambda: FISTA(inner_iters=0), ValueError, "inner_iters"),
        (lambda: FISTA(inner_iters=2.5), TypeError, "inner_iters"),
        (lambda: FISTA(gap_every=0), ValueError, "gap_every"),
        (lambda: FISTA(accelerated=1), TypeError, "accelerated"),
        (lambda: FISTA(monotone="no"), TypeError, "monotone"),
        (lambda: FISTA(box=(1.0, 0.0)), ValueError, "box"),
        (lambda: FISTA(box=[0.0, 1.0]), ValueError, "box"),
        (lambda: DiscrepancyPrinciple(algorithm="tv"), TypeError, "algorithm"),
        (lambda: DiscrepancyPrinciple(algorithm=TVPrimalDual(), parameter="weight"), ValueError, "parameter"),
        (lambda: DiscrepancyPrinciple(algorithm=TVPrimalDual(), tau=0.0), ValueError, "tau"),
        (lambda: DiscrepancyPrinciple(algorithm=TVPrimalDual(), rtol=-0.1), ValueError, "rtol"),
        (lambda: DiscrepancyPrinciple(algorithm=TVPrimalDual(), bracket=(0.1, 0.01)), ValueError, "bracket"),
        (lambda: DiscrepancyPrinciple(algorithm=TVPrimalDual(), bracket=(0.0, 1.0)), ValueError, "bracket"),
        (lambda: DiscrepancyPrinciple(algorithm=TVPrimalDual(), expand=-1), ValueError, "expand"),
        (lambda: DiscrepancyPrinciple(algorithm=TVPrimalDual(), inner_maxiters=0), ValueError, "inner_maxiters"),
        (lambda: DiscrepancyPrinciple(algorithm=TVPrimalDual(lam=-1.0)), ValueError, "lam"),
    ],
)
def test_fista_and_discrepancy_bad_options_are_refused_by_solve(alg, exc, match):
    with pytest.raises(exc, match=match):
        solve(_blur_prob(sigma=0.1), alg())


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: SLLConv2d(2, 4, activation="tanh"), ValueError, "activation"),
        (lambda: SLLConv2d(2, 4, relaxed=1), TypeError, "relaxed"),
        (lambda: LipschitzDenoiser(activation="gelu"), ValueError, "activation"),
        (lambda: discrepancy_target(_blur_prob(), 1.0), ValueError, "noise_sigma"),
        (lambda: discrepancy_target(_blur_prob(sigma=0.1), 0.0), ValueError, "tau"),
        (lambda: discrepancy_target("problem"), TypeError, "problem"),
        (lambda: solve(_blur_prob(), DiscrepancyPrinciple(algorithm=FISTA())), ValueError, "noise_sigma"),
    ],
)
def test_new_objects_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
