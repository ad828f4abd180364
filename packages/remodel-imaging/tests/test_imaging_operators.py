import math

import pytest
import torch
from remodel_imaging import (
    GaussianBlur,
    Gradient,
    LinearOperator,
    Mask,
    SubsampledFourier,
    dot_test,
    inner,
)

SHAPE = (24, 20)


def operators():
    mask = SubsampledFourier.variable_density_mask(SHAPE, fraction=0.3, seed=1)
    blur = GaussianBlur(SHAPE, sigma=1.7)
    inpaint = Mask.random(SHAPE, keep=0.5, seed=2)
    return {
        "blur": blur,
        "mask": inpaint,
        "fourier": SubsampledFourier(mask),
        "gradient": Gradient(SHAPE),
        "mask@blur": inpaint @ blur,
        "gradient.adjoint": Gradient(SHAPE).adjoint,
        "fourier@blur": SubsampledFourier(mask) @ blur,
    }


@pytest.mark.parametrize("name", list(operators()))
def test_adjoint_identity_float64(name):
    op = operators()[name]
    for seed in range(3):
        assert dot_test(op, seed=seed) < 1e-10
    assert op.adjoint.adjoint is op or dot_test(op.adjoint.adjoint) < 1e-10


def test_adjoint_equals_transpose_of_dense_matrix():
    op = Gradient((5, 4))
    eye = torch.eye(20, dtype=torch.float64).reshape(20, 5, 4)
    matrix = op(eye).reshape(20, -1).T  # columns are A e_j (batched application)
    eye_out = torch.eye(40, dtype=torch.float64).reshape(40, 2, 5, 4)
    matrix_adj = op.adjoint(eye_out).reshape(40, -1).T
    assert torch.allclose(matrix_adj, matrix.T, atol=1e-15)


def test_norms_by_power_iteration_match_known_values():
    g = Gradient((16, 12))
    exact = g.exact_norm()
    est = g.norm(iters=3000)
    assert est <= exact * (1 + 1e-12) and est > exact * (1 - 1e-6)
    assert abs(GaussianBlur(SHAPE, sigma=2.0).norm() - 1.0) < 1e-8
    assert abs(Mask.random(SHAPE, keep=0.3, seed=0).norm() - 1.0) < 1e-12
    mask = SubsampledFourier.variable_density_mask(SHAPE, fraction=0.2, seed=0)
    assert abs(SubsampledFourier(mask).norm() - 1.0) < 1e-8
    # blur norm equals the largest Fourier multiplier, and the multiplier is real and <= 1
    b = GaussianBlur(SHAPE, sigma=0.8)
    assert abs(float(b.transfer.abs().max()) - 1.0) < 1e-14


def test_blur_matches_direct_periodic_convolution():
    op = GaussianBlur((9, 7), sigma=1.2)
    x = torch.randn(9, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    direct = torch.zeros_like(x)
    for i in range(9):
        for j in range(7):
            for a in range(9):
                for b in range(7):
                    direct[i, j] += op.kernel[(i - a) % 9, (j - b) % 7] * x[a, b]
    assert torch.allclose(op(x), direct, atol=1e-13)


def test_fourier_zero_filling_and_full_mask_is_unitary():
    x = torch.randn(SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    full = SubsampledFourier(torch.ones(SHAPE, dtype=torch.bool))
    assert torch.allclose(full.adjoint(full(x)), x, atol=1e-12)
    assert math.isclose(float(full(x).abs().pow(2).sum()), float(x.pow(2).sum()), rel_tol=1e-12)
    mask = SubsampledFourier.variable_density_mask((64, 64), fraction=0.25, seed=0)
    assert abs(float(mask.double().mean()) - 0.25) < 0.03


def test_gradient_of_ramp_and_batching():
    x = torch.arange(12, dtype=torch.float64).reshape(3, 4)  # x[i, j] = 4 i + j
    g = Gradient((3, 4))(x)
    assert g[0, :-1].eq(4).all() and g[0, -1].eq(0).all()
    assert g[1, :, :-1].eq(1).all() and g[1, :, -1].eq(0).all()
    batch = torch.stack([x, 2 * x])
    assert torch.equal(Gradient((3, 4))(batch)[1], 2 * g)
    assert inner(g, g) == float(g.pow(2).sum())


def test_bad_input_is_rejected_with_clear_errors():
    op = GaussianBlur((8, 8), sigma=1.0)
    with pytest.raises(ValueError, match=r"x must have trailing shape \[8, 8\]"):
        op(torch.zeros(8, 7))
    with pytest.raises(ValueError, match=r"x must have trailing shape \[2, 8, 8\]"):
        Gradient((8, 8)).adjoint(torch.zeros(8, 8))
    with pytest.raises(ValueError, match="y must have trailing shape"):
        Gradient((8, 8)).apply_adjoint(torch.zeros(8, 8))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        op([[0.0]])
    with pytest.raises(ValueError, match="sigma"):
        GaussianBlur((8, 8), sigma=0.0)
    with pytest.raises(ValueError, match="shape"):
        GaussianBlur((8, 8, 8), sigma=1.0)
    with pytest.raises(ValueError, match="shape"):
        Gradient((0, 8))
    with pytest.raises(TypeError, match="mask"):
        Mask(torch.ones(4, 4))
    with pytest.raises(ValueError, match="mask must select"):
        SubsampledFourier(torch.zeros(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="cannot compose"):
        Gradient((8, 8)) @ Gradient((8, 8))
    with pytest.raises(ValueError, match="keep"):
        Mask.random((4, 4), keep=0.0)
    assert isinstance(op, LinearOperator)
