import numpy as np
import pytest
import torch
from remodel_sampling import RAD, Sobol, density, rad_density, rad_resample


def peak(x):
    return torch.exp(-200.0 * ((x - 0.7) ** 2).sum(1))


def test_density_formula():
    r = torch.tensor([1.0, -2.0, 3.0, 0.0])
    p = rad_density(r, k=2.0, c=0.5)
    expected = r.abs() ** 2 / (r.abs() ** 2).mean() + 0.5
    assert torch.allclose(p, (expected / expected.sum()).double())
    assert torch.allclose(rad_density(r, k=0.0, c=1.0), torch.full((4,), 0.25, dtype=torch.float64))
    assert torch.allclose(rad_density(torch.zeros(3), k=1.0, c=0.0), torch.full((3,), 1 / 3, dtype=torch.float64))


def test_density_of_huge_and_tiny_residuals_is_scale_free():
    # |r|^k overflowed (1e160^2) or underflowed (1e-170^2): the weights silently became uniform ([1, 1, 1])
    r = np.array([2.0, 1.0, 0.0])
    expected = density(r, k=2.0, c=0.0)  # [2.4, 0.6, 0]
    for scale in (1e160, 1e-170, 1e-160):
        assert np.allclose(density(scale * r, k=2.0, c=0.0), expected, rtol=1e-12, atol=0)
    assert np.allclose(density(np.array([1e110, 1.0]), k=3.0, c=1.0), [3.0, 1.0], rtol=1e-12, atol=0)
    r = np.array([0.7, 0.2, 0.1])  # ordinary residuals: |r|^k / mean(|r|^k) + c bit for bit (rescaled: 4e-16 off)
    assert np.array_equal(density(r, k=2.0), r**2 / (r**2).mean() + 1.0)


def test_rad_concentrates_where_residual_is_large():
    box = [(0.0, 1.0), (0.0, 1.0)]
    near = lambda x: float((((x - 0.7) ** 2).sum(1) < 0.1**2).double().mean())  # noqa: E731
    x_uniform = Sobol().sample(500, box, seed=0)
    x_rad = rad_resample(peak, 500, box, k=1.0, c=0.0, n_candidates=20_000, seed=0)
    x_mixed = rad_resample(peak, 500, box, k=1.0, c=1.0, n_candidates=20_000, seed=0)
    assert x_rad.shape == (500, 2)
    # the disc of radius 0.1 holds ~3% of the uniform points but most RAD points when c = 0
    assert near(x_uniform) < 0.06
    assert near(x_rad) > 0.7  # the density puts 1 - e^-2 = 0.86 of its mass there (less without replacement)
    assert near(x_uniform) < near(x_mixed) < near(x_rad)


def test_rad_matches_its_density_in_1d():
    # with n << n_candidates the choice without replacement follows p: compare bin masses
    k, c = 2.0, 0.5
    res = lambda x: 1.0 + torch.sin(3 * x[:, 0])  # noqa: E731
    x = rad_resample(res, 4000, [(0.0, 2.0)], k=k, c=c, n_candidates=200_000, seed=1)
    grid = torch.linspace(0, 2, 20001, dtype=torch.float64)
    dens = res(grid[:, None]) ** k
    dens = dens / dens.mean() + c
    edges = torch.linspace(0, 2, 9, dtype=torch.float64)
    for a, b in zip(edges[:-1], edges[1:]):
        sel = (grid >= a) & (grid < b)
        expected = float(dens[sel].sum() / dens.sum())
        observed = float(((x[:, 0] >= a) & (x[:, 0] < b)).double().mean())
        assert abs(observed - expected) < 4 * (expected / 4000) ** 0.5 + 0.01


def test_rad_strategy_and_reproducibility():
    s = RAD(k=1.0, c=1.0)
    a = s.resample(peak, 64, [(0, 1), (0, 1)], seed=5)
    assert torch.equal(a, s.resample(peak, 64, [(0, 1), (0, 1)], seed=5))
    assert len({tuple(r) for r in a.tolist()}) == 64  # distinct points


def test_rad_bad_input():
    with pytest.raises(ValueError, match="k must"):
        RAD(k=-1.0)
    with pytest.raises(ValueError, match="c must"):
        rad_resample(peak, 4, [(0, 1)], c=float("inf"))
    with pytest.raises(ValueError, match="n_candidates"):
        rad_resample(peak, 40, [(0, 1)], n_candidates=10)
    with pytest.raises(ValueError, match="one value per point"):
        rad_resample(lambda x: x.sum(), 4, [(0, 1)])
    with pytest.raises(ValueError, match="bounds"):
        rad_resample(peak, 4, [(1, 0)])
    with pytest.raises(TypeError, match="residual"):
        rad_resample(3.0, 4, [(0, 1)])


def test_rad_without_seed_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    x = rad_resample(peak, 8, [(0, 1), (0, 1)], seed=None)
    assert x.shape == (8, 2)
    assert torch.equal(state, torch.random.get_rng_state())


def test_rar_strategies_take_numpy_integer_counts():
    from remodel_sampling import RARD, RARG

    cand, res = torch.rand(50, 2, dtype=torch.float64), torch.rand(50, dtype=torch.float64)
    for strategy in (RARG(m=np.int64(3)), RARD(m=np.int64(3))):  # refused: "m must be a positive integer, got 3"
        new = strategy.update(torch.zeros(4, 2, dtype=torch.float64), cand, res, np.random.default_rng(0))
        assert new.shape == (7, 2)
        assert strategy.initial_points(10, 2) == 4
