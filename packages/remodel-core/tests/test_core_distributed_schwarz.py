"""DistributedASPQN: two gloo ranks equal one process (and the one-level ASPQN) in float64, and checkpoints
resume on another number of ranks."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest
import torch
from remodel_core import solve
from remodel_core.distributed import DistributedASPQN, SchwarzRanks
from remodel_core.optim import ASPQN

_spec = importlib.util.spec_from_file_location(
    "_distributed_problem", pathlib.Path(__file__).with_name("_distributed_problem.py")
)
_helpers = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("_distributed_problem", _helpers)
_spec.loader.exec_module(_helpers)
PROBLEM, env, make, max_diff, params, torchrun = (
    _helpers.PROBLEM,
    _helpers.env,
    _helpers.make,
    _helpers.max_diff,
    _helpers.params,
    _helpers.torchrun,
)

ALGO = "DistributedASPQN(subdomains=3, overlap=1, shards=2, timeout=60)"

_SCRIPT = (
    PROBLEM
    + f"""
import sys
import torch.distributed as dist
from remodel_core import solve
from remodel_core.distributed import DistributedASPQN, init_distributed

torch.set_num_threads(1)
rank, world = init_distributed(timeout=60)
out, ck1, ck2 = sys.argv[1:4]
res = {{}}
sol = solve(make(), {ALGO}, maxiters=8)
res["full"] = [p.detach() for p in sol.u.parameters()]
res["loss"] = torch.tensor(sol.history["loss"])
res["evals"] = (sol.stats["local_evals"], sol.stats["shared_evals"])
# resume on 2 ranks a checkpoint written by 1 rank
sol = solve(make(), {ALGO}, maxiters=8, checkpoint=ck1, resume=True)
res["resumed_from_1"] = [p.detach() for p in sol.u.parameters()]
# write a 2-rank checkpoint after 4 iterations (1 rank resumes it in the test)
solve(make(), {ALGO}, maxiters=4, checkpoint=ck2)
torch.save(res, f"{{out}}.{{rank}}")
dist.barrier()
dist.destroy_process_group()
"""
)


def _reference(maxiters: int = 8, **kw):
    return solve(make(), DistributedASPQN(subdomains=3, overlap=1, shards=2), maxiters=maxiters, **kw)


def test_two_ranks_equal_one_process_and_resume_across_rank_counts(tmp_path, one_thread):
    ck1, ck2 = tmp_path / "one_rank.pt", tmp_path / "two_ranks.pt"
    _reference(4, checkpoint=ck1)  # one rank, 4 iterations
    script = tmp_path / "run.py"
    script.write_text(_SCRIPT)
    out = tmp_path / "out"
    done = _helpers.run_ranks([*torchrun(2), str(script), str(out), str(ck1), str(ck2)], timeout=300, env=env())
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(f"{out}.{r}", weights_only=True) for r in range(2)]

    single = _reference()
    ref = params(single.u)
    start = params(make().model)
    assert max_diff(ref, start) > 1e-2  # the run moved the parameters
    for res in ranks:
        assert max_diff(res["full"], ref) <= 1e-10
        assert torch.allclose(res["loss"], torch.tensor(single.history["loss"]), rtol=0, atol=1e-12)
        assert max_diff(res["resumed_from_1"], ref) <= 1e-10
    # the two ranks shared the subdomain solves: each ran fewer local evaluations than the single process
    local = [res["evals"][0] for res in ranks]
    assert max(local) < single.stats["local_evals"]
    assert ranks[0]["evals"][1] == ranks[1]["evals"][1] == single.stats["shared_evals"]
    # one rank resumes the 2-rank checkpoint
    resumed = _reference(checkpoint=ck2, resume=True)
    assert max_diff(params(resumed.u), ref) <= 1e-10


def test_one_process_equals_one_level_aspqn():
    for sub, overlap, hessian in ((3, 1, "lbfgs"), (2, 0, "bfgs")):
        a = solve(make(), ASPQN(subdomains=sub, overlap=overlap, hessian=hessian), maxiters=6)
        b = solve(make(), DistributedASPQN(subdomains=sub, overlap=overlap, hessian=hessian), maxiters=6)
        assert max_diff(params(a.u), params(b.u)) <= 1e-12
        assert a.history["loss"] == pytest.approx(b.history["loss"], rel=1e-12, abs=0)


def test_ownership_and_resume_state_carries_every_subdomain(tmp_path):
    assert SchwarzRanks.owned(5, 2, 0) == [0, 2, 4]
    assert SchwarzRanks.owned(2, 3, 2) == []
    ck = tmp_path / "ck.pt"
    _reference(3, checkpoint=ck)
    state = torch.load(ck, weights_only=True)
    assert len(state["optimizer"]["local_memories"]) == 3
    assert all(len(m["s"]) > 0 for m in state["optimizer"]["local_memories"])  # every subdomain learnt pairs


def test_resumed_run_continues_the_evaluation_counts_and_stops_where_the_full_run_does(tmp_path):
    """One process: 4 iterations, then a resume to 8 gives the counts and history of 8 uninterrupted ones (the
    counts restarted from 0 before: 6 evaluations reported after a resume against 1294 in the full run); with
    ``reltol`` the resumed run stops at the iteration the uninterrupted one does."""
    full = _reference(8)
    ck = tmp_path / "ck.pt"
    _reference(4, checkpoint=ck)
    resumed = _reference(8, checkpoint=ck, resume=True)
    for key in ("evals", "local_evals", "shared_evals", "iterations"):
        assert resumed.stats[key] == full.stats[key], key
    assert resumed.history["evals"] == full.history["evals"]
    assert resumed.history["loss"] == pytest.approx(full.history["loss"], rel=1e-12, abs=0)
    stop = _reference(400, reltol=1e-2)
    k = stop.stats["iterations"]
    assert stop.retcode.name == "Success" and 2 < k < 400
    ck2 = tmp_path / "ck2.pt"
    _reference(k - 1, reltol=1e-2, checkpoint=ck2)
    again = _reference(400, reltol=1e-2, checkpoint=ck2, resume=True)
    assert again.retcode.name == "Success" and again.stats["iterations"] == k
