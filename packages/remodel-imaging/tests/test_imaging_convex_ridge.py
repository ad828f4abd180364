"""ConvexRidgeDenoiser: certified nonexpansive t-step denoiser of a learned convex ridge regulariser."""

from __future__ import annotations

import pytest
import torch
from remodel_imaging import ConvexRidgeDenoiser, conv_operator_norm, lipschitz_bound, lipschitz_estimate


def _trained_like(seed: int = 0, **kw) -> ConvexRidgeDenoiser:
    """A denoiser with random (not initial) parameters, in float64."""
    torch.manual_seed(seed)
    den = ConvexRidgeDenoiser(channels=6, kernel_size=5, **kw).double()
    with torch.no_grad():
        den.weight.normal_()
        den.log_theta.add_(0.5 * torch.randn_like(den.log_theta))
        den.log_w.add_(torch.randn_like(den.log_w))
    return den


def _huber_potential(den: ConvexRidgeDenoiser, x: torch.Tensor) -> torch.Tensor:
    """``μ R(x) = sum_i sum_m μ w_im H_θim((W x)_i)`` with Huber ``H_θ(z) = z^2/2`` for ``|z| <= θ``, else
    ``θ|z| - θ^2/2``: the potential whose gradient the denoiser steps along, written independently."""
    from remodel_imaging import circular_conv2d

    z = circular_conv2d(x, den.filters())
    w = torch.exp(den.log_w) * den.strength
    th = torch.exp(den.log_theta)
    total = x.new_zeros(())
    for m in range(w.shape[1]):
        t = th[:, m, None, None]
        a = z.abs()
        h = torch.where(a <= t, 0.5 * z**2, t * a - 0.5 * t**2)
        total = total + (w[:, m, None, None] * h).sum()
    return total


