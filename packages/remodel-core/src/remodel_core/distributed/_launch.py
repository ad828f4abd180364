"""Launching a training configuration on every rank: ``remodel train --nproc N CONFIG`` or
``python -m torch.distributed.run --nproc-per-node N -m remodel_core.distributed CONFIG``."""

from __future__ import annotations

import json
import os
import runpy
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._group import DEFAULT_TIMEOUT_S, check_timeout, init_distributed, is_distributed
from ._health import Heartbeat

__all__ = ["load_config", "run_config", "torchrun_command"]


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a training configuration: a Python file defining ``problem`` (a ``TrainingProblem``, or a
    function returning one), ``algorithm`` (an ``Algorithm``) and optionally ``options`` (a dict of
    :func:`~remodel_core.solve` options) and ``timeout`` (collective timeout in seconds).

    Parameters
    ----------
    path : path-like
        The configuration file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "cfg.py"
    >>> _ = p.write_text('''
    ... import torch
    ... from remodel_core import TrainingProblem
    ... from remodel_core.optim import Adam
    ... problem = TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m, x: m(x).pow(2).mean(),
    ...                           data=(torch.ones(4, 1),))
    ... algorithm = Adam(lr=0.1)
    ... options = {"maxiters": 3}
    ... ''')
    >>> sorted(load_config(p))
    ['algorithm', 'options', 'problem', 'timeout']
    """
    from .._algorithm import Algorithm
    from .._training import TrainingProblem

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config {str(path)!r} does not exist")
    ns = runpy.run_path(str(path), run_name="__remodel_config__")
    problem = ns.get("problem")
    if callable(problem) and not isinstance(problem, TrainingProblem):
        problem = problem()
    if not isinstance(problem, TrainingProblem):
        raise TypeError(f"config {str(path)!r} must define problem (a TrainingProblem or a function returning one)")
    algorithm = ns.get("algorithm")
    if not isinstance(algorithm, Algorithm):
        raise TypeError(f"config {str(path)!r} must define algorithm (a remodel_core Algorithm)")
    options = ns.get("options", {})
    if not isinstance(options, Mapping):
        raise TypeError(f"config {str(path)!r}: options must be a dict of solve options")
    timeout = check_timeout(ns.get("timeout", DEFAULT_TIMEOUT_S))
    return {"problem": problem, "algorithm": algorithm, "options": dict(options), "timeout": timeout}


def run_config(
    path: str | os.PathLike, *, json_out: str | os.PathLike | None = None, timeout: float | None = None
) -> Any:
    """Run a configuration (see :func:`load_config`) on this rank: initialise the process group when
    launched by torchrun (collective timeout ``timeout``, else the config's, default 60 s), then
    :func:`~remodel_core.solve`. :class:`~remodel_core.distributed.DistributedASPQN` shares its subdomains
    over the ranks; any other optimizer trains data-parallel (``data_parallel=True``), its collectives
    guarded by a :class:`~remodel_core.distributed.Heartbeat` so a lost rank is named. Rank 0 writes a JSON
    summary to ``json_out``.

    Parameters
    ----------
    path : path-like
        The configuration file.
    json_out : path-like, optional
        Where rank 0 writes ``{"retcode", "loss", "iterations", "ranks", "stats"}``.
    timeout : float, optional
        Overrides the configuration's collective timeout.

    Returns
    -------
    Solution

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "cfg.py"
    >>> _ = p.write_text('''
    ... import torch
    ... from remodel_core import TrainingProblem
    ... from remodel_core.optim import Adam
    ... problem = TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m, x: m(x).pow(2).mean(),
    ...                           data=(torch.ones(4, 1),))
    ... algorithm = Adam(lr=0.1)
    ... options = {"maxiters": 3}
    ... ''')
    >>> sol = run_config(p)  # doctest: +ELLIPSIS
    {"retcode": "MaxIters", "loss": ..., "iterations": 3, "ranks": 1, ...}
    >>> sol.retcode.name
    'MaxIters'
    """
    from .._solve import solve
    from ._schwarz import DistributedASPQN

    cfg = load_config(path)
    timeout = cfg["timeout"] if timeout is None else check_timeout(timeout)
    if "RANK" in os.environ and not is_distributed():
        init_distributed(timeout=timeout)
    options = dict(cfg["options"])
    algorithm = cfg["algorithm"]
    rank, world = 0, 1
    if is_distributed():
        import torch.distributed as dist

        rank, world = dist.get_rank(), dist.get_world_size()
    if isinstance(algorithm, DistributedASPQN):
        if timeout != algorithm.timeout:
            import dataclasses

            algorithm = dataclasses.replace(algorithm, timeout=timeout)
        sol = solve(cfg["problem"], algorithm, **options)
    else:
        if world > 1:
            options.setdefault("data_parallel", True)
        health = Heartbeat(rank, world, timeout=timeout)
        user = options.get("callback")

        def callback(info: dict[str, Any]) -> bool:
            health.iteration = int(info["iteration"]) + 1  # the iteration starting now
            return bool(user(info)) if user is not None else False

        options["callback"] = callback
        try:
            with health.guard("data-parallel training"):
                sol = solve(cfg["problem"], algorithm, **options)
        finally:
            health.close()
    if rank == 0:
        loss = sol.history.get("loss", [float("nan")])
        summary = {
            "retcode": sol.retcode.name,
            "loss": loss[-1] if loss else None,
            "iterations": sol.stats.get("iterations"),
            "ranks": world,
            "stats": {k: v for k, v in sol.stats.items() if isinstance(v, int | float | str)},
        }
        print(json.dumps(summary), flush=True)
        if json_out is not None:
            Path(json_out).write_text(json.dumps(summary, indent=1))
    return sol


def torchrun_command(
    config: str | os.PathLike,
    *,
    nproc: int = 1,
    nnodes: int = 1,
    node_rank: int | None = None,
    rdzv_endpoint: str | None = None,
    rdzv_id: str = "remodel",
    json_out: str | None = None,
    timeout: float | None = None,
) -> list[str]:
    """The ``torchrun`` command line that runs ``config`` on ``nproc`` ranks per node.

    One node uses ``--standalone``; several use the c10d rendezvous at ``rdzv_endpoint`` (``host:port`` of
    a node every node reaches; run the same command on each node).

    Parameters
    ----------
    config : path-like
        The configuration file (see :func:`load_config`).
    nproc, nnodes : int
        Ranks per node and number of nodes.
    node_rank : int, optional
        This node's rank (optional with c10d rendezvous).
    rdzv_endpoint, rdzv_id : str
        Rendezvous address and job id (several nodes).
    json_out : str, optional
        Passed to :func:`run_config`.
    timeout : float, optional
        Collective timeout in seconds.

    Examples
    --------
    >>> torchrun_command("cfg.py", nproc=2)[2:6]
    ['torch.distributed.run', '--nproc-per-node', '2', '--standalone']
    >>> cmd = torchrun_command("cfg.py", nproc=1, nnodes=2, rdzv_endpoint="localhost:29400")
    >>> cmd[cmd.index("--rdzv-backend") + 1]
    'c10d'
    """
    for name, value in (("nproc", nproc), ("nnodes", nnodes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc)]
    if nnodes == 1 and rdzv_endpoint is None:
        cmd.append("--standalone")
    else:
        if rdzv_endpoint is None:
            raise ValueError("rdzv_endpoint (host:port) is needed with nnodes > 1")
        cmd += [
            "--nnodes",
            str(nnodes),
            "--rdzv-backend",
            "c10d",
            "--rdzv-endpoint",
            rdzv_endpoint,
            "--rdzv-id",
            rdzv_id,
        ]
        if node_rank is not None:
            cmd += ["--node-rank", str(node_rank)]
    cmd += ["-m", "remodel_core.distributed", str(config)]
    if json_out is not None:
        cmd += ["--json", str(json_out)]
    if timeout is not None:
        cmd += ["--timeout", str(check_timeout(timeout))]
    return cmd
