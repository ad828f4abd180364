"""Allen–Cahn: the Fourier/ETDRK4 reference converges, dissipates energy and matches the PINN residual."""

import numpy as np
import pytest
import torch
from remodel_core.nn import MLP
from remodel_core.pde import allen_cahn, allen_cahn_reference


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """All tests here run on one intra-op thread (the root conftest.py)."""


@pytest.fixture(scope="module")
def ref():
    return allen_cahn_reference()


def test_refining_n_and_dt_changes_little(ref):
    """Doubling the modes, or halving the step, moves the solution on t in [0.005, 0.5] by < 1e-6."""
    base = ref.grid_values(stride=4)[:501]  # 512 points, t = 0 .. 0.5
    finer_n = allen_cahn_reference(4096, 1e-3, t_final=0.5).grid_values(stride=8)
    finer_dt = allen_cahn_reference(2048, 5e-4, t_final=0.5).grid_values(stride=4)[::2]
    assert np.abs(base[5:] - finer_n[5:]).max() < 1e-6
    assert np.abs(base[5:] - finer_dt[5:]).max() < 1e-6
    # and a coarse grid is visibly worse, so the comparison can fail
    coarse = allen_cahn_reference(512, 1e-3, t_final=0.5).grid_values()
    assert np.abs(base[5:] - coarse[5:]).max() > 1e-6


def test_energy_decays(ref):
    energy = ref.energy()
    assert np.all(np.diff(energy) <= 1e-12 * energy[0])
    assert energy[-1] < 0.5 * energy[0]


def test_initial_condition_and_metastable_state(ref):
    u = ref.grid_values(stride=4)
    x = ref.x[::4]
    np.testing.assert_allclose(u[0], x**2 * np.cos(np.pi * x), atol=1e-15)
    assert np.abs(u[-1]).max() <= 1.0 + 1e-6  # maximum principle for |u0| <= 1
    assert np.abs(u[-1]).max() > 0.99  # phases at +-1 have formed
    np.testing.assert_allclose(u[:, 1:], u[:, :0:-1], atol=1e-10)  # u0 even -> u(x) = u(-x)


def test_off_grid_evaluation_matches_grid(ref):
    x = ref.x[::64]
    for j in (7, 250, 999):
        np.testing.assert_allclose(ref(x, np.full_like(x, ref.t[j])), ref.grid_values()[j, ::64], atol=1e-13)
    # midway between snapshots the Hermite interpolant agrees with a finer time step
    finer = allen_cahn_reference(2048, 5e-4, t_final=0.5)
    np.testing.assert_allclose(ref(x, np.full_like(x, 0.3005)), finer.grid_values()[601, ::64], atol=1e-7)


def test_problem_evaluation_set_and_residual_of_reference(ref):
    prob = allen_cahn()
    pts, vals = prob.evaluation_set()
    assert pts.shape == (512 * 201, 2) and vals.shape == (512 * 201,)
    torch.testing.assert_close(prob.reference(pts[:2000:97]), vals[:2000:97], atol=1e-13, rtol=0)
    # reference satisfies u_t = eps u_xx + 5 u - 5 u^3 through the stored spectral rates
    k = np.pi * np.arange(ref.n // 2 + 1)
    import scipy.fft

    u = scipy.fft.irfft(ref.coefficients[400], ref.n)
    uxx = scipy.fft.irfft(-(k**2) * ref.coefficients[400], ref.n)
    ut = (scipy.fft.irfft(ref.coefficients[401], ref.n) - scipy.fft.irfft(ref.coefficients[399], ref.n)) / 2e-3
    assert np.abs(ut - (1e-4 * uxx + 5 * u - 5 * u**3)).max() < 1e-3


def test_periodic_condition_in_loss():
    prob = allen_cahn()
    net = MLP(2, 1, width=8, depth=2).double()
    train = prob.discretize(net, points=64, boundary_points=16)
    terms = train.loss.terms(net, train.data[0])
    assert set(terms) == {"residual", "initial", "boundary"}
    xb = prob.condition_points(16)[1]
    assert xb.shape == (32, 2)
    torch.testing.assert_close(xb[16:, 0], torch.ones(16, dtype=torch.float64))


def test_bad_options():
    with pytest.raises(ValueError, match="n must"):
        allen_cahn_reference(n=101)
    with pytest.raises(ValueError, match="dt"):
        allen_cahn_reference(n=64, dt=0.3)
    with pytest.raises(ValueError, match="t must"):
        allen_cahn_reference(64, 0.1, t_final=0.2)(0.0, 0.5)
