import numpy as np
import pytest
import scipy.sparse as sp
from remodel_core import solve
from remodel_rom import (
    PODNN,
    LearnedInitialGuess,
    RBGreedy,
    ReductionProblem,
    cg_iterations,
    conjugate_gradient,
    thermal_block,
)
from sklearn.linear_model import Ridge


@pytest.fixture(scope="module")
def data():
    fom = thermal_block(n=12)
    rng = np.random.default_rng(0)
    train, test = fom.sample(40, rng), fom.sample(8, rng)
    S = np.array([fom.solve(mu) for mu in train])
    T = np.array([fom.solve(mu) for mu in test])
    return fom, train, S, test, T


def test_podnn_torch_network_through_solve(data):
    fom, train, S, test, T = data
    model = PODNN(n_components=6, product=fom.product, width=16, depth=2, maxiters=60, seed=0).fit(train, S)
    assert model.train_history_["loss"][-1] < 0.1 * model.train_history_["loss"][0]
    err = np.linalg.norm(model.predict(test) - T) / np.linalg.norm(T)
    assert err < 5e-2
    again = PODNN(n_components=6, product=fom.product, width=16, depth=2, maxiters=60, seed=0).fit(train, S)
    np.testing.assert_array_equal(again.predict(test), model.predict(test))  # seeded: reproducible


def test_podnn_sklearn_regressor_and_shape_errors(data):
    fom, train, S, test, T = data
    model = PODNN(n_components=4, regressor=Ridge(alpha=1e-8)).fit(train, S)
    assert model.predict(test).shape == T.shape
    assert model.get_params()["n_components"] == 4
    with pytest.raises(ValueError, match="snapshots must have shape"):
        PODNN().fit(train[:5], S)
    with pytest.raises(ValueError, match="mu: X has 3 features, but PODNN is expecting 4"):
        model.predict(np.ones((2, 3)))
    with pytest.raises(ValueError, match="snapshots must have shape"):
        PODNN().fit(train, S[0])


def test_podnn_reduced_model_interface_and_training_retcode(data):
    fom, train, S = data[:3]
    rom = PODNN(n_components=3, product=fom.product, width=8, depth=1, maxiters=20, seed=1).fit(train[:20], S[:20])
    assert rom.basis_size == 3 and rom.reconstruct(rom.solve([0.5] * 4)).shape == (fom.n_dofs,)
    assert rom.train_retcode_.name == "MaxIters"  # the inner training's retcode is kept, not turned into Success


def test_podnn_warns_when_the_inner_training_diverges(data):
    from sklearn.exceptions import ConvergenceWarning

    fom, train, S = data[:3]
    with pytest.warns(ConvergenceWarning, match="Diverged"):
        rom = PODNN(n_components=3, optimizer="adam", lr=1e200, width=8, depth=1, maxiters=20).fit(train, S)
    assert rom.train_retcode_.name == "Diverged"


def test_cg_matches_direct_solve_and_learned_guess_saves_iterations():
    fom = thermal_block(n=32)
    mu = np.array([0.3, 0.8, 0.15, 0.6])
    A = fom.operator(mu)
    x, its = conjugate_gradient(A, fom.rhs, rtol=1e-10)
    np.testing.assert_allclose(x, fom.solve(mu), rtol=1e-7, atol=1e-12)
    rom = solve(ReductionProblem(fom, training=60), RBGreedy(basis_size=20)).u
    test = fom.sample(4, np.random.default_rng(3))
    cold = cg_iterations(fom, test)
    warm = cg_iterations(fom, test, LearnedInitialGuess(rom))
    assert np.all(warm < cold) and cold.mean() / warm.mean() > 1.5
    with pytest.raises(ValueError, match="x0 must have shape"):
        conjugate_gradient(sp.eye(3), np.ones(3), np.ones(2))
    with pytest.raises(TypeError, match="rom must have solve"):
        LearnedInitialGuess(object())
