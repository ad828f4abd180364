"""Reliability of the training loop and of the optimizers outside it (issue 11, items 2 and 3).

* Fault injection, per optimizer set-up: the loss becomes NaN from iteration ``k`` on; the run ends
  ``Diverged`` and the returned model's loss equals the last finite loss in ``history["loss"]``.
* torch's closure contract for REMODEL's optimizers in an ordinary PyTorch loop: ``step`` returns the loss at
  the start of the step, re-evaluates when the minibatch changes, accepts several parameter groups, and a
  minibatch loop makes progress in float32 and float64 like ``torch.optim.LBFGS``.
"""

from __future__ import annotations

import math

import pytest
import torch
from remodel_core import ReturnCode, TrainingProblem, solve
from remodel_core.nn import MLP, ResNetMLP
from remodel_core.optim import (
    ASPQN,
    LBFGS,
    MGOPT,
    MSPQN,
    RMTR,
    SGD,
    Adam,
    MGOPTOptimizer,
    RMTROptimizer,
    RobustLBFGS,
    RobustLBFGSOptimizer,
    SPQNOptimizer,
    SSBroyden,
    SSBroydenOptimizer,
    decompose_layers,
)

SETUPS = {
    "Adam": lambda: Adam(lr=1e-2),
    "SGD": lambda: SGD(lr=1e-2, momentum=0.9),
    "torch LBFGS": lambda: LBFGS(max_iter=5),
    "RobustLBFGS": lambda: RobustLBFGS(),
    "RobustLBFGS max_iter=4": lambda: RobustLBFGS(max_iter=4),
    "SSBroyden": lambda: SSBroyden(),
    "ASPQN": lambda: ASPQN(subdomains=3),
    "MSPQN": lambda: MSPQN(subdomains=3),
    "MSPQN ssbroyden": lambda: MSPQN(subdomains=3, hessian="ssbroyden"),
    "MGOPT": lambda: MGOPT(levels=2),
    "RMTR": lambda: RMTR(levels=2),
}


def _problem(poison: dict[str, bool]) -> TrainingProblem:
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 32, dtype=torch.float64).unsqueeze(1)

    def loss(m, x, y):
        value = (m(x) - y).pow(2).mean()
        return value * math.nan if poison["on"] else value

    return TrainingProblem(model=ResNetMLP(1, 1, width=6, depth=4).double(), loss=loss, data=(x, torch.sin(3 * x)))


@pytest.mark.parametrize("name", list(SETUPS))
def test_nan_at_iteration_k_returns_the_last_finite_iterate(name):
    k = 4
    poison = {"on": False}
    prob = _problem(poison)

    def callback(state):
        if state["iteration"] == k:
            poison["on"] = True  # every evaluation from now on is NaN

    sol = solve(prob, SETUPS[name](), maxiters=30, callback=callback, dtype=torch.float64)
    assert sol.retcode is ReturnCode.Diverged and not sol.success
    losses = sol.history["loss"]
    finite = [v for v in losses if math.isfinite(v)]
    assert len(finite) == k and math.isnan(losses[-1])
    poison["on"] = False
    returned = float(prob.loss(sol.u, *prob.data).detach())
    assert returned == pytest.approx(finite[-1], rel=1e-12, abs=0.0), (returned, finite[-1])


def test_nonfinite_parameters_after_a_finite_start_keep_that_start():
    """A step that writes Inf into the parameters while its start loss was finite: keep the start."""

    class Blowup(torch.optim.SGD):
        def step(self, closure):
            loss = closure()
            with torch.no_grad():
                for p in self.param_groups[0]["params"]:
                    p.add_(math.inf if self.state.get("n", 0) >= 2 else -0.1 * p.grad)
            self.state["n"] = self.state.get("n", 0) + 1
            return loss

    from remodel_core import OptimizerAlgorithm

    class BlowupAlg(OptimizerAlgorithm):
        def make_optimizer(self, model):
            return Blowup(model.parameters(), lr=0.1)

    prob = _problem({"on": False})
    sol = solve(prob, BlowupAlg(), maxiters=10, dtype=torch.float64)
    assert sol.retcode is ReturnCode.Diverged
    assert [math.isfinite(v) for v in sol.history["loss"]] == [True, True, True]
    returned = float(prob.loss(sol.u, *prob.data).detach())
    assert returned == pytest.approx(sol.history["loss"][-1], rel=1e-12)


# --- torch's closure contract outside solve ---------------------------------------------------------------


def _optimizers(net):
    params = list(net.parameters())
    return {
        "RobustLBFGS": RobustLBFGSOptimizer(params),
        "SSBroyden": SSBroydenOptimizer(params),
        "SPQN additive": SPQNOptimizer(params, decompose_layers(net, 2), method="additive"),
        "SPQN multiplicative": SPQNOptimizer(params, decompose_layers(net, 2), method="multiplicative"),
        "MGOPT": MGOPTOptimizer(net, levels=2),
        "RMTR": RMTROptimizer(net, levels=2),
    }


