"""Lazy, quiet import of escnn (slow to import; it warns about the optional py3nj)."""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType


def escnn_modules() -> tuple[ModuleType, ModuleType]:
    """``(escnn.gspaces, escnn.nn)``, imported on first use with escnn's import-time warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gspaces = importlib.import_module("escnn.gspaces")
        enn = importlib.import_module("escnn.nn")
    return gspaces, enn
