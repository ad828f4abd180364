"""Schwarz-preconditioned quasi-Newton (ASPQN, MSPQN, two-level) and the parameter decomposition."""

from __future__ import annotations

import importlib.util
import math
import pathlib

import pytest
import torch
from remodel_core import ReturnCode, TrainingProblem, solve
from remodel_core.nn import MLP, ResNetMLP
from remodel_core.optim import (
    ASPQN,
    MSPQN,
    RobustLBFGS,
    SPQNOptimizer,
    decompose_layers,
    layers_of,
)

_spec = importlib.util.spec_from_file_location(
    "_optim_problems", pathlib.Path(__file__).with_name("_optim_problems.py")
)
P = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(P)
_spec = importlib.util.spec_from_file_location(
    "_distributed_problem", pathlib.Path(__file__).with_name("_distributed_problem.py")
)
_ranks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ranks)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """All tests here run on one intra-op thread (the root conftest.py)."""


# decomposition -----------------------------------------------------------------------------------------
def test_layers_and_balanced_split():
    net = ResNetMLP(2, 1, width=6, depth=4)
    layers = layers_of(net)
    assert len(layers) == 6 and sorted(i for layer in layers for i in layer) == list(range(12))
    dec = decompose_layers(net, 3)
    n = sum(p.numel() for p in net.parameters())
    assert dec.size == n
    covered = torch.cat(dec.indices)
    assert torch.equal(torch.sort(covered).values, torch.arange(n))  # a partition without overlap
    assert torch.equal(dec.multiplicity, torch.ones(n, dtype=torch.float64))
    assert all(layer == tuple(range(layer[0], layer[-1] + 1)) for layer in dec.layers)  # consecutive layers


def test_overlap_multiplicity_and_average():
    net = MLP(1, 1, width=3, depth=3)  # 4 layers
    dec = decompose_layers(net, 2, overlap=1, balance="layers")
    assert dec.layers == ((0, 1, 2), (1, 2, 3))
    assert set(dec.multiplicity.tolist()) == {1.0, 2.0}
    ones = [torch.ones(i.numel(), dtype=torch.float64) for i in dec.indices]
    assert torch.equal(dec.combine(ones), torch.ones(dec.size, dtype=torch.float64))  # average, not sum


def test_decomposition_rejects_bad_input():
    net = MLP(1, 1, width=3, depth=1)  # 2 layers
    with pytest.raises(ValueError, match="subdomains"):
        decompose_layers(net, 0)
    with pytest.raises(ValueError, match="at most the number of layers"):
        decompose_layers(net, 3)
    with pytest.raises(ValueError, match="overlap"):
        decompose_layers(net, 1, overlap=-1)
    with pytest.raises(ValueError, match="balance"):
        decompose_layers(net, 1, balance="random")


# optimizers --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "alg",
    [
        ASPQN(subdomains=5, tolerance_grad=1e-8),
        ASPQN(subdomains=3, overlap=1, coarse=True, tolerance_grad=1e-8),
        MSPQN(subdomains=5, tolerance_grad=1e-8),
        MSPQN(subdomains=2, coarse=True, tolerance_grad=1e-8),
    ],
    ids=["aspqn", "aspqn-overlap-coarse", "mspqn", "mspqn-coarse"],
)
def test_quadratic_to_1e10(alg):
    prob, f_star, x_star = P.quadratic(50, cond=1e3, layers=5)
    sol = solve(prob, alg, maxiters=400)
    assert sol.retcode == ReturnCode.Success
    assert float(prob.loss(sol.u).detach()) - f_star < 1e-10
    assert torch.allclose(sol.u.vector().detach(), x_star, atol=1e-5)


def test_one_subdomain_additive_equals_lbfgs():
    prob = P.regression(seed=3)
    ours = solve(
        prob, ASPQN(subdomains=1, local_iters=4, global_iters=0, local_history=7), maxiters=6, dtype=torch.float64
    )
    ref = solve(prob, RobustLBFGS(max_iter=4, history_size=7), maxiters=6, dtype=torch.float64)
    for p, q in zip(ours.u.parameters(), ref.u.parameters()):
        assert torch.equal(p, q)
    assert ours.history["loss"] == ref.history["loss"]
    assert ours.stats["evals"] == ref.stats["evals"]


