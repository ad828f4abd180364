"""Bad input to the issue-10 optimizers (decompositions, block curvature, decomposed Schwarz options, Auto):
a clear error naming the argument, raised at the call."""

from __future__ import annotations

import pytest
import torch
from remodel_core import TrainingProblem, solve
from remodel_core.nn import MLP
from remodel_core.optim import (
    ASPQN,
    MSPQN,
    Auto,
    AutoOptimizer,
    BlockInverseHessian,
    ParameterDecomposition,
    SPQNOptimizer,
    decompose,
    decompose_layers,
    decompose_neurons,
)


def _net():
    torch.manual_seed(0)
    return MLP(1, 1, width=6, depth=2).double()


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"subdomains": 0}, ValueError, "subdomains"),
        ({"subdomains": 2.0}, TypeError, "subdomains"),
        ({"subdomains": True}, TypeError, "subdomains"),
        ({"subdomains": 2, "overlap": -1}, ValueError, "overlap"),
        ({"subdomains": 2, "overlap": 1.5}, TypeError, "overlap"),
        ({"subdomains": 50}, ValueError, "subdomains"),
    ],
)
def test_decompose_neurons_rejects(kwargs, err, match):
    with pytest.raises(err, match=match):
        decompose_neurons(_net(), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"by": "rows", "subdomains": 2}, ValueError, "by"),
        ({"balance": "weights", "subdomains": 2}, ValueError, "balance"),
        ({}, ValueError, "max_dense"),
        ({"subdomains": 2, "max_dense": 10}, ValueError, "max_dense"),
        ({"max_dense": 0}, ValueError, "max_dense"),
        ({"max_dense": 10.5}, TypeError, "max_dense"),
        ({"max_dense": True}, TypeError, "max_dense"),
        ({"by": "neurons", "max_dense": 1}, ValueError, "max_dense"),
    ],
)
def test_decompose_rejects(kwargs, err, match):
    with pytest.raises(err, match=match):
        decompose(_net(), **kwargs)


def test_decompose_rejects_a_model_without_parameters():
    with pytest.raises(ValueError, match="model"):
        decompose_neurons(torch.nn.Tanh(), 1)


def _dec(n=3):
    return ParameterDecomposition((torch.arange(n),), n, torch.ones(n, dtype=torch.float64), ((),))


@pytest.mark.parametrize(
    ("args", "kwargs", "err", "match"),
    [
        (("not a decomposition",), {}, TypeError, "decomposition"),
        ((_dec(),), {"update": "lbfgs"}, ValueError, "update"),
        ((_dec(),), {"update": "newton"}, ValueError, "update"),
        ((_dec(),), {"blocks": []}, ValueError, "blocks"),
    ],
)
def test_block_inverse_hessian_rejects(args, kwargs, err, match):
    with pytest.raises(err, match=match):
        BlockInverseHessian(*args, **kwargs)


def test_block_inverse_hessian_rejects_wrong_sizes():
    H = BlockInverseHessian(_dec(3))
    with pytest.raises(ValueError, match="g has"):
        H.direction(torch.ones(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="s and y"):
        H.push(torch.ones(3, dtype=torch.float64), torch.ones(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="blocks"):
        H.load_state_dict({"blocks": [], "update": "ssbroyden"})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"local_hessian": "newton"}, "local_hessian"),
        ({"global_hessian": "newton"}, "global_hessian"),
        ({"local_hessian": "block"}, "local_hessian"),
        ({"local_hessian": 3}, "local_hessian"),
        ({"local_iters": -1}, "local_iters"),
    ],
)
def test_spqn_optimizer_rejects_curvature_options(kwargs, match):
    net = _net()
    with pytest.raises(ValueError, match=match):
        SPQNOptimizer(net.parameters(), decompose_layers(net, 2), **kwargs)


@pytest.mark.parametrize("cls", [ASPQN, MSPQN])
@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"max_dense": 0}, ValueError, "max_dense"),
        ({"max_dense": 2.5}, TypeError, "max_dense"),
        ({"local_hessian": "newton"}, ValueError, "local_hessian"),
        ({"global_hessian": "dense"}, ValueError, "global_hessian"),
        ({"decomposition": "columns"}, ValueError, "decomposition"),
    ],
)
def test_schwarz_algorithms_reject(cls, kwargs, err, match):
    x = torch.linspace(-1, 1, 8).unsqueeze(1)
    prob = TrainingProblem(model=_net(), loss=lambda m, x: (m(x) ** 2).mean(), data=(x,))
    with pytest.raises(err, match=match):
        solve(prob, cls(**kwargs), maxiters=1, dtype=torch.float64)


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"memory_mb": 0}, ValueError, "memory_mb"),
        ({"memory_mb": -1.0}, ValueError, "memory_mb"),
        ({"dense_cost": 0}, ValueError, "dense_cost"),
        ({"min_block": 0}, ValueError, "min_block"),
        ({"min_block": 2.5}, TypeError, "min_block"),
        ({"blocks": 1}, TypeError, "blocks"),
        ({"warmup_decrease": 0}, ValueError, "warmup_decrease"),
        ({"warmup_decrease": 1.0}, ValueError, "warmup_decrease"),
        ({"warmup_s": -1}, ValueError, "warmup_s"),
        ({"warmup_max_s": -1}, ValueError, "warmup_max_s"),
        ({"local_iters": -1}, ValueError, "local_iters"),
        ({"trial_steps": 0}, ValueError, "trial_steps"),
    ],
)
def test_auto_rejects(kwargs, err, match):
    x = torch.linspace(-1, 1, 8).unsqueeze(1)
    prob = TrainingProblem(model=_net(), loss=lambda m, x: (m(x) ** 2).mean(), data=(x,))
    with pytest.raises(err, match=match):
        solve(prob, Auto(**kwargs), maxiters=1, dtype=torch.float64)
    net = _net()
    with pytest.raises(err, match=match):
        AutoOptimizer(net.parameters(), net, **kwargs)


def test_auto_optimizer_rejects_a_non_module_and_no_closure():
    net = _net()
    with pytest.raises(TypeError, match="model"):
        AutoOptimizer(net.parameters(), "net")
    opt = AutoOptimizer(net.parameters(), net)
    with pytest.raises(ValueError, match="closure"):
        opt.step(None)
    with pytest.raises(ValueError, match="AutoOptimizer state"):
        opt.load_state_dict({"phase": "warmup"})
