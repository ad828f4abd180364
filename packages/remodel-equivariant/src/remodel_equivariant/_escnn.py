"""Lazy, quiet import of escnn (the optional extra ``remodel-equivariant[escnn]``), with its basis caches moved to
a user cache directory.

escnn memoises expensive harmonic-analysis results (restricted irreps, Clebsch–Gordan tensors) with joblib in a
folder inside its own installation, which is read-only in many installs and lost on reinstall. On first use we
re-bind those memoised functions to a ``joblib.Memory`` in :func:`cache_dir` (``$REMODEL_CACHE_DIR``, else
``$XDG_CACHE_HOME/remodel``, else ``~/.cache/remodel``, with an ``escnn`` subfolder).
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType

INSTALL_HINT = (
    "escnn is not installed: SteerableCNN (escnn's SO(2)/O(2) and general steerable bases) needs the extra "
    "`pip install 'remodel-equivariant[escnn]'`. escnn requires py3nj, which needs a Fortran compiler; without one, "
    "install escnn without it: `pip install --no-deps escnn && pip install lie-learn 'numpy<2' pymanopt autograd "
    "scipy`. The native layers (GCNN, LiftingConv2d, GroupConv2d, ...) need no escnn."
)
_memorized: dict[tuple[str, str, str], object] = {}  # (location, module, name) -> memoised function


def cache_dir() -> Path:
    """The folder of REMODEL's escnn basis cache.

    Examples
    --------
    >>> cache_dir().name
    'escnn'
    """
    root = os.environ.get("REMODEL_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = str(Path(xdg) / "remodel") if xdg else str(Path.home() / ".cache" / "remodel")
    return Path(root) / "escnn"


def _rebind_caches(location: Path) -> None:
    """Point every joblib-memoised function of the loaded escnn modules at ``location``."""
    from joblib import Memory
    from joblib.memory import MemorizedFunc

    location.mkdir(parents=True, exist_ok=True)
    for name, module in list(sys.modules.items()):
        if not name.startswith("escnn") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if not isinstance(value, MemorizedFunc):
                continue
            if str(value.store_backend.location).startswith(str(location)):
                continue
            key = (str(location), value.func.__module__, value.func.__qualname__)
            if key not in _memorized:
                _memorized[key] = Memory(str(location), verbose=0).cache(value.func)
            setattr(module, attr, _memorized[key])


def escnn_modules() -> tuple[ModuleType, ModuleType]:
    """``(escnn.gspaces, escnn.nn)``, imported on first use with escnn's import-time warnings silenced and its
    caches in :func:`cache_dir`; a clear ``ImportError`` when the extra is not installed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gspaces = importlib.import_module("escnn.gspaces")
            enn = importlib.import_module("escnn.nn")
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    _rebind_caches(cache_dir())
    return gspaces, enn
