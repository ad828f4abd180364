import copy
import dataclasses
import math

import numpy as np
import pytest
import torch
from remodel_core import solve
from remodel_core.nn import MLP
from remodel_core.optim import (
    ASPQN,
    LBFGS,
    MGOPT,
    MSPQN,
    RMTR,
    SGD,
    Adam,
    CollocationHierarchy,
    RobustLBFGS,
    RobustLBFGSOptimizer,
    SSBroyden,
)
from remodel_core.pde import burgers
from remodel_sampling import (
    RAD,
    RARD,
    RARG,
    AdaptiveSampling,
    ImportanceSampling,
    Static,
    Strategy,
    adapt_optimizer,
    hard_burgers,
)


def small_problem(n=64, seed=0):
    torch.manual_seed(seed)
    train = burgers().discretize(
        MLP(2, 1, width=6, depth=2), points=n, boundary_points=16, seed=seed, derivatives="autograd"
    )
    return dataclasses.replace(train, metrics={})  # no reference solution needed: the tests look at training


def params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


@dataclasses.dataclass(frozen=True, kw_only=True)
class SamePoints(Strategy):
    """Returns a copy of the points: the loss is unchanged, so a kept optimizer state gives the plain run."""

    replaces = True

    def update(self, points, candidates, residual, rng):
        return points.clone()


@pytest.mark.parametrize(
    "inner", [Adam(lr=1e-2), SGD(lr=1e-3), RobustLBFGS(max_iter=2)], ids=lambda a: type(a).__name__
)
def test_rounds_do_not_restart_the_optimizer(inner):
    train = small_problem()
    plain = solve(train, inner, maxiters=9, seed=0, dtype=torch.float64)
    static = solve(
        train, AdaptiveSampling(inner=inner, strategy=Static(), every=3), maxiters=9, seed=0, dtype=torch.float64
    )
    same = solve(
        train,
        AdaptiveSampling(inner=inner, strategy=SamePoints(), every=3, candidates=200, memory="keep", balance=False),
        maxiters=9,
        seed=0,
        dtype=torch.float64,
    )
    # Adam's moments and step count, SGD's state and L-BFGS's curvature pairs go on across the rounds: the
    # trajectory is exactly the one without rounds (a restarted optimizer would take another path)
    assert torch.equal(params(plain.u), params(static.u))
    assert torch.allclose(params(plain.u), params(same.u), rtol=0, atol=1e-12)
    assert [r["iteration"] for r in same.stats["rounds"]] == [3, 6]


def test_memory_rule_reset_changes_the_quasi_newton_path_and_is_recorded():
    train = small_problem()
    inner = RobustLBFGS(max_iter=2)
    plain = solve(train, inner, maxiters=9, seed=0, dtype=torch.float64)
    reset = solve(
        train,
        AdaptiveSampling(inner=inner, strategy=SamePoints(), every=3, candidates=200, balance=False),
        maxiters=9,
        seed=0,
        dtype=torch.float64,
    )  # auto: all points new -> reset
    assert [r["memory"] for r in reset.stats["rounds"]] == ["reset", "reset"]
    assert not torch.allclose(params(plain.u), params(reset.u), rtol=0, atol=1e-10)
    grow = solve(
        train,
        AdaptiveSampling(inner=inner, strategy=RARG(m=2), every=3, candidates=200, balance=False),
        maxiters=9,
        seed=0,
        dtype=torch.float64,
    )  # auto: 2 of 66 new -> kept
    assert [r["memory"] for r in grow.stats["rounds"]] == ["kept", "kept"]


def test_adapt_optimizer_on_core_optimizers():
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)

    def closure():
        opt.zero_grad()
        loss = ((w - torch.arange(3.0, dtype=torch.float64)) ** 2).sum()
        loss.backward()
        return loss

    opt = RobustLBFGSOptimizer([w], max_iter=3)
    opt.step(closure)
    assert len(opt.memory) > 0 and opt._x is not None
    assert adapt_optimizer(opt, reset_memory=False) == "kept" and len(opt.memory) > 0 and opt._x is None
    assert adapt_optimizer(opt, reset_memory=True) == "reset" and len(opt.memory) == 0
    with torch.no_grad():
        w.zero_()
    torch_lbfgs = opt = torch.optim.LBFGS([w], max_iter=3)
    torch_lbfgs.step(closure)
    assert "old_dirs" in torch_lbfgs.state[w]
    evals = torch_lbfgs.state[w]["func_evals"]
    adapt_optimizer(torch_lbfgs, reset_memory=False)  # torch's L-BFGS always loses its pairs, keeps its counts
    assert "old_dirs" not in torch_lbfgs.state[w] and torch_lbfgs.state[w]["func_evals"] == evals
    torch_lbfgs.step(closure)  # and steps on from a fresh history


