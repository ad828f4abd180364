"""SINDy: STLSQ (numba vs numpy reference), libraries, derivatives, Lorenz and pendulum recovery."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from remodel_dynamics import Lorenz, Pendulum
from remodel_dynamics.sindy import (
    FourierLibrary,
    PolynomialLibrary,
    SINDy,
    finite_difference,
    fornberg_weights,
    savgol_derivative,
    stlsq,
    stlsq_reference,
)
from sklearn.base import clone


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread_module):
    """All tests and module fixtures here run on one intra-op thread (the root conftest.py)."""


@pytest.fixture(scope="module")
def lorenz_data():
    t = torch.linspace(0.0, 3.0, 3001, dtype=torch.float64)
    x = Lorenz().flow(torch.tensor([-8.0, 8.0, 27.0], dtype=torch.float64), t)
    return x.numpy(), t.numpy()


def test_stlsq_numba_matches_numpy_reference():
    rng = np.random.default_rng(1)
    for _ in range(5):
        theta = rng.standard_normal((200, 12))
        xi = rng.standard_normal((12, 3)) * (rng.random((12, 3)) < 0.4)
        dx = theta @ xi + 0.05 * rng.standard_normal((200, 3))
        for alpha in (0.0, 0.1):
            a = stlsq(theta, dx, threshold=0.3, alpha=alpha, max_iter=10)
            b = stlsq_reference(theta, dx, threshold=0.3, alpha=alpha, max_iter=10)
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
            assert np.array_equal(a != 0, b != 0)


def test_stlsq_recovers_sparse_coefficients_exactly():
    rng = np.random.default_rng(2)
    theta = rng.standard_normal((100, 8))
    xi = np.zeros((8, 2))
    xi[1, 0], xi[5, 0], xi[0, 1] = 2.0, -0.5, 1.5
    got = stlsq(theta, theta @ xi, threshold=0.1)
    np.testing.assert_allclose(got, xi, atol=1e-12)
    assert np.array_equal(got != 0, xi != 0)


def test_stlsq_bad_input():
    with pytest.raises(ValueError, match="theta"):
        stlsq(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="dx"):
        stlsq(np.zeros((5, 2)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="threshold"):
        stlsq(np.eye(3), np.ones((3, 1)), threshold=-1.0)


def test_fornberg_weights_classical_stencils():
    np.testing.assert_allclose(
        fornberg_weights(0.0, np.arange(-2.0, 3.0)), [1 / 12, -2 / 3, 0, 2 / 3, -1 / 12], atol=1e-14
    )
    np.testing.assert_allclose(fornberg_weights(0.0, np.arange(-1.0, 2.0), m=2), [1, -2, 1], atol=1e-14)


@pytest.mark.parametrize("order", [2, 4, 6])
def test_finite_difference_convergence_order(order):
    errs = []
    for n in (41, 81):
        t = np.linspace(0.0, 2.0, n)
        errs.append(np.abs(finite_difference(np.sin(3 * t), t, order=order) - 3 * np.cos(3 * t)).max())
    rate = np.log2(errs[0] / errs[1])
    assert rate > order - 0.3


def test_finite_difference_nonuniform_and_errors():
    t = np.sort(np.random.default_rng(0).uniform(0, 1, 30))
    np.testing.assert_allclose(finite_difference(t**3, t, order=4), 3 * t**2, atol=1e-10)
    with pytest.raises(ValueError, match="order"):
        finite_difference(t, t, order=3)
    with pytest.raises(ValueError, match="t must"):
        finite_difference(t, t[:-1])


def test_savgol_derivative_smooths_noise():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 2 * np.pi, 400)
    x = np.sin(t) + 1e-3 * rng.standard_normal(t.size)
    err_sg = np.abs(savgol_derivative(x, t, window=31, polyorder=3) - np.cos(t))[20:-20].max()
    err_fd = np.abs(finite_difference(x, t) - np.cos(t))[20:-20].max()
    assert err_sg < 0.2 * err_fd
    with pytest.raises(ValueError, match="window"):
        savgol_derivative(x, t, window=10)


def test_libraries_names_and_values():
    x = np.array([[2.0, 3.0]])
    lib = PolynomialLibrary(degree=2).fit(x)
    assert lib.get_feature_names(["a", "b"]) == ["1", "a", "b", "a^2", "a b", "b^2"]
    np.testing.assert_allclose(lib.transform(x), [[1, 2, 3, 4, 6, 9]])
    four = FourierLibrary(n_frequencies=2).fit(x)
    assert four.get_feature_names(["a", "b"])[:4] == ["sin(a)", "cos(a)", "sin(2 a)", "cos(2 a)"]
    np.testing.assert_allclose(four.transform(x)[0, 2], np.sin(4.0))
    both = (PolynomialLibrary(degree=1) + FourierLibrary()).fit(x)
    assert both.transform(x).shape == (1, 3 + 4)
    with pytest.raises(ValueError, match="features"):
        lib.transform(np.zeros((2, 3)))


def test_sindy_recovers_lorenz(lorenz_data):
    x, t = lorenz_data
    model = SINDy(PolynomialLibrary(degree=2), threshold=0.1, fd_order=6, feature_names=["x", "y", "z"]).fit(x, t)
    exact = Lorenz().coefficients()
    assert model.coefficients_.shape == exact.shape
    assert np.array_equal(model.coefficients_ != 0, exact != 0), model.equations()
    assert np.abs(model.coefficients_ - exact).max() < 1e-3, model.equations()
    assert model.equations(precision=1)[0] == "x' = -10.0 x + 10.0 y"
    assert model.score(x, t) > 0.999999


def test_sindy_numpy_backend_same_result(lorenz_data):
    x, t = lorenz_data
    a = SINDy(threshold=0.1, fd_order=4).fit(x, t).coefficients_
    b = SINDy(threshold=0.1, fd_order=4, backend="numpy").fit(x, t).coefficients_
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_sindy_simulate_follows_lorenz(lorenz_data):
    x, t = lorenz_data
    model = SINDy(threshold=0.1, fd_order=6).fit(x, t)
    sim = model.simulate(x[0], t[:301])
    assert np.abs(sim - x[:301]).max() < 1e-2
    np.testing.assert_allclose(
        model.predict(x[:5]), Lorenz().vector_field(torch.from_numpy(x[:5])).numpy(), rtol=1e-3, atol=1e-3
    )


def test_sindy_recovers_pendulum_with_fourier_library():
    system = Pendulum()
    rng = np.random.default_rng(0)
    t = torch.linspace(0.0, 10.0, 1001, dtype=torch.float64)
    x = system.flow(system.sample_initial(4, rng), t).numpy()
    lib = PolynomialLibrary(degree=1) + FourierLibrary(n_frequencies=1)
    model = SINDy(lib, threshold=0.05, fd_order=6, feature_names=["q", "p"]).fit(list(x), t.numpy())
    names = model.get_feature_names()
    assert names == ["1", "q", "p", "sin(q)", "cos(q)", "sin(p)", "cos(p)"]
    exact = np.zeros((2, 7))
    exact[0, 2], exact[1, 3] = 1.0, -1.0
    assert np.array_equal(model.coefficients_ != 0, exact != 0), model.equations()
    assert np.abs(model.coefficients_ - exact).max() < 1e-3
    assert model.equations() == ["q' = 1.000 p", "p' = -1.000 sin(q)"]


def test_sindy_estimator_conventions_and_errors(lorenz_data):
    x, t = lorenz_data
    model = SINDy(threshold=0.2)
    assert clone(model).get_params()["threshold"] == 0.2
    with pytest.raises(ValueError, match="t "):
        model.fit(x)
    with pytest.raises(ValueError, match="x_dot"):
        model.fit(x, x_dot=x[:-1])
    with pytest.raises(ValueError, match="differentiation"):
        SINDy(differentiation="spectral").fit(x, t)
    fitted = SINDy().fit(x, t)
    with pytest.raises(ValueError, match="x must have shape"):
        fitted.predict(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="x0"):
        fitted.simulate(np.zeros(2), t[:3])
    assert SINDy(differentiation="savgol", window=11).fit(x, t).coefficients_.shape == (3, 10)


def _collinear_data():
    t = np.linspace(0, 5, 201)
    return t, np.stack([np.cos(t), np.full_like(t, 2.0)], 1)


def test_stlsq_backends_agree_on_collinear_library_with_the_minimum_norm_solution():
    """Issue 11.1: the numba backend gave 1.0 on the constant where numpy gives the minimum-norm split."""
    t, X = _collinear_data()
    theta = PolynomialLibrary(degree=2).fit(X).transform(X)  # 1, x0, x1=2, x0^2, 2 x0, 4: two collinear groups
    dx = np.stack([2 * np.cos(t) + 1, np.zeros_like(t)], 1)
    with pytest.warns(RuntimeWarning, match="rank deficient"):
        a = stlsq(theta, dx)
    with pytest.warns(RuntimeWarning, match="rank deficient"):
        b = stlsq_reference(theta, dx)
    np.testing.assert_allclose(a, b, atol=1e-10)
    # x0 + 2 (x0 x1) = 2 x0: minimum norm (0.4, 0.8); the constant 1 = c1 + 2 c2 + 4 c3: (1, 2, 4)/21, whose
    # first two fall below the threshold, then 4 c3 = 1
    np.testing.assert_allclose(a[:, 0], [0.0, 0.4, 0.0, 0.0, 0.8, 0.25], atol=1e-10)
    assert np.all(a[:, 1] == 0)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_sindy_on_near_collinear_and_constant_data_is_bounded_and_zero(backend):
    """Issue 11.1: the numba backend returned coefficients up to 3.7e13 and a non-zero model on constants."""
    t, X = _collinear_data()
    with pytest.warns(RuntimeWarning, match="rank deficient"):
        model = SINDy(backend=backend).fit(X, t)
    assert np.abs(model.coefficients_).max() < 10.0
    const = np.stack([np.full_like(t, 0.7), np.full_like(t, 2.0)], 1)
    with pytest.warns(RuntimeWarning, match="rank deficient"):
        model = SINDy(backend=backend).fit(const, t)
    assert np.all(model.coefficients_ == 0)
    assert model.equations() == ["x0' = 0", "x1' = 0"]


def test_sindy_full_rank_library_gives_no_rank_warning():
    import warnings

    t = np.linspace(0, 2, 201)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SINDy(PolynomialLibrary(degree=1), fd_order=6).fit(np.exp(-t), t)


def test_score_uses_every_trajectory_and_t_as_in_fit():
    """Before: ``score([a, b], dt)`` scored ``a`` only (R^2 = 1 with ``b`` pure noise), and ``fit(x, list_of_times)``
    for one trajectory read the list as one time array per trajectory."""
    t = np.linspace(0, 5, 501)
    a = np.stack([np.cos(t), -np.sin(t)], axis=1)
    noise = np.random.default_rng(0).standard_normal(a.shape)
    model = SINDy(PolynomialLibrary(degree=1), threshold=0.05, fd_order=6).fit(a, list(t))
    np.testing.assert_allclose(model.coefficients_, [[0, 0, 1], [0, -1, 0]], atol=1e-6)
    assert model.score(a, t[1] - t[0]) > 0.999999
    both = model.score([a, noise], t[1] - t[0])
    assert both < 0.5 and both == model.score([a, noise], [t, t])
    dots = [model.differentiate(a, t), model.differentiate(noise, t)]
    assert model.score([a, noise], x_dot=dots) == both
    with pytest.raises(ValueError, match="t must be strictly increasing"):
        model.simulate(a[0], t[::-1][:5])
    with pytest.raises(ValueError, match="finite"):
        model.fit(a, float("inf"))
    with pytest.raises(ValueError, match=r"the time step\) must be finite"):  # the helper's own check
        finite_difference(a, float("inf"))
    with pytest.raises(ValueError, match="precision"):
        model.equations(precision=-1)
    with pytest.raises(ValueError, match="precision must be an integer"):  # f"{c:.1f}" would print True as 1
        model.equations(precision=True)
    with pytest.raises(ValueError, match="polyorder"):
        savgol_derivative(a, t, polyorder=2.5)
    with pytest.raises(TypeError, match="x must be real"):
        finite_difference(np.exp(1j * t), t)
