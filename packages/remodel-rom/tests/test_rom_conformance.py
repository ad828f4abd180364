from remodel_core.testing import check_algorithm, check_problem
from remodel_rom import PODGalerkin, RBGreedy, ReductionProblem, thermal_block


def test_reduction_problem_and_reductors_follow_the_core_interface():
    prob = ReductionProblem(thermal_block(n=8), training=12)
    check_problem(prob)
    sol = check_algorithm(RBGreedy(basis_size=6), prob)
    assert sol.u.basis_size == 3 and sol.retcode.name == "MaxIters"  # maxiters=3 caps the greedy
    check_algorithm(PODGalerkin(basis_size=4), prob, maxiters=None)  # no iterations: maxiters is refused
