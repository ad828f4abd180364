"""Group convolutions between fields on quotient spaces G/H: the coset action, exact equivariance, and agreement
with the regular construction restricted to fields that are constant on cosets."""

import io

import pytest
import torch
from remodel_equivariant import (
    GroupBatchNorm,
    GroupConv2d,
    LiftingConv2d,
    PlanarGroup,
    QuotientConv2d,
    QuotientSpace,
    check_equivariance,
)
from torch import nn

# (group, in (rotations, flip), out (rotations, flip)): C_N/C_M and D_N by rotations, by the flip, by D_M
PAIRS = [
    ("C8", (4, False), (1, False)),
    ("C8", (1, False), (2, False)),
    ("C8", (2, False), (4, False)),
    ("C8", (8, False), (8, False)),
    ("C4", (2, False), (2, False)),
    ("D8", (1, True), (1, False)),
    ("D8", (1, False), (1, True)),
    ("D4", (4, True), (2, False)),
    ("D8", (8, False), (2, True)),
]


def _field(space, c=2, size=9, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(2, c, space.size, size, size, dtype=torch.float64, generator=gen)


@pytest.mark.parametrize("name", ["C8", "D8", "D4", "C6"])
def test_cosets_form_a_transitive_action_of_the_group(name):
    g = PlanarGroup(int(name[1:]), flips=name[0] == "D")
    for rotations in [m for m in range(1, g.N + 1) if g.N % m == 0]:
        for flip in (False, True) if g.flips else (False,):
            X = QuotientSpace(g, rotations, flip=flip)
            assert X.size * len(X.subgroup) == g.order
            assert {X.act(a, 0) for a in range(g.order)} == set(range(X.size))  # transitive
            for a in range(g.order):
                for b in range(g.order):
                    for x in range(X.size):  # an action: (ab) x = a (b x)
                        assert X.act(g.compose(a, b), x) == X.act(a, X.act(b, x))
            assert all(X.act(h, 0) == 0 for h in X.subgroup)  # H is the stabiliser of the coset H
    assert QuotientSpace("C8", 4).size == 2 and QuotientSpace("D8", flip=True).size == 8
    assert QuotientSpace("D8", 8, flip=True).size == 1


@pytest.mark.parametrize("group, src, dst", PAIRS, ids=[f"{g}:{s}->{d}" for g, s, d in PAIRS])
def test_quotient_convolution_is_equivariant_to_every_exact_element(group, src, dst):
    torch.manual_seed(0)
    X, Y = QuotientSpace(group, src[0], flip=src[1]), QuotientSpace(group, dst[0], flip=dst[1])
    conv = QuotientConv2d(2, 3, X, Y, kernel_size=5).double()
    with torch.no_grad():
        conv.bias.normal_()
    f = _field(X)
    conv.requires_grad_(False)
    out = conv(f)
    assert out.shape == (2, 3, Y.size, 9, 9)
    g = X.group
    for a in g.exact_elements():
        err = float((conv(X.act_on_field(a, f)) - Y.act_on_field(a, out)).abs().max() / out.abs().max())
        assert err < 1e-12, (a, err)


@pytest.mark.parametrize(
    "group, src, dst", PAIRS[:3] + PAIRS[5:8], ids=[f"{g}:{s}->{d}" for g, s, d in PAIRS[:3] + PAIRS[5:8]]
)
def test_quotient_convolution_is_the_regular_one_restricted_to_coset_constant_fields(group, src, dst):
    # (per-element coordinates: coef[:, :, d] is ψ_reg(d))
    # regular conv with kernel ψ_reg on the lifted field F(g) = f(gH1), averaged over the output cosets, equals the
    # quotient conv whose kernel is ψ_reg summed over each input coset
    torch.manual_seed(1)
    X, Y = QuotientSpace(group, src[0], flip=src[1]), QuotientSpace(group, dst[0], flip=dst[1])
    reg = GroupConv2d(2, 3, group, kernel_size=3, group_bandwidth=None, group_coordinates="group").double()
    quo = QuotientConv2d(2, 3, X, Y, kernel_size=3).double()
    with torch.no_grad():
        reg.bias.normal_()
        quo.bias.copy_(reg.bias)
        coef = torch.zeros_like(quo.coef)
        for d in range(X.group.order):
            coef[:, :, X.coset_of[d]] += reg.coef[:, :, d]
        quo.coef.copy_(coef)
    f = _field(X, seed=2)
    full = reg(X.lift(f))  # [B, 3, |G|, H, W]
    avg = torch.stack(
        [full[:, :, [a for a in range(X.group.order) if Y.coset_of[a] == y]].mean(2) for y in range(Y.size)], dim=2
    )
    assert torch.allclose(quo(f), avg, atol=1e-12)
    if Y.size == X.group.order:  # regular output: the lifted quotient field stays constant on nothing smaller
        assert torch.allclose(quo(f), full, atol=1e-12)


def test_regular_and_lifting_convolutions_are_the_special_cases():
    torch.manual_seed(2)
    for group in ("C8", "D4"):
        g = PlanarGroup(int(group[1:]), flips=group[0] == "D")
        regular, scalar = QuotientSpace(g), QuotientSpace(g, g.N, flip=g.flips)
        reg = GroupConv2d(2, 3, g, kernel_size=5, group_bandwidth=None, group_coordinates="group").double()
        quo = QuotientConv2d(2, 3, regular, regular, kernel_size=5).double()
        quo.load_state_dict(reg.state_dict(), strict=False)
        with torch.no_grad():
            quo.coef.copy_(reg.coef)
        f = _field(regular, seed=3)
        assert torch.allclose(quo(f), reg(f), atol=1e-12)
        lift = LiftingConv2d(2, 3, g, kernel_size=5).double()
        qlift = QuotientConv2d(2, 3, scalar, regular, kernel_size=5).double()
        with torch.no_grad():
            qlift.coef.copy_(lift.weight[:, :, None])
        x = _field(scalar, seed=4)
        assert torch.allclose(qlift(x), lift(x[:, :, 0]), atol=1e-12)


def test_a_wrong_coset_table_breaks_equivariance():
    # the defining step: ψ is read at g^{-1} x; reading it at x (no permutation of the input cosets) is not
    # equivariant, so the checks above can fail
    torch.manual_seed(3)
    X, Y = QuotientSpace("C8", 2), QuotientSpace("C8")
    conv = QuotientConv2d(1, 2, X, Y, kernel_size=3).double().requires_grad_(False)
    f = _field(X, c=1, seed=5)
    a = 2  # rotation by 90°
    assert float((conv(X.act_on_field(a, f)) - Y.act_on_field(a, conv(f))).abs().max()) < 1e-12
    conv.table.copy_(torch.arange(X.size).expand_as(conv.table))
    assert float((conv(X.act_on_field(a, f)) - Y.act_on_field(a, conv(f))).abs().max()) > 1e-2


def test_network_with_quotient_fields_passes_check_equivariance_in_float32():
    torch.manual_seed(4)
    g = PlanarGroup(8, flips=True)
    no_flip, regular = QuotientSpace(g, flip=True), QuotientSpace(g)
    net = nn.Sequential(
        LiftingConv2d(1, 2, g, kernel_size=5),
        GroupBatchNorm(2),
        nn.ReLU(),
        QuotientConv2d(2, 3, regular, no_flip, kernel_size=3),
        GroupBatchNorm(3),
        nn.ReLU(),
        QuotientConv2d(3, 2, no_flip, no_flip, kernel_size=3),
    ).eval()
    x = torch.randn(2, 1, 13, 13, generator=torch.Generator().manual_seed(6))
    assert net(x).shape == (2, 2, 8, 13, 13)
    assert check_equivariance(net, g, x, output=no_flip) < 1e-5
    # rotating the maps without permuting the cosets is not the action on this field
    assert check_equivariance(net, g, x, output="image") > 1e-2
    buf = io.BytesIO()
    torch.save(net, buf)
    buf.seek(0)
    assert torch.equal(torch.load(buf, weights_only=False)(x), net(x))
