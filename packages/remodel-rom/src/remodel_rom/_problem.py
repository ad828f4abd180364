"""The :class:`ReductionProblem`: reduce a full-order model over a training set of parameters."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from remodel_core import Problem


@dataclasses.dataclass(frozen=True)
class ReductionProblem(Problem):
    """Reduce the full-order model ``fom`` over a training set.

    Parameters
    ----------
    fom : full-order model
        A :class:`StationaryAffineModel`, :class:`InstationaryAffineModel` or :class:`BurgersModel`.
    training : int or ndarray, shape (n, p)
        The training parameters, or how many to draw uniformly (with the solve's ``seed``).

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_rom import thermal_block, RBGreedy
    >>> fom = thermal_block(n=16)
    >>> rom = solve(ReductionProblem(fom, training=30), RBGreedy(basis_size=6)).u
    >>> rom.basis_size, bool(rom.estimate_error([0.3, 0.2, 0.9, 0.5]) > 0)
    (6, True)
    """

    fom: Any
    training: int | np.ndarray = 100

    def validate(self) -> None:
        if not hasattr(self.fom, "solve") or not hasattr(self.fom, "parameter_ranges"):
            raise TypeError(
                f"fom must be a full-order model with solve() and parameter_ranges, got {type(self.fom).__name__}"
            )
        t = self.training
        if isinstance(t, bool):
            raise TypeError("training must be a positive integer or an array of parameters, got a bool")
        if isinstance(t, int | np.integer):
            if t < 1:
                raise ValueError(f"training must be a positive integer, got {t}")
        else:
            arr = np.asarray(t, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[1] != self.fom.n_parameters or len(arr) == 0:
                raise ValueError(f"training must have shape (n, {self.fom.n_parameters}), got {arr.shape}")

    def training_set(self, rng: np.random.Generator) -> np.ndarray:
        """The training parameters (drawn with ``rng`` when ``training`` is a count)."""
        if isinstance(self.training, int | np.integer):
            return self.fom.sample(int(self.training), rng)
        return np.asarray(self.training, dtype=np.float64)

    def summary(self) -> dict[str, Any]:
        n = self.training if isinstance(self.training, int) else len(self.training)
        return {"problem": "ReductionProblem", "fom": repr(self.fom), "training": n}
