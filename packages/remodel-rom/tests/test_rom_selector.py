import numpy as np
import pytest
import scipy.sparse as sp
from remodel_rom import (
    DEFAULT_SOLVERS,
    SolverSelector,
    conjugate_gradient,
    solver_costs,
    ssor_preconditioner,
    thermal_block,
)


def _family(rng, sizes=(8, 16, 32, 48), per=5):
    feats, systems = [], []
    for n in sizes:
        fom = thermal_block(n=n, mu_range=(0.01, 1.0))
        for mu in fom.sample(per, rng):
            systems.append((fom.operator(mu), fom.rhs))
            feats.append([np.log(n), np.log(mu.max() / mu.min())])
    return np.array(feats), systems


def test_ssor_preconditioner_is_the_exact_ssor_inverse():
    A = thermal_block(n=6).operator([0.2, 0.5, 0.9, 0.4]).tocsr()
    D = sp.diags(A.diagonal())
    L, U = sp.tril(A, -1), sp.triu(A, 1)
    w = 1.3
    M = (w / (2 - w)) * ((D / w + L) @ sp.linalg.inv(D.tocsc() / w) @ (D / w + U))
    r = np.random.default_rng(0).standard_normal(A.shape[0])
    np.testing.assert_allclose(ssor_preconditioner(A, w)(r), sp.linalg.spsolve(M.tocsc(), r), rtol=1e-10)
    x, _ = conjugate_gradient(A, r, rtol=1e-12, preconditioner=ssor_preconditioner(A, w))
    np.testing.assert_allclose(A @ x, r, atol=1e-9)
    with pytest.raises(ValueError, match="omega must lie in"):
        ssor_preconditioner(A, 2.0)


def test_selector_beats_best_fixed_solver_on_held_out_problems():
    feats, systems = _family(np.random.default_rng(0))
    _, work = solver_costs(systems)
    sel = SolverSelector().fit(feats, work)
    tf, ts = _family(np.random.default_rng(1), per=3)
    _, twork = solver_costs(ts)
    res = sel.evaluate(tf, twork)
    assert res["oracle"] <= res["selected"] <= res["best_fixed"]
    assert res["selected"] < 0.97 * res["best_fixed"]  # the right relaxation per mesh saves work
    assert len(set(np.argmin(work, 1))) > 1  # the best solver really changes across the family
    assert work.shape[1] == len(DEFAULT_SOLVERS)
    with pytest.raises(ValueError, match="features: X has 3 features"):
        sel.predict(np.ones((2, 3)))
    with pytest.raises(ValueError, match="costs must have one row per problem"):
        SolverSelector().fit(np.ones((3, 2)), np.ones((4, 2)))