OPT_NAMES = ["RobustLBFGS", "SSBroyden", "SPQN additive", "SPQN multiplicative", "MGOPT", "RMTR"]


def _data(dtype, n=64):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, generator=g, dtype=dtype) * 2 - 1
    return x, torch.sin(3 * x)


@pytest.mark.parametrize("name", OPT_NAMES)
def test_step_returns_the_loss_at_its_start_and_sees_each_minibatch(name):
    torch.manual_seed(0)
    net = ResNetMLP(1, 1, width=6, depth=4).double()
    opt = _optimizers(net)[name]
    x, y = _data(torch.float64)
    for i in range(6):
        xb, yb = x[i % 4 :: 4], y[i % 4 :: 4]  # a new minibatch every step, no forget()
        with torch.no_grad():
            expected = float((net(xb) - yb).pow(2).mean())

        def closure(xb=xb, yb=yb):
            opt.zero_grad()
            value = (net(xb) - yb).pow(2).mean()
            value.backward()
            return value

        got = float(opt.step(closure))
        assert got == pytest.approx(expected, rel=1e-12), (i, got, expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ["RobustLBFGS", "SPQN additive", "RMTR"])
def test_minibatch_loop_makes_progress_like_torch_lbfgs(name, dtype):
    x, y = _data(dtype, n=128)

    def run(make):
        torch.manual_seed(0)
        net = ResNetMLP(1, 1, width=8, depth=4).to(dtype)
        opt = make(net)
        g = torch.Generator().manual_seed(2)
        for _ in range(4):  # epochs of 4 shuffled minibatches
            for idx in torch.randperm(128, generator=g).split(32):
                xb, yb = x[idx], y[idx]

                def closure(xb=xb, yb=yb):
                    opt.zero_grad()
                    value = (net(xb) - yb).pow(2).mean()
                    value.backward()
                    return value

                opt.step(closure)
        with torch.no_grad():
            return float((net(x) - y).pow(2).mean())

    torch.manual_seed(0)
    with torch.no_grad():
        first = float((ResNetMLP(1, 1, width=8, depth=4).to(dtype)(x) - y).pow(2).mean())
    ref = run(lambda net: torch.optim.LBFGS(net.parameters(), max_iter=1, line_search_fn="strong_wolfe"))
    ours = run(lambda net: _optimizers(net)[name])
    assert ours < 0.5 * first, (ours, first)
    assert ours < 3 * ref + 1e-3, (ours, ref)


def test_full_batch_training_in_float32_reuses_the_last_evaluation(monkeypatch):
    """In ``train`` (full batch) a step starts from the previous step's end point without a new evaluation,
    in float32 as in float64: a step of one L-BFGS iteration costs its line-search evaluations only, so the
    run costs exactly one evaluation (the start) plus the line searches' evaluations."""
    import remodel_core.optim._robust_lbfgs as robust

    iteration = robust.lbfgs_iteration
    for dtype in (torch.float32, torch.float64):
        searched = []

        def counting(*args, searched=searched, **kwargs):
            st = iteration(*args, **kwargs)
            searched.append(st.evals)
            return st

        monkeypatch.setattr(robust, "lbfgs_iteration", counting)
        torch.manual_seed(0)
        x, y = _data(dtype)
        prob = TrainingProblem(
            model=MLP(1, 1, width=8, depth=2), loss=lambda m, x, y: (m(x) - y).pow(2).mean(), data=(x, y)
        )
        sol = solve(prob, RobustLBFGS(), maxiters=30, dtype=dtype)
        assert len(searched) == sol.stats["iterations"] == 30
        assert sol.stats["evals"] == 1 + sum(searched), (dtype, sol.stats["evals"], sum(searched))


def test_several_parameter_groups_equal_one_group_and_refuse_different_options():
    def run(groups):
        torch.manual_seed(0)
        net = MLP(1, 1, width=6, depth=2).double()
        x, y = _data(torch.float64)
        ps = list(net.parameters())
        opt = RobustLBFGSOptimizer(groups(ps), max_iter=5)

        def closure():
            opt.zero_grad()
            value = (net(x) - y).pow(2).mean()
            value.backward()
            return value

        for _ in range(3):
            opt.step(closure)
        return torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    one = run(lambda ps: ps)
    two = run(lambda ps: [{"params": ps[:2]}, {"params": ps[2:]}])
    assert torch.equal(one, two)
    net = MLP(1, 1, width=6, depth=2)
    ps = list(net.parameters())
    with pytest.raises(ValueError, match="'lr' must be the same in every parameter group"):
        RobustLBFGSOptimizer([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.5}])
    with pytest.raises(ValueError, match="'lr'"):
        SPQNOptimizer([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.5}], decompose_layers(net, 2))


