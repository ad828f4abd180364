"""The common interface: solve, options, return codes, divergence, checkpoints and resume."""

from __future__ import annotations

import dataclasses
import fractions
import importlib.util
import math
import os
import pathlib

import pytest
import torch
from remodel_core import (
    Problem,
    ReturnCode,
    SolveOptions,
    TrainingProblem,
    load_checkpoint,
    remake,
    save_checkpoint,
    solve,
)
from remodel_core.optim import LBFGS, SGD, Adam
from remodel_core.testing import check_algorithm, check_problem

_spec = importlib.util.spec_from_file_location(
    "_optim_problems", pathlib.Path(__file__).with_name("_optim_problems.py")
)
P = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(P)


def regression(batch_size: int | None = None, seed: int = 0) -> TrainingProblem:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(128, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.sin(3 * x[:, :1]) * x[:, 1:]
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).double()
    return TrainingProblem(
        model=model,
        loss=lambda m, x, y: ((m(x) - y) ** 2).mean(),
        data=(x, y),
        batch_size=batch_size,
        name="regression",
    )


def params(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_adam_fits_linear_map_and_keeps_problem_untouched():
    x = torch.linspace(-1, 1, 64, dtype=torch.float64).unsqueeze(1)
    model = torch.nn.Linear(1, 1).double()
    before = params(model)
    prob = TrainingProblem(model=model, loss=lambda m, x, y: ((m(x) - y) ** 2).mean(), data=(x, 3 * x + 1))
    sol = solve(prob, Adam(lr=0.1), maxiters=500)
    assert sol.retcode is ReturnCode.MaxIters and not sol.success  # a spent budget is no success
    assert float(sol.u.weight.detach()) == pytest.approx(3.0, abs=1e-3)
    assert float(sol.u.bias.detach()) == pytest.approx(1.0, abs=1e-3)
    assert all(torch.equal(a, b) for a, b in zip(before, params(model))), "solve must train a copy"
    assert sol.stats["iterations"] == 500 and sol.stats["evals"] == 500
    assert set(sol.history) >= {"iteration", "loss", "time", "evals"}
    assert len({len(v) for v in sol.history.values()}) == 1
    assert sol.history["loss"][-1] < 1e-6 < sol.history["loss"][0]


def test_torch_lbfgs_reaches_abstol_with_success():
    sol = solve(regression(), LBFGS(), abstol=1e-4, maxiters=200)
    assert sol.retcode is ReturnCode.Success
    assert sol.history["loss"][-1] <= 1e-4
    assert sol.stats["evals"] > sol.stats["iterations"]  # a step runs several evaluations


def test_conformance_of_wrapped_optimizers():
    for algorithm in (Adam(lr=1e-2), SGD(lr=1e-2, momentum=0.9), LBFGS(max_iter=2)):
        check_algorithm(algorithm, regression(batch_size=32))
    check_problem(regression())


def test_wrong_problem_type_is_rejected_naming_both():
    @dataclasses.dataclass(frozen=True)
    class Other(Problem):
        pass

    with pytest.raises(TypeError, match="Adam cannot solve a Other; it solves: TrainingProblem"):
        solve(Other(), Adam())
    with pytest.raises(TypeError, match="algorithm must be a remodel_core.Algorithm"):
        solve(regression(), "adam")
    with pytest.raises(TypeError, match="problem must be a remodel_core.Problem"):
        solve(object(), Adam())


@pytest.mark.parametrize(
    ("options", "exc", "match"),
    [
        ({"maxiters": -1}, ValueError, "maxiters must be > 0"),
        ({"maxiters": 2.5}, TypeError, "maxiters must be an integer"),
        ({"maxtime": 0}, ValueError, "maxtime must be > 0"),
        ({"abstol": -1e-3}, ValueError, "abstol must be >= 0"),
        ({"max_iters": 10}, TypeError, "unknown option.*'max_iters'"),
        ({"lr": 0.1}, TypeError, "method options belong on the algorithm"),
        ({"seed": "0"}, TypeError, "seed must be an integer"),
        ({"dtype": torch.int64}, TypeError, "dtype must be a floating"),
        ({"device": "nonsense"}, ValueError, "device must name a torch device"),
        ({"callback": 3}, TypeError, "callback must be callable"),
        ({"resume": True}, ValueError, "resume=True needs checkpoint"),
        ({"resume": "no", "checkpoint": "unused.pt"}, TypeError, "resume must be a bool, got 'no'"),
        ({"verbose": "quiet"}, TypeError, "verbose must be a bool"),
        ({"progress": "yes"}, TypeError, "progress must be a bool or None"),
    ],
)
def test_bad_options_give_clear_errors(options, exc, match):
    with pytest.raises(exc, match=match):
        solve(regression(), Adam(), **options)


@pytest.mark.parametrize(
    ("algorithm", "match"),
    [
        (Adam(lr=-1.0), "lr must be > 0"),
        (Adam(betas=(0.9, 1.5)), "betas"),
        (SGD(nesterov=True), "nesterov=True needs momentum"),
        (LBFGS(history_size=0), "history_size must be > 0"),
        (LBFGS(line_search_fn="armijo"), "line_search_fn"),
    ],
)
def test_bad_algorithm_configuration(algorithm, match):
    with pytest.raises((ValueError, TypeError), match=match):
        solve(regression(), algorithm, maxiters=1)


def test_algorithms_are_keyword_only_and_frozen():
    with pytest.raises(TypeError):
        Adam(1e-3)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Adam().lr = 1.0  # type: ignore[misc]
    assert remake(Adam(lr=1e-3), lr=1e-2) == Adam(lr=1e-2)


def test_bad_problem_data():
    model = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="share their first dimension"):
        solve(TrainingProblem(model=model, loss=lambda m, x, y: 0, data=(torch.zeros(4, 2), torch.zeros(5))), Adam())
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        solve(TrainingProblem(model="net", loss=lambda m: 0), Adam())
    with pytest.raises(ValueError, match="batch_size must be > 0"):
        solve(TrainingProblem(model=model, loss=lambda m, x: 0, data=(torch.zeros(4, 2),), batch_size=0), Adam())
    with pytest.raises(TypeError, match="loss must return a scalar tensor"):
        solve(TrainingProblem(model=model, loss=lambda m: m.weight), Adam(), maxiters=1)


