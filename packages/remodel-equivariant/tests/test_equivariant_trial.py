"""Defects found by a new-user trial of the public API (session 13): vacuous or ill-posed equivariance checks, the
invariant head's input, and the diffusion layer's window."""

import math

import pytest
import torch
from remodel_equivariant import DiffusionLayer, InvariantHead, PlanarGroup, check_equivariance


def _not_invariant(x: torch.Tensor) -> torch.Tensor:
    return x[..., :, 0].sum(-1)  # the first column: moves under every rotation and left-right flip


@pytest.mark.parametrize("name", ["C1", "C3", "C5"])
def test_check_equivariance_refuses_a_group_with_nothing_to_check(name):
    # only the identity maps the pixel grid to itself: the check returned 0.0 for any function
    x = torch.randn(2, 1, 9, 9, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="vacuous"):
        check_equivariance(_not_invariant, name, x)


@pytest.mark.parametrize("name", ["C2", "D1", "D3", "C6"])
def test_check_equivariance_still_checks_groups_with_a_flip_or_a_half_turn(name):
    x = torch.randn(2, 1, 9, 9, generator=torch.Generator().manual_seed(0))
    assert check_equivariance(_not_invariant, name, x) > 0.1
    assert check_equivariance(lambda v: v.sum((-2, -1)), name, x) < 1e-5


def test_check_equivariance_refuses_an_image_action_on_logits():
    # rot90 of a [B, C] tensor of logits is no action of the group (it even broadcast [1, 3] against [3, 1])
    x = torch.randn(1, 1, 9, 9, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="an image output must be maps"):
        check_equivariance(lambda v: v.sum((-2, -1)).expand(-1, 3), "C4", x, output="image")


@pytest.mark.parametrize("bad", [torch.randn(1, 3, 5, 5), torch.randn(1, 4, 8, 5, 5), "f"])
def test_invariant_head_names_its_input(bad):
    with pytest.raises(ValueError, match=r"f must be fields over the group \[B, 3, \|G\|, H, W\]"):
        InvariantHead(3, 2)(bad)


@pytest.mark.parametrize(("kernel_size", "variance"), [(3, 0.61), (5, 1.37), (7, 1.83), (11, 2.00)])
def test_diffusion_window_keeps_the_variance_its_docstring_states(kernel_size, variance):
    layer = DiffusionLayer(1, PlanarGroup(8), kernel_size=kernel_size).double()
    with torch.no_grad():  # D_par = D_perp = 1, no angular diffusion: exact heat kernel variance 2 D t = 2
        layer.raw.copy_(torch.tensor([[math.log(math.expm1(v)) for v in (1.0, 1.0, 1e-6)]]))
    n = 31
    f = torch.zeros(1, 1, 8, n, n, dtype=torch.float64)
    f[..., n // 2, n // 2] = 1.0
    with torch.no_grad():
        out = layer(f)[0, 0, 0]
    i = torch.arange(n, dtype=torch.float64) - n // 2
    assert float((out.sum(1) * i**2).sum() / out.sum()) == pytest.approx(variance, abs=0.006)


def test_a_trained_ode_resnet_state_dict_loads_into_a_fresh_model():
    # the parabolic blocks keep their power-iteration vector at the size of the maps trained on (29 x 29 and
    # 15 x 15 here, 16 x 16 at construction): load_state_dict failed with a size mismatch
    from remodel_equivariant import ODEResNet

    torch.manual_seed(0)
    model = ODEResNet("C4", widths=(2, 4), depth=1, kernel_size=3)
    model(torch.randn(2, 1, 29, 29))  # one training-mode pass updates the step estimates
    fresh = ODEResNet("C4", widths=(2, 4), depth=1, kernel_size=3)
    fresh.load_state_dict(model.state_dict())
    x = torch.randn(2, 1, 29, 29)
    assert torch.equal(fresh.eval()(x), model.eval()(x))


def test_parabolic_step_cap_holds_at_the_size_last_trained_on_as_the_docstring_says():
    # the cap uses ||K|| of the maps of the last training pass: after 5 x 5 it is too long on 29 x 29 maps
    # (1.07 to 1.15 x 2/||K||^2 for seeds 0-3), and a no-grad training-mode pass at 29 x 29 brings it below
    from remodel_equivariant import GroupParabolicBlock

    torch.manual_seed(3)
    block = GroupParabolicBlock(2, "C4", h=10.0, kernel_size=3).double()
    block(torch.randn(2, 2, 4, 5, 5, dtype=torch.float64))
    y = torch.randn(1, 2, 4, 29, 29, dtype=torch.float64)
    assert float(block.eval().step_size(y)) > 1.05 * block.stable_step(29)
    with torch.no_grad():
        block.train()(y)
    assert float(block.eval().step_size(y)) <= 0.95 * block.stable_step(29)
