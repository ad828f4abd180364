"""The umbrella's own behaviour: re-exports and lazy package attributes."""

from __future__ import annotations

import subprocess
import sys

import pytest
import remodel_sci


def test_short_names_map_to_distinct_remodel_import_names():
    assert list(remodel_sci.PACKAGES) == ["core", "dynamics", "sampling", "gen", "imaging", "equivariant", "rom"]
    assert all(v == f"remodel_{k}" for k, v in remodel_sci.PACKAGES.items())
    assert set(remodel_sci.PACKAGES) <= set(dir(remodel_sci))


def test_domain_packages_load_on_first_use_only():
    code = (
        "import sys, remodel_sci; before = 'remodel_rom' in sys.modules; m = remodel_sci.rom; "
        "print(before, 'remodel_rom' in sys.modules, m.__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "remodel_rom"]


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'remodel_sci' has no attribute 'nothing'"):
        remodel_sci.nothing  # noqa: B018
    assert not hasattr(remodel_sci, "also_nothing")


def test_common_interface_is_reexported():
    import remodel_core

    for name in ("solve", "Problem", "Algorithm", "Solution", "ReturnCode", "TrainingProblem", "remake"):
        assert getattr(remodel_sci, name) is getattr(remodel_core, name)
