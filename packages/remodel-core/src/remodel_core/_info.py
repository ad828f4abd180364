"""What ``remodel info`` reports: versions, devices, threading and the installed REMODEL packages."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

#: The eight distributions of the REMODEL workspace, umbrella first.
REMODEL_DISTRIBUTIONS: tuple[str, ...] = (
    "remodel-sci",
    "remodel-core",
    "remodel-dynamics",
    "remodel-sampling",
    "remodel-gen",
    "remodel-imaging",
    "remodel-equivariant",
    "remodel-rom",
)

#: Third-party libraries whose versions ``remodel info`` lists (read from metadata, never imported).
LIBRARIES: tuple[str, ...] = (
    "torch",
    "numpy",
    "scipy",
    "numba",
    "scikit-learn",
    "matplotlib",
    "rich",
    "typer",
    "escnn",
    "diffusers",
)

#: Entry-point group under which packages register their showcase.
SHOWCASE_GROUP = "remodel.showcase"


def distribution_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or ``None`` when it is not installed.

    Examples
    --------
    >>> distribution_version("remodel-core")
    '0.1.0'
    >>> distribution_version("no-such-distribution-xyz") is None
    True
    """
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def showcase_entry_points() -> dict[str, metadata.EntryPoint]:
    """The registered showcases by name, sorted, without importing them.

    Examples
    --------
    >>> "core" in showcase_entry_points()
    True
    """
    eps = metadata.entry_points(group=SHOWCASE_GROUP)
    return {ep.name: ep for ep in sorted(eps, key=lambda ep: ep.name)}


def torch_info() -> dict[str, Any]:
    """Torch's version, threads and devices (CUDA availability and names, MPS)."""
    import torch

    cuda = torch.cuda.is_available()
    devices = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return {
        "version": torch.__version__,
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "cuda_devices": devices,
        "mps_available": mps,
        "default_device": "cuda" if cuda else ("mps" if mps else "cpu"),
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
    }


def numba_info() -> dict[str, Any]:
    """Numba's version, thread count and the threading layer it actually uses.

    The layer is only known after a parallel function has run, so a tiny ``prange`` sum is compiled
    (not cached, about a second) and called once.
    """
    try:
        import numba
        import numpy as np
    except ImportError as err:  # pragma: no cover - numba is a dependency
        return {"version": None, "error": str(err)}
    info: dict[str, Any] = {
        "version": numba.__version__,
        "num_threads": int(numba.config.NUMBA_NUM_THREADS),
        "requested_layer": str(numba.config.THREADING_LAYER),
    }
    try:

        @numba.njit(parallel=True)
        def _psum(x):  # pragma: no cover - compiled
            s = 0.0
            for i in numba.prange(x.shape[0]):
                s += x[i]
            return s

        _psum(np.ones(64))
        info["threading_layer"] = numba.threading_layer()
    except Exception as err:  # report any failure of the threading backends
        info["threading_layer"] = None
        info["error"] = f"{type(err).__name__}: {err}"
    return info


def collect_info(*, numba_layer: bool = True) -> dict[str, Any]:
    """Everything ``remodel info`` shows, as a JSON-serialisable dictionary.

    Parameters
    ----------
    numba_layer : bool
        Compile a tiny parallel function to learn numba's threading layer (about a second).

    Examples
    --------
    >>> info = collect_info(numba_layer=False)
    >>> info["packages"]["remodel-core"]
    '0.1.0'
    >>> sorted(info)
    ['libraries', 'numba', 'packages', 'platform', 'python', 'remodel', 'showcases', 'torch']
    """
    from . import __version__

    numba_part = numba_info() if numba_layer else {"version": distribution_version("numba")}
    return {
        "remodel": __version__,
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "packages": {name: distribution_version(name) for name in REMODEL_DISTRIBUTIONS},
        "libraries": {name: distribution_version(name) for name in LIBRARIES},
        "torch": torch_info(),
        "numba": numba_part,
        "showcases": {name: ep.value for name, ep in showcase_entry_points().items()},
    }


def environment_summary(info: dict[str, Any]) -> str:
    """A one-paragraph markdown summary of :func:`collect_info`'s result for reports."""
    t, n = info["torch"], info["numba"]
    device = ", ".join(t["cuda_devices"]) if t["cuda_available"] else t["default_device"]
    libs = ", ".join(f"{k} {v}" for k, v in info["libraries"].items() if v is not None)
    return (
        f"REMODEL {info['remodel']} on Python {info['python']['version']} "
        f"({info['platform']['system']} {info['platform']['machine']}, {info['platform']['cpu_count']} CPUs); "
        f"torch device: {device}, torch threads: {t['num_threads']}; "
        f"numba threading layer: {n.get('threading_layer', 'not probed')}. Libraries: {libs}."
    )
