"""Training across processes and machines on ``torch.distributed`` (gloo on CPU, nccl on GPU).

* :class:`DistributedASPQN`: the additive Schwarz-preconditioned quasi-Newton method with the parameter
  subdomains shared out over the ranks; data-parallel loss evaluations in the line search and global steps.
* The data-parallel mode of every optimizer: ``solve(..., data_parallel=True)``.
* :func:`init_distributed`: the process group with a collective timeout of at most 60 s by default;
  :class:`Heartbeat` and :class:`RankLostError`: a lost (killed or stopped) rank ends the others' run with
  an error naming it and its iteration.
* Launch: ``remodel train --nproc N CONFIG`` or ``python -m torch.distributed.run --nproc-per-node N -m
  remodel_core.distributed CONFIG`` (see :func:`run_config`); across machines with torchrun's c10d
  rendezvous (``--nnodes``, ``--rdzv-endpoint``).

Examples
--------
>>> from remodel_core.distributed import DistributedASPQN, is_distributed
>>> is_distributed(), DistributedASPQN(subdomains=4).timeout
(False, 60.0)
"""

from __future__ import annotations

import importlib
from typing import Any

# lazy: ``remodel --help`` imports the ``train`` command from here without paying for torch
_WHERE = {
    "DEFAULT_TIMEOUT_S": "._group",
    "beat_interval": "._group",
    "collective_timeout": "._group",
    "set_collective_timeout": "._group",
    "default_backend": "._group",
    "init_distributed": "._group",
    "is_distributed": "._group",
    "Heartbeat": "._health",
    "RankLostError": "._health",
    "load_config": "._launch",
    "run_config": "._launch",
    "torchrun_command": "._launch",
    "DistributedASPQN": "._schwarz",
    "SchwarzRanks": "._schwarz",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
