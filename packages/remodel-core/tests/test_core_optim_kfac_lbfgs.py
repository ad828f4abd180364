"""L-BFGS preconditioned by KFAC (``KFACLBFGS``): the two-loop recursion with ``c K`` as its initial matrix."""

from __future__ import annotations

import pytest
import torch
from remodel_core import TrainingProblem, pde, solve
from remodel_core.nn import MLP
from remodel_core.optim import KFACLBFGS, KFACLBFGSOptimizer, LBFGSMemory, PreconditionedMemory


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


def _spd(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return Q @ torch.diag(torch.logspace(0, 3, n, dtype=torch.float64)) @ Q.T


def test_without_an_operator_the_memory_is_plain_lbfgs():
    A = _spd(6)
    g = torch.Generator().manual_seed(1)
    plain, pre = LBFGSMemory(4), PreconditionedMemory(4)
    for _ in range(5):
        s = torch.randn(6, generator=g, dtype=torch.float64)
        assert plain.push(s, A @ s) == pre.push(s, A @ s)
    v = torch.randn(6, generator=g, dtype=torch.float64)
    assert torch.equal(plain.direction(v), pre.direction(v))


def test_initial_matrix_is_the_operator_scaled_by_the_newest_pair():
    """``H0 = c M`` with ``c = s'y / y'My``: with ``M`` twice the inverse Hessian of a quadratic, ``c = 1/2`` and
    one pair gives the exact Newton direction; without the scaling the direction is twice too long."""
    A = _spd(5)
    M = 2.0 * torch.linalg.inv(A)
    mem = PreconditionedMemory(3, operator=lambda v: M @ v)
    s = torch.tensor([1.0, -2.0, 0.5, 0.0, 1.0], dtype=torch.float64)
    assert mem.push(s, A @ s)
    g = torch.linspace(-1, 1, 5, dtype=torch.float64)
    newton = -torch.linalg.solve(A, g)
    assert torch.allclose(mem.direction(g), newton, atol=1e-10, rtol=0)
    # empty memory: the operator itself (c = 1)
    empty = PreconditionedMemory(3, operator=lambda v: M @ v)
    assert torch.allclose(empty.apply(g), M @ g, atol=1e-12, rtol=0)


def _pinn(width: int = 10, seed: int = 0):
    torch.manual_seed(seed)
    net = MLP(2, 1, width=width, depth=2).double()
    return net, pde.poisson2d().discretize(net, points=80, boundary_points=32, seed=seed)


def test_the_kfac_initial_matrix_is_what_makes_it_fast():
    """The same iterations with the KFAC operator removed (plain L-BFGS from the same line search) end more than 4x
    higher on a small 2D Poisson PINN after 60 iterations (measured 11.9x)."""
    losses = {}
    for with_kfac in (True, False):
        net, train = _pinn()
        x = train.data[0]
        blocks = lambda train=train, x=x: train.loss.residual_blocks(x, route="taylor")  # noqa: E731
        opt = KFACLBFGSOptimizer(list(net.parameters()), net, blocks)
        if not with_kfac:
            set_operator = opt._set_operator

            def identity(set_operator=set_operator, opt=opt):
                set_operator()
                opt.memory.operator = None

            opt._set_operator = identity
        f = [float(opt.step()) for _ in range(60)]
        assert f[-1] < f[0]
        losses[with_kfac] = f[-1]
        assert float(train.loss(net, x)) == pytest.approx(f[-1], rel=0.5)  # the loss is sum(r^2) of the blocks
    assert losses[False] > 4.0 * losses[True], losses


def test_auto_starts_kfac_lbfgs_from_the_warmup_pairs():
    """Where one dense matrix does not fit, Auto's KFAC-L-BFGS memory starts from the warm-up L-BFGS's pairs."""
    from remodel_core.optim import AutoOptimizer

    net, train = _pinn(width=10)
    x = train.data[0]
    blocks = lambda: train.loss.residual_blocks(x, route="taylor")  # noqa: E731
    opt = AutoOptimizer(list(net.parameters()), net, memory_mb=1e-3, warmup_s=0.0, warmup_max_s=0.0, kfac_blocks=blocks)

    def closure():
        opt.zero_grad()
        loss = train.loss(net, x)
        loss.backward()
        return loss

    opt.step(closure)  # one warm-up step of torch's L-BFGS (up to 20 iterations), then the choice
    assert opt.choice == "kfac-lbfgs" and isinstance(opt.structured, KFACLBFGSOptimizer)
    state = opt.lbfgs.state[opt._params[0]]
    assert len(opt.structured.memory) == len(state["old_dirs"]) > 5
    assert torch.equal(opt.structured.memory.s[-1], state["old_stps"][-1].to(torch.float64))
    assert torch.equal(opt.structured.memory.y[-1], state["old_dirs"][-1].to(torch.float64))
    f0 = float(train.loss(net, x))
    for _ in range(5):
        opt.step(closure)
    assert float(train.loss(net, x)) < f0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_factors_are_formed_every_refresh_iterations(dtype):
    net, train = _pinn(width=6)
    net.to(dtype)
    x = train.data[0].to(dtype)
    opt = KFACLBFGSOptimizer(
        list(net.parameters()), net, lambda: train.loss.residual_blocks(x, route="taylor"), refresh=4
    )
    for _ in range(9):
        opt.step()
    assert opt.stats["steps"] == 9 and opt.stats["refreshes"] == 3  # at steps 0, 4 and 8
    net[0].weight.data.add_(1e-3)  # someone moved the parameters: the next step forms the factors there
    opt.step()
    assert opt.stats["refreshes"] == 4


def test_solve_trains_and_resumes_exactly(tmp_path):
    _, train = _pinn(width=8)
    full = solve(train, KFACLBFGS(refresh=3), maxiters=10, dtype=torch.float64)
    assert full.history["loss"][-1] < 0.2 * full.history["loss"][0]
    path = tmp_path / "kl.pt"
    solve(train, KFACLBFGS(refresh=3), maxiters=5, dtype=torch.float64, checkpoint=path)
    resumed = solve(train, KFACLBFGS(refresh=3), maxiters=10, dtype=torch.float64, checkpoint=path, resume=True)
    assert resumed.history["loss"] == full.history["loss"]
    assert all(torch.equal(p, q) for p, q in zip(resumed.u.parameters(), full.u.parameters()))
    # its own evaluations (factor refreshes, line-search points) are the solution's, and resume counts on
    s = full.stats
    assert s["evals"] == s["kfac_lbfgs_refreshes"] + s["kfac_lbfgs_line_search_evals"] > 0
    assert resumed.stats["evals"] == s["evals"] and resumed.history["evals"] == full.history["evals"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"history_size": 0}, "history_size"),
        ({"refresh": 0}, "refresh"),
        ({"refresh": 1.5}, "refresh"),
        ({"factor_damping": -1.0}, "factor_damping"),
        ({"factor_damping": float("nan")}, "factor_damping"),
        ({"seed": "a"}, "seed"),
        ({"trial_step": "cubic"}, "trial_step"),
    ],
)
def test_bad_options_are_refused_by_name(kwargs, match):
    _, train = _pinn(width=4)
    with pytest.raises((ValueError, TypeError), match=match):
        solve(train, KFACLBFGS(**kwargs), maxiters=1)
    with pytest.raises((ValueError, TypeError), match=match):
        KFACLBFGSOptimizer(list(train.model.parameters()), train.model, lambda: [], **kwargs)


