import pytest
import torch
from remodel_core import solve
from remodel_imaging import (
    RED,
    AveragedDenoiser,
    Convolution,
    DnCNN,
    GaussianBlur,
    GaussianNoise,
    InverseProblem,
    LipschitzDenoiser,
    Mask,
    MotionBlur,
    PnPADMM,
    PnPHQS,
    PnPPGD,
    PoissonNoise,
    Radon,
    SLLConv2d,
    SpectralConv2d,
    TVPrimalDual,
    augment,
    camera,
    circular_conv2d,
    conv_norm_bound,
    conv_operator_norm,
    denoising_problem,
    lipschitz_estimate,
    load_image,
    motion_kernel,
    psnr,
    random_patches,
    ssim,
)
from remodel_imaging._unrolled import LearnedPrimalDual, Unrolled, UnrolledPGD, reconstruction_problem

DEN = LipschitzDenoiser(channels=2, hidden=2, depth=1)


def _prob(n=8):
    return InverseProblem(GaussianBlur((n, n), sigma=1.0), torch.zeros(n, n, dtype=torch.float64))


# operators ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: Radon(1), ValueError, "n must be an integer >= 2"),
        (lambda: Radon(8.0), ValueError, "n must be an integer"),
        (lambda: Radon(8, angles=0), ValueError, "angles"),
        (lambda: Radon(8, angles=torch.zeros(2, 2)), ValueError, "angles"),
        (lambda: Radon(8, angles=torch.zeros(0)), ValueError, "angles"),
        (lambda: Radon(8)(torch.zeros(9, 9)), ValueError, r"x must have trailing shape \[8, 8\]"),
        (lambda: Radon(8).apply_adjoint(torch.zeros(60, 11)), ValueError, "y must have trailing shape"),
        (lambda: Radon(8).fbp(torch.zeros(3, 3)), ValueError, "y must have trailing shape"),
        (lambda: Radon(8)("image"), TypeError, "x must be a torch.Tensor"),
        (lambda: MotionBlur((8, 8), length=0.5), ValueError, "length"),
        (lambda: MotionBlur((8, 8), length=300), ValueError, "length"),
        (lambda: MotionBlur((8, 8), length=5, angle=float("nan")), ValueError, "angle"),
        (lambda: MotionBlur((8, 8), length=5, angle="up"), ValueError, "angle"),
        (lambda: MotionBlur((8, 8, 8), length=3), ValueError, "shape"),
        (lambda: MotionBlur((8, 8), length=15), ValueError, "kernel must have odd sizes not larger"),
        (lambda: motion_kernel(True, 0.0), ValueError, "length"),
        (lambda: motion_kernel(9, 0.0, size=10), ValueError, "size must be an odd integer >= 11"),
        (lambda: motion_kernel(9, 0.0, size=7), ValueError, "size must be an odd integer >= 11"),
        (lambda: motion_kernel(9, 0.0, size=12), ValueError, "size must be an odd integer >= 11"),
        (lambda: motion_kernel(9, 0.0, size=11.0), ValueError, "size"),
        (lambda: Convolution((8, 8), torch.ones(2, 3)), ValueError, "kernel must have odd sizes"),
        (lambda: Convolution((8, 8), torch.ones(3)), ValueError, "kernel must be a real 2-D tensor"),
        (lambda: Convolution((8, 8), torch.ones(3, 3, dtype=torch.complex64)), ValueError, "kernel"),
        (lambda: Convolution((8, 8), torch.full((3, 3), float("inf"))), ValueError, "kernel must be finite"),
        (lambda: Convolution((8, 8), "k"), ValueError, "kernel"),
        (lambda: Convolution((0, 8), torch.ones(1, 1)), ValueError, "shape"),
        (lambda: MotionBlur((8, 8), length=3)(torch.zeros(8, 7)), ValueError, r"x must have trailing shape \[8, 8\]"),
        (lambda: GaussianBlur((8, 8), sigma=-1), ValueError, "sigma"),
        (lambda: GaussianBlur((8, 8), sigma=float("inf")), ValueError, "sigma"),
        (lambda: Radon(8) @ GaussianBlur((7, 7), 1.0), ValueError, "cannot compose"),
        (lambda: Mask(torch.ones(4, 4, dtype=torch.bool))(torch.zeros(5, 4)), ValueError, "x must have trailing"),
    ],
)
def test_operator_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# noise, metrics, data -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: GaussianNoise(-0.1), ValueError, "sigma"),
        (lambda: GaussianNoise(float("nan")), ValueError, "sigma"),
        (lambda: GaussianNoise(True), ValueError, "sigma"),
        (lambda: GaussianNoise(0.1)([1.0]), TypeError, "clean"),
        (lambda: PoissonNoise(0.0), ValueError, "gain"),
        (lambda: PoissonNoise(float("inf")), ValueError, "gain"),
        (lambda: PoissonNoise(10.0)(torch.full((2, 2), -1.0)), ValueError, "clean must be nonnegative"),
        (lambda: PoissonNoise(10.0)(torch.zeros(2, dtype=torch.complex64)), ValueError, "clean must be real"),
        (lambda: ssim(torch.zeros(4, 4), torch.zeros(5, 5)), ValueError, "same shape"),
        (lambda: ssim(torch.zeros(4), torch.zeros(4)), ValueError, "2-D"),
        (lambda: ssim([0.0], torch.zeros(4, 4)), TypeError, "torch tensors"),
        (lambda: ssim(torch.zeros(8, 8), torch.zeros(8, 8), data_range=0.0), ValueError, "data_range"),
        (lambda: psnr(torch.zeros(2, 2), torch.zeros(2, 2), data_range=-1.0), ValueError, "data_range"),
        (lambda: load_image("lena"), ValueError, "name must be one of"),
        (lambda: load_image("coins", 2), ValueError, "size"),
        (lambda: camera(1000), ValueError, "size"),
        (lambda: camera(64.0), ValueError, "size"),
        (lambda: random_patches(0, 8), ValueError, "n must be a positive integer"),
        (lambda: random_patches(4, 0), ValueError, "size must be a positive integer"),
        (lambda: random_patches(4, 64, scale=32), ValueError, "size must be <= scale"),
        (lambda: random_patches(4, 8, images=("camera",)), ValueError, "images"),
        (lambda: random_patches(4, 8, images=("astronaut",)), ValueError, "images"),
        (lambda: random_patches(4, 8, images=()), ValueError, "images"),
        (lambda: augment(torch.zeros(2, 3, 4)), ValueError, "patches"),
        (lambda: augment(torch.zeros(3, 3)), ValueError, "patches"),
    ],
)
def test_data_and_metric_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# layers and networks ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: SLLConv2d(0, 4), ValueError, "channels"),
        (lambda: SLLConv2d(2, 0), ValueError, "hidden"),
        (lambda: SLLConv2d(2, 4, kernel_size=4), ValueError, "kernel_size must be odd"),
        (lambda: SLLConv2d(2, 4, kernel_size=True), ValueError, "kernel_size"),
        (lambda: SpectralConv2d(0, 2), ValueError, "in_channels"),
        (lambda: SpectralConv2d(2, 2, 2), ValueError, "kernel_size must be odd"),
        (lambda: SpectralConv2d(2, 2, power_iters=0), ValueError, "power_iters"),
        (lambda: LipschitzDenoiser(depth=0), ValueError, "depth"),
        (lambda: LipschitzDenoiser(channels=2.5), ValueError, "channels"),
        (lambda: DEN(torch.zeros(1, 2, 8, 8)), ValueError, r"x must have shape \(H, W\) or \(batch, 1, H, W\)"),
        (lambda: DEN(torch.zeros(8)), ValueError, "x must have shape"),
        (lambda: AveragedDenoiser(DEN, alpha=0.0), ValueError, "alpha"),
        (lambda: AveragedDenoiser(DEN, alpha=1.5), ValueError, "alpha"),
        (lambda: DnCNN(depth=1), ValueError, "depth"),
        (lambda: DnCNN(features=0), ValueError, "features"),
        (lambda: DnCNN(padding="reflect"), ValueError, "padding"),
        (lambda: DnCNN(depth=2, features=2)(torch.zeros(2, 2, 4, 4)), ValueError, "x must have shape"),
        (lambda: circular_conv2d(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 2, 2)), ValueError, "odd"),
        (lambda: circular_conv2d(torch.zeros(1, 1, 4, 4), torch.zeros(3, 3)), ValueError, "kernel must be a 4-D"),
        (lambda: conv_operator_norm(torch.zeros(1, 1, 5, 5), (3, 3)), ValueError, "grid"),
        (lambda: conv_norm_bound(torch.zeros(1, 1, 3)), ValueError, "kernel"),
        (lambda: lipschitz_estimate(DEN, [1.0]), TypeError, "x must be a torch.Tensor"),
        (lambda: UnrolledPGD(iters=0), ValueError, "iters"),
        (lambda: UnrolledPGD(depth=1), ValueError, "depth"),
        (lambda: LearnedPrimalDual(n_memory=0), ValueError, "n_memory"),
        (
            lambda: LearnedPrimalDual(iters=1, features=2)(torch.zeros(8, 8), GaussianBlur((8, 8), 1.0)),
            ValueError,
            "y must have shape",
        ),
        (lambda: denoising_problem(DEN, torch.zeros(4, 8, 8), noise_sigma=0.1), ValueError, "patches"),
        (lambda: denoising_problem(DEN, torch.zeros(4, 1, 8, 8), noise_sigma=0.0), ValueError, "noise_sigma"),
        (lambda: reconstruction_problem(DEN, "A", torch.zeros(1, 1, 8, 8), noise_sigma=0.1), TypeError, "operator"),
        (
            lambda: reconstruction_problem(DEN, GaussianBlur((8, 8), 1.0), torch.zeros(1, 1, 7, 8), noise_sigma=0.1),
            ValueError,
            "patches",
        ),
        (
            lambda: reconstruction_problem(DEN, GaussianBlur((8, 8), 1.0), torch.zeros(1, 1, 8, 8), noise_sigma=-1),
            ValueError,
            "noise_sigma",
        ),
    ],
)
def test_network_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# algorithms through solve -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("alg", "exc", "match"),
    [
        (lambda: TVPrimalDual(lam=-1.0), ValueError, "lam"),
        (lambda: TVPrimalDual(lam="big"), TypeError, "lam"),
        (lambda: TVPrimalDual(tol=-1.0), ValueError, "tol"),
        (lambda: TVPrimalDual(gap_every=0), ValueError, "gap_every"),
        (lambda: TVPrimalDual(gap_every=2.5), TypeError, "gap_every"),
        (lambda: TVPrimalDual(box=(1.0, 0.0)), ValueError, "box"),
        (lambda: TVPrimalDual(box=(0.0, float("inf"))), ValueError, "box"),
        (lambda: TVPrimalDual(box=[0.0, 1.0]), ValueError, "box"),
        (lambda: TVPrimalDual(data="primal"), ValueError, "data"),
        (lambda: TVPrimalDual(step_scale=0.0), ValueError, "step_scale"),
        (lambda: TVPrimalDual(precondition=1), TypeError, "precondition"),
        (lambda: TVPrimalDual(warm_start="yes"), TypeError, "warm_start"),
        (lambda: PnPPGD(denoiser="dncnn"), TypeError, "denoiser"),
        (lambda: PnPPGD(denoiser=DEN, step=2.0), ValueError, "step"),
        (lambda: PnPPGD(denoiser=DEN, step=0.0), ValueError, "step"),
        (lambda: PnPPGD(denoiser=DEN, relaxation=0.0), ValueError, "relaxation"),
        (lambda: PnPPGD(denoiser=DEN, relaxation=1.5), ValueError, "relaxation"),
        (lambda: PnPPGD(denoiser=DEN, tol=-1.0), ValueError, "tol"),
        (lambda: PnPADMM(denoiser=DEN, gamma=0.0), ValueError, "gamma"),
        (lambda: PnPADMM(denoiser=3), TypeError, "denoiser"),
        (lambda: PnPHQS(denoiser=DEN, gamma=-1.0), ValueError, "gamma"),
        (lambda: RED(denoiser=DEN, lam=0.0), ValueError, "lam"),
        (lambda: RED(denoiser=DEN, step=2.5), ValueError, "step"),
        (lambda: Unrolled(network="net"), TypeError, "network"),
    ],
)
def test_algorithm_bad_options_are_refused_by_solve(alg, exc, match):
    with pytest.raises(exc, match=match):
        solve(_prob(), alg())


