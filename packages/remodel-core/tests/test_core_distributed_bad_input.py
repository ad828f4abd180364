"""Bad input to remodel_core.distributed: a clear TypeError/ValueError naming the argument, at the call."""

from __future__ import annotations

import os

import pytest
import torch
from remodel_core import TrainingProblem, solve
from remodel_core.distributed import DistributedASPQN, Heartbeat, init_distributed, torchrun_command
from remodel_core.distributed._group import check_timeout


def _problem(**kw):
    net = torch.nn.Sequential(torch.nn.Linear(1, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    x = torch.linspace(-1, 1, 8).unsqueeze(1)
    return TrainingProblem(model=net, loss=lambda m, x: m(x).pow(2).mean(), data=(x,), **kw)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"subdomains": 0}, "subdomains"),
        ({"subdomains": "2"}, "subdomains"),
        ({"subdomains": True}, "subdomains"),
        ({"overlap": -1}, "overlap"),
        ({"decomposition": "rows"}, "decomposition"),
        ({"local_iters": 0}, "local_iters"),
        ({"local_history": 0}, "local_history"),
        ({"history_size": -2}, "history_size"),
        ({"global_iters": -1}, "global_iters"),
        ({"lr": 0.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"c1": 2.0}, "c1"),
        ({"c2": 0.0}, "c2"),
        ({"max_ls": 0}, "max_ls"),
        ({"tolerance_grad": -1.0}, "tolerance_grad"),
        ({"curvature_eps": -1.0}, "curvature_eps"),
        ({"hessian": "newton"}, "hessian"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"shards": 0}, "shards"),
        ({"shards": 1.5}, "shards"),
    ],
)
def test_algorithm_options(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        solve(_problem(), DistributedASPQN(**kwargs), maxiters=1)


def test_solve_level_checks():
    with pytest.raises(ValueError, match="batch_size"):
        solve(_problem(batch_size=4), DistributedASPQN(), maxiters=1)
    with pytest.raises(ValueError, match="subdomains"):
        solve(_problem(), DistributedASPQN(subdomains=5), maxiters=1)  # two layers only
    with pytest.raises(ValueError, match="data_parallel"):
        solve(_problem(), DistributedASPQN(), maxiters=1, data_parallel=True)


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan"), "60", None, True])
def test_timeouts(bad):
    with pytest.raises((TypeError, ValueError), match="timeout"):
        check_timeout(bad)
    with pytest.raises((TypeError, ValueError), match="timeout"):
        Heartbeat(0, 1, timeout=bad)


def test_init_distributed_checks(monkeypatch):
    with pytest.raises(ValueError, match="backend"):
        init_distributed("mpi")
    with pytest.raises(ValueError, match="timeout"):
        init_distributed(timeout=-5)
    for key in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ValueError, match="RANK"):
        init_distributed()
    assert "RANK" not in os.environ


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"nproc": 0}, "nproc"),
        ({"nproc": True}, "nproc"),
        ({"nproc": 1.0}, "nproc"),
        ({"nnodes": 0}, "nnodes"),
        ({"nnodes": 2}, "rdzv_endpoint"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_torchrun_command(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        torchrun_command("cfg.py", **kwargs)