INNERS = [
    Adam(lr=1e-3),
    SGD(lr=1e-4),
    LBFGS(max_iter=2),
    RobustLBFGS(max_iter=2),
    SSBroyden(max_iter=2),
    ASPQN(subdomains=2, local_iters=1),
    MSPQN(subdomains=2, local_iters=1),
    RMTR(levels=2, coarsen="points"),
    MGOPT(levels=2, coarsen="points"),
]


@pytest.mark.parametrize("inner", INNERS, ids=lambda a: type(a).__name__)
def test_adaptive_sampling_works_with_every_core_optimizer(inner):
    train = small_problem(n=48)
    sol = solve(
        train,
        AdaptiveSampling(inner=inner, strategy=RAD(k=1.0, c=1.0), every=2, candidates=300),
        maxiters=5,
        seed=1,
        dtype=torch.float64,
    )
    assert str(sol.retcode).endswith("MaxIters")
    assert [r["iteration"] for r in sol.stats["rounds"]] == [2, 4]
    assert sol.history["round"] == [0.0, 0.0, 1.0, 1.0, 2.0]
    new = sol.stats["data"][0]
    assert new.shape == (48, 2) and not torch.equal(new, train.data[0])
    assert bool(burgers().domain.contains(new).all())
    assert math.isfinite(sol.history["loss"][-1])


BUILT = []


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProbeMGOPT(MGOPT):
    """MG/OPT that keeps a reference to the optimizer it builds, to look at its hierarchy after the run."""

    def _build(self, params, hierarchy):
        opt = super()._build(params, hierarchy)
        BUILT.append(opt)
        return opt


def test_multilevel_hierarchy_is_rebuilt_on_the_new_points():
    train = small_problem(n=32)
    BUILT.clear()
    sol = solve(
        train,
        AdaptiveSampling(
            inner=ProbeMGOPT(levels=2, coarsen="points"), strategy=RAD(), every=2, candidates=200, rounds=1
        ),
        maxiters=3,
        seed=0,
        dtype=torch.float64,
    )
    opt = BUILT[-1]
    # the coarse level after the round is the loss on a subset of the new points, drawn with the round's seed,
    # with the PDE term at the round's balance weight (the loss the fine level minimises)
    balanced = copy.copy(train.loss)
    balanced.weights = {**train.loss.weights, "residual": sol.stats["rounds"][0]["residual_weight"]}
    ref = CollocationHierarchy.from_data(
        sol.u, balanced, sol.stats["data"], 2, generator=torch.Generator().manual_seed(1)
    )
    old = CollocationHierarchy.from_data(
        sol.u, train.loss, tuple(t.double() for t in train.data), 2, generator=torch.Generator().manual_seed(0)
    )
    coarse = float(opt.hierarchy.losses[0]())
    assert coarse == pytest.approx(float(ref.losses[0]()), rel=1e-12)
    assert coarse != pytest.approx(float(old.losses[0]()), rel=1e-6)


def test_rar_strategies_grow_the_set_and_history_tags_rounds():
    train = small_problem(n=40)
    for strategy in (RARG(m=4), RARD(m=4)):
        sol = solve(
            train,
            AdaptiveSampling(inner=Adam(lr=1e-3), strategy=strategy, every=2, candidates=300),
            maxiters=5,
            seed=0,
            dtype=torch.float64,
        )
        assert sol.stats["data"][0].shape == (48, 2)
        assert sol.history["points"] == [40.0, 40.0, 44.0, 44.0, 48.0]
        assert torch.equal(sol.stats["data"][0][:40], train.data[0])  # RAR keeps the old points
    assert RARG(m=10).initial_points(2000, 5) == 1950


def test_rad_inside_solve_follows_the_residual():
    # a residual= callable stands for the PDE residual: a front at x = 0 (where Burgers' shock forms)
    train = small_problem(n=300)
    front = lambda model, x: torch.exp(-((x[:, 0] / 0.05) ** 2))  # noqa: E731
    sol = solve(
        train,
        AdaptiveSampling(
            inner=Adam(lr=1e-3), strategy=RAD(k=1.0, c=0.0), every=1, rounds=1, candidates=20_000, residual=front
        ),
        maxiters=2,
        seed=0,
        dtype=torch.float64,
    )
    x = sol.stats["data"][0]
    near = lambda p: float((p[:, 0].abs() < 0.1).double().mean())  # noqa: E731
    assert near(train.data[0]) < 0.12 and near(x) > 0.9
    hard, wrap = hard_burgers()
    assert hard.conditions == () and abs(float(wrap(MLP(2, 1, width=4, depth=1))(torch.tensor([[1.0, 0.3]])))) < 1e-6


