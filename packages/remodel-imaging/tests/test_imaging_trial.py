"""Defects found by a new-user trial of the public API (session 13): norm caches, integer images, real or complex
MRI data, and argument checks."""

import math

import pytest
import torch
from remodel_core import solve
from remodel_imaging import (
    FISTA,
    ConvexRidgeDenoiser,
    ConvexRidgeVariational,
    Convolution,
    DnCNN,
    GaussianBlur,
    InverseProblem,
    LearnedPrimalDual,
    Radon,
    SpectralConv2d,
    SubsampledFourier,
    Unrolled,
    UnrolledPGD,
    data_prox,
    denoising_problem,
    fgp_tv_prox,
    tikhonov_start,
)
from remodel_imaging._operator import cached_norm


def _identity_kernel(scale: float) -> torch.Tensor:
    k = torch.zeros(3, 3, dtype=torch.float64)
    k[1, 1] = scale
    return k


def test_norm_cache_is_not_fooled_by_a_reused_id():
    # CPython reuses the id of a freed object; a cache keyed by id alone returned the freed operator's norm
    old, new = Convolution((8, 8), _identity_kernel(1.0)), Convolution((8, 8), _identity_kernel(10.0))
    cache = {id(new): (old, 1.0)}  # what the cache holds when ``new`` got the id of the freed ``old``
    assert cached_norm(cache, new) == pytest.approx(10.0, rel=1e-9)
    assert cached_norm(cache, new) == pytest.approx(10.0, rel=1e-9) and cache[id(new)][0] is new


def test_variational_reconstruction_uses_the_norm_of_the_operator_it_is_given():
    torch.manual_seed(0)
    rec = ConvexRidgeVariational(ConvexRidgeDenoiser(channels=2, kernel_size=3), unrolled_steps=5).double()
    A_old, A = Convolution((12, 12), _identity_kernel(1.0)), Convolution((12, 12), _identity_kernel(10.0))
    rec._norms[id(A)] = (A_old, 1.0)  # the stale entry a reused id used to hit (step 100x too long: 3e5)
    y = A(torch.rand(1, 1, 12, 12, dtype=torch.float64))
    with torch.no_grad():
        x = rec(y, A)
    assert float(x.abs().max()) < 2.0


def test_operators_refuse_integer_images_instead_of_rounding_them():
    A = GaussianBlur((8, 8), sigma=1.0)
    with pytest.raises(TypeError, match="x must be a floating-point"):
        A(torch.full((8, 8), 200, dtype=torch.uint8))
    with pytest.raises(TypeError, match="y must be a floating-point"):
        A.apply_adjoint(torch.ones(8, 8, dtype=torch.int64))
    with pytest.raises(TypeError, match="x must be a floating-point"):
        InverseProblem.simulate(A, torch.ones(8, 8, dtype=torch.int64), noise_sigma=0.1)