# --- resume, checkpoints (issue 11, items 7, 9 and 11) ------------------------------------------------------


def _line_problem():
    x = torch.linspace(-1, 1, 16, dtype=torch.float64).unsqueeze(1)
    torch.manual_seed(0)
    return TrainingProblem(
        model=torch.nn.Linear(1, 1).double(), loss=lambda m, x, y: (m(x) - y).pow(2).mean(), data=(x, 2 * x)
    )


def test_resume_with_other_options_or_class_is_refused_naming_them(tmp_path):
    prob, ck = _line_problem(), tmp_path / "ck.pt"
    solve(prob, Adam(lr=0.1), maxiters=3, checkpoint=ck)
    with pytest.raises(ValueError, match=r"lr=0\.1 in the checkpoint but 0\.5 now"):
        solve(prob, Adam(lr=0.5), maxiters=6, checkpoint=ck, resume=True)
    with pytest.raises(ValueError, match=r"written by remodel_core\.optim\._torch\.Adam, not by .*SGD"):
        solve(prob, SGD(lr=0.1), maxiters=6, checkpoint=ck, resume=True)
    sol = solve(prob, Adam(lr=0.1), maxiters=6, checkpoint=ck, resume=True)  # the same options resume
    assert sol.stats["iterations"] == 6


class _FailsAt(torch.optim.SGD):
    """SGD that reports ``failed`` (no progress possible) at its third step, like a stalled line search."""

    def step(self, closure):
        loss = super().step(closure)
        self.state["n"] = self.state.get("n", 0) + 1
        self.failed = self.state["n"] >= 3
        return loss

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.failed = self.state.get("n", 0) >= 3


def test_a_failed_run_is_not_continued_by_resume(tmp_path):
    from remodel_core import OptimizerAlgorithm

    class FailsAt(OptimizerAlgorithm):
        def make_optimizer(self, model):
            opt = _FailsAt(model.parameters(), lr=0.01)
            opt.failed = False
            return opt

    prob, ck = _line_problem(), tmp_path / "ck.pt"
    first = solve(prob, FailsAt(), maxiters=10, checkpoint=ck)
    assert first.retcode is ReturnCode.Failure and first.stats["iterations"] == 3
    again = solve(prob, FailsAt(), maxiters=20, checkpoint=ck, resume=True)
    assert again.retcode is ReturnCode.Failure and again.stats["iterations"] == 3
    assert again.stats["evals"] == first.stats["evals"], "a finished run must not take another step"


def test_stale_temporaries_are_removed_at_the_next_save(tmp_path):
    import os
    import subprocess
    import sys

    from remodel_core import save_checkpoint

    ck = tmp_path / "ck.pt"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = [tmp_path / f".ck.pt.{int(dead.stdout)}.1.tmp", tmp_path / ".ck.pt.k2j3h4.tmp"]
    live = tmp_path / f".ck.pt.{os.getppid()}.1.tmp"  # a save in progress in a live process
    other = tmp_path / ".other.pt.123.1.tmp"
    for f in [*stale, live, other]:
        f.write_bytes(b"x" * 100)
    save_checkpoint(ck, {"iteration": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ck.pt", live.name, other.name])


def test_frequent_checkpoints_sync_rarely_and_resume_exactly(tmp_path, monkeypatch):
    import os

    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd))[1])
    prob, ck = _line_problem(), tmp_path / "ck.pt"
    full = solve(prob, Adam(lr=0.05), maxiters=40)
    solve(prob, Adam(lr=0.05), maxiters=20, checkpoint=ck, checkpoint_every=1)
    assert 1 <= len(calls) <= 5, len(calls)  # 20 atomic writes, fsync only every few seconds and at the end
    resumed = solve(prob, Adam(lr=0.05), maxiters=40, checkpoint=ck, checkpoint_every=1, resume=True)
    assert resumed.history["loss"] == full.history["loss"]
    assert torch.equal(resumed.u.weight, full.u.weight)


def test_truncated_checkpoint_names_the_file(tmp_path):
    from remodel_core import load_checkpoint

    prob, ck = _line_problem(), tmp_path / "run.pt"
    solve(prob, Adam(lr=0.1), maxiters=2, checkpoint=ck)
    data = ck.read_bytes()
    ck.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"run\.pt.*truncated"):
        load_checkpoint(ck)
    with pytest.raises(ValueError, match=r"run\.pt.*truncated"):
        solve(prob, Adam(lr=0.1), maxiters=4, checkpoint=ck, resume=True)
