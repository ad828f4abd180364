"""The convection layer of the PDE-G-CNN: a left-invariant shift on the lifted roto-translation space."""

import math

import pytest
import torch
from remodel_equivariant import PDEGCNN, ConvectionLayer, PDEBlock, PlanarGroup, check_equivariance


def _field(n, c=2, size=11, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(2, c, n, size, size, dtype=torch.float64, generator=gen)


@pytest.mark.parametrize("name", ["C4", "C8", "C16"])
def test_convection_is_equivariant_to_every_exact_element(name):
    g = PlanarGroup(int(name[1:]))
    torch.manual_seed(0)
    layer = ConvectionLayer(3, g, kernel_size=5).double().requires_grad_(False)
    layer.velocity.copy_(torch.tensor([[0.7, -0.4, 0.9], [-1.3, 0.2, -2.5], [0.1, 0.8, 0.05]]))
    f = _field(g.order, c=3)
    out = layer(f)
    for a in g.exact_elements():
        err = float((layer(g.act_on_regular(a, f)) - g.act_on_regular(a, out)).abs().max() / out.abs().max())
        assert err < 1e-12, (a, err)
    block = PDEBlock(3, 2, g, kernel_size=3).double().eval()
    assert (
        check_equivariance(lambda x: block(x.unsqueeze(2).expand(-1, -1, g.order, -1, -1).contiguous()), g, f[:, :, 0])
        < 1e-12
    )


def test_integer_shift_moves_each_orientation_along_its_own_rotated_direction():
    # c = -(1, 0, 0): exp(-c) = translation by d = (1, 0) in the frame of orientation 0; orientation θ reads
    # f(x + R_θ d): at 0° one row down, at 90° (rot90 sense) one column right, at 180° one row up
    layer = ConvectionLayer(1, "C8", kernel_size=5, max_shift=2.0).double().requires_grad_(False)
    layer.velocity.copy_(torch.tensor([[-1.0, 0.0, 0.0]]))
    d, e3 = layer.shift()
    assert float(d[0, 0]) == pytest.approx(2 * math.tanh(1 / 2), abs=1e-12) and float(e3[0]) == 0.0
    layer.max_shift = 1e6  # (almost) no soft limit: d = (1, 0) to 1e-12
    f = _field(8, c=1, size=9, seed=1)
    out = layer(f)
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))
    expect = {0: (1, 0), 2: (0, 1), 4: (-1, 0), 6: (0, -1)}
    for k, (du, dv) in expect.items():
        shifted = torch.roll(f[:, :, k], shifts=(-du, -dv), dims=(-2, -1))
        assert torch.allclose(out[:, :, k][inner], shifted[inner], atol=1e-9), k
    # 45°: bilinear interpolation at R_45 d = (1, 1) / sqrt(2): four pixels with the bilinear weights
    r = 1 / math.sqrt(2)
    kern = layer.kernels()[0, 1]
    assert float(kern.sum()) == pytest.approx(1.0)
    assert float(kern[3, 3]) == pytest.approx(r * r) and float(kern[2, 2]) == pytest.approx((1 - r) ** 2)


def test_angular_convection_shifts_the_orientation_axis():
    layer = ConvectionLayer(1, "C8", kernel_size=5).double().requires_grad_(False)
    f = _field(8, c=1, seed=2)
    layer.velocity.copy_(torch.tensor([[0.0, 0.0, -2 * math.pi / 8]], dtype=torch.float64))  # e3 = one orientation step
    assert torch.allclose(layer(f), torch.roll(f, -1, dims=2), atol=1e-12)  # out(θ_k) = f(θ_{k+1})
    layer.velocity.copy_(
        torch.tensor([[0.0, 0.0, -math.pi / 8]], dtype=torch.float64)
    )  # half a step: linear interpolation
    assert torch.allclose(layer(f), 0.5 * (f + torch.roll(f, -1, dims=2)), atol=1e-12)


def test_spatial_shift_is_the_translation_part_of_the_se2_exponential():
    # integrate the exponential curve x' = R_{θ(s)} (e1, e2), θ' = e3 on [0, 1] and compare with shift()
    layer = ConvectionLayer(1, "C8", kernel_size=5, max_shift=4.0).double().requires_grad_(False)
    layer.max_shift = 1e6
    for e in ([0.8, -0.3, 1.2], [0.5, 0.4, -2.0], [0.2, 0.1, 1e-6]):
        layer.velocity.copy_(-torch.tensor([e], dtype=torch.float64))
        x, th, n = torch.zeros(2, dtype=torch.float64), 0.0, 4000
        for _ in range(n):  # midpoint rule
            t = th + e[2] * 0.5 / n
            x = (
                x
                + torch.tensor(
                    [math.cos(t) * e[0] - math.sin(t) * e[1], math.sin(t) * e[0] + math.cos(t) * e[1]],
                    dtype=torch.float64,
                )
                / n
            )
            th += e[2] / n
        d, e3 = layer.shift()
        assert torch.allclose(d[0], x, atol=1e-6), (e, d, x)
        assert float(e3[0]) == pytest.approx(e[2])


def test_dropping_the_rotation_of_the_shift_breaks_left_invariance():
    # the defining step: the shift at orientation θ is R_θ d; the same shift at every orientation is not equivariant
    g = PlanarGroup(8)
    layer = ConvectionLayer(1, g, kernel_size=5).double().requires_grad_(False)
    layer.velocity.copy_(torch.tensor([[-1.0, 0.5, 0.0]]))
    f = _field(8, c=1, seed=3)
    a = 2  # 90°
    assert float((layer(g.act_on_regular(a, f)) - g.act_on_regular(a, layer(f))).abs().max()) < 1e-12
    layer.rotations.copy_(layer.rotations[0].expand_as(layer.rotations))
    assert float((layer(g.act_on_regular(a, f)) - g.act_on_regular(a, layer(f))).abs().max()) > 1e-2


def test_pde_gcnn_with_convection_is_invariant_and_learns_the_velocity():
    torch.manual_seed(4)
    model = PDEGCNN("C8", hidden=(2, 2), out_features=3).eval()
    x = torch.randn(2, 1, 13, 13, generator=torch.Generator().manual_seed(5))
    assert check_equivariance(model, "C8", x) < 1e-5
    model.train()
    model(x).sum().backward()
    conv = model.features[3].convection
    assert isinstance(conv, ConvectionLayer) and conv.velocity.grad.abs().sum() > 0
