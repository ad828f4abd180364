"""The core showcase's Poisson PINN: loss, errors and a short training through solve."""

from __future__ import annotations

import math

import pytest
import torch
from remodel_core import ShowcaseSection, solve
from remodel_core.optim import LBFGS
from remodel_core.showcase import (
    PARTS,
    ShowcasePart,
    poisson_errors,
    poisson_exact,
    poisson_loss,
    poisson_problem,
    poisson_source,
    showcase,
)


class _Exact(torch.nn.Module):
    """A 'network' that returns the exact solution (plus an unused parameter)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return poisson_exact(x) + 0 * self.w


def test_source_is_minus_second_derivative_of_exact_solution():
    x = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    h = 1e-4
    fd = -(poisson_exact(x + h) - 2 * poisson_exact(x) + poisson_exact(x - h)) / h**2
    torch.testing.assert_close(fd, poisson_source(x), rtol=0, atol=1e-5)
    assert float(poisson_exact(torch.tensor(0.0, dtype=torch.float64))) == 0.0
    assert float(poisson_exact(torch.tensor(1.0, dtype=torch.float64))) == pytest.approx(1.0, abs=1e-12)


def test_exact_solution_has_zero_loss_and_zero_error():
    x = torch.rand(50, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert float(poisson_loss(_Exact(), x).detach()) < 1e-20
    errors = poisson_errors(_Exact())
    assert errors == {"rel_l2": 0.0, "max_abs": 0.0}


def test_loss_sees_a_wrong_boundary_value():
    class Shifted(_Exact):
        def forward(self, x):
            return super().forward(x) + 0.5

    x = torch.linspace(0, 1, 8, dtype=torch.float64).unsqueeze(1)
    assert float(poisson_loss(Shifted(), x).detach()) == pytest.approx(2 * 0.25, rel=1e-12)
    assert float(poisson_loss(Shifted(), x, boundary_weight=10.0).detach()) == pytest.approx(5.0, rel=1e-12)


def test_problem_is_reproducible_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = poisson_problem(seed=3), poisson_problem(seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q) and p.dtype == torch.float64
    assert not torch.equal(next(poisson_problem(seed=4).model.parameters()), next(a.model.parameters()))


def test_short_lbfgs_training_reaches_small_error(one_thread):
    prob = poisson_problem(n_points=32, width=16, depth=2, seed=0)
    before = poisson_errors(prob.model)["rel_l2"]
    sol = solve(prob, LBFGS(max_iter=20), maxiters=15, dtype=torch.float64, monitor_every=5)
    after = poisson_errors(sol.u)["rel_l2"]
    assert before > 0.5
    assert after < 1e-2, after
    rel = [v for v in sol.history["rel_l2"] if not math.isnan(v)]
    assert len(rel) == 3 and rel[-1] < rel[0]


def test_showcase_joins_its_parts(tmp_path, monkeypatch):
    import remodel_core.showcase as mod

    def part_a(out, *, quick, progress):
        (out / "a.png").write_bytes(b"png")
        return ShowcasePart(summary="A", figures=[("a", "a.png")], metrics={"x": 1})

    def part_b(out, *, quick, progress):
        return ShowcasePart(summary="B", metrics={"y": 2})

    monkeypatch.setattr(mod, "PARTS", [part_a, part_b])
    section = showcase(tmp_path / "new", quick=True)
    assert isinstance(section, ShowcaseSection)
    assert section.summary == "A\n\nB"
    assert {k: v for k, v in section.metrics.items() if not k.startswith("seconds_")} == {"x": 1, "y": 2}
    assert set(section.metrics) >= {"seconds_part_a", "seconds_part_b"}  # how long each part took
    assert section.tables[0].header[:2] == ["part", "time (s)"]
    assert len(section.figures) == 1
    assert PARTS  # the real list is untouched


def test_parts_writing_the_same_metric_key_are_an_error(tmp_path, monkeypatch):
    import remodel_core.showcase as mod

    def part(out, *, quick, progress):
        return ShowcasePart(summary="A", metrics={"x": 1})

    monkeypatch.setattr(mod, "PARTS", [part, part])
    with pytest.raises(RuntimeError, match="same metric key"):
        showcase(tmp_path, quick=True)


def test_burgers_methods_have_distinct_report_keys():
    from remodel_core._showcase_burgers import METHODS, metric_key

    keys = [metric_key(label) for label in METHODS]
    assert len(set(keys)) == len(keys), keys
    assert metric_key("MSPQN") != metric_key("MSPQN (SSBroyden)")
    assert metric_key("MG/OPT (points)") != metric_key("MG/OPT (points, SSBroyden)")


def test_stage_lines_name_the_stage_figures_and_time_left(tmp_path, monkeypatch, capsys):
    import remodel_core.showcase as mod

    def part(out, *, quick, progress, stages):
        stages.done("first", evals=10, rel_l2=0.5)
        stages.done("second", evals=20, rel_l2=0.25)
        return ShowcasePart(summary="A", headline="rel. L2 0.25")

    part.n_stages = lambda: 2
    monkeypatch.setattr(mod, "PARTS", [part])
    section = showcase(tmp_path, quick=True, progress=True)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("[core 1/2] first: evals=10, rel_l2=0.5 | ") and "s left" in err[0]
    assert err[1].startswith("[core 2/2] second: evals=20, rel_l2=0.25 | ") and err[1].endswith("done")
    assert section.headline == "rel. L2 0.25"


def test_no_import_cycle_between_showcase_modules():
    import ast
    import pathlib

    import remodel_core

    src = pathlib.Path(remodel_core.__file__).parent / "_showcase_burgers.py"
    imported = {
        node.module for node in ast.walk(ast.parse(src.read_text())) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "showcase" not in imported and ".showcase" not in imported, imported