def test_schwarz_beats_nothing_on_rosenbrock():
    for alg in (ASPQN(subdomains=2, tolerance_grad=1e-10), MSPQN(subdomains=2, tolerance_grad=1e-10)):
        sol = solve(P.rosenbrock(4), alg, maxiters=300)
        assert sol.retcode == ReturnCode.Success, alg
        assert torch.allclose(sol.u.vector().detach(), torch.ones(4, dtype=torch.float64), atol=1e-6)


def test_regression_decreases_monotonically():
    prob = P.regression(seed=0)
    for alg in (ASPQN(subdomains=3), MSPQN(subdomains=4, coarse=True)):
        sol = solve(prob, alg, maxiters=15, dtype=torch.float64)
        loss = sol.history["loss"]
        assert all(b <= a for a, b in zip(loss, loss[1:]))
        assert loss[-1] < 0.05 * float(prob.loss(prob.model.double(), *prob.data).detach())


def test_resume_equals_uninterrupted(tmp_path):
    prob = P.regression(seed=2)
    alg = ASPQN(subdomains=3, overlap=1, coarse=True, local_history=4, history_size=6)
    ref = solve(prob, alg, maxiters=8, dtype=torch.float64)
    ck = tmp_path / "spqn.pt"
    solve(prob, alg, maxiters=4, dtype=torch.float64, checkpoint=ck, checkpoint_every=2)
    resumed = solve(prob, alg, maxiters=8, dtype=torch.float64, checkpoint=ck, resume=True)
    for p, q in zip(ref.u.parameters(), resumed.u.parameters()):
        assert torch.equal(p, q)
    assert resumed.stats["evals"] == ref.stats["evals"]
    # a checkpoint of another decomposition is refused clearly
    with pytest.raises(ValueError, match="subdomains|does not match"):
        solve(prob, ASPQN(subdomains=2), maxiters=9, dtype=torch.float64, checkpoint=ck, resume=True)


def test_nan_loss_is_diverged():
    prob = P.rosenbrock(4)
    calls = {"n": 0}

    def loss(m):
        calls["n"] += 1
        value = prob.loss(m)
        return value * math.nan if calls["n"] > 20 else value

    sol = solve(TrainingProblem(model=prob.model, loss=loss), ASPQN(subdomains=2, max_ls=3), maxiters=50)
    assert sol.retcode == ReturnCode.Diverged
    assert torch.isfinite(sol.u.vector()).all()
    assert float(prob.loss(sol.u).detach()) < float(prob.loss(prob.model).detach())


def test_rejects_bad_configuration():
    prob = P.regression()
    cases = [
        (ASPQN(history_size=-1), ValueError, "history_size"),
        (ASPQN(local_history=0), ValueError, "local_history"),
        (ASPQN(subdomains=0), ValueError, "subdomains"),
        (MSPQN(subdomains=2.0), TypeError, "subdomains"),
        (ASPQN(decomposition="random"), ValueError, "decomposition"),
        (MSPQN(overlap=-1), ValueError, "overlap"),
        (ASPQN(local_iters=-1), ValueError, "local_iters"),
        (ASPQN(c1=0.95), ValueError, "Wolfe"),
    ]
    for alg, err, match in cases:
        with pytest.raises(err, match=match):
            solve(prob, alg, maxiters=1)
    with pytest.raises(ValueError, match="at most the number of layers"):
        solve(prob, ASPQN(subdomains=50), maxiters=1)
    net = MLP(1, 1, width=3, depth=1)
    with pytest.raises(ValueError, match="method"):
        SPQNOptimizer(net.parameters(), decompose_layers(net, 1), method="hybrid")
    with pytest.raises(ValueError, match="decomposition covers"):
        SPQNOptimizer(list(net.parameters())[:1], decompose_layers(net, 1))


