"""Cross-check against pyMOR (the reference library) on its own thermal block; skipped without pyMOR."""

import numpy as np
import pytest
from remodel_core import solve
from remodel_rom import AffineCoefficients, RBGreedy, ReductionProblem, StationaryAffineModel

pymor = pytest.importorskip("pymor")


def test_rb_greedy_matches_pymor_on_the_identical_exported_model():
    from pymor.algorithms.greedy import rb_greedy
    from pymor.algorithms.to_matrix import to_matrix
    from pymor.analyticalproblems.thermalblock import thermal_block_problem
    from pymor.core.logger import set_log_levels
    from pymor.discretizers.builtin import discretize_stationary_cg
    from pymor.parameters.functionals import ExpressionParameterFunctional
    from pymor.reductors.coercive import CoerciveRBReductor

    set_log_levels({"pymor": "ERROR"})
    pfom, _ = discretize_stationary_cg(thermal_block_problem((2, 2)), diameter=1 / 12)
    op = pfom.operator
    fom = StationaryAffineModel(
        [to_matrix(o) for o in op.operators],
        to_matrix(pfom.rhs).ravel(),
        [(0.1, 1.0)] * 4,
        theta=AffineCoefficients(n_constant=1),
        product=to_matrix(pfom.h1_0_semi_product),
    )
    rng = np.random.default_rng(0)
    train, test = fom.sample(25, rng), fom.sample(5, rng)
    for mu in test:  # same full model
        np.testing.assert_allclose(
            fom.solve(mu), pfom.solve(pfom.parameters.parse(mu)).to_numpy().ravel(), rtol=1e-10, atol=1e-14
        )
    ours = solve(ReductionProblem(fom, training=train), RBGreedy(basis_size=6)).u
    reductor = CoerciveRBReductor(
        pfom,
        product=pfom.h1_0_semi_product,
        coercivity_estimator=ExpressionParameterFunctional("min(diffusion)", pfom.parameters),
    )
    greedy = rb_greedy(pfom, reductor, [pfom.parameters.parse(mu) for mu in train], max_extensions=6)
    prom = greedy["rom"]
    for mu in test:
        pmu = pfom.parameters.parse(mu)
        # same greedy choices -> same reduced space -> same reduced solution and same error bound
        np.testing.assert_allclose(
            ours.reconstruct(ours.solve(mu)),
            reductor.reconstruct(prom.solve(pmu)).to_numpy().ravel(),
            rtol=1e-6,
            atol=1e-12,
        )
        assert ours.estimate_error(mu) == pytest.approx(float(prom.estimate_error(pmu)[0]), rel=1e-6)