def test_divergence_stops_with_last_good_state():
    model = torch.nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.fill_(1.0)
    # f(w) = w^4 with a huge step: |w| explodes to inf, then NaN.
    prob = TrainingProblem(model=model, loss=lambda m: m.weight.pow(4).sum())
    sol = solve(prob, SGD(lr=10.0), maxiters=100)
    assert sol.retcode is ReturnCode.Diverged and not sol.success
    w = sol.u.weight.detach()
    assert torch.isfinite(w).all()
    assert math.isfinite(float(w.pow(4).sum())), "the kept state must have a finite loss"
    assert sol.stats["iterations"] < 100
    assert math.isnan(sol.history["loss"][-1])


def test_divergence_restores_the_buffers_of_the_last_good_state():
    """Buffers (here a forward counter and a running mean, as BatchNorm keeps) go back with the parameters:
    before, a diverged SGD run on a BatchNorm net returned the good weights with running_var 9e63 from the
    steps that diverged."""

    class Tracked(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(1, 1).double()
            self.register_buffer("calls", torch.zeros((), dtype=torch.long))
            self.register_buffer("running", torch.zeros(1, dtype=torch.float64))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.lin(x)
            self.calls += 1
            self.running.mul_(0.5).add_(0.5 * out.detach().mean())
            return out

    x = torch.linspace(-1, 1, 8, dtype=torch.float64).unsqueeze(1)

    def loss(m, x, y):  # NaN from the 6th evaluation on: SGD's 6th step returns NaN
        value = ((m(x) - y) ** 2).mean()
        return value * math.nan if int(m.calls) >= 6 else value

    torch.manual_seed(0)
    prob = TrainingProblem(model=Tracked(), loss=loss, data=(x, 2 * x))
    sol = solve(prob, SGD(lr=0.1), maxiters=50)
    ref = solve(prob, SGD(lr=0.1), maxiters=4)  # the last good state: the start of step 5
    assert sol.retcode is ReturnCode.Diverged and sol.stats["iterations"] == 6
    assert int(sol.u.calls) == 4
    for a, b in zip(sol.u.state_dict().values(), ref.u.state_dict().values()):
        assert torch.equal(a, b)


def test_maxtime_callback_and_reltol():
    sol = solve(regression(), Adam(), maxtime=0.2)
    assert sol.retcode is ReturnCode.MaxTime and sol.stats["wall_s"] >= 0.2
    seen = []

    def stop_at_7(state):
        seen.append(state["iteration"])
        return state["iteration"] == 7

    sol = solve(regression(), Adam(), maxiters=100, callback=stop_at_7)
    assert sol.retcode is ReturnCode.Terminated and seen == list(range(1, 8))
    sol = solve(regression(), LBFGS(), reltol=1e-3, maxiters=1000)
    assert sol.retcode is ReturnCode.Success and sol.stats["iterations"] < 1000


def test_seed_drives_minibatches_and_dtype_option():
    a = solve(regression(batch_size=16), Adam(lr=1e-2), maxiters=20, seed=1)
    b = solve(regression(batch_size=16), Adam(lr=1e-2), maxiters=20, seed=1)
    c = solve(regression(batch_size=16), Adam(lr=1e-2), maxiters=20, seed=2)
    assert a.history["loss"] == b.history["loss"] != c.history["loss"]
    prob = dataclasses.replace(regression(), model=regression().model.float())
    assert next(solve(prob, Adam(), maxiters=1, dtype=torch.float64).u.parameters()).dtype == torch.float64


def test_metrics_are_monitored_every_k_iterations():
    prob = dataclasses.replace(regression(), metrics={"wnorm": lambda m: float(m[0].weight.detach().norm())})
    sol = solve(prob, Adam(), maxiters=10, monitor_every=5)
    w = sol.history["wnorm"]
    assert [i for i, v in enumerate(w) if not math.isnan(v)] == [4, 9]


@pytest.mark.parametrize("algorithm", [Adam(lr=1e-2), LBFGS(max_iter=3), SGD(lr=0.05, momentum=0.9)])
def test_resumed_run_equals_uninterrupted_run(tmp_path, algorithm):
    prob = regression(batch_size=24)  # 128 samples: epochs end mid-run, so the shuffling state must resume too
    full = solve(prob, algorithm, maxiters=30, seed=3)
    path = tmp_path / "run.pt"
    first = solve(prob, algorithm, maxiters=13, seed=3, checkpoint=path, checkpoint_every=5)
    assert first.retcode is ReturnCode.MaxIters and path.exists()
    resumed = solve(prob, algorithm, maxiters=30, seed=3, checkpoint=path, resume=True)
    assert resumed.stats["iterations"] == 30
    for p, q in zip(full.u.parameters(), resumed.u.parameters()):
        assert torch.equal(p, q)
    assert resumed.history["loss"] == full.history["loss"]
    assert resumed.stats["evals"] == full.stats["evals"]


@pytest.mark.parametrize("algorithm", [Adam(lr=1e-2), LBFGS(max_iter=2)])
def test_resumed_run_stops_by_reltol_where_the_uninterrupted_run_does(tmp_path, algorithm):
    # reltol compares each loss with the previous iteration's: after a resume, the interrupted run's last loss
    full = solve(regression(), algorithm, maxiters=1000, reltol=1e-3)
    k = full.stats["iterations"]
    assert full.retcode is ReturnCode.Success and k > 2
    path = tmp_path / "run.pt"
    solve(regression(), algorithm, maxiters=k - 1, reltol=1e-3, checkpoint=path)
    resumed = solve(regression(), algorithm, maxiters=1000, reltol=1e-3, checkpoint=path, resume=True)
    assert resumed.retcode is ReturnCode.Success and resumed.stats["iterations"] == k
    assert resumed.history["loss"] == full.history["loss"]


def test_checkpoint_is_atomic_and_weights_only(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"iteration": 1, "w": torch.ones(3)})

    def broken_save(obj, fh):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"iteration": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["iteration"] == 1, "a failed write must leave the old checkpoint intact"
    assert os.listdir(tmp_path) == ["ck.pt"], "no temporary file may be left behind"

    torch.save({"format": 1, "obj": fractions.Fraction(1, 3)}, tmp_path / "evil.pt")  # not a plain type
    with pytest.raises(Exception, match="(?i)weights_only|unsupported global"):
        load_checkpoint(tmp_path / "evil.pt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"iteration": 1}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a REMODEL checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")


