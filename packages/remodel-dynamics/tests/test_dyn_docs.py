"""The docstring examples of remodel_dynamics run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest
import torch

MODULES = [
    "remodel_dynamics",
    "remodel_dynamics._systems",
    "remodel_dynamics._other_systems",
    "remodel_dynamics._problem",
    "remodel_dynamics._models",
    "remodel_dynamics._sympnet",
    "remodel_dynamics._metrics",
    "remodel_dynamics.sindy",
    "remodel_dynamics.sindy._stlsq",
    "remodel_dynamics.sindy._libraries",
    "remodel_dynamics.sindy._differentiation",
    "remodel_dynamics.sindy._sindy",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    finally:
        torch.set_num_threads(threads)
    assert result.failed == 0