def test_plain_pytorch_loop_multiplicative():
    torch.manual_seed(0)
    net = MLP(1, 1, width=6, depth=2).double()
    x = torch.linspace(-1, 1, 40, dtype=torch.float64).unsqueeze(1)
    opt = SPQNOptimizer(net.parameters(), decompose_layers(net, 3), method="multiplicative", coarse=True)

    def closure():
        opt.zero_grad()
        loss = ((net(x) - torch.cos(2 * x)) ** 2).mean()
        loss.backward()
        return loss

    first = float(closure())
    for _ in range(15):
        last = float(opt.step(closure))
    assert last < 1e-2 * first
    state = opt.state_dict()
    assert len(state["local_memories"]) == 3


_DIST_SCRIPT = """
import sys, torch, torch.distributed as dist
torch.set_num_threads(1)
dist.init_process_group("gloo")
from remodel_core import TrainingProblem, solve
from remodel_core.nn import MLP
from remodel_core.optim import ASPQN
torch.manual_seed(0)
net = MLP(1, 1, width=6, depth=3).double()
x = torch.linspace(-1, 1, 40, dtype=torch.float64).unsqueeze(1)
prob = TrainingProblem(model=net, loss=lambda m, x: ((m(x) - torch.sin(3 * x)) ** 2).mean(), data=(x,))
distributed = sys.argv[2] == "1"
sol = solve(prob, ASPQN(subdomains=3, overlap=1, distributed=distributed), maxiters=5, dtype=torch.float64)
torch.save({"params": [p.detach() for p in sol.u.parameters()], "evals": sol.stats["evals"]},
           sys.argv[1] + f".{dist.get_rank()}")
dist.barrier()  # no rank tears gloo down while another is still using it (else a peer may abort)
dist.destroy_process_group()
"""


def test_distributed_additive_equals_single_process(tmp_path):
    import sys

    script = tmp_path / "run.py"
    script.write_text(_DIST_SCRIPT)
    outs = {}
    for nproc, flag in ((1, "0"), (2, "1")):
        out = tmp_path / f"out{nproc}"
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            str(script),
            str(out),
            flag,
        ]
        done = _ranks.run_ranks(cmd, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        outs[nproc] = [torch.load(f"{out}.{r}", weights_only=True) for r in range(nproc)]
    single = outs[1][0]
    for rank_result in outs[2]:
        for p, q in zip(single["params"], rank_result["params"]):
            assert torch.equal(p, q)
    # the subdomain solves were shared: each rank evaluated less than the single process
    assert max(r["evals"] for r in outs[2]) < single["evals"]
    with pytest.raises(ValueError, match="torch.distributed"):
        SPQNOptimizer(
            MLP(1, 1, width=3, depth=1).parameters(), decompose_layers(MLP(1, 1, width=3, depth=1), 1), distributed=True
        )


@pytest.mark.parametrize("trial_step", ["quadratic", "unit"])
def test_global_step_follows_the_last_decrease(monkeypatch, trial_step):
    """With ``trial_step="quadratic"`` each global line search gets the value at the previous global iterate
    (Nocedal & Wright eq. 3.60 in ``lbfgs_iteration``); with ``"unit"``, or after the parameters were moved from
    outside, it gets none."""
    from remodel_core.optim import _schwarz

    seen: list = []
    inner = _schwarz.lbfgs_iteration

    def recording(*args, **kwargs):
        if kwargs.get("push") is False:  # the global step
            seen.append((args[2], kwargs["previous_f"]))
        return inner(*args, **kwargs)

    monkeypatch.setattr(_schwarz, "lbfgs_iteration", recording)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    x = torch.linspace(-1, 1, 32, dtype=torch.float64).unsqueeze(1)
    opt = SPQNOptimizer(
        net.parameters(), decompose_layers(net, 1), local_iters=0, hessian="ssbroyden", trial_step=trial_step
    )

    def closure():
        opt.zero_grad()
        loss = ((net(x) - x.sin()) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(4):
        opt.step(closure)
    with torch.no_grad():
        next(net.parameters()).mul_(1.01)
    opt.step(closure)
    previous = [p for _, p in seen]
    assert len(previous) == 5
    if trial_step == "unit":
        assert previous == [None] * 5
    else:
        assert previous[0] is None and previous[4] is None
        assert previous[1:4] == [f for f, _ in seen[:3]]
    with pytest.raises(ValueError, match="trial_step"):
        SPQNOptimizer(net.parameters(), decompose_layers(net, 1), trial_step="cubic")
