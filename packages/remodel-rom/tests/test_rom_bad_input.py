"""Bad input to remodel-rom: every call raises at once a ValueError/TypeError whose message names the argument.

Issue 11's acceptance asks for such a file per package; each entry is one distinct bad call.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from remodel_core import solve
from remodel_rom import (
    POD,
    PODNN,
    AutoencoderROM,
    ConvAutoencoder,
    CotangentLiftPOD,
    LearnedInitialGuess,
    OperatorInference,
    PODGalerkin,
    RBGreedy,
    ReducedStationaryModel,
    ReductionProblem,
    SolverSelector,
    StationaryAffineModel,
    conjugate_gradient,
    deim_interpolate,
    deim_points,
    energy_rank,
    heat_model,
    incremental_svd,
    ssor_preconditioner,
    thermal_block,
    time_derivatives,
    unit_square_mesh,
)
from remodel_rom._burgers import BurgersModel

FOM = thermal_block(n=4)
X = np.random.default_rng(0).standard_normal((6, 8))
Q3 = np.random.default_rng(1).standard_normal((10, 3))
A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(5, 5)).tocsr()
OPS, RHS, RANGES = FOM.operators, FOM.rhs, FOM.parameter_ranges
MU = np.full((5, 1), 0.5)


def _fitted_pod():
    return POD(n_components=2).fit(X)


def _rom():
    return solve(ReductionProblem(FOM, training=6), RBGreedy(basis_size=2)).u


CASES = [
    # thermal block and affine models
    ("tb mu zeros", lambda: FOM.solve([0.0] * 4), ValueError, "mu must"),
    ("tb mu nan", lambda: FOM.solve([np.nan] * 4), ValueError, "mu must"),
    ("tb mu negative", lambda: FOM.solve([-1.0] * 4), ValueError, "mu must"),
    ("tb mu too large", lambda: FOM.solve([0.5, 0.5, 0.5, 1.5]), ValueError, "mu must"),
    ("tb mu inf", lambda: FOM.solve([np.inf] * 4), ValueError, "mu must"),
    ("tb mu short", lambda: FOM.solve([0.5] * 3), ValueError, "mu must"),
    ("tb mu 2-D", lambda: FOM.solve(np.full((2, 4), 0.5)), ValueError, "mu must"),
    ("tb mu strings", lambda: FOM.solve(["a"] * 4), (TypeError, ValueError), "mu"),
    ("tb operator nan", lambda: FOM.operator([np.nan] * 4), ValueError, "mu must"),
    ("tb energy_norm mu", lambda: FOM.energy_norm(FOM.rhs, [0.0] * 4), ValueError, "mu must"),
    ("tb coercivity mu", lambda: FOM.coercivity_lower_bound(np.zeros((2, 4))), ValueError, "mu must"),
    ("tb mu_range zero", lambda: thermal_block(n=4, mu_range=(0.0, 1.0)), ValueError, "mu_range"),
    ("tb mu_range negative", lambda: thermal_block(n=4, mu_range=(-1.0, 1.0)), ValueError, "mu_range"),
    ("tb mu_range reversed", lambda: thermal_block(n=4, mu_range=(1.0, 0.1)), ValueError, "mu_range"),
    ("tb mu_range inf", lambda: thermal_block(n=4, mu_range=(0.1, np.inf)), ValueError, "mu_range"),
    ("tb mu_range nan", lambda: thermal_block(n=4, mu_range=(np.nan, 1.0)), ValueError, "mu_range"),
    ("tb mu_range scalar", lambda: thermal_block(n=4, mu_range=0.5), TypeError, "mu_range"),
    ("tb blocks zero", lambda: thermal_block(blocks=(0, 2), n=4), ValueError, "blocks"),
    ("tb blocks scalar", lambda: thermal_block(blocks=2, n=4), TypeError, "blocks"),
    ("tb n zero", lambda: thermal_block(n=0), ValueError, "n must"),
    ("tb n float", lambda: thermal_block(n=4.0), TypeError, "n must"),
    ("tb n not divisible", lambda: thermal_block(blocks=(3, 3), n=4), ValueError, "n must be divisible"),
    ("tb sample n", lambda: FOM.sample(0, np.random.default_rng(0)), ValueError, "n must"),
    ("sam no operators", lambda: StationaryAffineModel([], RHS, RANGES), ValueError, "operators"),
    ("sam rhs shape", lambda: StationaryAffineModel(OPS, RHS[:-1], RANGES), ValueError, "rhs"),
    ("sam ranges reversed", lambda: StationaryAffineModel(OPS, RHS, [(1.0, 0.1)] * 4), ValueError, "parameter_ranges"),
    ("sam ranges nan", lambda: StationaryAffineModel(OPS, RHS, [(np.nan, 1.0)] * 4), ValueError, "parameter_ranges"),
    ("sam mu_bar shape", lambda: StationaryAffineModel(OPS, RHS, RANGES, mu_bar=np.ones(3)), ValueError, "mu_bar"),
    (
        "sam mu_bar negative",
        lambda: StationaryAffineModel(OPS, RHS, RANGES, mu_bar=-np.ones(4)),
        ValueError,
        "theta\\(mu_bar\\)",
    ),
    ("sam product -I", lambda: StationaryAffineModel(OPS, RHS, RANGES, product=-sp.eye(9)), ValueError, "product"),
    ("sam product shape", lambda: StationaryAffineModel(OPS, RHS, RANGES, product=sp.eye(3)), ValueError, "product"),
    ("sam product type", lambda: StationaryAffineModel(OPS, RHS, RANGES, product=[[1.0]]), TypeError, "product"),
    (
        "sam product nonsym",
        lambda: StationaryAffineModel(OPS, RHS, RANGES, product=sp.eye(9) + sp.eye(9, k=1)),
        ValueError,
        "product must be symmetric",
    ),
    (
        "sam product nan",
        lambda: StationaryAffineModel(OPS, RHS, RANGES, product=sp.eye(9) * np.nan),
        ValueError,
        "product",
    ),
    ("heat nt", lambda: heat_model(n=4, nt=0), ValueError, "nt"),
    ("heat T", lambda: heat_model(n=4, T=-1.0), ValueError, "T must"),
    ("heat mu", lambda: heat_model(n=4, nt=2).solve([0.0] * 4), ValueError, "mu must"),
    ("burgers mu nan", lambda: BurgersModel(n=16, nt=40, save_every=2).solve([np.nan, 0.02]), ValueError, "mu must"),
    (
        "burgers viscosity",
        lambda: BurgersModel(n=16, nt=40, save_every=2).solve([0.5, -0.02]),
        ValueError,
        "viscosity mu\\[1\\]",
    ),
    ("mesh n", lambda: unit_square_mesh(0), ValueError, "n must"),
    # reduction problem and reductors
    ("rp fom", lambda: solve(ReductionProblem(object()), RBGreedy()), TypeError, "fom"),
    ("rp training zero", lambda: solve(ReductionProblem(FOM, training=0), RBGreedy()), ValueError, "training"),
    ("rp training bool", lambda: solve(ReductionProblem(FOM, training=True), RBGreedy()), TypeError, "training"),
    (
        "rp training shape",
        lambda: solve(ReductionProblem(FOM, training=np.ones((3, 2))), RBGreedy()),
        ValueError,
        "training",
    ),
    (
        "rb basis_size",
        lambda: solve(ReductionProblem(FOM, training=4), RBGreedy(basis_size=0)),
        ValueError,
        "basis_size",
    ),
    ("rb atol", lambda: solve(ReductionProblem(FOM, training=4), RBGreedy(atol=-1.0)), ValueError, "atol"),
    ("rb rtol", lambda: solve(ReductionProblem(FOM, training=4), RBGreedy(rtol=0.0)), ValueError, "rtol"),
    (
        "rb checkpoint",
        lambda: solve(ReductionProblem(FOM, training=4), RBGreedy(), checkpoint="x.pt"),
        ValueError,
        "checkpoint",
    ),
    (
        "rb dtype",
        lambda: solve(ReductionProblem(FOM, training=4), RBGreedy(), dtype=np.float32),
        (TypeError, ValueError),
        "dtype",
    ),
    (
        "pg basis_size",
        lambda: solve(ReductionProblem(FOM, training=4), PODGalerkin(basis_size=-2)),
        ValueError,
        "basis_size",
    ),
    ("pg energy", lambda: solve(ReductionProblem(FOM, training=4), PODGalerkin(energy=1.5)), ValueError, "energy"),
    (
        "pg deim_size",
        lambda: solve(ReductionProblem(FOM, training=4), PODGalerkin(deim_size=0)),
        ValueError,
        "deim_size",
    ),
    (
        "pg maxiters",
        lambda: solve(ReductionProblem(FOM, training=4), PODGalerkin(), maxiters=3),
        ValueError,
        "maxiters",
    ),
    ("pg maxtime", lambda: solve(ReductionProblem(FOM, training=4), PODGalerkin(), maxtime=3.0), ValueError, "maxtime"),
    ("pg abstol", lambda: solve(ReductionProblem(FOM, training=4), PODGalerkin(), abstol=1e-3), ValueError, "abstol"),
    (
        "pg callback",
        lambda: solve(ReductionProblem(FOM, training=4), PODGalerkin(), callback=print),
        ValueError,
        "callback",
    ),
    ("rsm basis shape", lambda: ReducedStationaryModel(FOM, np.ones((5, 2))), ValueError, "basis"),
    ("rsm truncate", lambda: _rom().truncate(5), ValueError, "n must"),
    ("rsm solve mu", lambda: _rom().solve([0.0] * 4), ValueError, "mu must"),
    ("rsm estimate mu", lambda: _rom().estimate_error([np.nan] * 4), ValueError, "mu must"),
    ("rsm estimates mus", lambda: _rom().estimate_errors(np.zeros((2, 4))), ValueError, "mus must"),
    # POD and SVDs
    ("pod method", lambda: POD(method="qr").fit(X), ValueError, "method"),
    ("pod n_components zero", lambda: POD(n_components=0).fit(X), ValueError, "n_components"),
    ("pod n_components float", lambda: POD(n_components=2.5).fit(X), ValueError, "n_components"),
    ("pod energy zero", lambda: POD(energy=0.0).fit(X), ValueError, "energy"),
    ("pod energy bool", lambda: POD(energy=True).fit(X), ValueError, "energy"),
    ("pod batch_size", lambda: POD(method="incremental", batch_size=0).fit(X), ValueError, "batch_size"),
    ("pod randomized no n", lambda: POD(method="randomized").fit(X), ValueError, "n_components"),
    ("pod product randomized", lambda: POD(2, method="randomized", product=np.eye(8)).fit(X), ValueError, "product"),
    ("pod product -I", lambda: POD(product=-np.eye(8)).fit(X), ValueError, "product"),
    ("pod product shape", lambda: POD(product=np.eye(3)).fit(X), ValueError, "product"),
    ("pod product nonsym", lambda: POD(product=np.eye(8) + np.eye(8, k=1)).fit(X), ValueError, "product"),
    ("pod product type", lambda: POD(product="I").fit(X), TypeError, "product"),
    ("pod X nan", lambda: POD().fit(np.full((3, 3), np.nan)), ValueError, "X"),
    ("pod X 1-D", lambda: POD().fit(np.ones(5)), ValueError, "X"),
    ("pod X empty", lambda: POD().fit(np.ones((0, 5))), ValueError, "X"),
    ("pod X zero", lambda: POD().fit(np.zeros((3, 5))), ValueError, "X"),
    ("pod X sparse", lambda: POD().fit(sp.eye(5).tocsr()), TypeError, "X"),
    ("pod X complex", lambda: POD().fit(np.ones((3, 3)) * 1j), ValueError, "X"),
    ("pod transform features", lambda: _fitted_pod().transform(np.ones((2, 3))), ValueError, "X has 3 features"),
    ("pod transform nan", lambda: _fitted_pod().transform(np.full((2, 8), np.nan)), ValueError, "X"),
    ("pod inverse Z", lambda: _fitted_pod().inverse_transform(np.ones((2, 5))), ValueError, "Z must"),
    (
        "pod reduce fom",
        lambda: POD(2).fit(np.random.default_rng(1).standard_normal((4, 9))).reduce(object()),
        ValueError,
        "fom must",
    ),
    ("energy_rank energy", lambda: energy_rank(np.array([1.0, 0.5]), 1.5), ValueError, "energy"),
    ("energy_rank zeros", lambda: energy_rank(np.zeros(3), 0.9), ValueError, "singular_values"),
    ("energy_rank empty", lambda: energy_rank(np.zeros(0), 0.9), ValueError, "singular_values"),
    ("isvd rank", lambda: incremental_svd(X, rank=0, batch_size=2), ValueError, "rank"),
    ("isvd batch_size", lambda: incremental_svd(X, rank=2, batch_size=0), ValueError, "batch_size"),
    ("isvd rtol", lambda: incremental_svd(X, rank=2, batch_size=2, rtol=2.0), ValueError, "rtol"),
    ("isvd X", lambda: incremental_svd(np.ones(4), rank=2, batch_size=2), ValueError, "X must"),
    ("clpod odd", lambda: CotangentLiftPOD(1).fit(np.ones((4, 3))), ValueError, "X must hold states"),
    ("clpod n_components", lambda: CotangentLiftPOD(0).fit(X), ValueError, "n_components"),
    ("clpod n_components large", lambda: CotangentLiftPOD(9).fit(X), ValueError, "n_components"),
    ("clpod X nan", lambda: CotangentLiftPOD(1).fit(np.full((3, 4), np.nan)), ValueError, "X"),
    # DEIM
    ("deim U 1-D", lambda: deim_points(np.ones(5)), ValueError, "U must"),
    ("deim U wide", lambda: deim_points(np.ones((2, 3))), ValueError, "U must"),
    ("deim U nan", lambda: deim_points(np.full((4, 2), np.nan)), ValueError, "U must"),
    ("deim U rank", lambda: deim_points(np.ones((5, 2))), ValueError, "U is .*rank deficient"),
    ("deim U zero column", lambda: deim_points(np.zeros((5, 1))), ValueError, "U is .*rank deficient"),
    (
        "deim points repeated",
        lambda: deim_interpolate(np.eye(4)[:, :2], np.array([0, 0]), np.ones(2)),
        ValueError,
        "points",
    ),
    (
        "deim points range",
        lambda: deim_interpolate(np.eye(4)[:, :2], np.array([0, 9]), np.ones(2)),
        ValueError,
        "points",
    ),
    (
        "deim points float",
        lambda: deim_interpolate(np.eye(4)[:, :2], np.array([0.0, 1.0]), np.ones(2)),
        ValueError,
        "points",
    ),
    ("deim values", lambda: deim_interpolate(np.eye(4)[:, :2], np.array([0, 1]), np.ones(3)), ValueError, "values"),
    # solvers
    ("cg rtol negative", lambda: conjugate_gradient(A, np.ones(5), rtol=-1.0), ValueError, "rtol"),
    ("cg rtol nan", lambda: conjugate_gradient(A, np.ones(5), rtol=np.nan), ValueError, "rtol"),
    ("cg rtol one", lambda: conjugate_gradient(A, np.ones(5), rtol=1.0), ValueError, "rtol"),
    ("cg maxiter", lambda: conjugate_gradient(A, np.ones(5), maxiter=0), ValueError, "maxiter"),
    ("cg A shape", lambda: conjugate_gradient(A, np.ones(4)), ValueError, "A must"),
    ("cg A indefinite", lambda: conjugate_gradient(-A, np.ones(5)), ValueError, "A must be symmetric positive"),
    ("cg b nan", lambda: conjugate_gradient(A, np.full(5, np.nan)), ValueError, "b must"),
    ("cg b 2-D", lambda: conjugate_gradient(A, np.ones((5, 1))), ValueError, "b must"),
    ("cg x0 shape", lambda: conjugate_gradient(A, np.ones(5), np.ones(4)), ValueError, "x0"),
    ("cg x0 nan", lambda: conjugate_gradient(A, np.ones(5), np.full(5, np.nan)), ValueError, "x0"),
    (
        "cg preconditioner",
        lambda: conjugate_gradient(A, np.ones(5), preconditioner=lambda r: -r),
        ValueError,
        "preconditioner",
    ),
    ("ssor omega", lambda: ssor_preconditioner(A, 2.0), ValueError, "omega"),
    ("ssor omega zero", lambda: ssor_preconditioner(A, 0.0), ValueError, "omega"),
    ("guess rom", lambda: LearnedInitialGuess(object()), TypeError, "rom"),
    ("selector costs rows", lambda: SolverSelector().fit(np.ones((3, 2)), np.ones((4, 2))), ValueError, "costs"),
    ("selector costs None", lambda: SolverSelector().fit(np.ones((3, 2)), None), ValueError, "costs"),
    (
        "selector features nan",
        lambda: SolverSelector().fit(np.full((3, 2), np.nan), np.ones((3, 2))),
        ValueError,
        "features",
    ),
    (
        "selector labels continuous",
        lambda: SolverSelector().fit(np.ones((3, 2)), np.array([0.1, 0.2, 0.3])),
        ValueError,
        "label",
    ),
    # operator inference
    ("opinf operators", lambda: OperatorInference(operators="cX").fit(X, X), ValueError, "operators"),
    ("opinf operators empty", lambda: OperatorInference(operators="").fit(X, X), ValueError, "operators"),
    ("opinf regularization", lambda: OperatorInference(regularization=-1.0).fit(X, X), ValueError, "regularization"),
    (
        "opinf regularization inf",
        lambda: OperatorInference(regularization=np.inf).fit(X, X),
        ValueError,
        "regularization",
    ),
    ("opinf under-determined", lambda: OperatorInference(operators="cAH").fit(X, X), ValueError, "Q holds"),
    ("opinf R rows", lambda: OperatorInference().fit(X, X[:4]), ValueError, "R must"),
    ("opinf R nan", lambda: OperatorInference().fit(X, np.full_like(X, np.nan)), ValueError, "R"),
    ("opinf Q nan", lambda: OperatorInference().fit(np.full_like(X, np.nan), X), ValueError, "Q"),
    ("opinf rollout q0", lambda: OperatorInference(operators="A").fit(Q3, Q3).rollout(np.ones(2), 2), ValueError, "q0"),
    (
        "opinf rollout n_steps",
        lambda: OperatorInference(operators="A").fit(Q3, Q3).rollout(np.ones(3), -1),
        ValueError,
        "n_steps",
    ),
    (
        "opinf integrate t",
        lambda: OperatorInference(operators="A").fit(Q3, Q3).integrate(np.ones(3), np.ones(3)),
        ValueError,
        "t must",
    ),
    (
        "opinf rollout outputs",
        lambda: OperatorInference(operators="A").fit(Q3, Q3[:, :2]).rollout(np.ones(3), 2),
        ValueError,
        "fit R of the shape of Q",
    ),
    ("burgers n", lambda: BurgersModel(n=0), ValueError, "n must"),
    ("burgers save_every", lambda: BurgersModel(n=16, nt=5, save_every=2), ValueError, "nt must be a multiple"),
    ("time_derivatives short", lambda: time_derivatives(np.ones((2, 3)), 0.1), ValueError, "Q needs"),
    # POD-NN and autoencoder
    ("podnn optimizer", lambda: PODNN(optimizer="sgd").fit(MU, X[:5]), ValueError, "optimizer"),
    ("podnn maxiters", lambda: PODNN(maxiters=0).fit(MU, X[:5]), ValueError, "maxiters"),
    ("podnn rows", lambda: PODNN().fit(MU, X), ValueError, "snapshots must"),
    ("podnn mu 1-D", lambda: PODNN().fit(np.ones(5), X[:5]), ValueError, "mu"),
    ("podnn mu nan", lambda: PODNN().fit(np.full((5, 1), np.nan), X[:5]), ValueError, "mu"),
    ("podnn snapshots nan", lambda: PODNN().fit(MU, np.full((5, 8), np.nan)), ValueError, "snapshots"),
    ("podnn n_components", lambda: PODNN(n_components=0).fit(MU, X[:5]), ValueError, "n_components"),
    ("ae latent", lambda: AutoencoderROM(latent=0).fit(MU, X[:5]), ValueError, "latent"),
    ("ae channels", lambda: AutoencoderROM(channels=0).fit(MU, X[:5]), ValueError, "channels"),
    ("ae ae_iters", lambda: AutoencoderROM(ae_iters=0).fit(MU, X[:5]), ValueError, "ae_iters"),
    ("ae map_iters", lambda: AutoencoderROM(map_iters=-1).fit(MU, X[:5]), ValueError, "map_iters"),
    ("ae lr", lambda: AutoencoderROM(lr=0.0).fit(MU, X[:5]), ValueError, "lr"),
    ("ae rows", lambda: AutoencoderROM().fit(MU, X), ValueError, "snapshots must"),
    ("conv ae n", lambda: ConvAutoencoder(n=10, latent=2), ValueError, "n must"),
    ("conv ae latent", lambda: ConvAutoencoder(n=8, latent=0), ValueError, "latent must"),
    ("heat T inf", lambda: heat_model(n=4, T=np.inf), ValueError, "T must"),
    ("burgers nt float", lambda: BurgersModel(n=16, nt=4.0), TypeError, "nt must"),
]


@pytest.mark.parametrize(("name", "call", "exc", "match"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_naming_the_argument(name, call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_enough_distinct_bad_calls():
    assert len({c[0] for c in CASES}) == len(CASES) >= 120
