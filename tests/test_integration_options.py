"""Every algorithm of every package honours or refuses each shared ``solve`` option (issue 12, item 2).

The algorithm classes are discovered by importing every ``remodel_*`` package and walking the subclasses of
:class:`remodel_core.Algorithm`, so a new algorithm is covered without editing this file.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import pytest
import torch
from remodel_core import Algorithm, Problem, SolveOptions, TrainingProblem, solve
from remodel_core._algorithm import ALWAYS_SUPPORTED
from remodel_core.optim import Adam

PACKAGES = (
    "remodel_core",
    "remodel_dynamics",
    "remodel_sampling",
    "remodel_gen",
    "remodel_imaging",
    "remodel_equivariant",
    "remodel_rom",
)

# a non-default value of every shared option that needs no distributed group and no CUDA
NON_DEFAULT = {
    "maxiters": 3,
    "maxtime": 3600.0,
    "abstol": 1e-3,
    "reltol": 1e-3,
    "callback": lambda state: None,
    "seed": 7,
    "dtype": torch.float64,
    "checkpoint": "unused.pt",
    "checkpoint_every": 2,
    "monitor_every": 2,
}


def _import_all() -> None:
    for name in PACKAGES:
        try:
            pkg = importlib.import_module(name)
        except ImportError:  # a package not installed in this environment
            continue
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{name}."):
            if info.name.rsplit(".", 1)[-1].startswith("showcase") or "_showcase" in info.name:
                continue
            try:
                importlib.import_module(info.name)
            except ImportError:  # an optional dependency (escnn, diffusers...) is missing
                continue


def _algorithms() -> list[type[Algorithm]]:
    _import_all()
    seen, todo = [], list(Algorithm.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(
        (c for c in seen if c.__module__.split(".")[0] in PACKAGES and c.problem_types),
        key=lambda c: f"{c.__module__}.{c.__qualname__}",
    )


ALGORITHMS = _algorithms()
SHARED = [f.name for f in dataclasses.fields(SolveOptions)]


def test_algorithms_are_discovered_in_several_packages():
    packages = {c.__module__.split(".")[0] for c in ALGORITHMS}
    assert {"remodel_core", "remodel_rom"} <= packages
    assert len(ALGORITHMS) >= 8


@pytest.mark.parametrize("cls", ALGORITHMS, ids=lambda c: c.__qualname__)
def test_supported_options_are_shared_option_names(cls):
    supported = _supported(cls)
    assert isinstance(supported, frozenset)
    assert supported <= set(SHARED), sorted(supported - set(SHARED))


def _instance(cls):
    """The default instance; a required field that takes an algorithm (a wrapper's ``inner``) gets Adam; other
    required fields leave an instance without fields (solve refuses the option before it reads any)."""
    required = {
        f.name: f for f in dataclasses.fields(cls) if f.init and f.default is f.default_factory is dataclasses.MISSING
    }
    if all("Algorithm" in str(f.type) for f in required.values()):
        return cls(**{name: Adam() for name in required})
    return object.__new__(cls)


def _supported(cls) -> frozenset:
    """The class attribute, or, for a wrapper whose support depends on what it wraps (a property), the
    default instance's."""
    value = cls.supported_options
    return _instance(cls).supported_options if isinstance(value, property) else value


class _Unsolvable(Problem):
    """A problem no algorithm lists: ``solve`` must refuse the option before it looks at the problem type."""


@pytest.mark.parametrize("cls", ALGORITHMS, ids=lambda c: c.__qualname__)
def test_unsupported_shared_option_raises_naming_it(cls):
    alg = _instance(cls)
    supported = alg.supported_options
    unsupported = [n for n in NON_DEFAULT if n not in supported and n not in ALWAYS_SUPPORTED]
    if not unsupported:  # it honours every option: the check lets all of them through
        everything = dict(NON_DEFAULT, checkpoint=__import__("pathlib").Path("unused.pt"))
        assert alg.unsupported_options(SolveOptions(**everything)) == []
        return
    problem = _problem_for(cls)
    for name in unsupported:
        opts = {name: NON_DEFAULT[name]}
        with pytest.raises(ValueError, match=rf"{cls.__name__} does not support .*{name}="):
            solve(problem, alg, **opts)
        # the same option at its default value is accepted by the check
        default = SolveOptions()
        assert name not in alg.unsupported_options(default)


def _problem_for(cls):
    """A problem of the algorithm's first problem type; the option check happens before any work."""
    ptype = cls.problem_types[0]
    if ptype is TrainingProblem:
        return TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m: m.bias.pow(2).sum())
    # build an instance without running its constructor: solve checks the options before validate()
    return object.__new__(ptype)


def test_optimizer_algorithm_accepts_every_shared_option(tmp_path):
    # the loss stays far above abstol and changes by more than reltol: maxiters=3 ends the run
    prob = TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m: (m.bias - 10).pow(2).sum())
    opts = dict(NON_DEFAULT, checkpoint=tmp_path / "ck.pt", progress=False, verbose=False)
    sol = solve(prob, Adam(lr=0.1), **opts)
    assert sol.stats["iterations"] == 3


def test_unsupported_message_names_algorithm_option_and_what_it_honours():
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class OnlySeed(Algorithm):
        problem_types = (TrainingProblem,)
        supported_options = frozenset({"seed"})

    prob = TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m: m.bias.pow(2).sum())
    with pytest.raises(
        ValueError,
        match=r"OnlySeed does not support the shared solve option\(s\) maxiters=3, "
        r"dtype=torch.float64.*OnlySeed honours: seed",
    ):
        solve(prob, OnlySeed(), maxiters=3, dtype=torch.float64)
    # defaults given explicitly are not an error: they ask for nothing the algorithm ignores
    assert OnlySeed().unsupported_options(SolveOptions(maxiters=None, seed=4, progress=True, verbose=True)) == []
