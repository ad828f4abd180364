"""Bad input to remodel_core fails at the call with a clear error naming the argument (issue 11).

Each case is one bad call: the exception type and a pattern the message must contain (the argument's name).
Other packages keep their own bad-input files (``packages/<pkg>/tests/test_*bad_input*.py``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from remodel_core import TrainingProblem, check_positive, load_checkpoint, remake, solve
from remodel_core.integrate import hamiltonian_odeint, odeint
from remodel_core.nn import MLP, ResNetMLP
from remodel_core.optim import (
    ASPQN,
    LBFGS,
    MGOPT,
    MSPQN,
    RMTR,
    SGD,
    Adam,
    RobustLBFGS,
    RobustLBFGSOptimizer,
    SPQNOptimizer,
    SSBroyden,
    decompose_layers,
)
from remodel_core.pde import Box, Interval, burgers

NAN, INF = math.nan, math.inf


def _prob(**kw):
    return TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m: m.bias.pow(2).sum(), **kw)


def _data_prob(**kw):
    x = torch.zeros(8, 1)
    return TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m, x: m(x).pow(2).mean(), data=(x,), **kw)


def _solve(alg, **opts):
    return solve(_prob(), alg, **{"maxiters": 1, **opts})


T = torch.linspace(0, 1, 3, dtype=torch.float64)
Y0 = torch.ones(2, dtype=torch.float64)


def _rhs(t, y):
    return -y


def _grad_h(q, p):
    return q, p


CASES = [
    # solve's shared options
    ("maxiters=0", lambda: _solve(Adam(), maxiters=0), ValueError, "maxiters"),
    ("maxiters=1.5", lambda: _solve(Adam(), maxiters=1.5), TypeError, "maxiters"),
    ("maxiters=True", lambda: _solve(Adam(), maxiters=True), TypeError, "maxiters"),
    ("maxtime=-1", lambda: _solve(Adam(), maxtime=-1.0), ValueError, "maxtime"),
    ("maxtime=nan", lambda: _solve(Adam(), maxtime=NAN), ValueError, "maxtime"),
    ("maxtime='1'", lambda: _solve(Adam(), maxtime="1"), TypeError, "maxtime"),
    ("abstol=-1", lambda: _solve(Adam(), abstol=-1.0), ValueError, "abstol"),
    ("abstol=nan", lambda: _solve(Adam(), abstol=NAN), ValueError, "abstol"),
    ("abstol=inf", lambda: _solve(Adam(), abstol=INF), ValueError, "abstol"),
    ("reltol=-1", lambda: _solve(Adam(), reltol=-1e-3), ValueError, "reltol"),
    ("callback=3", lambda: _solve(Adam(), callback=3), TypeError, "callback"),
    ("seed=-1", lambda: _solve(Adam(), seed=-1), ValueError, "seed"),
    ("seed=1.0", lambda: _solve(Adam(), seed=1.0), TypeError, "seed"),
    ("seed='0'", lambda: _solve(Adam(), seed="0"), TypeError, "seed"),
    ("seed=2**64", lambda: _solve(Adam(), seed=2**64), ValueError, "seed"),
    ("device='gpu7'", lambda: _solve(Adam(), device="gpu7"), ValueError, "device"),
    ("dtype=int64", lambda: _solve(Adam(), dtype=torch.int64), TypeError, "dtype"),
    ("dtype='double2'", lambda: _solve(Adam(), dtype="double2"), TypeError, "dtype"),
    ("checkpoint=3", lambda: _solve(Adam(), checkpoint=3), TypeError, "checkpoint"),
    ("checkpoint_every=0", lambda: _solve(Adam(), checkpoint_every=0), ValueError, "checkpoint_every"),
    ("monitor_every=-2", lambda: _solve(Adam(), monitor_every=-2), ValueError, "monitor_every"),
    ("resume without checkpoint", lambda: _solve(Adam(), resume=True), ValueError, "resume"),
    ("data_parallel='yes'", lambda: _solve(Adam(), data_parallel="yes"), TypeError, "data_parallel"),
    ("data_parallel without group", lambda: _solve(Adam(), data_parallel=True), ValueError, "data_parallel"),
    ("unknown option", lambda: _solve(Adam(), max_iters=3), TypeError, "max_iters"),
    ("lr as a solve option", lambda: _solve(Adam(), lr=0.1), TypeError, "lr"),
    ("problem not a Problem", lambda: solve(3, Adam()), TypeError, "problem"),
    ("algorithm not an Algorithm", lambda: solve(_prob(), torch.optim.Adam), TypeError, "algorithm"),
    ("algorithm instance of torch", lambda: solve(_prob(), "adam"), TypeError, "algorithm"),
    # TrainingProblem
    (
        "model not a module",
        lambda: solve(TrainingProblem(model=3, loss=lambda m: 0), Adam()),
        TypeError,
        "model",
    ),
    (
        "model without parameters",
        lambda: solve(TrainingProblem(model=torch.nn.ReLU(), loss=lambda m: 0), Adam()),
        ValueError,
        "model",
    ),
    (
        "loss not callable",
        lambda: solve(TrainingProblem(model=torch.nn.Linear(1, 1), loss=3), Adam()),
        TypeError,
        "loss",
    ),
    ("data a list", lambda: solve(_prob(data=[torch.zeros(3)]), Adam()), TypeError, "data"),
    (
        "float32 model, float64 data",
        lambda: solve(
            TrainingProblem(
                model=torch.nn.Linear(1, 1),
                loss=lambda m, x: m(x).pow(2).mean(),
                data=(torch.zeros(8, 1, dtype=torch.float64),),
            ),
            Adam(),
            maxiters=1,
        ),
        TypeError,
        "model's parameters are float32 but the data is float64",
    ),
    ("data empty tuple", lambda: solve(_prob(data=()), Adam()), ValueError, "data"),
    ("data sizes differ", lambda: solve(_prob(data=(torch.zeros(3), torch.zeros(4))), Adam()), ValueError, "data"),
    ("data 0 rows", lambda: solve(_prob(data=(torch.zeros(0, 2),)), Adam()), ValueError, "data"),
    ("data 0-d", lambda: solve(_prob(data=(torch.tensor(1.0),)), Adam()), ValueError, "data"),
    ("batch_size=0", lambda: solve(_data_prob(batch_size=0), Adam()), ValueError, "batch_size"),
    ("batch_size=2.5", lambda: solve(_data_prob(batch_size=2.5), Adam()), TypeError, "batch_size"),
    ("batch_size without data", lambda: solve(_prob(batch_size=4), Adam()), ValueError, "batch_size"),
    ("metrics not callables", lambda: solve(_prob(metrics={"err": 3}), Adam()), TypeError, "metrics"),
    (
        "loss returns a vector",
        lambda: solve(
            TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m: torch.cat([m.weight.flatten(), m.bias])),
            Adam(),
            maxiters=1,
        ),
        TypeError,
        "loss",
    ),
    # torch-backed algorithms
    ("Adam lr=0", lambda: _solve(Adam(lr=0.0)), ValueError, "lr"),
    ("Adam lr=inf", lambda: _solve(Adam(lr=INF)), ValueError, "lr"),
    ("Adam lr=nan", lambda: _solve(Adam(lr=NAN)), ValueError, "lr"),
    ("Adam lr='0.1'", lambda: _solve(Adam(lr="0.1")), TypeError, "lr"),
    ("Adam betas", lambda: _solve(Adam(betas=(1.0, 0.9))), ValueError, "betas"),
    ("Adam eps=-1", lambda: _solve(Adam(eps=-1.0)), ValueError, "eps"),
    ("Adam weight_decay=-1", lambda: _solve(Adam(weight_decay=-1.0)), ValueError, "weight_decay"),
    ("SGD lr=-1", lambda: _solve(SGD(lr=-1.0)), ValueError, "lr"),
    ("SGD momentum=-0.5", lambda: _solve(SGD(lr=0.1, momentum=-0.5)), ValueError, "momentum"),
    ("LBFGS max_iter=0", lambda: _solve(LBFGS(max_iter=0)), ValueError, "max_iter"),
    ("LBFGS history_size=0", lambda: _solve(LBFGS(history_size=0)), ValueError, "history_size"),
    ("LBFGS tolerance_grad=nan", lambda: _solve(LBFGS(tolerance_grad=NAN)), ValueError, "tolerance_grad"),
    ("LBFGS tolerance_change=-1", lambda: _solve(LBFGS(tolerance_change=-1.0)), ValueError, "tolerance_change"),
    ("LBFGS line_search_fn", lambda: _solve(LBFGS(line_search_fn="armijo")), ValueError, "line_search_fn"),
    # REMODEL algorithms
    ("RobustLBFGS lr=0", lambda: _solve(RobustLBFGS(lr=0.0)), ValueError, "lr"),
    ("RobustLBFGS history_size=0", lambda: _solve(RobustLBFGS(history_size=0)), ValueError, "history_size"),
    ("RobustLBFGS c1>c2", lambda: _solve(RobustLBFGS(c1=0.95, c2=0.9)), ValueError, "c1"),
    ("RobustLBFGS c2=1", lambda: _solve(RobustLBFGS(c2=1.0)), ValueError, "c2"),
    ("RobustLBFGS max_ls=0", lambda: _solve(RobustLBFGS(max_ls=0)), ValueError, "max_ls"),
    ("RobustLBFGS tolerance_grad=nan", lambda: _solve(RobustLBFGS(tolerance_grad=NAN)), ValueError, "tolerance_grad"),
    ("RobustLBFGS curvature_eps=-1", lambda: _solve(RobustLBFGS(curvature_eps=-1.0)), ValueError, "curvature_eps"),
    ("SSBroyden update", lambda: _solve(SSBroyden(update="dfp")), ValueError, "update"),
    ("ASPQN subdomains=0", lambda: _solve(ASPQN(subdomains=0)), ValueError, "subdomains"),
    ("ASPQN overlap=-1", lambda: _solve(ASPQN(overlap=-1)), ValueError, "overlap"),
    ("ASPQN decomposition", lambda: _solve(ASPQN(decomposition="random")), ValueError, "decomposition"),
    ("ASPQN hessian", lambda: _solve(ASPQN(hessian="newton")), ValueError, "hessian"),
    ("MSPQN local_history=0", lambda: _solve(MSPQN(local_history=0)), ValueError, "local_history"),
    ("MSPQN global_iters=-1", lambda: _solve(MSPQN(global_iters=-1)), ValueError, "global_iters"),
    ("MGOPT levels=0", lambda: _solve(MGOPT(levels=0)), ValueError, "levels"),
    ("RMTR levels=0", lambda: _solve(RMTR(levels=0)), ValueError, "levels"),
    ("MGOPT history_size=0", lambda: _solve(MGOPT(history_size=0)), ValueError, "history_size"),
    # optimizers used directly
    (
        "RobustLBFGSOptimizer lr=-1",
        lambda: RobustLBFGSOptimizer([torch.zeros(2, requires_grad=True)], lr=-1.0),
        ValueError,
        "lr",
    ),
    (
        "RobustLBFGSOptimizer max_iter=0",
        lambda: RobustLBFGSOptimizer([torch.zeros(2, requires_grad=True)], max_iter=0),
        ValueError,
        "max_iter",
    ),
    (
        "RobustLBFGSOptimizer group lr",
        lambda: RobustLBFGSOptimizer(
            [
                {"params": [torch.zeros(2, requires_grad=True)]},
                {"params": [torch.zeros(1, requires_grad=True)], "lr": 2.0},
            ]
        ),
        ValueError,
        "lr",
    ),
    (
        "RobustLBFGSOptimizer step without closure",
        lambda: RobustLBFGSOptimizer([torch.zeros(2, requires_grad=True)]).step(None),
        ValueError,
        "closure",
    ),
    (
        "SPQNOptimizer method",
        lambda: SPQNOptimizer(
            list(MLP(1, 1, width=2, depth=1).parameters()),
            decompose_layers(MLP(1, 1, width=2, depth=1), 2),
            method="jacobi",
        ),
        ValueError,
        "method",
    ),
    (
        "SPQNOptimizer decomposition type",
        lambda: SPQNOptimizer(list(MLP(1, 1, width=2, depth=1).parameters()), [0, 1]),
        TypeError,
        "decomposition",
    ),
    # networks
    ("MLP in_features=0", lambda: MLP(0, 1), ValueError, "in_features"),
    ("MLP width=0", lambda: MLP(1, 1, width=0), ValueError, "width"),
    ("MLP depth=-1", lambda: MLP(1, 1, depth=-1), ValueError, "depth"),
    ("MLP activation", lambda: MLP(1, 1, activation="swish2"), ValueError, "activation"),
    ("ResNetMLP out_features=0", lambda: ResNetMLP(1, 0), ValueError, "out_features"),
    ("ResNetMLP horizon=0", lambda: ResNetMLP(1, 1, horizon=0.0), ValueError, "horizon"),
    ("ResNetMLP horizon=inf", lambda: ResNetMLP(1, 1, horizon=math.inf), ValueError, "horizon must be finite"),
    ("ResNetMLP horizon='1'", lambda: ResNetMLP(1, 1, horizon="1"), TypeError, "horizon must be a number"),
    # PINN problems
    (
        "discretize network in_features",
        lambda: burgers().discretize(MLP(3, 1, width=4, depth=1), points=16),
        ValueError,
        "in_features",
    ),
    ("discretize network not a module", lambda: burgers().discretize("mlp", points=16), TypeError, "network"),
    ("discretize points=0", lambda: burgers().discretize(MLP(2, 1, width=4, depth=1), points=0), ValueError, "points"),
    (
        "discretize points shape",
        lambda: burgers().discretize(MLP(2, 1, width=4, depth=1), points=torch.zeros(4, 3)),
        ValueError,
        "points",
    ),
    (
        "discretize dtype",
        lambda: burgers().discretize(MLP(2, 1, width=4, depth=1), points=8, dtype=torch.int32),
        TypeError,
        "dtype",
    ),
    (
        "discretize weights",
        lambda: burgers().discretize(MLP(2, 1, width=4, depth=1), points=8, weights={"pde": 1.0}),
        ValueError,
        "weights",
    ),
    (
        "discretize derivatives",
        lambda: burgers().discretize(MLP(2, 1, width=4, depth=1), points=8, derivatives="fd"),
        ValueError,
        "derivatives",
    ),
    ("burgers nu=0", lambda: burgers(nu=0.0), ValueError, "nu"),
    ("Box low > high", lambda: Box([1.0], [0.0]), ValueError, "low|high"),
    ("Interval reversed", lambda: Interval(1.0, 0.0), ValueError, "Interval|bounds|lower|upper|a|b"),
    # odeint / hamiltonian_odeint
    ("odeint f not callable", lambda: odeint(3, Y0, T), TypeError, "f"),
    ("odeint y0 not a tensor", lambda: odeint(_rhs, [1.0], T), TypeError, "y0"),
    ("odeint y0 int", lambda: odeint(_rhs, torch.ones(2, dtype=torch.int64), T), TypeError, "y0"),
    ("odeint t decreasing", lambda: odeint(_rhs, Y0, T.flip(0)), ValueError, "t"),
    ("odeint t 2-d", lambda: odeint(_rhs, Y0, T.reshape(1, -1)), ValueError, "t"),
    ("odeint t inf", lambda: odeint(_rhs, Y0, torch.tensor([0.0, INF], dtype=torch.float64)), ValueError, "t"),
    ("odeint method", lambda: odeint(_rhs, Y0, T, method="rk45"), ValueError, "method"),
    ("odeint dt=0", lambda: odeint(_rhs, Y0, T, dt=0.0), ValueError, "dt"),
    ("odeint rtol=-1", lambda: odeint(_rhs, Y0, T, method="dopri5", rtol=-1.0), ValueError, "rtol"),
    ("odeint atol=nan", lambda: odeint(_rhs, Y0, T, method="dopri5", atol=NAN), ValueError, "atol"),
    ("odeint max_steps=0", lambda: odeint(_rhs, Y0, T, method="dopri5", max_steps=0), ValueError, "max_steps"),
    ("odeint first_step=-1", lambda: odeint(_rhs, Y0, T, method="dopri5", first_step=-1.0), ValueError, "first_step"),
    ("odeint controller", lambda: odeint(_rhs, Y0, T, method="dopri5", controller="pid"), ValueError, "controller"),
    ("odeint f NaN", lambda: odeint(lambda t, y: y * NAN, Y0, T), ValueError, "f returned NaN"),
    ("odeint f wrong shape", lambda: odeint(lambda t, y: y[:1], Y0, T), ValueError, "f returned shape"),
    (
        "hamiltonian_odeint method",
        lambda: hamiltonian_odeint(_grad_h, Y0, Y0, T, method="leapfrog2"),
        ValueError,
        "method",
    ),
    ("hamiltonian_odeint grad_H", lambda: hamiltonian_odeint(3, Y0, Y0, T), TypeError, "grad_H"),
    ("hamiltonian_odeint p0 shape", lambda: hamiltonian_odeint(_grad_h, Y0, Y0[:1], T), ValueError, "p0"),
    # helpers
    ("check_positive bool", lambda: check_positive("width", True), TypeError, "width"),
    ("check_positive inf", lambda: check_positive("lr", INF), ValueError, "lr"),
    (
        "check_positive numpy float as integer",
        lambda: check_positive("n", np.float64(2.0), integer=True),
        TypeError,
        "n",
    ),
    ("check_positive numpy negative", lambda: check_positive("n", np.int64(-1), integer=True), ValueError, "n"),
    ("remake unknown field", lambda: remake(Adam(), learning_rate=0.1), TypeError, "learning_rate"),
    ("load_checkpoint missing", lambda: load_checkpoint("/nonexistent/ck.pt"), FileNotFoundError, "ck.pt"),
]


@pytest.mark.parametrize(("call", "exc", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_call_raises_naming_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_case_count():
    assert len(CASES) >= 100
    assert len({c[0] for c in CASES}) == len(CASES), "case ids must be distinct"


def test_numpy_scalars_are_numbers():
    """numpy integers and floats pass the shared checks and solve's options (GridSearchCV grids built with
    np.arange or np.linspace give numpy scalars)."""
    check_positive("n", np.int64(3), integer=True)
    check_positive("lr", np.float32(0.1))
    sol = solve(_data_prob(), Adam(lr=np.float64(1e-2)), maxiters=np.int64(3), seed=np.int64(1))
    assert sol.stats["iterations"] == 3
