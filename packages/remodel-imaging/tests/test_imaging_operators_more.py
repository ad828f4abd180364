import math

import pytest
import torch
from remodel_imaging import (
    Convolution,
    GaussianBlur,
    GaussianNoise,
    Gradient,
    InverseProblem,
    Mask,
    MotionBlur,
    PoissonNoise,
    Radon,
    SubsampledFourier,
    camera,
    dot_test,
    motion_kernel,
)

SHAPE = (20, 20)


def all_operators():
    mask = SubsampledFourier.variable_density_mask(SHAPE, fraction=0.3, seed=1)
    kernel = torch.rand(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) - 0.3
    return {
        "radon": Radon(20, angles=9),
        "radon_custom_angles": Radon(20, angles=torch.tensor([0.1, 1.0, 2.5], dtype=torch.float64)),
        "motion": MotionBlur(SHAPE, length=7, angle=30),
        "motion_steep": MotionBlur(SHAPE, length=4.5, angle=-75),
        "convolution_signed": Convolution(SHAPE, kernel),
        "blur": GaussianBlur(SHAPE, sigma=1.3),
        "mask": Mask.random(SHAPE, keep=0.4, seed=0),
        "fourier": SubsampledFourier(mask),
        "gradient": Gradient(SHAPE),
        "radon@motion": Radon(20, angles=5) @ MotionBlur(SHAPE, length=5, angle=10),
        "radon.adjoint": Radon(20, angles=4).adjoint,
    }


@pytest.mark.parametrize("name", list(all_operators()))
def test_every_operator_passes_the_adjoint_test_in_float64(name):
    op = all_operators()[name]
    for seed in range(3):
        assert dot_test(op, seed=seed) < 1e-10


def test_radon_adjoint_equals_transpose_of_dense_matrix_and_matches_skimage():
    op = Radon(6, angles=3)
    eye = torch.eye(36, dtype=torch.float64).reshape(36, 6, 6)
    matrix = op(eye).reshape(36, -1).T
    n_out = math.prod(op.out_shape)
    eye_out = torch.eye(n_out, dtype=torch.float64).reshape(n_out, *op.out_shape)
    matrix_adj = op.adjoint(eye_out).reshape(n_out, -1).T
    assert torch.allclose(matrix_adj, matrix.T, atol=1e-14)
    # at angle 0 the projection sums columns exactly (samples hit pixel centres); mass is preserved at any angle
    x = torch.rand(16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    R = Radon(16, angles=8)
    proj = R(x)
    n_det = R.n_det
    start = (n_det - 16) // 2
    assert torch.allclose(proj[0, start : start + 16], x.sum(0), atol=1e-12)
    assert torch.allclose(proj.sum(-1), torch.full((8,), float(x.sum()), dtype=torch.float64), rtol=0.05)
    # cross-check against scikit-image's radon transform (different interpolation: agreement to a few percent)
    import numpy as np
    from skimage.transform import radon

    img = torch.zeros(32, 32, dtype=torch.float64)
    img[8:24, 12:20] = 1.0
    R = Radon(32, angles=torch.tensor([0.0, math.pi / 2], dtype=torch.float64))
    ours = R(img).numpy()
    theirs = radon(img.numpy(), theta=np.array([0.0, 90.0]), circle=False).T
    m = min(ours.shape[1], theirs.shape[1])
    o = ours[:, (ours.shape[1] - m) // 2 :][:, :m]
    t = theirs[:, (theirs.shape[1] - m) // 2 :][:, :m]
    assert np.abs(np.sort(o, axis=1) - np.sort(t, axis=1)).max() < 0.05 * t.max()


def test_fbp_and_norm_of_radon():
    R = Radon(24, angles=48)
    x = torch.zeros(24, 24, dtype=torch.float64)
    x[6:18, 8:16] = 1.0
    assert float((R.fbp(R(x)) - x).abs().mean()) < 0.1
    est = R.norm(iters=300)
    # ||R||^2 <= (number of angles) * (longest ray length): a crude upper bound
    assert 0 < est <= math.sqrt(48 * R.n_det)


def test_motion_blur_kernel_and_norm():
    k = motion_kernel(9, 0.0)
    assert k.shape == (11, 11) and abs(float(k.sum()) - 1) < 1e-12
    assert float(k[5].sum()) > 0.999  # horizontal motion stays on the middle row
    kv = motion_kernel(9, 90.0)
    assert torch.allclose(kv, k.T, atol=1e-12)  # vertical = transposed horizontal
    A = MotionBlur((32, 32), length=9, angle=45)
    est = A.norm(iters=2000)  # nonnegative kernel of sum 1: the DC multiplier 1 is the norm
    assert 1 - 1e-3 < est <= 1 + 1e-12
    x = torch.zeros(32, 32, dtype=torch.float64)
    x[16, 16] = 1
    assert abs(float(A(x).sum()) - 1.0) < 1e-12
    assert A.nonnegative


def test_convolution_matches_direct_periodic_sum():
    kernel = torch.randn(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    A = Convolution((7, 6), kernel)
    x = torch.randn(7, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    direct = torch.zeros_like(x)
    for i in range(7):
        for j in range(6):
            for a in range(3):
                for b in range(5):
                    direct[i, j] += kernel[a, b] * x[(i - (a - 1)) % 7, (j - (b - 2)) % 6]
    assert torch.allclose(A(x), direct, atol=1e-12)
    assert not A.nonnegative


def test_noise_models():
    clean = torch.full((100, 100), 0.4, dtype=torch.float64)
    y = GaussianNoise(0.05)(clean, seed=3)
    assert abs(float((y - clean).std()) - 0.05) < 0.003
    assert torch.equal(y, GaussianNoise(0.05)(clean, seed=3))
    yp = PoissonNoise(50.0)(clean, seed=0)
    assert abs(float(yp.mean()) - 0.4) < 0.01 and abs(float(yp.var()) - 0.4 / 50) < 0.001
    assert torch.allclose(yp * 50, (yp * 50).round(), atol=1e-9)  # counts
    z = GaussianNoise(0.1)(torch.zeros(50, 50, dtype=torch.complex128), seed=0)
    assert z.is_complex() and abs(float(z.real.std()) - 0.1) < 0.01


def test_operator_norms_by_power_iteration_against_exact_values():
    for op in (MotionBlur((16, 16), length=5, angle=20), GaussianBlur((16, 16), sigma=2.0)):
        exact = float(op.transfer.abs().max())
        assert abs(op.norm() - exact) < 1e-6 * exact
    g = Gradient((12, 12))
    assert g.norm(iters=3000) <= g.exact_norm() * (1 + 1e-12)


def test_problem_shape_mismatch_is_clear():
    A = Radon(16, angles=8)
    with pytest.raises(ValueError, match="y must have the operator's output shape"):
        InverseProblem(A, torch.zeros(16, 16)).validate()
    with pytest.raises(ValueError, match=r"x must have trailing shape \[16, 16\]"):
        A(camera(32))
    with pytest.raises(ValueError, match=r"y must have trailing shape \[8, 24\]"):
        A.apply_adjoint(torch.zeros(8, 23))