def test_gradient_is_the_gradient_of_the_convex_ridge_potential():
    den = _trained_like()
    x = torch.rand(2, 1, 12, 12, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(_huber_potential(den, x), x)
    assert torch.allclose(den.grad_regulariser(x.detach()), g, atol=1e-10)


def test_many_steps_reach_the_prox_optimality_condition():
    den = _trained_like(steps=400)
    y = torch.rand(1, 1, 10, 10, dtype=torch.float64)
    with torch.no_grad():
        x = den(y)
        # prox_{μR}(y): x - y + μ ∇R(x) = 0
        assert float((x - y + den.grad_regulariser(x)).norm()) < 1e-8 * float(y.norm())


@pytest.mark.parametrize("strength", [0.1, 1.0, 30.0])
def test_certified_bound_is_one_and_holds_against_power_iteration(strength):
    den = _trained_like(seed=1, steps=4, strength=strength)
    bound = den.lipschitz_bound()
    assert bound <= 1.0 + 1e-12
    assert lipschitz_bound(den) == bound
    x = torch.rand(1, 1, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert lipschitz_estimate(den, x, iters=15) <= bound + 1e-9
    g = torch.Generator().manual_seed(5)
    a, b = torch.rand(2, 4, 1, 16, 16, dtype=torch.float64, generator=g)
    with torch.no_grad():
        assert bool(((den(a) - den(b)).flatten(1).norm(dim=1) <= (a - b).flatten(1).norm(dim=1) + 1e-12).all())


def test_smoothness_bounds_the_jacobian_of_the_regulariser_gradient():
    den = _trained_like(seed=2, strength=3.0)
    L = den.smoothness()
    W = den.filters().detach()
    w = torch.exp(den.log_w.detach()) * den.strength
    assert L >= conv_operator_norm(W, (16, 16)) ** 2 * float(w.sum(1).max()) - 1e-12
    x = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    assert lipschitz_estimate(den.grad_regulariser, x, iters=40) <= L + 1e-9


def test_a_too_long_step_breaks_the_certificate():
    den = _trained_like(seed=3, steps=4, strength=20.0)
    L = den.smoothness()
    den.step_size = lambda: 2.5 / (1.0 + L)  # longer than 1 / (1 + L): the bound must show it
    assert den.lipschitz_bound() > 1.0 + 1e-3


def test_optimal_step_is_the_largest_certified_one():
    den = _trained_like(seed=3, steps=5, strength=20.0)
    L = den.smoothness()
    assert den.step_size() == pytest.approx(2.0 / (2.0 + L), rel=1e-14)
    assert abs(den.lipschitz_bound() - 1.0) < 1e-12
    den.step_size = lambda: 2.3 / (2.0 + L)  # beyond 2 / (2 + L): the bound must exceed 1
    assert den.lipschitz_bound() > 1.0 + 1e-3
    slow = _trained_like(seed=3, steps=5, strength=20.0, step_rule="conservative")
    assert slow.step_size() == pytest.approx(1.0 / (1.0 + L), rel=1e-14)
    assert abs(slow.lipschitz_bound() - 1.0) < 1e-12


def test_nearly_firmly_nonexpansive_with_many_steps():
    den = _trained_like(seed=4, steps=200)
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 6, 1, 12, 12, dtype=torch.float64, generator=g)
    with torch.no_grad():
        da, db = den(a), den(b)
    inner = ((da - db) * (a - b)).flatten(1).sum(1)
    assert bool((inner >= (da - db).flatten(1).pow(2).sum(1) - 1e-10).all())


def test_trains_as_a_denoiser():
    from remodel_imaging import random_patches, train_denoiser

    patches = random_patches(32, 16, images=("coins",), scale=48, seed=0)
    den = ConvexRidgeDenoiser(channels=4, kernel_size=3, steps=3)
    sol = train_denoiser(den, patches, noise_sigma=0.1, iters=25, lr=1e-2, batch_size=8, seed=0)
    loss = sol.history["loss"]
    assert sum(loss[-5:]) / 5 < 0.8 * 0.1**2  # the identity's mean loss is sigma^2
    assert den.lipschitz_bound() <= 1.0 + 1e-12


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(channels=0), "channels"),
        (dict(channels=2.5), "channels"),
        (dict(kernel_size=4), "kernel_size"),
        (dict(steps=0), "steps"),
        (dict(steps=True), "steps"),
        (dict(thresholds=()), "thresholds"),
        (dict(thresholds=(0.1, -1.0)), "thresholds"),
        (dict(strength=0.0), "strength"),
        (dict(strength=float("nan")), "strength"),
        (dict(strength="1"), "strength"),
        (dict(step_rule="nesterov"), "step_rule"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvexRidgeDenoiser(**kwargs)


def test_bad_input_shape_and_strength_assignment():
    den = ConvexRidgeDenoiser(channels=2, kernel_size=3, steps=1)
    with pytest.raises(ValueError, match="y must have shape"):
        den(torch.rand(1, 2, 8, 8))
    with pytest.raises(ValueError, match="strength"):
        den.strength = -1.0


def test_fft_steps_equal_the_convolution_steps():
    den = _trained_like(seed=6, steps=5, strength=2.0)
    y = torch.rand(3, 1, 14, 18, dtype=torch.float64)
    W, tau = den.filters(), den.step_size()
    x = y
    for _ in range(den.steps):
        x = x - tau * (x - y + den.grad_regulariser(x, W))
    assert torch.allclose(den(y), x, atol=1e-12)


def test_profile_backward_matches_finite_differences():
    from remodel_imaging._convex_ridge import _ClipSum

    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 3, 5, 5, dtype=torch.float64, generator=g).requires_grad_()
    w = torch.rand(3, 2, dtype=torch.float64, generator=g).requires_grad_()
    th = (torch.rand(3, 2, dtype=torch.float64, generator=g) + 0.2).requires_grad_()
    assert torch.autograd.gradcheck(_ClipSum.apply, (z, w, th))


def test_cosine_annealed_training_follows_the_schedule():
    import math

    from remodel_imaging import random_patches, train_denoiser

    seen = []
    den = ConvexRidgeDenoiser(channels=2, kernel_size=3, steps=2)
    patches = random_patches(16, 12, images=("coins",), scale=32, seed=0)

    from remodel_imaging._denoisers import _CosineAdam

    orig = _CosineAdam.step

    def step(self, closure=None):  # records the step size Adam is given at each step
        out = orig(self, closure)
        seen.append(self.param_groups[0]["lr"])
        return out

    _CosineAdam.step = step
    try:
        sol = train_denoiser(den, patches, noise_sigma=0.1, iters=9, lr=1e-2, lr_end=1e-4, batch_size=4)
    finally:
        _CosineAdam.step = orig
    assert sol.stats["iterations"] == 9 and len(seen) == 9
    expect = [1e-4 + (1e-2 - 1e-4) * (1 + math.cos(math.pi * k / 9)) / 2 for k in range(9)]
    assert seen == pytest.approx(expect, rel=1e-12)
    assert seen[0] == pytest.approx(1e-2) and all(a > b for a, b in zip(seen, seen[1:])) and seen[-1] < 5e-4


@pytest.mark.parametrize("lr_end", [0.0, -1e-3, 0.5, True, "1e-3"])
def test_bad_lr_end(lr_end):
    from remodel_imaging import train_denoiser

    with pytest.raises(ValueError, match="lr_end"):
        train_denoiser(DnCNNLike(), torch.rand(4, 1, 8, 8), noise_sigma=0.1, iters=2, lr=1e-2, lr_end=lr_end)


def DnCNNLike():
    from remodel_imaging import DnCNN

    return DnCNN(depth=2, features=2)
