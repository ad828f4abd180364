import math

import pytest
import torch
from remodel_core import ReturnCode, solve
from remodel_imaging import (
    RED,
    AveragedDenoiser,
    ChambollePock,
    GaussianBlur,
    InverseProblem,
    LipschitzDenoiser,
    Mask,
    MotionBlur,
    PnPADMM,
    PnPHQS,
    PnPPGD,
    Radon,
    TVPrimalDual,
    camera,
    data_prox,
    psnr,
    ssim,
    train_denoiser,
    tv_objective,
)
from remodel_imaging._tv import tv_gap
from remodel_imaging._unrolled import (
    LearnedPrimalDual,
    Unrolled,
    UnrolledPGD,
    pnp_fixed_point_forward,
    train_reconstruction,
)


def test_tv_primal_dual_matches_scikit_image_denoiser_within_0_1_db():
    from skimage.restoration import denoise_tv_chambolle

    image = camera(32)
    prob = InverseProblem.simulate(Mask(torch.ones(32, 32, dtype=torch.bool)), image, noise_sigma=0.1, seed=0)
    lam = 0.1
    ref = torch.from_numpy(denoise_tv_chambolle(prob.y.numpy(), weight=lam, eps=1e-8, max_num_iter=1000))
    for data in ("prox", "dual"):
        sol = solve(prob, TVPrimalDual(lam=lam, data=data if data == "dual" else "auto", tol=1e-4), maxiters=1500)
        assert abs(psnr(sol.u, image) - psnr(ref, image)) < 0.1
        assert tv_objective(sol.u, prob, lam) <= tv_objective(ref, prob, lam) * (1 + 1e-4)


def test_tv_primal_dual_reaches_the_converged_psnr_faster_than_the_old_solver():
    x = camera(40)
    prob = InverseProblem.simulate(GaussianBlur((40, 40), sigma=1.5), x, noise_sigma=0.03, seed=0)
    lam = 0.005
    new = solve(prob, TVPrimalDual(lam=lam, tol=0.0), maxiters=600)
    # the other splitting (data term dualised, diagonal preconditioning) is an independent reference
    ref = solve(prob, TVPrimalDual(lam=lam, tol=0.0, data="dual"), maxiters=600)
    old = solve(prob, ChambollePock(lam=lam, tol=0.0), maxiters=600)
    f_new, f_ref = tv_objective(new.u, prob, lam), tv_objective(ref.u, prob, lam)
    assert abs(f_new - f_ref) <= 1e-5 * f_ref
    target = psnr(ref.u, x)
    assert abs(psnr(new.u, x) - target) < 0.001

    def iters_to(hist):
        k = len(hist)
        while k > 0 and abs(hist[k - 1] - target) <= 0.01:
            k -= 1
        return k + 1

    k_new, k_old = iters_to(new.history["psnr"]), iters_to(old.history["psnr"])
    assert k_new < 150 and 3 * k_new < k_old


def test_tv_gap_certifies_suboptimality_and_stops():
    x = camera(24)
    prob = InverseProblem.simulate(MotionBlur((24, 24), length=5, angle=20), x, noise_sigma=0.02, seed=0)
    lam = 0.01
    sol = solve(prob, TVPrimalDual(lam=lam, tol=1e-3, box=(0.0, 1.0), data="dual"), maxiters=3000)
    assert sol.retcode is ReturnCode.Success
    gaps = [g for g in sol.history["gap"] if not math.isnan(g)]
    assert all(g >= -1e-9 for g in gaps)  # weak duality
    ref = solve(prob, TVPrimalDual(lam=lam, tol=1e-6, box=(0.0, 1.0), data="dual"), maxiters=3000)
    # the certificate bounds the true suboptimality
    assert tv_objective(sol.u, prob, lam) - tv_objective(ref.u, prob, lam) <= gaps[-1] + 1e-9
    assert float(sol.u.min()) >= 0.0 and float(sol.u.max()) <= 1.0
    primal, gap = tv_gap(ref.u, torch.zeros(2, 24, 24, dtype=torch.float64), prob.operator, prob.y, lam, (0.0, 1.0))
    assert gap > 0  # a poor dual point gives a large gap


def test_tv_on_tomography_uses_the_dual_splitting():
    x = camera(16)
    R = Radon(16, angles=12)
    prob = InverseProblem.simulate(R, x, noise_sigma=0.05, seed=0)
    sol = solve(prob, TVPrimalDual(lam=0.5), maxiters=150)
    assert sol.stats["splitting"] == "dual"
    assert psnr(sol.u, x) > psnr(R.fbp(prob.y).clamp(0, 1), x)


