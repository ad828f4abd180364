import pytest
import torch
from remodel_equivariant import PlainCNN, SteerableCNN, equivariance_error, hflip, rot90

pytest.importorskip("escnn", reason="escnn is the optional extra remodel-equivariant[escnn]")

ROTATIONS = [rot90(1), rot90(2), rot90(3)]


@pytest.fixture(scope="module")
def x():
    return torch.randn(2, 1, 15, 15, generator=torch.Generator().manual_seed(0))


def test_c4_steerable_cnn_is_invariant_and_plain_cnn_is_not(x):
    torch.manual_seed(0)
    model = SteerableCNN(N=4, hidden=(2, 3), out_features=3, kernel_size=5).eval()
    plain = PlainCNN(N=4, hidden=(2, 3), out_features=3, kernel_size=5).eval()
    err = equivariance_error(model, ROTATIONS, x)
    err_plain = equivariance_error(plain, ROTATIONS, x)
    assert err < 1e-5  # float32 round-off only
    # global average pooling makes any CNN's output roughly invariant; still ~1000x the round-off level
    assert err_plain > 1e-3 and err_plain > 100 * err
    assert model.group_name == "C4"


def test_c4_feature_maps_rotate_with_the_input(x):
    torch.manual_seed(1)
    model = SteerableCNN(N=4, hidden=(2,), kernel_size=3, pool=False).eval()
    assert model(x).shape == (2, 2, 15, 15)
    assert equivariance_error(model, ROTATIONS, x, output_action=ROTATIONS) < 1e-5
    # ... and are not invariant as maps (rotated maps differ), so the test above is not trivial
    assert equivariance_error(model, ROTATIONS, x) > 1e-2
    plain = PlainCNN(N=4, hidden=(2,), kernel_size=3, pool=False).eval()
    assert equivariance_error(plain, ROTATIONS, x, output_action=ROTATIONS) > 0.1


def test_d4_model_is_invariant_to_rotations_and_flips_c4_only_to_rotations(x):
    torch.manual_seed(2)
    d4 = SteerableCNN(N=4, flips=True, hidden=(2,), out_features=2, kernel_size=3).eval()
    c4 = SteerableCNN(N=4, hidden=(2,), out_features=2, kernel_size=3).eval()
    assert equivariance_error(d4, [*ROTATIONS, hflip()], x) < 1e-5
    assert equivariance_error(c4, hflip(), x) > 1e-3
    assert d4.group_name == "D4"


def test_bad_arguments(x):
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        SteerableCNN(kernel_size=4)
    with pytest.raises(ValueError, match="hidden"):
        SteerableCNN(hidden=())
    with pytest.raises(ValueError, match="N must"):
        SteerableCNN(N=0)
    model = SteerableCNN(N=2, hidden=(1,), kernel_size=3)
    with pytest.raises(ValueError, match=r"x must have shape \[B, 1, H, W\]"):
        model(torch.zeros(1, 3, 5, 5))
    with pytest.raises(TypeError, match="group_action"):
        equivariance_error(model, [], x)
    with pytest.raises(ValueError, match="output_action"):
        equivariance_error(model, ROTATIONS, x, output_action=[rot90(1)])