def test_resume_from_a_mismatched_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "run.pt"
    solve(regression(), Adam(), maxiters=2, checkpoint=path)
    other = TrainingProblem(model=torch.nn.Linear(2, 1).double(), loss=lambda m: m.weight.pow(2).sum())
    with pytest.raises(ValueError, match="does not match"):
        solve(other, Adam(), maxiters=4, checkpoint=path, resume=True)
    # other data: fewer rows than the checkpoint's shuffle covers (an IndexError 'index 42 is out of bounds'
    # before), or more rows on the full batch (silently another objective)
    for rows, batch_size in ((64, 24), (200, None)):
        prob = regression(batch_size=batch_size)
        solve(prob, Adam(), maxiters=3, checkpoint=tmp_path / f"{rows}.pt")
        x, y = (torch.cat([t] * 2)[:rows] for t in prob.data)
        with pytest.raises(ValueError, match=f"written for 128 samples, the problem has {rows}"):
            solve(
                dataclasses.replace(prob, data=(x, y)),
                Adam(),
                maxiters=6,
                checkpoint=tmp_path / f"{rows}.pt",
                resume=True,
            )
    # another dtype: load_state_dict cast the float64 checkpoint to float32 silently
    solve(regression(), Adam(), maxiters=2, checkpoint=tmp_path / "f64.pt", dtype=torch.float64)
    with pytest.raises(ValueError, match="holds a float64 model but this run is float32"):
        solve(regression(), Adam(), maxiters=4, checkpoint=tmp_path / "f64.pt", resume=True, dtype=torch.float32)


def test_custom_optimizer_algorithm_signals():
    Once = P.ConvergesAtOnce  # noqa: N806

    sol = solve(regression(), Once(), maxiters=10)
    assert sol.retcode is ReturnCode.Success and sol.stats["iterations"] == 1
    # minibatches: a zero gradient of one batch is no stationary point of the objective; the run goes on
    # (MSPQN fitted one 200-row batch of the digits to max|g| 7e-10 and stopped with Success at a full loss of 0.13)
    sol = solve(regression(batch_size=32), Once(), maxiters=10)
    assert sol.retcode is ReturnCode.MaxIters and sol.stats["iterations"] == 10
    sol = solve(regression(batch_size=128), Once(), maxiters=10)  # one batch of all 128 rows: the full batch
    assert sol.retcode is ReturnCode.Success and sol.stats["iterations"] == 1


def test_options_object_round_trip():
    opts = SolveOptions.from_kwargs(maxiters=3, checkpoint="a/b.pt", dtype="float64", device="cpu")
    assert opts.dtype is torch.float64 and opts.checkpoint.name == "b.pt" and opts.device.type == "cpu"