def test_subsampled_fourier_takes_real_measurements_as_complex_ones():
    A = SubsampledFourier(SubsampledFourier.variable_density_mask((9, 11), fraction=0.4, seed=0))
    y = torch.randn(A.out_shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(A.apply_adjoint(y), A.apply_adjoint(y.to(torch.complex128)))
    sol = solve(InverseProblem(operator=A, y=y), FISTA(lam=0.01), maxiters=3)
    assert sol.u.shape == (9, 11) and bool(torch.isfinite(sol.u).all())


def test_unrolled_keeps_the_imaginary_part_of_complex_measurements():
    torch.manual_seed(0)
    A = SubsampledFourier(SubsampledFourier.variable_density_mask((12, 12), fraction=0.4, seed=0))
    x = torch.rand(12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    prob = InverseProblem.simulate(A, x, noise_sigma=0.01, seed=0)
    net = UnrolledPGD(iters=2, features=4, depth=2).double()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
        expected = net(prob.y[None, None], A)[0, 0]
    assert torch.allclose(solve(prob, Unrolled(network=net)).u, expected, atol=1e-12)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: Radon(8, angles=torch.tensor([0.0, math.nan])), ValueError, "angles must be real and finite"),
        (
            lambda: InverseProblem(
                operator=GaussianBlur((4, 4), 1.0), y=torch.zeros(4, 4), x_true=torch.full((4, 4), math.nan)
            ).validate(),
            ValueError,
            "x_true must be finite",
        ),
        (lambda: fgp_tv_prox(torch.rand(6, 6), -0.1), ValueError, "t must be a finite number >= 0"),
        (lambda: fgp_tv_prox(torch.rand(6, 6), math.nan), ValueError, "t must be a finite number >= 0"),
        (lambda: fgp_tv_prox(torch.rand(6, 6), "t"), TypeError, "t must be a number"),
        (lambda: ConvexRidgeDenoiser(thresholds=(math.nan,)), ValueError, "thresholds"),
        (lambda: ConvexRidgeDenoiser(thresholds=(0.01, math.inf)), ValueError, "thresholds"),
        (lambda: SpectralConv2d(1, 1, 3, shape=(0, 4)), ValueError, r"shape\[0\]"),
        (lambda: tikhonov_start(GaussianBlur((4, 4), 1.0), torch.zeros(4, 4), -1.0), ValueError, "mu must be"),
        (
            lambda: data_prox(GaussianBlur((4, 4), 1.0), *[torch.zeros(4, 4)] * 2, 0.0, torch.zeros(4, 4)),
            ValueError,
            "gamma",
        ),
        (
            lambda: denoising_problem(DnCNN(depth=2), torch.rand(2, 1, 4, 4), noise_sigma=math.inf),
            ValueError,
            "noise_sigma",
        ),
        (lambda: SpectralConv2d(1, 1, 3, shape=16), ValueError, "shape must be a pair"),
        (lambda: SpectralConv2d(1, 1, 5, shape=(1, 8)), ValueError, r"at least kernel_size // 2 = 2"),
    ],
)
def test_bad_arguments_fail_early_and_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_end_to_end_networks_are_public():
    import remodel_imaging

    for name in ("UnrolledPGD", "LearnedPrimalDual", "Unrolled", "train_reconstruction"):
        assert name in remodel_imaging.__all__ and hasattr(remodel_imaging, name)


def test_filtered_back_projection_matches_scikit_image_and_keeps_the_mean():
    import numpy as np
    from skimage.data import shepp_logan_phantom
    from skimage.transform import iradon, radon, resize

    n, degrees = 48, np.arange(60) * 3.0
    ph = resize(shepp_logan_phantom(), (n, n), anti_aliasing=True)
    R = Radon(n, angles=torch.tensor(np.deg2rad(degrees)))
    ours = R.fbp(R(torch.from_numpy(ph))).numpy()
    theirs = iradon(radon(ph, theta=degrees, circle=False), theta=degrees, circle=False, output_size=n)
    err = np.linalg.norm(ours - ph) / np.linalg.norm(ph)
    assert err < 1.05 * np.linalg.norm(theirs - ph) / np.linalg.norm(ph)  # 0.176 vs 0.178 (unpadded ramp: 0.25)
    assert abs(ours.mean() / ph.mean() - 1) < 0.01  # the unpadded ramp lost 30 % of the mean


def test_filtered_back_projection_is_the_linear_convolution_with_the_kak_slaney_ramp():
    # zero padding makes the FFT filtering a linear (not periodic) convolution with h(0) = 1/4, h(k) = -1/(pi k)^2
    # at odd k; data up to the detector edges (where an unpadded, periodic filter wraps around)
    R = Radon(10, angles=6)
    y = torch.rand(R.out_shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) + 1.0
    i = torch.arange(R.n_det)
    d = (i[:, None] - i[None, :]).to(torch.float64)  # H[i, j] = h(i - j)
    H = torch.where(d.remainder(2) == 1, -1.0 / (math.pi * d) ** 2, torch.zeros_like(d)) + 0.25 * (d == 0)
    filtered = y @ H.T
    expected = R.apply_adjoint(filtered) * (math.pi / len(R.angles))
    assert torch.allclose(R.fbp(y), expected, atol=1e-12)


