import pytest
import torch
from remodel_core import ReturnCode, solve
from remodel_imaging import (
    ChambollePock,
    GaussianBlur,
    InverseProblem,
    Mask,
    SubsampledFourier,
    camera,
    psnr,
    tv_objective,
)


@pytest.fixture(scope="module")
def image():
    return camera(48)


def test_tv_denoising_matches_scikit_image():
    # A = I: min 1/2||x - y||^2 + lam TV(x) is what skimage's Chambolle (2004) projection algorithm solves
    from skimage.restoration import denoise_tv_chambolle

    image = camera(32)
    ident = Mask(torch.ones(image.shape, dtype=torch.bool))
    prob = InverseProblem.simulate(ident, image, noise_sigma=0.1, seed=0)
    lam = 0.1
    sol = solve(prob, ChambollePock(lam=lam, tol=1e-10), maxiters=1000)
    ref = torch.from_numpy(denoise_tv_chambolle(prob.y.numpy(), weight=lam, eps=1e-10, max_num_iter=2000))
    ours, theirs = tv_objective(sol.u, prob, lam), tv_objective(ref, prob, lam)
    assert ours <= theirs * (1 + 1e-5)
    assert float((sol.u - ref).abs().max()) < 5e-3
    assert psnr(sol.u, image) > psnr(prob.y, image) + 5


def test_deblurring_improves_psnr_and_objective_decreases(image):
    prob = InverseProblem.simulate(GaussianBlur(image.shape, sigma=1.5), image, noise_sigma=0.01, seed=0)
    sol = solve(prob, ChambollePock(lam=0.002), maxiters=200, seed=0)
    assert sol.retcode is ReturnCode.MaxIters and sol.stats["iterations"] == 200
    assert psnr(sol.u, image) > psnr(prob.y, image) + 3.0
    obj = sol.history["objective"]
    assert obj[-1] < obj[0] and len(sol.history["psnr"]) == 200
    assert sol.history["psnr"][-1] == pytest.approx(psnr(sol.u, image))


def test_mri_reconstruction_beats_zero_filling(image):
    mask = SubsampledFourier.variable_density_mask(image.shape, fraction=0.25, seed=0)
    A = SubsampledFourier(mask)
    prob = InverseProblem.simulate(A, image, noise_sigma=0.005, seed=0)
    sol = solve(prob, ChambollePock(lam=0.002, nonneg=True), maxiters=200)
    assert float(sol.u.min()) >= 0.0
    assert psnr(sol.u, image) > psnr(A.adjoint(prob.y), image) + 3.0


def test_tolerance_gives_success_and_lam_zero_fits_data():
    x = camera(16)
    prob = InverseProblem.simulate(Mask(torch.ones(16, 16, dtype=torch.bool)), x, noise_sigma=0.0)
    sol = solve(prob, ChambollePock(lam=0.0, tol=1e-8), maxiters=2000)
    assert sol.retcode is ReturnCode.Success
    assert torch.allclose(sol.u, x, atol=1e-6)


def test_bad_problem_and_options():
    A = GaussianBlur((8, 8), sigma=1.0)
    with pytest.raises(ValueError, match="y must have the operator's output shape"):
        solve(InverseProblem(A, torch.zeros(8, 9)), ChambollePock())
    with pytest.raises(ValueError, match="noise_sigma"):
        solve(InverseProblem(A, torch.zeros(8, 8), noise_sigma=-1.0), ChambollePock())
    with pytest.raises(TypeError, match="operator"):
        solve(InverseProblem("blur", torch.zeros(8, 8)), ChambollePock())
    with pytest.raises(ValueError, match="x_true"):
        solve(InverseProblem(A, torch.zeros(8, 8), x_true=torch.zeros(4)), ChambollePock())
    with pytest.raises(ValueError, match="lam"):
        solve(InverseProblem(A, torch.zeros(8, 8)), ChambollePock(lam=-1.0))
    with pytest.raises(ValueError, match="theta"):
        solve(InverseProblem(A, torch.zeros(8, 8)), ChambollePock(theta=2.0))
    with pytest.raises(ValueError, match="size"):
        camera(2)
    with pytest.raises(ValueError, match="same shape"):
        psnr(torch.zeros(2, 2), torch.zeros(3, 3))


def test_conformance_with_the_common_interface():
    from remodel_core.testing import check_algorithm, check_problem

    x = camera(16)
    prob = InverseProblem.simulate(GaussianBlur((16, 16), sigma=1.0), x, noise_sigma=0.01, seed=0)
    check_problem(prob)
    sol = check_algorithm(ChambollePock(lam=0.01), prob)
    assert sol.stats["iterations"] == 3 and set(sol.history) >= {"objective", "psnr"}