def test_balance_rescales_the_pde_term_to_its_uniform_mean_square():
    # RAD's points sit where the residual is large, so mean(r^2) on them exceeds the domain's: balance=True
    # multiplies the PDE term by mean(r^2 on the uniform candidates) / mean(r^2 on the new points), and the
    # minimised loss is that weight times the PDE term plus the condition terms at their own weights
    train = small_problem(n=40)
    seen = []

    def on_round(record, model, candidates, residual, points):
        terms = train.loss.terms(model, points.to(torch.float64))
        expected = float(residual.pow(2).mean()) / float(terms["residual"])
        seen.append((record["residual_weight"], expected, float(sum(v for k, v in terms.items() if k != "residual"))))
        seen.append(float(terms["residual"]))

    common = dict(inner=Adam(lr=1e-2), strategy=RAD(), every=3, candidates=400, rounds=1)
    sol = solve(train, AdaptiveSampling(on_round=on_round, **common), maxiters=5, seed=0, dtype=torch.float64)
    off = solve(train, AdaptiveSampling(balance=False, **common), maxiters=5, seed=0, dtype=torch.float64)
    (weight, expected, conditions), pde = seen
    assert weight == pytest.approx(expected, rel=1e-10) and weight < 0.9  # RAD's points: a larger mean square
    assert sol.history["loss"][3] == pytest.approx(weight * pde + conditions, rel=1e-10)  # the loss minimised
    assert sol.stats["rounds"][0]["residual_weight"] == weight
    assert train.loss.weights["residual"] == 1.0  # the user's problem keeps its weights
    assert "residual_weight" not in off.stats["rounds"][0]
    assert sol.history["loss"][:3] == off.history["loss"][:3]
    assert off.history["loss"][3] == pytest.approx(pde + conditions, rel=1e-10)
    # conditions built into the network: one term, nothing to balance
    hard, wrap = hard_burgers()
    torch.manual_seed(0)
    hard_train = hard.discretize(wrap(MLP(2, 1, width=6, depth=2)), points=40, boundary_points=1, seed=0)
    one = solve(hard_train, AdaptiveSampling(**common), maxiters=4, seed=0, dtype=torch.float64)
    assert "residual_weight" not in one.stats["rounds"][0]
    # "auto" memory rule: a few points added (kept) unless the scale moved by more than a factor 2 (reset)
    grow = solve(
        train,
        AdaptiveSampling(inner=RobustLBFGS(max_iter=1), strategy=RARG(m=2), every=2, candidates=300, rounds=3),
        maxiters=7,
        seed=0,
        dtype=torch.float64,
    )
    previous = 1.0
    for r in grow.stats["rounds"]:
        jump = not 0.5 <= r["residual_weight"] / previous <= 2.0
        assert r["memory"] == ("reset" if jump else "kept")
        previous = r["residual_weight"]


def test_importance_sampling_carries_weights_and_keeps_the_loss_unbiased():
    train = small_problem(n=64)
    sol = solve(
        train,
        AdaptiveSampling(inner=Adam(lr=1e-3), strategy=ImportanceSampling(k=1.0, c=0.5), every=2, candidates=2000),
        maxiters=3,
        seed=0,
        dtype=torch.float64,
    )
    xw = sol.stats["data"][0]
    assert xw.shape == (64, 3) and bool((xw[:, 2] > 0).all())
    # the weights are 1 / (M q): E_q[w] = 1, so their mean is close to one
    out = ImportanceSampling(k=1.0, c=0.5).update(
        torch.zeros(20_000, 2), torch.rand(2000, 2), torch.rand(2000), np.random.default_rng(0)
    )
    assert abs(float(out[:, 2].mean()) - 1.0) < 0.03


@pytest.mark.parametrize(
    "inner", [RobustLBFGS(max_iter=1), RMTR(levels=2, coarsen="points")], ids=lambda a: type(a).__name__
)
def test_first_step_after_a_round_evaluates_the_new_points(inner):
    # the optimizer's cached loss/gradient belong to the old points: the step after a round must start from
    # the loss on the new points (history["loss"][k] is the loss where step k + 1 started)
    train = small_problem(n=40)
    seen = []

    def on_round(record, model, candidates, residual, points):
        seen.append(float(train.loss(model, points.to(torch.float64))))

    sol = solve(
        train,
        AdaptiveSampling(
            inner=inner, strategy=RAD(), every=3, candidates=300, rounds=1, on_round=on_round, balance=False
        ),
        maxiters=5,
        seed=0,
        dtype=torch.float64,
    )
    assert len(seen) == 1
    assert sol.history["loss"][3] == pytest.approx(seen[0], rel=1e-12)


def test_boundary_points_follow_the_resampling():
    train = small_problem(n=32)
    before = [p.clone() for p in train.loss.fixed]
    sol = solve(
        train,
        AdaptiveSampling(inner=Adam(lr=1e-3), strategy=RAD(), every=2, candidates=200, boundary=True),
        maxiters=3,
        seed=0,
        dtype=torch.float64,
    )
    after = sol.stats["boundary_data"]
    assert all(torch.equal(a, b) for a, b in zip(before, train.loss.fixed))  # the user's problem is untouched
    assert [a.shape for a in after] == [b.shape for b in before]
    assert not any(torch.equal(a, b.to(a.dtype)) for a, b in zip(after, before))
    assert bool((after[0][:, 1] == 0).all()) and bool((after[1][:, 0].abs() == 1).all())  # t = 0 and x = +-1
