import pytest
import torch
from remodel_imaging import (
    AveragedDenoiser,
    DnCNN,
    LipschitzDenoiser,
    SLLConv2d,
    SpectralConv2d,
    circular_conv2d,
    circular_conv2d_adjoint,
    conv_norm_bound,
    conv_operator_norm,
    lipschitz_bound,
    lipschitz_estimate,
)
from torch import nn


def _power_conv(kernel, shape, iters=3000):
    u = torch.randn(1, kernel.shape[1], *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for _ in range(iters):
        v = circular_conv2d_adjoint(circular_conv2d(u, kernel), kernel)
        u = v / v.norm()
    return float(circular_conv2d(u, kernel).norm())


def test_circular_conv_adjoint_and_exact_norm_by_fft_match_power_iteration():
    k = torch.randn(5, 3, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, 3, 9, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    z = torch.randn(2, 5, 9, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    lhs, rhs = (circular_conv2d(x, k) * z).sum(), (x * circular_conv2d_adjoint(z, k)).sum()
    assert abs(float(lhs - rhs)) < 1e-10 * float(lhs.abs())
    exact = conv_operator_norm(k, (9, 7))
    power = _power_conv(k, (9, 7))
    assert abs(exact - power) < 1e-8 * exact
    # the size-independent certified bound is above the exact norm on several sizes, and not far above
    bound = conv_norm_bound(k)
    sizes = [(5, 5), (9, 7), (16, 16), (31, 12)]
    assert all(conv_operator_norm(k, s) <= bound for s in sizes)
    assert bound <= 1.2 * max(conv_operator_norm(k, s) for s in sizes)


def test_zero_padded_convolution_is_also_covered_by_the_bound():
    k = torch.randn(2, 2, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    conv = nn.Conv2d(2, 2, 3, padding=1, bias=False).double()
    conv.weight.data.copy_(k)
    est = lipschitz_estimate(conv, torch.randn(1, 2, 10, 10, dtype=torch.float64), iters=200)
    assert est <= conv_norm_bound(k)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sll_layer_is_nonexpansive_on_random_inputs_and_by_power_iteration(seed):
    gen = torch.Generator().manual_seed(seed)
    layer = SLLConv2d(3, 6).double()
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
    assert est > 0.5  # the bound is not vacuous: some direction is nearly preserved


@torch.no_grad()
def test_sll_t_diagonal_dominates_kkt():
    # T - K K^T must be positive semidefinite (the condition of Araujo et al.'s Theorem 3): check on a grid
    layer = SLLConv2d(2, 3, kernel_size=3).double()
    with torch.no_grad():
        layer.log_q.copy_(torch.tensor([0.3, -0.5, 1.0]))
    t = layer.t_diagonal()
    n = 6
    eye = torch.eye(3 * n * n, dtype=torch.float64).reshape(-1, 3, n, n)
    kkt = circular_conv2d(circular_conv2d_adjoint(eye, layer.weight), layer.weight).reshape(3 * n * n, -1)
    tdiag = torch.diag(t.repeat_interleave(n * n))
    assert float(torch.linalg.eigvalsh(tdiag - kkt).min()) >= -1e-10


def test_breaking_the_sll_normalisation_is_detected():
    # with T halved the layer is no longer 1-Lipschitz: the power-iteration check sees it
    layer = SLLConv2d(2, 4).double()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen, dtype=torch.float64))
        layer.bias.fill_(1.0)

    class Broken(nn.Module):
        def forward(self, x):
            t = layer.t_diagonal() / 4
            z = torch.relu(circular_conv2d(x, layer.weight, layer.bias)) / t[:, None, None]
            return x - 2.0 * circular_conv2d_adjoint(z, layer.weight)

    x = torch.randn(1, 2, 8, 8, generator=gen, dtype=torch.float64)
    assert lipschitz_estimate(Broken(), x, iters=80) > 1.01
    assert lipschitz_estimate(layer, x, iters=80) <= 1 + 1e-9


def test_spectral_conv_certified_after_training_steps():
    layer = SpectralConv2d(2, 3, 3, shape=(12, 12), power_iters=5).double()
    with torch.no_grad():
        layer.weight.mul_(10)
    layer.u = layer.u.double()
    for _ in range(20):
        layer(torch.randn(1, 2, 12, 12, dtype=torch.float64))
    bound = layer.certify()
    assert bound <= 1.0
    layer.eval()
    est = lipschitz_estimate(layer, torch.randn(1, 2, 16, 16, dtype=torch.float64), iters=100)
    assert est <= bound + 1e-9 and est > 0.8


def test_lipschitz_denoiser_and_averaged_bounds_hold():
    torch.manual_seed(0)
    den = LipschitzDenoiser(channels=4, hidden=6, depth=3).double()
    with torch.no_grad():
        for layer in den.net[1:-1]:
            layer.bias.normal_()
    assert den.lipschitz_bound() == 1.0
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(1, 1, 12, 12, generator=gen, dtype=torch.float64)
    est = lipschitz_estimate(den, x, iters=80)
    assert est <= 1 + 1e-9
    for _ in range(5):
        a = torch.rand(1, 1, 12, 12, generator=gen, dtype=torch.float64)
        b = torch.rand(1, 1, 12, 12, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            assert float((den(a) - den(b)).norm()) <= float((a - b).norm()) * (1 + 1e-12)
    avg = AveragedDenoiser(den, alpha=0.5)
    assert avg.lipschitz_bound() == 1.0
    # firm nonexpansiveness of (I + N)/2: ||D a - D b||^2 <= <D a - D b, a - b>
    a = torch.rand(1, 1, 12, 12, generator=gen, dtype=torch.float64)
    b = torch.rand(1, 1, 12, 12, generator=gen, dtype=torch.float64)
    d = avg(a) - avg(b)
    assert float(d.pow(2).sum()) <= float((d * (a - b)).sum()) + 1e-12


def test_lipschitz_bound_of_compositions_and_refusal():
    net = nn.Sequential(SLLConv2d(2, 3), nn.ReLU(), SLLConv2d(2, 3))
    assert lipschitz_bound(net) == 1.0
    with pytest.raises(TypeError, match="net must be built from layers"):
        lipschitz_bound(nn.Sequential(nn.Conv2d(1, 1, 3)))
    dn = DnCNN(depth=3, features=4)
    est = lipschitz_estimate(dn, torch.rand(1, 1, 8, 8), iters=30)
    assert est > 0  # defined for any network (no certificate for the unconstrained baseline)


def test_sll_bound_is_tight_for_a_diagonal_kernel():
    # one channel, centre tap only: K K^T = k^2 = T, so on the active set h(x) = x - 2x = -x (slope -1)
    layer = SLLConv2d(1, 1).double()
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[0, 0, 1, 1] = 0.7
        layer.bias.fill_(100.0)  # every unit active
    x = torch.rand(1, 1, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    est = lipschitz_estimate(layer, x, iters=20)
    assert abs(est - 1.0) < 1e-9
    with torch.no_grad():
        assert torch.allclose(layer(x), -x - 2 * 100.0 / 0.7, atol=1e-9)