def test_problem_and_operator_mismatch_through_solve():
    A = Radon(8, angles=4)
    with pytest.raises(ValueError, match="y must have the operator's output shape"):
        solve(InverseProblem(A, torch.zeros(8, 8)), TVPrimalDual())
    with pytest.raises(ValueError, match="y must have the operator's output shape"):
        solve(InverseProblem(GaussianBlur((8, 8), 1.0), torch.zeros(4, 4)), PnPPGD(denoiser=DEN))
    with pytest.raises(ValueError, match="x_true"):
        solve(
            InverseProblem(GaussianBlur((8, 8), 1.0), torch.zeros(8, 8), x_true=torch.zeros(7, 7)), PnPHQS(denoiser=DEN)
        )
    with pytest.raises(ValueError, match="y must be finite"):
        solve(InverseProblem(GaussianBlur((8, 8), 1.0), torch.full((8, 8), float("nan"))), RED(denoiser=DEN))
    u8 = torch.full((8, 8), 200, dtype=torch.uint8)  # an image as read from disk: was converted silently
    with pytest.raises(TypeError, match="y must be a floating-point or complex tensor"):
        solve(InverseProblem(GaussianBlur((8, 8), 1.0), u8), TVPrimalDual())
    with pytest.raises(TypeError, match="x_true must be a floating-point or complex tensor"):
        solve(InverseProblem(GaussianBlur((8, 8), 1.0), torch.zeros(8, 8), x_true=u8), TVPrimalDual())
    with pytest.raises(ValueError, match="data='prox' needs a periodic convolution"):
        solve(InverseProblem(A, torch.zeros(A.out_shape)), TVPrimalDual(data="prox"))
    with pytest.raises(ValueError, match="operator on 2-D images"):
        solve(InverseProblem(Mask(torch.ones(4, dtype=torch.bool)), torch.zeros(4)), TVPrimalDual())
    with pytest.raises(ValueError, match="operator on 2-D images"):
        solve(InverseProblem(Mask(torch.ones(4, dtype=torch.bool)), torch.zeros(4)), PnPPGD(denoiser=DEN))
    with pytest.raises(TypeError, match="cannot solve"):
        from remodel_core import TrainingProblem

        solve(TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m: m.weight.sum()), TVPrimalDual())
