"""Native group convolutions: the group law, exact equivariance of every layer type, export."""

import io
import math

import pytest
import torch
from remodel_equivariant import (
    GCNN,
    PDEGCNN,
    DiffusionLayer,
    EquivariantPool2d,
    GroupBatchNorm,
    GroupConv2d,
    GroupHamiltonianBlock,
    GroupParabolicBlock,
    GroupPool,
    InvariantHead,
    LiftingConv2d,
    MorphologicalLayer,
    NeuralODE,
    ODEResNet,
    PDEBlock,
    PlanarGroup,
    QuotientConv2d,
    QuotientSpace,
    check_equivariance,
)
from remodel_equivariant._digits import rotate_images
from remodel_equivariant._groups import _rotate_bilinear
from torch.autograd.functional import jacobian

GROUPS = ["C4", "C8", "D4", "D8"]


def _x(size=11, n=2, c=1, seed=0):
    return torch.randn(n, c, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", [*GROUPS, "C6", "D3"])
def test_group_law_and_kernel_transforms_are_a_homomorphism_on_exact_elements(name):
    g = PlanarGroup(int(name[1:]), flips=name[0] == "D")
    for a in range(g.order):
        assert g.compose(a, g.inverse(a)) == 0
        for b in range(g.order):
            for c in range(g.order):  # associativity
                assert g.compose(g.compose(a, b), c) == g.compose(a, g.compose(b, c))
    T = g.kernel_transforms(5)
    for a in g.exact_elements():
        for b in range(g.order):
            assert torch.allclose(T[a] @ T[b], T[g.compose(a, b)], atol=1e-12)
        # exact elements are permutations and match the action on images
        psi = torch.randn(5, 5, dtype=torch.float64)
        assert torch.equal((T[a] @ psi.flatten()).reshape(5, 5), g.act_on_image(a, psi))
    assert len(g.exact_elements()) == (4 if g.N % 4 == 0 else 2 if g.N % 2 == 0 else 1) * (2 if g.flips else 1)


@pytest.mark.parametrize("name", ["C8", "D8", "C6"])
def test_smooth_basis_is_exactly_permuted_by_exact_elements_and_analytically_rotated(name):
    g = PlanarGroup(int(name[1:]), flips=name[0] == "D")
    B = g.smooth_kernel_basis(5)  # [order, 25, nb]
    assert B.shape[-1] == 11  # rings r = 0, 1, 2 with harmonics m <= min(2r, 2)
    for a in g.exact_elements():
        for b in range(g.order):
            moved = g.act_on_image(a, B[b].T.reshape(-1, 5, 5)).reshape(-1, 25).T
            assert torch.allclose(moved, B[g.compose(a, b)], atol=1e-12)
    # a rotation by 45° (C8) of the m = 1 harmonic equals the analytic combination cos/sin of the angle
    if name == "C8":
        c, s_ = math.cos(math.pi / 4), math.sin(math.pi / 4)
        cos1, sin1 = B[0][:, 2], B[0][:, 3]  # ring r = 1: cos(theta), sin(theta)
        rotated = B[1][:, 2]
        assert torch.allclose(rotated, c * cos1 + s_ * sin1, atol=1e-12) or torch.allclose(
            rotated, c * cos1 - s_ * sin1, atol=1e-12
        )


def test_interpolated_rotation_is_a_rotation():
    # a smooth, centred Gaussian bump rotated by 45 degrees twice is close to rot90; by 45 degrees it keeps
    # its mass within the interpolation error
    i = torch.arange(9, dtype=torch.float64) - 4
    bump = torch.exp(-((i[:, None] - 1.0) ** 2 / 4.5 + i[None, :] ** 2 / 12.5))  # anisotropic, off-centre, max 1
    once = _rotate_bilinear(bump, math.pi / 4)
    twice = _rotate_bilinear(once, math.pi / 4)
    assert float((twice - torch.rot90(bump, 1)).abs().max()) < 0.12  # two bilinear interpolations: blur only
    assert float((once - torch.rot90(bump, 1)).abs().max()) > 0.3  # and 45° is not 90°
    assert torch.allclose(_rotate_bilinear(bump, math.pi / 2), torch.rot90(bump, 1), atol=1e-12)
    assert float(once.sum()) == pytest.approx(float(bump.sum()), rel=0.05)


@pytest.mark.parametrize("name", GROUPS)
def test_every_native_layer_is_equivariant(name):
    g = PlanarGroup(int(name[1:]), flips=name[0] == "D")
    torch.manual_seed(0)
    x = _x(c=2)
    f = torch.randn(2, 2, g.order, 11, 11, dtype=torch.float64)
    layers = {
        "lifting": (LiftingConv2d(2, 3, g, kernel_size=5), x, "regular"),
        "group conv": (GroupConv2d(2, 3, g, kernel_size=3), f, "regular"),
        "batch norm": (GroupBatchNorm(2), f, "regular"),
        "pool": (EquivariantPool2d(), f, "regular"),
        "group pool": (GroupPool("max"), f, "image"),
        "head": (InvariantHead(2, 4), f, "invariant"),
        "parabolic": (GroupParabolicBlock(2, g, h=0.3), f, "regular"),
        "hamiltonian": (GroupHamiltonianBlock(1, g, h=0.3), f, "regular"),
    }
    if not g.flips:
        layers["diffusion"] = (DiffusionLayer(2, g, kernel_size=5), f, "regular")
        layers["morphological"] = (MorphologicalLayer(2, g, kernel_size=3), f, "regular")
        layers["pde block"] = (PDEBlock(2, 3, g, kernel_size=3), f, "regular")
    for label, (layer, inp, out) in layers.items():
        layer = layer.double().train(label == "batch norm")  # batch statistics are equivariant too
        y = layer(inp)
        for a in g.exact_elements():
            ga = g.act_on_image(a, inp) if inp.dim() == 4 else g.act_on_regular(a, inp)
            target = y if out == "invariant" else g.act_on_image(a, y) if out == "image" else g.act_on_regular(a, y)
            err = float((layer(ga) - target).abs().max() / y.abs().max())
            assert err < 1e-12, (label, a, err)


def test_group_bandwidth_limits_the_kernel_along_the_group_axis():
    torch.manual_seed(8)
    layer = GroupConv2d(1, 1, "C8", kernel_size=3, group_bandwidth=1)
    weight = torch.einsum("gf,ocfq->ocgq", layer.modes, layer.coef)[0, 0]  # [8, nb]
    spectrum = torch.fft.rfft(weight.double(), dim=0).abs()  # along the group axis
    assert float(spectrum[2:].max()) < 1e-5 * float(spectrum[:2].max())
    assert GroupConv2d(1, 1, "C8", kernel_size=3).coef.shape[2] == 5  # auto: N // 4 = 2 -> 1 + 2 * 2 modes
    assert GroupConv2d(1, 1, "D8", kernel_size=3).coef.shape[2] == 10  # each reflection coset
    assert GroupConv2d(1, 1, "C4", kernel_size=3).coef.shape[2] == 3  # auto: 1 -> no Nyquist mode
    assert GroupConv2d(1, 1, "C4", kernel_size=3, group_bandwidth=None).coef.shape[2] == 4  # unconstrained


def test_rotation_symmetry_is_not_trivial():
    # the same layers are not invariant (the output moves), and a lifting layer without the kernel rotation
    # (all T[g] = identity) is not equivariant: the check can fail
    torch.manual_seed(1)
    g = PlanarGroup(8)
    layer = LiftingConv2d(1, 2, g, kernel_size=5).double()
    x = _x()
    assert check_equivariance(layer, g, x, output="regular") < 1e-12
    assert check_equivariance(layer, g, x, output="invariant") > 0.1
    layer.transforms.copy_(layer.transforms[0].expand_as(layer.transforms))
    assert check_equivariance(layer, g, x, output="regular") > 0.1


@pytest.mark.parametrize("model", ["gcnn_c8", "gcnn_d8", "ode_c8", "ode_ham_c4", "pde_c8"])
def test_models_are_invariant_in_float32_and_exportable(model):
    torch.manual_seed(2)
    net, group = {
        "gcnn_c8": (lambda: GCNN("C8", hidden=(2, 3), out_features=4, kernel_size=3), "C8"),
        "gcnn_d8": (lambda: GCNN("D8", hidden=(2, 2), out_features=4, kernel_size=3), "D8"),
        "ode_c8": (lambda: ODEResNet("C8", widths=(2, 2), depth=1, out_features=4), "C8"),
        "ode_ham_c4": (lambda: ODEResNet("C4", widths=(2, 2), depth=1, block="hamiltonian", out_features=4), "C4"),
        "pde_c8": (lambda: PDEGCNN("C8", hidden=(2, 2), out_features=4), "C8"),
    }[model]
    net = net().eval()
    x = torch.randn(3, 1, 13, 13, generator=torch.Generator().manual_seed(3))
    assert check_equivariance(net, group, x) < 1e-5
    buf = io.BytesIO()
    torch.save(net, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    assert torch.equal(loaded(x), net(x))
    exported = torch.export.export(net, (x,))
    assert torch.allclose(exported.module()(x), net(x), atol=1e-6)


def test_rotated_input_gives_rotated_maps_and_rotating_images_matches_rot90():
    torch.manual_seed(4)
    maps = GCNN("C4", hidden=(2, 2), kernel_size=3, pool=False, downsample=False).eval()
    x = torch.randn(2, 1, 12, 12)
    assert check_equivariance(maps, "C4", x, output="image") < 1e-5
    assert check_equivariance(maps, "C4", x, output="invariant") > 1e-2
    assert torch.allclose(rotate_images(x.double(), math.pi), torch.rot90(x.double(), 2, (-2, -1)), atol=1e-12)


def test_parabolic_block_is_nonexpansive_and_its_bound_is_sharp():
    torch.manual_seed(5)
    block = GroupParabolicBlock(1, "C4", h=10.0, kernel_size=3, stabilise=False).double()
    size = 5
    h_max = block.stable_step(size)
    f = torch.randn(1, 1, 4, size, size, dtype=torch.float64)
    n = f.numel()
    block.h = 0.95 * h_max
    J = jacobian(block, f).reshape(n, n)
    assert float(torch.linalg.matrix_norm(J, ord=2)) <= 1 + 1e-10
    gen = torch.Generator().manual_seed(6)
    for _ in range(10):
        a, b = torch.randn(2, 1, 1, 4, size, size, generator=gen, dtype=torch.float64)
        assert float((block(a) - block(b)).norm()) <= float((a - b).norm()) * (1 + 1e-12)
    # above 2 / ||K||^2 the block expands where the activation is the identity
    block.h = 3.0 * h_max
    with torch.no_grad():
        block.conv.bias.fill_(50.0)
    J = jacobian(block, torch.zeros_like(f)).reshape(n, n)
    assert float(torch.linalg.matrix_norm(J, ord=2)) > 1.5
    # the stabilised block caps its step below the bound
    stab = GroupParabolicBlock(1, "C4", h=10.0, kernel_size=3).double().train()
    stab(f)
    assert stab.step_size(f) <= 2.0 / stab.operator_norm(size) ** 2 * 0.95


def test_hamiltonian_block_is_exactly_invertible_and_volume_preserving():
    torch.manual_seed(7)
    block = GroupHamiltonianBlock(1, "C4", h=0.4, kernel_size=3).double()
    f = torch.randn(1, 2, 4, 4, 4, dtype=torch.float64)
    assert torch.allclose(block.inverse(block(f)), f, atol=1e-12)
    J = jacobian(block, f).reshape(f.numel(), f.numel())
    assert float(torch.linalg.slogdet(J).logabsdet) == pytest.approx(0.0, abs=1e-9)


def test_neural_ode_layer_matches_the_exact_flow_and_counts_evaluations():
    layer = NeuralODE(lambda t, y: -2.0 * y, T=0.5, method="dopri5", rtol=1e-10, atol=1e-12)
    y = layer(torch.ones(3, dtype=torch.float64))
    assert torch.allclose(y, torch.full((3,), math.exp(-1.0), dtype=torch.float64), atol=1e-9)
    assert layer.nfe > 6
    euler = NeuralODE(lambda t, y: -2.0 * y, T=0.5, method="euler", dt=0.05)
    assert float(euler(torch.ones(1, dtype=torch.float64))) == pytest.approx(0.9**10)


def test_dilation_is_the_max_plus_convolution_with_the_quadratic_structuring_function():
    layer = MorphologicalLayer(1, "C4", kernel_size=3).double()
    f = torch.zeros(1, 1, 4, 5, 5, dtype=torch.float64)
    f[0, 0, 0, 2, 2] = 1.0  # a spike at the centre, orientation 0
    y = layer._dilate(f)
    k = layer.quadratic().detach()[0, 0] / 4.0  # k(y) for orientation 0 on the 3x3 window
    assert float(y[0, 0, 0, 2, 2]) == pytest.approx(1.0)
    for du in (-1, 0, 1):
        for dv in (-1, 0, 1):
            expected = max(1.0 - float(k[1 + du, 1 + dv]), 0.0)
            assert float(y[0, 0, 0, 2 + du, 2 + dv]) == pytest.approx(expected, abs=1e-12)


def _column_norms(layer):
    """Norm of the expanded filter of every single weight (the columns of d filter / d weight)."""
    param = layer.weight if isinstance(layer, LiftingConv2d) else layer.coef
    norms = []
    with torch.no_grad():
        saved = param.detach().clone()
        for index in range(param.numel()):
            param.zero_()
            param.view(-1)[index] = 1.0
            norms.append(float(layer.filter().norm()))
        param.copy_(saved)
    return torch.tensor(norms)


@pytest.mark.parametrize("bandwidth", ["auto", None])
def test_unit_columns_gives_every_weight_a_unit_norm_filter_and_keeps_the_initial_filters(bandwidth):
    # escnn's basis normalisation: each weight moves a unit-norm piece of the expanded filter (the |G| shared
    # copies of a kernel otherwise make it sqrt(|G|) long, and longer still for the group-axis modes)
    layers = {}
    for unit in (False, True):
        torch.manual_seed(3)
        lift = LiftingConv2d(1, 2, "C8", kernel_size=5, unit_columns=unit)
        conv = GroupConv2d(1, 1, "C8", kernel_size=5, group_bandwidth=bandwidth, unit_columns=unit)
        conv.coef = torch.nn.Parameter(conv.coef.detach().contiguous())
        layers[unit] = (lift, conv)
    for new, old in zip(layers[True], layers[False]):
        assert torch.allclose(new.filter(), old.filter(), atol=1e-6)  # same initial filters
        norms = _column_norms(new)  # 1 up to the resampling of the basis at 45 degrees (within 0.2)
        assert float((norms - 1).abs().max()) < 0.2 and abs(float(norms.median()) - 1) < 1e-5, norms
        assert float(_column_norms(old).min()) > 2.0  # sqrt(8) or more without it
    model = GCNN("C8", hidden=(2, 2), kernel_size=5, unit_columns=True).eval()
    assert check_equivariance(model, "C8", torch.randn(2, 1, 15, 15)) < 1e-5


@pytest.mark.parametrize("group, bandwidth", [("C8", None), ("C8", "auto"), ("D4", None)])
def test_group_axis_weights_are_orthonormal_fourier_coordinates(group, bandwidth):
    # the default coordinates along the group axis are orthonormal real Fourier modes (escnn's irrep blocks);
    # with the full group axis they are a rotation of the per-element coordinates: the same initial filters,
    # but a different Adam step
    layers = {}
    for coords in ("fourier", "group"):
        torch.manual_seed(5)
        layers[coords] = GroupConv2d(2, 2, group, kernel_size=3, group_bandwidth=bandwidth, group_coordinates=coords)
    modes = layers["fourier"].modes.double()
    assert torch.allclose(modes.T @ modes, torch.eye(modes.shape[1], dtype=torch.float64), atol=1e-6)
    n = layers["fourier"].group.N
    for column in modes.T.reshape(modes.shape[1], -1, n):  # one coset at a time
        for part in column:
            if part.abs().max() > 0:
                spectrum = torch.fft.rfft(part).abs()
                assert int((spectrum > 1e-6 * spectrum.max()).sum()) == 1  # a single frequency
    if bandwidth is None:
        assert torch.allclose(layers["fourier"].filter(), layers["group"].filter(), atol=1e-6)
        x = torch.randn(2, 2, layers["fourier"].group.order, 7, 7)
        stepped = []
        for layer in layers.values():
            opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
            (layer(x) ** 3).sum().backward()
            opt.step()
            stepped.append(layer.filter().detach())
        assert float((stepped[0] - stepped[1]).abs().max()) > 1e-3


def _row_energy(filt: torch.Tensor) -> float:
    """Mean squared norm of the expanded filter of one output map."""
    f = filt.detach().double()
    return float((f.reshape(f.shape[0], -1) ** 2).sum(1).mean())


@pytest.mark.parametrize(
    "make",
    [
        lambda g: LiftingConv2d(2, 48, "C8", kernel_size=5, init_gain=g),
        lambda g: LiftingConv2d(1, 48, "D4", kernel_size=3, basis="pixel", init_gain=g),
        lambda g: GroupConv2d(3, 48, "C8", kernel_size=5, init_gain=g),  # band-limited group axis: 5 of 8 modes
        lambda g: GroupConv2d(3, 48, "C8", kernel_size=5, group_bandwidth=None, init_gain=g),
        lambda g: GroupConv2d(3, 48, "C8", kernel_size=5, group_coordinates="group", unit_columns=True, init_gain=g),
        lambda g: GroupConv2d(2, 48, "D4", kernel_size=3, basis="pixel", group_bandwidth=1, init_gain=g),
        lambda g: QuotientConv2d(3, 48, QuotientSpace("C8", 4), QuotientSpace("C8"), kernel_size=5, init_gain=g),
        lambda g: QuotientConv2d(3, 48, QuotientSpace("C8"), QuotientSpace("C8", 2), kernel_size=5, init_gain=g),
    ],
    ids=["lift", "lift_pixel_d4", "gconv_band", "gconv_full", "gconv_unit_group", "gconv_d4", "quot_in", "quot_out"],
)
def test_initial_filter_energy_per_output_map_is_init_gain(make):
    # generalised He/LeCun initialisation: whatever the basis, band-limit, coordinates or normalisation, the
    # expanded filter of each output map has expected squared norm init_gain (default 1/3, torch's nn.Conv2d)
    torch.manual_seed(0)
    assert abs(_row_energy(make(1.0 / 3.0).filter()) - 1.0 / 3.0) < 0.04
    assert abs(_row_energy(make(2.0).filter()) - 2.0) < 0.24


def test_default_init_gain_is_torch_conv2d_and_gcnn_passes_it_on():
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(24, 48, 5)  # torch's default: variance 1 / (3 fan_in) per entry
    torch.manual_seed(1)
    model = GCNN("C8", hidden=(64, 24), kernel_size=5)
    energies = [_row_energy(m.filter()) for m in model.modules() if isinstance(m, LiftingConv2d | GroupConv2d)]
    assert abs(_row_energy(conv.weight) - 1 / 3) < 0.03
    for e in energies:  # 15 %: the lifting's 64 fields have 11 weights each
        assert abs(e - 1 / 3) < 0.05, energies
    torch.manual_seed(1)
    big = GCNN("C8", hidden=(64, 24), kernel_size=5, init_gain=3.0)
    energies = [_row_energy(m.filter()) for m in big.modules() if isinstance(m, LiftingConv2d | GroupConv2d)]
    for e in energies:
        assert abs(e - 3.0) < 0.45, energies
