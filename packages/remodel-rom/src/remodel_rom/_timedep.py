"""POD-Galerkin reduction of the time-dependent models (heat, Burgers with DEIM)."""

from __future__ import annotations

from typing import Any

import numpy as np
from remodel_core import ProgressBar, ReturnCode, Solution, SolveContext, want_progress

from ._burgers import BurgersModel, reduce_burgers
from ._heat import InstationaryAffineModel, ReducedInstationaryModel
from ._pod import POD


def reduce_instationary(alg: Any, fom: Any, mus: np.ndarray, ctx: SolveContext) -> Solution:
    """Snapshot trajectories on the training set, POD (and DEIM for Burgers), Galerkin projection."""
    if not isinstance(fom, BurgersModel | InstationaryAffineModel):
        raise TypeError(f"PODGalerkin cannot reduce a {type(fom).__name__}")
    trajectories = []
    with ProgressBar("snapshots", len(mus), enabled=want_progress(ctx.options.progress)) as bar:
        for mu in mus:
            trajectories.append(fom.solve(mu))
            bar.advance()
    ctx.stats["fom_solves"] = len(mus)
    if isinstance(fom, BurgersModel):
        rom: Any = reduce_burgers(fom, trajectories, alg.basis_size, alg.energy, alg.deim_size)
    else:
        pod = POD(n_components=alg.basis_size, energy=alg.energy).fit(np.concatenate(trajectories))
        rom = ReducedInstationaryModel(fom, pod.components_.T)
    ctx.stats["basis_size"] = rom.basis_size
    return Solution(u=rom, retcode=ReturnCode.Success, stats=dict(ctx.stats), history=ctx.history)
