import itertools

import numpy as np
import pytest
import torch
from remodel_gen import (
    cfm_target,
    eight_gaussians,
    energy_distance,
    gaussian,
    mmd,
    ot_pairing,
    sliced_wasserstein,
    two_moons,
)
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


def test_metrics_take_image_shaped_samples_and_numpy_bandwidths():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(50, 1, 2, 3, generator=g), torch.randn(60, 1, 2, 3, generator=g)
    # samples [n, ...] are flattened, as by the other metrics (energy_distance refused them)
    assert energy_distance(a, b) == energy_distance(a.reshape(50, -1), b.reshape(60, -1))
    assert mmd(a, b, bandwidths=(np.float32(1.5), np.float64(3.0))) == mmd(a, b, bandwidths=(1.5, 3.0))
    assert sliced_wasserstein(a, b, seed=np.int64(3)) == sliced_wasserstein(a, b, seed=3)


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


# --- couplings --------------------------------------------------------------------------------------------------
def test_ot_pairing_minimises_cost_against_scipy_and_recovers_a_hidden_permutation():
    from remodel_gen import ot_pairing
    from scipy.optimize import linear_sum_assignment

    g = torch.Generator().manual_seed(3)
    x0, x1 = torch.randn(40, 3, generator=g, dtype=torch.float64), torch.randn(40, 3, generator=g, dtype=torch.float64)
    perm = ot_pairing(x0, x1)
    cost = torch.cdist(x1.double(), x0.double()).pow(2).numpy()
    r, c = linear_sum_assignment(cost)
    assert sorted(perm.tolist()) == list(range(40))
    assert float((x0[perm] - x1).double().pow(2).sum()) == pytest.approx(cost[r, c].sum(), rel=1e-12)
    # x0 a shuffled, slightly moved copy of x1: OT undoes the shuffle, which is not the identity pairing
    hidden = torch.randperm(40, generator=g)
    y0 = x1[hidden] + 1e-3 * torch.randn(40, 3, generator=g, dtype=torch.float64)
    found = ot_pairing(y0, x1)
    assert torch.equal(hidden[found], torch.arange(40)) and not torch.equal(found, torch.arange(40))
    # already optimally paired: the identity
    assert torch.equal(ot_pairing(x1 + 1e-3, x1), torch.arange(40))


def test_sinkhorn_plan_has_uniform_marginals_and_tends_to_exact_ot():
    from remodel_gen import ot_pairing, sample_plan, sinkhorn_plan

    g = torch.Generator().manual_seed(4)
    x0, x1 = torch.randn(30, 2, generator=g, dtype=torch.float64), torch.randn(30, 2, generator=g, dtype=torch.float64)
    cost = torch.cdist(x0, x1).pow(2)
    exact = float((x0[ot_pairing(x0, x1)] - x1).pow(2).sum(1).mean())
    costs = []
    for reg in (1.0, 0.3, 0.1):
        plan = sinkhorn_plan(x0, x1, reg, max_iter=5000)
        assert torch.allclose(plan.sum(1), torch.full((30,), 1 / 30, dtype=torch.float64), atol=1e-7)
        assert torch.allclose(plan.sum(0), torch.full((30,), 1 / 30, dtype=torch.float64), atol=1e-7)
        costs.append(float((plan * cost).sum()))
    # the entropic cost decreases to the exact OT cost as reg -> 0 (measured: 1.13, 0.64, 0.52 against 0.48)
    assert costs[0] > costs[1] > costs[2] >= exact - 1e-9 and costs[2] - exact < 0.1 * exact
    i, j = sample_plan(sinkhorn_plan(x0, x1, 0.1, max_iter=5000), 3000, torch.Generator().manual_seed(0))
    assert float((x0[i] - x1[j]).pow(2).sum(1).mean()) == pytest.approx(costs[2], rel=0.1)


def test_sinkhorn_plan_matches_pot():
    ot = pytest.importorskip("ot")
    from remodel_gen import sinkhorn_plan

    g = torch.Generator().manual_seed(5)
    x0, x1 = torch.randn(20, 2, generator=g, dtype=torch.float64), torch.randn(25, 2, generator=g, dtype=torch.float64)
    ours = sinkhorn_plan(x0, x1, 1.0, tol=1e-12, max_iter=10_000).numpy()
    theirs = ot.sinkhorn(
        ot.unif(20), ot.unif(25), torch.cdist(x0, x1).pow(2).numpy(), 1.0, stopThr=1e-12, numItermax=10_000
    )
    assert np.abs(ours - theirs).max() < 1e-9