def test_needs_residuals_full_batch_and_an_operator_that_is_callable():
    _, train = _pinn(width=4)
    with pytest.raises(ValueError, match="batch_size"):
        solve(TrainingProblem(model=train.model, loss=train.loss, data=train.data, batch_size=8), KFACLBFGS())
    plain = TrainingProblem(model=train.model, loss=lambda m, x: m(x).pow(2).mean(), data=train.data)
    with pytest.raises((ValueError, TypeError), match="residual"):
        solve(plain, KFACLBFGS(), maxiters=1)
    with pytest.raises(TypeError, match="operator"):
        PreconditionedMemory(3, operator=3.0)
    with pytest.raises(ValueError, match="residuals"):
        KFACLBFGS().make_optimizer(train.model)


def test_non_finite_residuals_fail_the_step_and_keep_the_point():
    net, train = _pinn(width=6)
    x = train.data[0]
    opt = KFACLBFGSOptimizer(list(net.parameters()), net, lambda: train.loss.residual_blocks(x, route="taylor"))
    with torch.no_grad():
        net[0].weight.fill_(float("nan"))
    before = [p.clone() for p in net.parameters()]
    opt.step()
    assert opt.failed
    assert all(torch.allclose(p, q, equal_nan=True) for p, q in zip(net.parameters(), before))


