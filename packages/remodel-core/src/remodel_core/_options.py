"""Options shared by every algorithm: the keywords of :func:`remodel_core.solve`."""

from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ._validation import check_positive


@dataclasses.dataclass(frozen=True, kw_only=True)
class SolveOptions:
    """The shared options, checked once by :func:`remodel_core.solve`.

    Parameters
    ----------
    maxiters : int, optional
        Most iterations (an algorithm defines what one iteration is; for optimizers one ``step``).
    maxtime : float, optional
        Wall-clock budget in seconds; the run stops with ``MaxTime`` after the iteration that passes it.
    abstol : float, optional
        Stop with ``Success`` when the monitored loss falls to ``abstol`` or below.
    reltol : float, optional
        Stop with ``Success`` when the loss changes by at most ``reltol * |loss|`` in one iteration.
    callback : callable, optional
        ``callback(state) -> bool | None`` after every iteration with a dict of the current figures;
        returning ``True`` stops with ``Terminated``.
    progress : bool, optional
        Show a progress bar; ``None`` shows one only when standard error is a terminal.
    seed : int
        Seed of the generators the algorithm draws from (``ctx.generator``, ``ctx.rng``).
    device, dtype
        Where and in which precision to compute; the model and data are moved there.
    checkpoint : path, optional
        File written atomically every ``checkpoint_every`` iterations and at the end.
    checkpoint_every : int
        Iterations between checkpoints.
    resume : bool
        Continue from ``checkpoint`` when it exists.
    monitor_every : int
        Iterations between evaluations of the problem's monitored metrics.
    verbose : bool
        Print a one-line summary at the end.
    data_parallel : bool
        Data-parallel training of a :class:`~remodel_core.TrainingProblem` over the ranks of the initialised
        ``torch.distributed`` process group (launch with ``torchrun``; gloo on the CPU, nccl on CUDA):
        full-batch or minibatch gradient averaging as in PyTorch DDP (Li et al., VLDB 2020). Every rank runs
        the same script on its own copy of the model and data, evaluates the loss on its contiguous slice of
        each batch, and one all-reduce per evaluation gives every rank the global loss and gradient, so any
        optimizer sees the single-process objective.
    """

    maxiters: int | None = None
    maxtime: float | None = None
    abstol: float | None = None
    reltol: float | None = None
    callback: Callable[[dict[str, Any]], bool | None] | None = None
    progress: bool | None = None
    seed: int = 0
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))
    dtype: torch.dtype | None = None
    checkpoint: Path | None = None
    checkpoint_every: int = 100
    resume: bool = False
    monitor_every: int = 1
    verbose: bool = False
    data_parallel: bool = False

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> SolveOptions:
        """Check keyword arguments of ``solve`` and build the options; unknown names are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise TypeError(
                f"solve() got unknown option(s) {', '.join(map(repr, unknown))}; "
                f"the shared options are: {', '.join(sorted(names))} (method options belong on the algorithm)"
            )
        for name in ("maxiters", "checkpoint_every", "monitor_every"):
            if kwargs.get(name) is not None:
                check_positive(name, kwargs[name], integer=True)
        for name in ("maxtime", "abstol", "reltol"):
            if kwargs.get(name) is not None:
                check_positive(name, kwargs[name], allow_zero=name != "maxtime", allow_inf=name == "maxtime")
        if "seed" in kwargs:
            if isinstance(kwargs["seed"], bool) or not isinstance(kwargs["seed"], numbers.Integral):
                raise TypeError(f"seed must be an integer, got {kwargs['seed']!r}")
            if not 0 <= kwargs["seed"] < 2**63:
                raise ValueError(f"seed must be a non-negative integer below 2**63, got {kwargs['seed']!r}")
            kwargs["seed"] = int(kwargs["seed"])  # a numpy integer too
        # flags: a truthy string such as resume="no" must not silently mean True
        for name in ("resume", "verbose"):
            if name in kwargs and not isinstance(kwargs[name], bool):
                raise TypeError(f"{name} must be a bool, got {kwargs[name]!r}")
        if kwargs.get("progress") is not None and not isinstance(kwargs["progress"], bool):
            raise TypeError(f"progress must be a bool or None (shown only on a terminal), got {kwargs['progress']!r}")
        if kwargs.get("callback") is not None and not callable(kwargs["callback"]):
            raise TypeError(f"callback must be callable, got {type(kwargs['callback']).__name__}")
        if "device" in kwargs:
            try:
                kwargs["device"] = torch.device(kwargs["device"])
            except (RuntimeError, TypeError) as err:
                raise ValueError(f"device must name a torch device, got {kwargs['device']!r}") from err
            if kwargs["device"].type == "cuda" and not torch.cuda.is_available():
                raise ValueError("device='cuda' was asked for but torch.cuda.is_available() is False")
        if kwargs.get("dtype") is not None:
            dtype = kwargs["dtype"]
            if isinstance(dtype, str):
                dtype = getattr(torch, dtype, None)
            if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
                raise TypeError(f"dtype must be a floating torch.dtype, got {kwargs['dtype']!r}")
            kwargs["dtype"] = dtype
        if kwargs.get("checkpoint") is not None:
            if not isinstance(kwargs["checkpoint"], str | os.PathLike):
                raise TypeError(f"checkpoint must be a path, got {type(kwargs['checkpoint']).__name__}")
            kwargs["checkpoint"] = Path(kwargs["checkpoint"])
        if kwargs.get("resume") and kwargs.get("checkpoint") is None:
            raise ValueError("resume=True needs checkpoint=PATH")
        if "data_parallel" in kwargs:
            if not isinstance(kwargs["data_parallel"], bool):
                raise TypeError(f"data_parallel must be a bool, got {kwargs['data_parallel']!r}")
            if kwargs["data_parallel"] and not (
                torch.distributed.is_available() and torch.distributed.is_initialized()
            ):
                raise ValueError(
                    "data_parallel=True needs an initialised torch.distributed process group: launch with "
                    "torchrun and call torch.distributed.init_process_group('gloo') (or 'nccl' on CUDA) first"
                )
        return cls(**kwargs)