def test_data_prox_exact_by_fft_and_by_cg():
    x = camera(16)
    A = GaussianBlur((16, 16), sigma=1.2)
    y = A(x)
    v = torch.rand(16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    p = data_prox(A, y, v, 0.7, v)
    # optimality: A^T(A p - y) + (p - v)/gamma = 0
    assert float((A.adjoint(A(p) - y) + (p - v) / 0.7).abs().max()) < 1e-10
    R = Radon(16, angles=6)
    yr = R(x)
    pr = data_prox(R, yr, v, 0.1, v)
    assert float((R.adjoint(R(pr) - yr) + (pr - v) / 0.1).abs().max()) < 1e-6


@pytest.fixture(scope="module")
def tiny_denoiser():
    # a tiny nonexpansive denoiser trained for a few steps (float64 so the fixed-point residual can reach 1e-8)
    from remodel_imaging import random_patches

    patches = random_patches(64, 16, images=("coins", "moon", "brick"), scale=64, dtype=torch.float64)
    torch.manual_seed(0)
    sol = train_denoiser(
        LipschitzDenoiser(channels=4, hidden=8, depth=2).double(),
        patches,
        noise_sigma=0.05,
        iters=30,
        lr=3e-3,
        batch_size=8,
    )
    assert sol.history["loss"][-1] < sol.history["loss"][0]
    return sol.u.eval()


def test_pnp_pgd_with_a_nonexpansive_denoiser_converges(tiny_denoiser):
    x = camera(32)
    prob = InverseProblem.simulate(GaussianBlur((32, 32), sigma=1.0), x, noise_sigma=0.03, seed=0)
    sol = solve(prob, PnPPGD(denoiser=tiny_denoiser, step=1.9, relaxation=0.8, tol=1e-8), maxiters=2000)
    assert sol.retcode is ReturnCode.Success
    res = sol.history["fp_residual"]
    assert res[-1] <= 1e-8
    # Krasnoselskii-Mann: the residual of a nonexpansive map is nonincreasing (up to float rounding)
    assert all(b <= a * (1 + 1e-6) + 1e-12 for a, b in zip(res[5:], res[6:]))
    # the limit is a fixed point of T = D(x - gamma grad f)
    A = prob.operator
    gamma = 1.9 / sol.stats["norm_A"] ** 2
    with torch.no_grad():
        tx = tiny_denoiser((sol.u - gamma * A.adjoint(A(sol.u) - prob.y))[None, None])[0, 0]
    assert float((tx - sol.u).norm() / sol.u.norm()) < 1e-6
    assert psnr(sol.u, x) > psnr(prob.y, x)
    assert 0 < ssim(sol.u, x) <= 1


def test_pnp_with_an_expansive_map_is_not_certified_to_converge():
    # breaking nonexpansiveness on purpose (D = 1.5 x): the iteration diverges and solve says so
    x = camera(16)
    prob = InverseProblem.simulate(GaussianBlur((16, 16), sigma=1.0), x, noise_sigma=0.01, seed=0)
    sol = solve(prob, PnPPGD(denoiser=lambda z: 1.5 * z, step=1.0, relaxation=1.0), maxiters=200)
    assert sol.retcode is ReturnCode.MaxIters
    res = sol.history["fp_residual"]
    assert res[-1] > 1e-3 and res[-1] >= res[10]


@pytest.mark.parametrize("algo", ["admm", "hqs", "red"])
def test_other_pnp_schemes_converge_with_the_averaged_denoiser(tiny_denoiser, algo):
    x = camera(32)
    prob = InverseProblem.simulate(GaussianBlur((32, 32), sigma=1.0), x, noise_sigma=0.03, seed=0)
    den = AveragedDenoiser(tiny_denoiser, alpha=0.5)  # firmly nonexpansive: ADMM = Douglas-Rachford converges
    alg = {
        "admm": PnPADMM(denoiser=den, gamma=1.0, tol=1e-6),
        "hqs": PnPHQS(denoiser=den, gamma=1.0, tol=1e-6),
        "red": RED(denoiser=den, lam=0.2, tol=1e-6),
    }[algo]
    sol = solve(prob, alg, maxiters=3000)
    assert sol.retcode is ReturnCode.Success, (algo, sol.history["fp_residual"][-1])
    assert psnr(sol.u, x) > psnr(prob.y, x) - 0.5


def test_unrolled_and_learned_primal_dual_train_end_to_end():
    from remodel_imaging import random_patches

    A = GaussianBlur((16, 16), sigma=1.0)
    patches = random_patches(32, 16, images=("coins", "moon"), scale=48)
    torch.manual_seed(0)
    for net in (UnrolledPGD(iters=2, features=4, depth=2), LearnedPrimalDual(iters=2, features=4)):
        sol = train_reconstruction(net, A, patches, noise_sigma=0.03, iters=25, lr=3e-3)
        loss = sol.history["loss"]
        assert sum(loss[-5:]) < sum(loss[:5])
    x = camera(16)
    prob = InverseProblem.simulate(A, x, noise_sigma=0.03, seed=0)
    out = solve(prob, Unrolled(network=sol.u.eval()))
    assert out.u.shape == (16, 16) and out.retcode is ReturnCode.Success


def test_fixed_point_training_forward_runs_pnp_iterations(tiny_denoiser):
    A = GaussianBlur((16, 16), sigma=1.0)
    y = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    out = pnp_fixed_point_forward(iters=3)(tiny_denoiser, y, A)
    assert out.shape == y.shape


def test_supported_options_are_declared_and_honoured():
    x = camera(16)
    prob = InverseProblem.simulate(GaussianBlur((16, 16), sigma=1.0), x, noise_sigma=0.01, seed=0)
    for alg in (TVPrimalDual(lam=0.01), PnPPGD(denoiser=LipschitzDenoiser(channels=2, hidden=2, depth=1))):
        assert {"maxiters", "maxtime", "callback"} <= alg.supported_options
        stopped = solve(prob, alg, maxiters=50, callback=lambda info: info["iteration"] >= 3)
        assert stopped.retcode is ReturnCode.Terminated and stopped.stats["iterations"] == 3
        assert solve(prob, alg, maxiters=4).stats["iterations"] <= 4
        f32 = solve(prob, alg, maxiters=2, dtype=torch.float32)
        assert f32.u.dtype == torch.float32
