import pytest
import torch
from remodel_equivariant import AntisymmetricBlock, HamiltonianBlock, ParabolicBlock, conv_norm
from torch.autograd.functional import jacobian


def test_conv_norm_matches_dense_matrix():
    torch.manual_seed(0)
    w = torch.randn(2, 2, 3, 3, dtype=torch.float64)
    zero = torch.zeros(1, 2, 5, 5, dtype=torch.float64)
    dense = jacobian(lambda u: torch.nn.functional.conv2d(u, w, padding=1), zero)
    exact = torch.linalg.matrix_norm(dense.reshape(50, 50), ord=2)
    assert conv_norm(w, (5, 5), iters=2000) == pytest.approx(float(exact), rel=1e-8)


def test_parabolic_step_is_non_expansive_below_the_stable_step():
    torch.manual_seed(1)
    block = ParabolicBlock(channels=2, kernel_size=3).double()
    block.h = 0.95 * block.stable_step((5, 5))
    y = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    J = jacobian(block, y).reshape(50, 50)
    assert torch.allclose(J, J.T, atol=1e-12)  # I - h K^T D K is symmetric
    eig = torch.linalg.eigvalsh(J)
    assert eig.max() <= 1 + 1e-10 and eig.min() >= -1 - 1e-10
    g = torch.Generator().manual_seed(2)
    for _ in range(20):
        a, b = torch.randn(2, 1, 2, 5, 5, generator=g, dtype=torch.float64)
        assert (block(a) - block(b)).norm() <= (a - b).norm() * (1 + 1e-12)
    # beyond 2 / ||K||^2 the linearised step expands along the top eigenvector of K^T K
    block.h = 3.0 * block.stable_step((5, 5))
    with torch.no_grad():
        block.bias.fill_(10.0)  # relu' = 1 around y = 0: D = I
    eig = torch.linalg.eigvalsh(jacobian(block, torch.zeros_like(y)).reshape(50, 50))
    assert eig.min() < -1.5


def test_hamiltonian_block_has_imaginary_spectrum_volume_preservation_and_inverse():
    torch.manual_seed(3)
    block = HamiltonianBlock(channels=2, h=0.3).double()
    with torch.no_grad():
        block.bias_y.normal_()
        block.bias_z.normal_()
    x = torch.randn(1, 4, 4, 4, dtype=torch.float64)
    A = jacobian(block.velocity, x).reshape(64, 64)
    eig = torch.linalg.eigvals(A)
    assert float(eig.real.abs().max()) < 1e-8 * float(eig.abs().max())
    J = jacobian(block, x).reshape(64, 64)
    assert float(torch.linalg.slogdet(J).logabsdet) == pytest.approx(0.0, abs=1e-10)
    assert torch.allclose(block.inverse(block(x)), x, atol=1e-12)
    with pytest.raises(ValueError, match="2 \\* channels = 4"):
        block(torch.zeros(1, 3, 4, 4, dtype=torch.float64))


def test_antisymmetric_block_spectrum():
    torch.manual_seed(4)
    y = torch.randn(6, dtype=torch.float64)
    block = AntisymmetricBlock(width=6).double()
    eig = torch.linalg.eigvals(jacobian(block.velocity, y))
    assert float(eig.real.abs().max()) < 1e-12
    damped = AntisymmetricBlock(width=6, gamma=0.5).double()
    assert float(torch.linalg.eigvals(jacobian(damped.velocity, y)).real.max()) < 0
    # a generic residual block y + h tanh(W y) has eigenvalues with positive real part: growth
    W = torch.randn(6, 6, dtype=torch.float64)
    assert float(torch.linalg.eigvals(W).real.max()) > 0


def test_bad_block_arguments():
    with pytest.raises(ValueError, match="h must"):
        ParabolicBlock(2, h=0.0)
    with pytest.raises(ValueError, match="activation"):
        ParabolicBlock(2, activation="sin")
    with pytest.raises(ValueError, match="kernel_size"):
        HamiltonianBlock(2, kernel_size=2)
    with pytest.raises(ValueError, match="gamma"):
        AntisymmetricBlock(3, gamma=-1.0)
    with pytest.raises(ValueError, match="width"):
        AntisymmetricBlock(0)
