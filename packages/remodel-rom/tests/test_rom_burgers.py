import numpy as np
import pytest
from remodel_core import solve
from remodel_rom import (
    BurgersModel,
    PODGalerkin,
    ReducedInstationaryModel,
    ReductionProblem,
    deim_interpolate,
    deim_points,
    heat_model,
)


def _reference_step(fom, u, nu):
    # numpy reference of one IMEX Euler step of the numba kernel
    L = np.eye(fom.n) - fom.dt * nu * fom.laplacian().toarray()
    return np.linalg.solve(L, u + fom.dt * fom.nonlinear(u)[0])


def test_burgers_fom_matches_numpy_reference_and_conserves_sign():
    fom = BurgersModel(n=60, nt=50, T=0.05, save_every=1)
    mu = np.array([0.8, 0.02])
    U = fom.solve(mu)
    u = fom.initial(mu)
    for k in range(5):
        u = _reference_step(fom, u, mu[1])
        np.testing.assert_allclose(U[k + 1], u, atol=1e-13)
    assert np.all(U >= -1e-12)  # a non-negative initial state stays non-negative (maximum principle)


def test_deim_is_exact_in_the_span_and_points_distinct():
    rng = np.random.default_rng(0)
    U = np.linalg.qr(rng.standard_normal((40, 6)))[0]
    p = deim_points(U)
    assert len(np.unique(p)) == 6
    f = U @ rng.standard_normal(6)
    np.testing.assert_allclose(deim_interpolate(U, p, f[p]), f, atol=1e-12)
    with pytest.raises(ValueError, match="U must have shape"):
        deim_points(np.ones((3, 5)))


def test_pod_deim_burgers_converges():
    fom = BurgersModel(n=200, nt=400, T=0.5, save_every=20)
    train = fom.sample(8, np.random.default_rng(0))
    test = fom.sample(3, np.random.default_rng(1))
    errs = []
    for r in (4, 12):
        rom = solve(ReductionProblem(fom, training=train), PODGalerkin(basis_size=r, deim_size=2 * r)).u
        errs.append(
            max(
                np.linalg.norm(fom.solve(mu) - rom.reconstruct(rom.solve(mu))) / np.linalg.norm(fom.solve(mu))
                for mu in test
            )
        )
    assert errs[1] < 1e-3 and errs[1] < 0.1 * errs[0]


def test_heat_pod_galerkin_and_bad_inputs():
    fom = heat_model(n=12, nt=20)
    mu = np.array([0.3, 0.3, 0.8, 0.5])
    train = np.vstack([fom.sample(10, np.random.default_rng(0)), mu])
    U = fom.solve(mu)
    errs = []
    for r in (8, 32):
        rom = solve(ReductionProblem(fom, training=train), PODGalerkin(basis_size=r)).u
        assert isinstance(rom, ReducedInstationaryModel)
        errs.append(np.linalg.norm(U - rom.reconstruct(rom.solve(mu))) / np.linalg.norm(U))
    assert errs[1] < 1e-3 < errs[0]
    with pytest.raises(ValueError, match="CFL"):
        BurgersModel(n=1000, nt=10, save_every=5)
    with pytest.raises(ValueError, match="viscosity"):
        BurgersModel(n=50, nt=100, save_every=10).solve([1.0, -0.1])


def test_burgers_refuses_an_amplitude_beyond_its_cfl_limit():
    """Before: ``solve`` at an amplitude outside the ranges the CFL check saw ran unstable steps silently
    (a = 10 with dt |a| / h = 2.5 gave max|u| = 10.9 > 10, against the maximum principle)."""
    fom = BurgersModel(n=200, nt=400, save_every=40)
    assert np.isfinite(fom.solve([3.9, 0.02])).all()  # outside the ranges but inside the CFL limit 3.98
    with pytest.raises(ValueError, match="CFL"):
        fom.solve([10.0, 0.02])
    for a in (4.0, -4.0):  # just past the limit 3.98, either sign
        with pytest.raises(ValueError, match="CFL"):
            fom.solve([a, 0.02])
    with pytest.raises(ValueError, match="n must"):
        fom.sample(0, np.random.default_rng(0))
