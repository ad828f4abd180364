"""Data-parallel training (``solve(..., data_parallel=True)``): gradient averaging over torch.distributed ranks."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import sys

import pytest
import torch
from remodel_core import TrainingProblem, solve
from remodel_core._training import check_data_parallel
from remodel_core.optim import ASPQN, Adam, RobustLBFGS, SSBroyden

_spec = importlib.util.spec_from_file_location(
    "_distributed_problem", pathlib.Path(__file__).with_name("_distributed_problem.py")
)
_helpers = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("_distributed_problem", _helpers)
_spec.loader.exec_module(_helpers)
run_ranks = _helpers.run_ranks

# shared by the torchrun script and the single-process reference run here: a mean over 41 rows (uneven
# shards) plus a term that does not depend on the rows, as a PINN's fixed boundary points
_PROBLEM = """
import torch
from remodel_core import TrainingProblem


def make(batch_size=None):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    x = torch.linspace(-1, 1, 41, dtype=torch.float64).unsqueeze(1)
    zero = torch.zeros(1, 1, dtype=torch.float64)

    def loss(m, x, y):
        return ((m(x) - y) ** 2).mean() + 0.5 * (m(zero) ** 2).sum()

    return TrainingProblem(model=net, loss=loss, data=(x, torch.sin(3 * x)), batch_size=batch_size)
"""

_SCRIPT = (
    _PROBLEM
    + """
import sys, time
import torch.distributed as dist
from remodel_core import solve
from remodel_core.optim import Adam, RobustLBFGS, SSBroyden

torch.set_num_threads(1)
dist.init_process_group("gloo")
rank = dist.get_rank()
out, ck = sys.argv[1], sys.argv[2]
res = {}
sol = solve(make(), RobustLBFGS(history_size=10, max_iter=3), maxiters=6, dtype=torch.float64, data_parallel=True)
res["lbfgs"] = [p.detach() for p in sol.u.parameters()]
sol = solve(make(), SSBroyden(max_iter=3), maxiters=6, dtype=torch.float64, data_parallel=True)
res["ssbroyden"] = [p.detach() for p in sol.u.parameters()]
sol = solve(make(batch_size=9), Adam(lr=0.01), maxiters=12, dtype=torch.float64, data_parallel=True)
res["adam"] = [p.detach() for p in sol.u.parameters()]
res["adam_evals"] = sol.stats["evals"]
# batches of one row: rank 1's slice is empty every step
sol = solve(make(batch_size=1), Adam(lr=0.01), maxiters=4, dtype=torch.float64, data_parallel=True)
res["single_rows"] = [p.detach() for p in sol.u.parameters()]
# checkpoint after 5 iterations (rank 0 writes), then every rank resumes from the same file to 12
solve(make(batch_size=9), Adam(lr=0.01), maxiters=5, dtype=torch.float64, data_parallel=True, checkpoint=ck)
dist.barrier()
sol = solve(make(batch_size=9), Adam(lr=0.01), maxiters=12, dtype=torch.float64, data_parallel=True,
            checkpoint=ck, resume=True)
res["resumed"] = [p.detach() for p in sol.u.parameters()]
# a time limit that only rank 0's clock reaches soon: both ranks must stop at the same iteration
slow = (lambda info: time.sleep(0.02)) if rank == 0 else None
sol = solve(make(batch_size=9), Adam(lr=0.01), maxtime=0.3, dtype=torch.float64, data_parallel=True, callback=slow)
res["timed"] = (sol.retcode.name, sol.stats["iterations"])
torch.save(res, f"{out}.{rank}")
dist.barrier()  # no rank tears gloo down while another is still using it (else a peer may abort)
dist.destroy_process_group()
"""
)


def _close(ps, qs, tol=1e-10):
    return all(torch.allclose(p, q, rtol=0, atol=tol) for p, q in zip(ps, qs, strict=True))


def test_data_parallel_needs_a_process_group():
    prob = TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m, x: m(x).pow(2).mean(), data=(torch.randn(8, 1),))
    with pytest.raises(ValueError, match="torchrun"):
        solve(prob, Adam(), maxiters=1, data_parallel=True)
    with pytest.raises(TypeError, match="data_parallel must be a bool"):
        solve(prob, Adam(), maxiters=1, data_parallel=1)


def test_data_parallel_rejects_what_it_cannot_split():
    model = torch.nn.Linear(1, 1)
    no_data = TrainingProblem(model=model, loss=lambda m: m.weight.pow(2).sum())
    with pytest.raises(ValueError, match="needs a TrainingProblem with data"):
        check_data_parallel(no_data, Adam())
    prob = TrainingProblem(model=model, loss=lambda m, x: m(x).pow(2).mean(), data=(torch.randn(8, 1),))
    with pytest.raises(ValueError, match="distributed=True"):
        check_data_parallel(prob, ASPQN(distributed=True))
    from remodel_core import Problem

    with pytest.raises(ValueError, match="TrainingProblem only"):
        check_data_parallel(Problem(), Adam())
    check_data_parallel(prob, ASPQN())  # fine


def test_two_ranks_equal_single_process(tmp_path, one_thread):
    script = tmp_path / "run.py"
    script.write_text(_SCRIPT)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(script),
        str(out),
        str(tmp_path / "ck.pt"),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = run_ranks(cmd, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(f"{out}.{r}", weights_only=True) for r in range(2)]

    ns: dict = {}
    exec(_PROBLEM, ns)
    make = ns["make"]
    lbfgs = solve(make(), RobustLBFGS(history_size=10, max_iter=3), maxiters=6, dtype=torch.float64)
    adam = solve(make(batch_size=9), Adam(lr=0.01), maxiters=12, dtype=torch.float64)
    single_lbfgs = [p.detach() for p in lbfgs.u.parameters()]
    ssb = [p.detach() for p in solve(make(), SSBroyden(max_iter=3), maxiters=6, dtype=torch.float64).u.parameters()]
    single_adam = [p.detach() for p in adam.u.parameters()]
    rows1 = solve(make(batch_size=1), Adam(lr=0.01), maxiters=4, dtype=torch.float64)
    # the run moved the parameters (a comparison of initial states would prove nothing)
    assert not _close(single_lbfgs, [p.detach() for p in make().model.parameters()], 1e-3)
    for res in ranks:
        # the all-reduced gradient differs from the full-batch one in the last bits; six robust L-BFGS steps
        # (line searches, first step lr * min(1, 1/|g|_1)) amplify that to 2.1e-10 (measured): compare at 1e-8
        assert _close(res["lbfgs"], single_lbfgs, 1e-8)
        assert _close(res["ssbroyden"], ssb)  # the dense inverse Hessian stays identical on every rank
        assert _close(res["adam"], single_adam)
        assert _close(res["resumed"], single_adam)
        assert _close(res["single_rows"], [p.detach() for p in rows1.u.parameters()])
        assert res["adam_evals"] == adam.stats["evals"]
    # both ranks stopped on the time limit, at the same iteration
    assert ranks[0]["timed"][0] == ranks[1]["timed"][0] == "MaxTime"
    assert ranks[0]["timed"][1] == ranks[1]["timed"][1] > 0
