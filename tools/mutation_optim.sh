#!/usr/bin/env bash
# Mutation testing of the remodel_core.optim modules that hold the methods' defining steps (issue 12), one module
# at a time, each against the core optimizer tests that exercise it (a selection, so that a mutant takes seconds,
# not minutes). Not part of CI. Results and surviving mutants: docs/TESTING.md.
#   tools/mutation_optim.sh [MODULE...]     MODULE in: schwarz rmtr lbfgs mgopt linesearch ssbroyden block
# Sample sizes: SAMPLE_<MODULE>=N (defaults below, chosen for a shared two-core machine); OUT=folder for the JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
T=packages/remodel-core/tests
O=packages/remodel-core/src/remodel_core/optim
M=$T/test_core_optim_multilevel_solvers.py
S=$T/test_core_optim_scaling.py
OUT=${OUT:-/tmp}
run() {  # name module tests...
  local name=$1 mod=$2; shift 2
  local var="SAMPLE_${name^^}"
  nice -n 19 tools/mutation.sh --module "$O/$mod" --tests "$@" --sample "${!var}" --seed 0 --timeout 180 \
    --json "$OUT/mutation_optim_$name.json"
}
: "${SAMPLE_SCHWARZ:=25}" "${SAMPLE_RMTR:=8}" "${SAMPLE_LBFGS:=6}" "${SAMPLE_MGOPT:=5}" "${SAMPLE_LINESEARCH:=5}"
: "${SAMPLE_SSBROYDEN:=5}" "${SAMPLE_BLOCK:=5}"
for name in "${@:-schwarz rmtr lbfgs mgopt linesearch ssbroyden block}"; do
  for n in $name; do
    case $n in
      schwarz) run schwarz _schwarz.py $S::test_two_level_coarse_correction_lowers_the_fine_loss \
        $T/test_core_optim_schwarz.py::test_quadratic_to_1e10 $T/test_core_optim_schwarz.py::test_one_subdomain_additive_equals_lbfgs \
        $T/test_core_optim_schwarz.py::test_schwarz_beats_nothing_on_rosenbrock \
        $T/test_core_optim_schwarz.py::test_regression_decreases_monotonically \
        $T/test_core_optim_schwarz.py::test_resume_equals_uninterrupted $T/test_core_optim_schwarz.py::test_nan_loss_is_diverged \
        $T/test_core_optim_schwarz.py::test_rejects_bad_configuration $T/test_core_optim_schwarz.py::test_plain_pytorch_loop_multiplicative \
        $S::test_every_subdomain_updates_its_own_curvature $S::test_local_dense_with_lbfgs_global_trains_a_network \
        $T/test_core_optim_ssbroyden.py::test_schwarz_with_dense_hessian_reaches_1e10 $T/test_core_optim_scaling_bad_input.py \
        $T/test_core_optim_mutants.py::test_additive_schwarz_takes_the_full_sum_of_exact_local_solutions ;;
      rmtr) run rmtr _rmtr.py $S::test_rmtr_coarse_steps_stay_in_the_fine_radius \
        $M::test_rmtr_monotone_decrease_with_coarse_corrections "$M::test_convex_quadratic_resnet_to_1e10[3-RMTROptimizer]" \
        "$M::test_convex_least_squares_with_point_coarsening_to_1e10[RMTR]" $M::test_bad_configurations \
        "$M::test_state_dict_round_trip_weights_only[RMTROptimizer]" "$M::test_resume_equality_through_solve[RMTR]" \
        $M::test_diverging_loss_ends_with_diverged \
        $T/test_core_optim_mutants.py::test_rmtr_shrinks_the_radius_after_a_non_finite_trial ;;
      lbfgs) run lbfgs _lbfgs.py $T/test_core_optim_lbfgs.py $T/test_core_optim_schwarz.py::test_one_subdomain_additive_equals_lbfgs \
        $T/test_core_optim_multilevel_levels.py ;;
      mgopt) run mgopt _mgopt.py $S::test_two_level_coarse_correction_lowers_the_fine_loss \
        $M::test_mgopt_decreases_a_resnet_loss_with_coarse_corrections "$M::test_convex_quadratic_resnet_to_1e10[3-MGOPTOptimizer]" \
        "$M::test_convex_least_squares_with_point_coarsening_to_1e10[MGOPT]" $M::test_bad_configurations \
        "$M::test_state_dict_round_trip_weights_only[MGOPTOptimizer]" "$M::test_resume_equality_through_solve[MGOPT]" \
        $M::test_diverging_loss_ends_with_diverged ;;
      linesearch) run linesearch _linesearch.py $T/test_core_optim_lbfgs.py ;;
      ssbroyden) run ssbroyden _ssbroyden.py $T/test_core_optim_ssbroyden.py ;;
      block) run block _block.py $S::test_block_inverse_hessian_with_one_block_is_the_dense_one \
        $S::test_block_dense_curvature_solves_a_block_quadratic $S::test_neuron_groups_cover_every_parameter \
        $S::test_automatic_sizing_respects_max_dense $S::test_every_subdomain_updates_its_own_curvature \
        $S::test_dense_block_size_follows_size_memory_and_cost $T/test_core_optim_scaling_bad_input.py ;;
      *) echo "unknown module $n (schwarz rmtr lbfgs mgopt linesearch ssbroyden block)" >&2; exit 2 ;;
    esac
  done
done
