"""The ``remodel train`` command (registered in :mod:`remodel_core.cli`)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["train"]


def train(
    config: Annotated[
        Path,
        typer.Argument(
            help="A Python file defining problem, algorithm and optionally "
            "options (solve keywords) and timeout (seconds)."
        ),
    ],
    nproc: Annotated[int, typer.Option("--nproc", min=1, help="Ranks per node (processes).")] = 1,
    nnodes: Annotated[int, typer.Option("--nnodes", min=1, help="Nodes (machines); > 1 needs --rdzv-endpoint.")] = 1,
    node_rank: Annotated[int | None, typer.Option("--node-rank", min=0, help="This node's rank.")] = None,
    rdzv_endpoint: Annotated[
        str | None, typer.Option("--rdzv-endpoint", help="host:port of the c10d rendezvous (several nodes).")
    ] = None,
    rdzv_id: Annotated[str, typer.Option("--rdzv-id", help="Job id shared by the nodes.")] = "remodel",
    json_out: Annotated[Path | None, typer.Option("--json", help="Rank 0 writes a JSON summary here.")] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", min=0.001, help="Collective timeout in seconds (default 60): a lost rank ends the run."
        ),
    ] = None,
) -> None:
    """Train CONFIG on NPROC ranks per node with torchrun (gloo on CPU, nccl on GPU).

    DistributedASPQN shares its subdomains over the ranks; other optimizers train data-parallel.
    """
    if not config.is_file():
        raise typer.BadParameter(f"{str(config)!r} is not a file", param_hint="CONFIG")
    if nnodes > 1 and rdzv_endpoint is None:
        raise typer.BadParameter(
            "several nodes need the c10d rendezvous address host:port", param_hint="--rdzv-endpoint"
        )
    from ._launch import torchrun_command

    cmd = torchrun_command(
        config,
        nproc=nproc,
        nnodes=nnodes,
        node_rank=node_rank,
        rdzv_endpoint=rdzv_endpoint,
        rdzv_id=rdzv_id,
        json_out=None if json_out is None else str(json_out),
        timeout=timeout,
    )
    raise typer.Exit(code=subprocess.call(cmd))
