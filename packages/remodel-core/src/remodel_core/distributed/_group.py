"""Process groups with a bounded collective timeout (gloo on CPU, nccl on GPU)."""

from __future__ import annotations

import datetime
import math
import os

import torch

__all__ = ["DEFAULT_TIMEOUT_S", "check_timeout", "default_backend", "init_distributed", "is_distributed"]

#: Collective timeout (seconds) of the groups made here: a lost rank ends the run within it.
DEFAULT_TIMEOUT_S = 60.0


def check_timeout(timeout: float) -> float:
    """``timeout`` as a float, or ``ValueError``/``TypeError`` naming it.

    Examples
    --------
    >>> check_timeout(5)
    5.0
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be a number of seconds, got {timeout!r}")
    if not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be a positive finite number of seconds, got {timeout!r}")
    return float(timeout)


def is_distributed() -> bool:
    """True when a ``torch.distributed`` process group is initialised (launched by ``torchrun``).

    Examples
    --------
    >>> is_distributed()
    False
    """
    return bool(torch.distributed.is_available() and torch.distributed.is_initialized())


def default_backend() -> str:
    """``"nccl"`` when a CUDA device is present and nccl is built in, else ``"gloo"``.

    Examples
    --------
    >>> default_backend() in ("gloo", "nccl")
    True
    """
    if torch.cuda.is_available() and torch.distributed.is_nccl_available():
        return "nccl"
    return "gloo"


def init_distributed(backend: str | None = None, *, timeout: float = DEFAULT_TIMEOUT_S) -> tuple[int, int]:
    """Initialise the default process group from torchrun's environment, with a bounded timeout.

    torch's own default is 30 minutes for gloo, so one stalled rank would hang the others that long;
    here a collective that waits longer than ``timeout`` seconds raises. With nccl the rank's CUDA device
    is ``LOCAL_RANK``. Does nothing but return ``(rank, world)`` when a group already exists.

    Parameters
    ----------
    backend : {"gloo", "nccl"}, optional
        Default: :func:`default_backend`.
    timeout : float
        Collective timeout in seconds (default 60).

    Returns
    -------
    (int, int)
        This process's rank and the world size.

    Examples
    --------
    >>> import os
    >>> os.environ.get("RANK") is None or init_distributed()[1] >= 1   # only meaningful under torchrun
    True
    """
    timeout = check_timeout(timeout)
    if backend is not None and backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo' or 'nccl', got {backend!r}")
    dist = torch.distributed
    if not dist.is_available():
        raise RuntimeError("torch.distributed is not available in this build of torch")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ValueError(
            f"init_distributed needs torchrun's environment (missing {', '.join(missing)}): launch with "
            "`torchrun --nproc-per-node N ...` or `remodel train --nproc N CONFIG`"
        )
    backend = backend or default_backend()
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout))
    return dist.get_rank(), dist.get_world_size()