def test_interface():
    from remodel_core.testing import check_algorithm

    _, train = _pinn(width=6)
    check_algorithm(KFACLBFGS(), train, maxiters=2, dtype=torch.float64)


def test_quadratic_trial_step_follows_the_last_decrease():
    """``lbfgs_iteration(previous_f=...)`` tries ``1.01 * 2 (f - previous_f) / g'd`` first (Nocedal & Wright eq.
    3.60): along a direction ten times too long, a last decrease equal to the exact step's gives a first trial
    within 1 % of the exact step, accepted at once, where the unit step needs the line search's interpolation."""
    from remodel_core.optim import lbfgs_iteration

    A = _spd(6)
    x = torch.linspace(-1.0, 1.0, 6, dtype=torch.float64)
    trials: list[torch.Tensor] = []

    def evaluate(z: torch.Tensor) -> tuple[float, torch.Tensor]:
        trials.append(z.clone())
        return float(0.5 * z @ A @ z), A @ z

    f, g = float(0.5 * x @ A @ x), A @ x
    d = -10.0 * torch.linalg.solve(A, g)  # the empty memory's direction -M g with M = 10 A^-1
    gtd = float(g @ d)
    exact = -gtd / float(d @ A @ d)  # 0.1
    previous_f = f - 0.5 * exact * gtd  # the last decrease was the exact step's along d
    evals = {}
    for prev in (previous_f, None):
        trials.clear()
        mem = PreconditionedMemory(3, operator=lambda v: 10.0 * torch.linalg.solve(A, v))
        out = lbfgs_iteration(evaluate, x, f, g, mem, previous_f=prev)
        evals[prev is None] = out.evals
        if prev is not None:
            assert torch.allclose(trials[0], x + 1.01 * exact * d, atol=1e-12, rtol=0)
    assert exact == pytest.approx(0.1)
    assert evals[False] == 1 and evals[True] > 1, evals


@pytest.mark.parametrize("trial_step", ["quadratic", "unit"])
def test_each_step_passes_the_previous_value(monkeypatch, trial_step):
    """KFAC-L-BFGS hands the value at the previous iterate to the line search (quadratic trial step), and nothing
    with ``trial_step="unit"`` or after the parameters were moved from outside."""
    from remodel_core.optim import _kfac_lbfgs

    seen: list = []
    inner = _kfac_lbfgs.lbfgs_iteration

    def recording(*args, **kwargs):
        seen.append((args[2], kwargs["previous_f"]))
        return inner(*args, **kwargs)

    monkeypatch.setattr(_kfac_lbfgs, "lbfgs_iteration", recording)
    net, train = _pinn()
    x = train.data[0]
    opt = KFACLBFGSOptimizer(
        list(net.parameters()), net, lambda: train.loss.residual_blocks(x, route="taylor"), trial_step=trial_step
    )
    for _ in range(4):
        opt.step()
    with torch.no_grad():
        next(net.parameters()).mul_(1.01)  # moved: the previous value no longer belongs to this point's path
    opt.step()
    previous = [p for _, p in seen]
    if trial_step == "unit":
        assert previous == [None] * 5
    else:
        assert previous[0] is None and previous[4] is None
        assert previous[1:4] == [f for f, _ in seen[:3]]
