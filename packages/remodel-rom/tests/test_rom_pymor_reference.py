"""Cross-check against pyMOR (the reference library) on its own thermal block; skipped without pyMOR."""

import numpy as np
import pytest
from remodel_core import solve
from remodel_rom import AffineCoefficients, RBGreedy, ReductionProblem, StationaryAffineModel

pymor = pytest.importorskip("pymor")


@pytest.mark.parametrize(("blocks", "n_train", "extensions"), [((2, 2), 25, 6), ((3, 3), 60, 8)])
def test_rb_greedy_matches_pymor_on_the_identical_exported_model(blocks, n_train, extensions):
    """Same model, same training set: the same greedy choices (the first one included: the largest
    empty-basis bound ``||f|| / alpha_LB``), so the same reduced solutions and error bounds."""
    from pymor.algorithms.greedy import rb_greedy
    from pymor.algorithms.to_matrix import to_matrix
    from pymor.analyticalproblems.thermalblock import thermal_block_problem
    from pymor.core.logger import set_log_levels
    from pymor.discretizers.builtin import discretize_stationary_cg
    from pymor.parameters.functionals import ExpressionParameterFunctional
    from pymor.reductors.coercive import CoerciveRBReductor

    set_log_levels({"pymor": "ERROR"})
    pfom, _ = discretize_stationary_cg(thermal_block_problem(blocks), diameter=1 / 12)
    op = pfom.operator
    fom = StationaryAffineModel(
        [to_matrix(o) for o in op.operators],
        to_matrix(pfom.rhs).ravel(),
        [(0.1, 1.0)] * (blocks[0] * blocks[1]),
        theta=AffineCoefficients(n_constant=1),
        product=to_matrix(pfom.h1_0_semi_product),
    )
    rng = np.random.default_rng(0)
    train, test = fom.sample(n_train, rng), fom.sample(5, rng)
    for mu in test:  # same full model
        np.testing.assert_allclose(
            fom.solve(mu), pfom.solve(pfom.parameters.parse(mu)).to_numpy().ravel(), rtol=1e-10, atol=1e-14
        )
    ours = solve(ReductionProblem(fom, training=train), RBGreedy(basis_size=extensions)).u
    reductor = CoerciveRBReductor(
        pfom,
        product=pfom.h1_0_semi_product,
        coercivity_estimator=ExpressionParameterFunctional("min(diffusion)", pfom.parameters),
    )
    greedy = rb_greedy(pfom, reductor, [pfom.parameters.parse(mu) for mu in train], max_extensions=extensions)
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
