"""Process groups with a bounded collective timeout (gloo on CPU, nccl on GPU)."""

from __future__ import annotations

import datetime
import math
import os

import torch

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "beat_interval",
    "check_timeout",
    "collective_timeout",
    "default_backend",
    "init_distributed",
    "is_distributed",
    "set_collective_timeout",
]

#: Timeout (seconds) of the groups made here: a lost rank is named, and the others' run ends, within it.
DEFAULT_TIMEOUT_S = 60.0


def beat_interval(timeout: float) -> float:
    """Seconds between two heartbeats of a rank for a run with ``timeout``: ``min(1, timeout / 10)``.

    Parameters
    ----------
    timeout : float
        The run's timeout in seconds (positive, finite).

    Returns
    -------
    float
        The heartbeat interval in seconds.

    Examples
    --------
    >>> beat_interval(60), beat_interval(4)
    (1.0, 0.4)
    """
    return min(1.0, check_timeout(timeout) / 10)


def collective_timeout(timeout: float) -> float:
    """The timeout given to the collectives of a run that must name a lost rank within ``timeout``.

    When a collective times out, the heartbeat diagnosis reads the beats twice, 2.5 beat intervals apart
    (:meth:`Heartbeat.diagnose`); half an interval more covers the store reads and the error. So the
    collectives get ``timeout - 3 * beat_interval(timeout)``: 57 s of the default 60 s.

    Parameters
    ----------
    timeout : float
        The run's timeout in seconds (positive).

    Examples
    --------
    >>> collective_timeout(60), round(collective_timeout(4), 6)
    (57.0, 2.8)
    """
    return check_timeout(timeout) - 3.0 * beat_interval(timeout)


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
    here a collective raises after :func:`collective_timeout` seconds, so that the heartbeat diagnosis
    names a lost rank within ``timeout``. With nccl the rank's CUDA device is ``LOCAL_RANK``. Does nothing
    but return ``(rank, world)`` when a group already exists.

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
    # the connection of the ranks may take the whole timeout (ranks start seconds apart on a loaded machine);
    # the collectives after it get collective_timeout(timeout)
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout))
    set_collective_timeout(timeout)
    return dist.get_rank(), dist.get_world_size()


def set_collective_timeout(timeout: float, group: object = None) -> bool:
    """Give the collectives of ``group`` (default: the default group) :func:`collective_timeout` seconds,
    where torch can change a group's timeout after its creation (``torch.distributed.set_timeout``, or its
    older name ``distributed_c10d._set_pg_timeout``); returns whether it could. The group's creation keeps
    the whole ``timeout`` for the ranks to connect.

    Parameters
    ----------
    timeout : float
        The run's timeout in seconds; the collectives get ``collective_timeout(timeout)``.
    group : torch.distributed.ProcessGroup, optional
        The process group (``None``: the default group).

    Returns
    -------
    bool
        Whether torch allowed the timeout to be changed.

    Examples
    --------
    >>> set_collective_timeout(60) if is_distributed() else False
    False
    """
    c10d = torch.distributed.distributed_c10d
    setter = getattr(torch.distributed, "set_timeout", None) or getattr(c10d, "_set_pg_timeout", None)
    if setter is None:  # pragma: no cover - older torch: the collectives keep the whole timeout
        return False
    setter(datetime.timedelta(seconds=collective_timeout(timeout)), group)
    return True
