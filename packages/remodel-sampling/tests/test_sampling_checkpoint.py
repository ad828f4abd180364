"""Checkpoint and resume of a solve with AdaptiveSampling: the resumed run gives the same iterates, points
and rounds as an uninterrupted one."""

import dataclasses

import pytest
import torch
from remodel_core import solve
from remodel_core.nn import MLP
from remodel_core.optim import MGOPT, Adam, RobustLBFGS
from remodel_core.pde import burgers
from remodel_sampling import RAD, RARD, AdaptiveSampling, ImportanceSampling


def small_problem(n=48, seed=0):
    torch.manual_seed(seed)
    train = burgers().discretize(
        MLP(2, 1, width=6, depth=2), points=n, boundary_points=12, seed=seed, derivatives="autograd"
    )
    return dataclasses.replace(train, metrics={})


def params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


CASES = {
    "lbfgs-rad": dict(inner=RobustLBFGS(max_iter=1, history_size=5), strategy=RAD()),
    "adam-rard-boundary": dict(inner=Adam(lr=1e-2), strategy=RARD(m=4), boundary=True),
    "adam-importance": dict(inner=Adam(lr=1e-2), strategy=ImportanceSampling()),
    "mgopt-points-rad": dict(inner=MGOPT(levels=2, coarsen="points"), strategy=RAD()),
}


@pytest.mark.parametrize("stop", [5, 4], ids=["between-rounds", "at-a-round"])
@pytest.mark.parametrize("case", list(CASES))
def test_resume_gives_the_iterates_of_an_uninterrupted_run(case, stop, tmp_path):
    train = small_problem()
    algorithm = AdaptiveSampling(every=2, candidates=300, **CASES[case])
    common = dict(seed=3, dtype=torch.float64)
    full = solve(train, algorithm, maxiters=9, **common)
    ck = tmp_path / "run.pt"
    first = solve(train, algorithm, maxiters=stop, checkpoint=ck, **common)
    assert first.stats["iterations"] == stop
    resumed = solve(train, algorithm, maxiters=9, checkpoint=ck, resume=True, **common)
    # same parameters, same points (and condition points), same rounds, same history, same counts
    assert torch.equal(params(full.u), params(resumed.u))
    assert all(torch.equal(a, b) for a, b in zip(full.stats["data"], resumed.stats["data"]))
    if "boundary_data" in full.stats:
        assert all(torch.equal(a, b) for a, b in zip(full.stats["boundary_data"], resumed.stats["boundary_data"]))
    assert full.stats["rounds"] == resumed.stats["rounds"]
    assert [r["iteration"] for r in full.stats["rounds"]] == [2, 4, 6, 8]
    assert full.history["loss"] == resumed.history["loss"]
    assert full.history["points"] == resumed.history["points"]
    assert full.stats["evals"] == resumed.stats["evals"]
    assert full.stats["candidate_evaluations"] == resumed.stats["candidate_evaluations"]


def test_resume_refuses_other_options_and_a_run_without_adaptive_sampling(tmp_path):
    train = small_problem()
    inner = Adam(lr=1e-2)
    ck = tmp_path / "run.pt"
    solve(
        train,
        AdaptiveSampling(inner=inner, strategy=RAD(), every=2, candidates=300),
        maxiters=3,
        checkpoint=ck,
        dtype=torch.float64,
    )
    with pytest.raises(ValueError, match="other options of AdaptiveSampling .*every"):
        solve(
            train,
            AdaptiveSampling(inner=inner, strategy=RAD(), every=3, candidates=300),
            maxiters=6,
            checkpoint=ck,
            resume=True,
            dtype=torch.float64,
        )
    with pytest.raises(ValueError, match="data that changed during training"):
        solve(train, inner, maxiters=6, checkpoint=ck, resume=True, dtype=torch.float64)
    plain = tmp_path / "plain.pt"
    solve(train, inner, maxiters=3, checkpoint=plain, dtype=torch.float64)
    with pytest.raises(ValueError, match="no adaptive sampling state"):
        solve(
            train,
            AdaptiveSampling(inner=inner, strategy=RAD(), every=2, candidates=300),
            maxiters=6,
            checkpoint=plain,
            resume=True,
            dtype=torch.float64,
        )