def test_real_operators_refuse_complex_data_instead_of_dropping_its_imaginary_part():
    A = GaussianBlur((8, 8), sigma=1.0)
    z = torch.ones(8, 8, dtype=torch.complex128)
    with pytest.raises(TypeError, match="x must be real"):
        A(z)
    with pytest.raises(TypeError, match="y must be real"):
        A.apply_adjoint(z)
    with pytest.raises(TypeError, match="x must be real"):
        (A @ A).adjoint(z)
    S = SubsampledFourier(SubsampledFourier.variable_density_mask((8, 8), fraction=0.5, seed=0))
    k = torch.randn(S.out_shape, dtype=torch.complex128, generator=torch.Generator().manual_seed(0))
    assert torch.equal(S.adjoint(k), S.apply_adjoint(k))  # the adjoint of an MRI operator takes k-space data
    assert torch.equal((A @ S.adjoint)(k), A(S.apply_adjoint(k)))


def test_tv_primal_dual_keeps_a_box_also_for_a_deblurring_operator():
    # data="auto" took the Fourier prox splitting for a blur, which ignores the box: values in [0.03, 0.84] for
    # box (0.3, 0.7), and the box-constrained gap never met (MaxIters)
    from remodel_imaging import TVPrimalDual, camera, tv_objective

    x = camera(16)
    prob = InverseProblem.simulate(GaussianBlur((16, 16), 1.5), x, noise_sigma=0.05, seed=0)
    sol = solve(prob, TVPrimalDual(lam=0.01, box=(0.3, 0.7), tol=1e-5), maxiters=3000)
    assert sol.retcode.name == "Success" and sol.stats["splitting"] == "dual"
    assert float(sol.u.min()) >= 0.3 and float(sol.u.max()) <= 0.7
    ref = solve(prob, FISTA(lam=0.01, box=(0.3, 0.7), inner_iters=30), maxiters=300).u
    assert tv_objective(sol.u, prob, 0.01) <= tv_objective(ref, prob, 0.01) * (1 + 1e-4)
    with pytest.raises(ValueError, match="box=.* needs data='dual'"):
        solve(prob, TVPrimalDual(lam=0.01, box=(0.3, 0.7), data="prox"))


@pytest.mark.parametrize(
    "make", [lambda: UnrolledPGD(iters=2, features=4, depth=2), lambda: LearnedPrimalDual(iters=2)]
)
def test_end_to_end_networks_do_not_depend_on_the_scale_of_the_operator(make):
    # y = A x and y' = (c A) x describe the same data; with A^* y and unit steps a Radon transform
    # (||A||^2 ~ n x angles) started UnrolledPGD at a loss of 2.7e12 on 16 x 16 patches
    torch.manual_seed(0)
    net = make().double()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    k = torch.rand(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    A, cA = Convolution((10, 10), k), Convolution((10, 10), 7.0 * k)
    x = torch.rand(2, 1, 10, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(net(A(x), A), net(cA(x), cA), atol=1e-10)
    R = Radon(12, angles=8)
    xr = torch.rand(2, 1, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = make().double()(R(xr), R)
    assert float(out.norm()) < 5.0 * float(xr.norm())  # unnormalised: 1e2 (LearnedPrimalDual) to 1e6 times


def test_convolution_norms_are_exact_also_on_large_images():
    # power iteration (500 steps) gave 0.99915 for a 256 x 256 blur: FISTA's L = ||A||^2 (1 + 1e-6) was too small
    from remodel_imaging import MotionBlur

    assert GaussianBlur((256, 256), sigma=1.6).norm() == pytest.approx(1.0, abs=1e-12)
    assert MotionBlur((128, 128), length=9, angle=30).norm() == pytest.approx(1.0, abs=1e-12)
    k = torch.randn(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    A = Convolution((7, 9), k)
    dense = torch.stack([A(e.reshape(7, 9)).reshape(-1) for e in torch.eye(63, dtype=torch.float64)], 1)
    assert A.norm() == pytest.approx(float(torch.linalg.matrix_norm(dense, ord=2)), rel=1e-12)
