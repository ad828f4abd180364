import itertools

import numpy as np
import pytest
import torch
from remodel_gen import cfm_target, eight_gaussians, energy_distance, gaussian, ot_pairing, two_moons
from scipy.stats import energy_distance as scipy_energy


def test_energy_distance_matches_scipy_in_1d():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 1, generator=g, dtype=torch.float64), 0.5 + torch.randn(200, 1, generator=g)
    ours = energy_distance(x, y, unbiased=False)
    assert np.sqrt(ours) == pytest.approx(scipy_energy(x[:, 0].numpy(), y[:, 0].numpy()), rel=1e-10)


def test_energy_distance_separates_distributions():
    g = torch.Generator().manual_seed(1)
    a, b = eight_gaussians(800, g), eight_gaussians(800, g)
    same = energy_distance(a, b)
    assert abs(same) < 0.01
    assert energy_distance(a, two_moons(800, g)) > 10 * abs(same)
    # shift by delta of two Gaussians: 2 E|X-Y| - ... grows with delta
    assert energy_distance(a, b + 0.5) < energy_distance(a, b + 1.0)
    with pytest.raises(ValueError, match="same dimension"):
        energy_distance(a, torch.zeros(5, 3))
    with pytest.raises(ValueError, match="x must"):
        energy_distance(torch.zeros(5), a)


def test_densities_are_seeded_and_shaped():
    for dens in (two_moons, eight_gaussians):
        a = dens(50, torch.Generator().manual_seed(3))
        assert a.shape == (50, 2) and torch.equal(a, dens(50, torch.Generator().manual_seed(3)))
    x = eight_gaussians(4000, torch.Generator().manual_seed(0), radius=2.0, std=0.1, dtype=torch.float64)
    assert abs(float(x.norm(dim=1).mean()) - 2.0) < 0.01
    s = gaussian([1.0, 2.0], 0.5)(5000, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(s.mean(0), torch.tensor([1.0, 2.0], dtype=torch.float64), atol=0.03)
    with pytest.raises(ValueError, match="n must"):
        two_moons(0)


def test_cfm_paths_interpolate_between_endpoints():
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(7, 3, generator=g), torch.randn(7, 3, generator=g)
    for t in (0.0, 1.0):
        xt, ut = cfm_target(x0, x1, torch.full((7,), t))
        assert torch.allclose(xt, x0 if t == 0 else x1) and torch.allclose(ut, x1 - x0)
    # Lipman path: x_t = (1 - (1 - s) t) x0 + t x1, its time derivative is u_t
    s, t, h = 0.1, torch.full((7,), 0.3, dtype=torch.float64), 1e-6
    x0, x1 = x0.double(), x1.double()
    xp, ut = cfm_target(x0, x1, t + h, path="lipman", sigma=s)
    xm, _ = cfm_target(x0, x1, t - h, path="lipman", sigma=s)
    assert torch.allclose((xp - xm) / (2 * h), ut, atol=1e-8)
    assert torch.allclose(
        cfm_target(x0, x1, torch.ones(7, dtype=torch.float64), path="lipman", sigma=s)[0], s * x0 + x1
    )
    with pytest.raises(ValueError, match="path"):
        cfm_target(x0, x1, t, path="vpsde")
    with pytest.raises(ValueError, match="eps"):
        cfm_target(x0, x1, t, sigma=0.1)


def test_ot_pairing_is_the_optimal_permutation():
    g = torch.Generator().manual_seed(2)
    x0, x1 = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    perm = ot_pairing(x0, x1)
    cost = float((x0[perm] - x1).pow(2).sum())
    best = min(float((x0[list(p)] - x1).pow(2).sum()) for p in itertools.permutations(range(6)))
    assert sorted(perm.tolist()) == list(range(6))
    assert cost == pytest.approx(best, rel=1e-12)