# --- metrics ----------------------------------------------------------------------------------------------------
def test_wasserstein2_is_the_best_assignment_and_matches_pot():
    from remodel_gen import wasserstein2

    g = torch.Generator().manual_seed(6)
    x, y = torch.randn(6, 2, generator=g, dtype=torch.float64), torch.randn(6, 2, generator=g, dtype=torch.float64)
    best = min(float((x[list(p)] - y).double().pow(2).sum(1).mean()) for p in itertools.permutations(range(6)))
    assert wasserstein2(x, y) == pytest.approx(best**0.5, rel=1e-10)
    ot = pytest.importorskip("ot")
    a, b = torch.randn(80, 3, generator=g, dtype=torch.float64), torch.randn(80, 3, generator=g, dtype=torch.float64)
    ref = ot.emd2(ot.unif(80), ot.unif(80), torch.cdist(a, b).pow(2).numpy())
    assert wasserstein2(a, b) == pytest.approx(ref**0.5, rel=1e-9)


def test_sliced_wasserstein_mmd_and_frechet_distance():
    from remodel_gen import frechet_distance, mmd, sliced_wasserstein, wasserstein2

    g = torch.Generator().manual_seed(7)
    x, y = torch.randn(300, 1, generator=g, dtype=torch.float64), torch.randn(300, 1, generator=g, dtype=torch.float64)
    # in one dimension every direction is +-1 and W2 is given by sorting
    assert sliced_wasserstein(x, y + 0.5, projections=7) == pytest.approx(wasserstein2(x, y + 0.5), rel=1e-10)
    a, b = torch.randn(400, 2, generator=g), torch.randn(400, 2, generator=g)
    assert abs(mmd(a, b)) < 0.01 < mmd(a, b + 0.5) < mmd(a, b + 1.0)
    assert sliced_wasserstein(a, b) < sliced_wasserstein(a, b + 1.0)
    # Fréchet distance of N(m1, S1), N(m2, S2) fitted to large samples: |m1 - m2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2)
    c = torch.randn(20_000, 2, generator=g, dtype=torch.float64)
    d = torch.randn(20_000, 2, generator=g, dtype=torch.float64) * torch.tensor([2.0, 1.0], dtype=torch.float64) + 1
    exact = 2.0 + (1 + 4 + 2 - 2 * (2 + 1))  # means differ by (1, 1); sqrt(S1 S2) = diag(2, 1)
    assert frechet_distance(c, d) == pytest.approx(exact, abs=0.1)


# --- paths ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,sigma", [("linear", 0.0), ("linear", 0.3), ("lipman", 0.05), ("vp", 0.0), ("brownian_bridge", 0.7)]
)
def test_conditional_velocity_is_the_time_derivative_of_the_path(name, sigma):
    from remodel_gen import make_path

    p = make_path(name, sigma)
    g = torch.Generator().manual_seed(8)
    x0, x1, eps = (torch.randn(9, 2, generator=g, dtype=torch.float64) for _ in range(3))
    t, h = torch.full((9,), 0.37, dtype=torch.float64), 1e-6
    xt = p.sample(x0, x1, t, eps)
    fd = (p.sample(x0, x1, t + h, eps) - p.sample(x0, x1, t - h, eps)) / (2 * h)
    assert torch.allclose(p.velocity(x0, x1, t, xt), fd, atol=1e-7)
    ends = (
        p.sample(x0, x1, torch.zeros(9, dtype=torch.float64), eps),
        p.sample(x0, x1, torch.ones(9, dtype=torch.float64), eps),
    )
    if name in ("vp", "brownian_bridge") or sigma == 0:
        assert torch.allclose(ends[0], x0) and torch.allclose(ends[1], x1)


def test_new_densities():
    from remodel_gen import checkerboard, digits, spirals

    g = torch.Generator().manual_seed(0)
    c = checkerboard(2000, g)
    cells = (torch.floor(c[:, 0] / 2) + torch.floor(c[:, 1] / 2)) % 2
    assert bool((cells == 0).all()) and float(c.abs().max()) <= 4
    s = spirals(2000, g)
    assert s.shape == (2000, 2) and float(s.norm(dim=1).max()) < 5
    x, y = digits(16)
    assert x.shape == (1797, 1, 16, 16) and sorted(y.unique().tolist()) == list(range(10))
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0
