"""The umbrella package gathers the seven import packages."""

from __future__ import annotations

import importlib

import pytest
import remodel_core
import remodel_sci
from remodel_core._info import REMODEL_DISTRIBUTIONS, distribution_version

IMPORT_NAMES = [
    "remodel_core",
    "remodel_dynamics",
    "remodel_sampling",
    "remodel_gen",
    "remodel_imaging",
    "remodel_equivariant",
    "remodel_rom",
]


@pytest.mark.parametrize("name", IMPORT_NAMES)
def test_each_package_imports_and_has_the_workspace_version(name):
    module = importlib.import_module(name)
    assert module.__version__ == "0.1.0"


def test_umbrella_imports_all_seven_packages_by_short_name():
    modules = remodel_sci.import_all()
    assert sorted(modules) == sorted(remodel_sci.PACKAGES)
    assert [m.__name__ for m in modules.values()] == IMPORT_NAMES
    assert remodel_sci.rom is importlib.import_module("remodel_rom")
    assert "dynamics" in dir(remodel_sci)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        remodel_sci.nope  # noqa: B018


def test_umbrella_reexports_the_common_interface():
    assert remodel_sci.solve is remodel_core.solve
    assert remodel_sci.TrainingProblem is remodel_core.TrainingProblem
    assert remodel_sci.__version__ == remodel_core.__version__


def test_all_eight_distributions_are_installed_with_one_version():
    versions = {name: distribution_version(name) for name in REMODEL_DISTRIBUTIONS}
    assert len(versions) == 8
    assert set(versions.values()) == {"0.1.0"}, versions
