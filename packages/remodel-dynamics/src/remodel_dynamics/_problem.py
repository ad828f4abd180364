"""The trajectory dataset of a Hamiltonian system as a :class:`remodel_core.Problem`."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
from remodel_core import Problem, TrainingProblem, check_positive

from ._models import DynamicsModel, _param_dtype, time_tolerance
from ._systems import HamiltonianSystem

TARGETS = ("derivatives", "pairs")


@dataclasses.dataclass(frozen=True)
class HamiltonianProblem(Problem):
    """Learn the dynamics of a Hamiltonian system from sampled trajectories.

    Holds observed states ``x`` (possibly noisy) on a common time grid and their time derivatives ``dx``
    (exact at the noise-free states, as in Greydanus et al. 2019). :meth:`discretize` turns it, with a model,
    into a :class:`remodel_core.TrainingProblem` that any core optimizer trains through ``solve``.

    Parameters
    ----------
    system : HamiltonianSystem
        The system the data come from (its true ``H`` evaluates learned models).
    t : torch.Tensor, shape (n_times,)
        Sample times.
    x : torch.Tensor, shape (n_trajectories, n_times, 2 * dof)
        Observed states ``(q, p)``.
    dx : torch.Tensor, shape (n_trajectories, n_times, 2 * dof)
        Time derivatives at the samples.
    x_clean : torch.Tensor, optional
        Noise-free states (same shape as ``x``).
    noise : float
        Standard deviation of the Gaussian observation noise in ``x``.

    Examples
    --------
    >>> from remodel_dynamics import MassSpring
    >>> prob = HamiltonianProblem.generate(MassSpring(), n_trajectories=4, n_times=30, seed=0)
    >>> prob.x.shape, prob.dt
    (torch.Size([4, 30, 2]), 0.1)
    """

    system: HamiltonianSystem
    t: torch.Tensor
    x: torch.Tensor
    dx: torch.Tensor
    x_clean: torch.Tensor | None = None
    noise: float = 0.0

    @classmethod
    def generate(
        cls,
        system: HamiltonianSystem,
        *,
        n_trajectories: int = 50,
        t_span: tuple[float, float] = (0.0, 3.0),
        n_times: int = 30,
        noise: float = 0.0,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
    ) -> HamiltonianProblem:
        """Sample ``n_trajectories`` initial states, integrate them accurately and add observation noise.

        The grid has ``n_times`` points ``t_span[0] + k dt`` with ``dt = (t_span[1] - t_span[0]) / n_times``
        (Greydanus et al.'s convention); derivatives are the exact vector field at the clean states.
        """
        if not isinstance(system, HamiltonianSystem):
            raise TypeError(f"system must be a HamiltonianSystem, got {type(system).__name__}")
        check_positive("n_trajectories", n_trajectories, integer=True)
        check_positive("n_times", n_times, integer=True)
        if n_times < 2:
            raise ValueError(f"n_times must be >= 2, got {n_times}")
        if (
            not isinstance(t_span, tuple | list)
            or len(t_span) != 2
            or not all(isinstance(v, int | float) and math.isfinite(v) for v in t_span)
        ):
            raise ValueError(f"t_span must be a pair of finite times (start, end), got {t_span!r}")
        if not t_span[1] > t_span[0]:
            raise ValueError(f"t_span must be increasing, got {t_span!r}")
        check_positive("noise", noise, allow_zero=True)
        if not math.isfinite(noise):
            raise ValueError(f"noise must be finite, got {noise!r}")
        check_positive("seed", seed, allow_zero=True, integer=True)
        rng = np.random.default_rng(seed)
        x0 = system.sample_initial(n_trajectories, rng)
        dt = (t_span[1] - t_span[0]) / n_times
        t = t_span[0] + dt * torch.arange(n_times, dtype=torch.float64)
        clean = system.flow(x0, t)
        dx = system.vector_field(clean)
        x = clean + noise * torch.from_numpy(rng.standard_normal(clean.shape))
        return cls(
            system=system, t=t.to(dtype), x=x.to(dtype), dx=dx.to(dtype), x_clean=clean.to(dtype), noise=float(noise)
        )

    # checks and views ---------------------------------------------------------------------------------
    def validate(self) -> None:
        if not isinstance(self.system, HamiltonianSystem):
            raise TypeError(f"system must be a HamiltonianSystem, got {type(self.system).__name__}")
        d = 2 * self.system.dof
        for name in ("t", "x", "dx"):
            if not isinstance(getattr(self, name), torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(getattr(self, name)).__name__}")
        if self.t.ndim != 1 or self.t.numel() < 2:
            raise ValueError(f"t must be a 1-d tensor of at least 2 times, got shape {tuple(self.t.shape)}")
        if not bool((torch.diff(self.t) > 0).all()):
            raise ValueError("t must be strictly increasing")
        expected = (self.x.shape[0], self.t.numel(), d)
        if self.x.ndim != 3 or tuple(self.x.shape) != expected:
            raise ValueError(
                f"x must have shape (n_trajectories, n_times={self.t.numel()}, 2 * dof={d}), got {tuple(self.x.shape)}"
            )
        if tuple(self.dx.shape) != tuple(self.x.shape):
            raise ValueError(f"dx must have the shape of x {tuple(self.x.shape)}, got {tuple(self.dx.shape)}")
        if self.x_clean is not None and tuple(self.x_clean.shape) != tuple(self.x.shape):
            raise ValueError(f"x_clean must have the shape of x {tuple(self.x.shape)}, got {tuple(self.x_clean.shape)}")
        if not (torch.isfinite(self.x).all() and torch.isfinite(self.dx).all()):
            raise ValueError("x and dx must be finite")
        if self.x_clean is not None and not torch.isfinite(self.x_clean).all():
            raise ValueError("x_clean must be finite (it contains NaN or Inf)")

    def __post_init__(self) -> None:
        self.validate()

    @property
    def n_trajectories(self) -> int:
        return int(self.x.shape[0])

    @property
    def dt(self) -> float:
        """The (uniform) time step of the grid."""
        steps = torch.diff(self.t)
        if not torch.allclose(steps, steps[0], rtol=1e-9, atol=time_tolerance(self.t)):
            raise ValueError("the time grid is not uniform")
        return round(float(steps[0]), 12)

    def points(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All samples flattened: ``(x, dx)`` of shape (n_trajectories * n_times, 2 * dof)."""
        d = self.x.shape[-1]
        return self.x.reshape(-1, d), self.dx.reshape(-1, d)

    def pairs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Consecutive states ``(x_k, x_{k+1})`` one step ``dt`` apart, flattened over trajectories."""
        d = self.x.shape[-1]
        return self.x[:, :-1].reshape(-1, d), self.x[:, 1:].reshape(-1, d)

    def lagrangian_points(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Samples in velocity form for Lagrangian models: states ``s = (q, v)`` and accelerations ``a``.

        ``v = M^{-1} p`` and ``a = M^{-1} p'`` (constant mass matrix).
        """
        x, dx = self.points()
        dof = self.system.dof
        return self.system.to_velocity(x), self.system.inverse_mass(x) * dx[:, dof:]

    def split(self, test_fraction: float = 0.5, seed: int = 0) -> tuple[HamiltonianProblem, HamiltonianProblem]:
        """Random split by trajectories into ``(train, test)``."""
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
        n = self.n_trajectories
        n_test = int(round(test_fraction * n))
        if n_test < 1 or n_test >= n:
            raise ValueError(f"test_fraction={test_fraction} leaves an empty split of {n} trajectories")
        perm = torch.from_numpy(np.random.default_rng(seed).permutation(n))
        parts = []
        for idx in (perm[n_test:], perm[:n_test]):
            parts.append(
                dataclasses.replace(
                    self, x=self.x[idx], dx=self.dx[idx], x_clean=None if self.x_clean is None else self.x_clean[idx]
                )
            )
        return parts[0], parts[1]

    def discretize(
        self,
        model: Any,
        *,
        target: str | None = None,
        method: str | None = None,
        batch_size: int | None = None,
        dtype: torch.dtype | None = None,
    ) -> TrainingProblem:
        """The :class:`remodel_core.TrainingProblem` of fitting ``model`` to these data (the one entry point).

        Parameters
        ----------
        model : DynamicsModel
            HNN, LNN, SympNet or baseline network.
        target : {"derivatives", "pairs"}, optional
            ``"derivatives"``: match the model's vector field to ``dx`` (continuous-time learning).
            ``"pairs"``: match one step of the model's flow map over ``dt`` to the next sample
            (discrete-time learning; vector-field models take one step of the integrator ``method`` inside
            the loss, e.g. implicit midpoint for a HNN). Default: the model's first target
            (``"derivatives"``, or ``"pairs"`` for a SympNet).
        method : str, optional
            Integrator of the ``"pairs"`` loss (model default when ``None``).
        batch_size : int, optional
            Minibatch size.
        dtype : torch.dtype, optional
            Cast the data (default: the dtype of the model's parameters).

        Examples
        --------
        >>> from remodel_dynamics import HNN, MassSpring
        >>> data = HamiltonianProblem.generate(MassSpring(), n_trajectories=2, n_times=5)
        >>> data.discretize(HNN(2, width=8, depth=1).double()).name
        'hnn-mass_spring-derivatives'
        """
        if not isinstance(model, DynamicsModel):
            raise TypeError(f"model must be a remodel_dynamics DynamicsModel, got {type(model).__name__}")
        target = model.targets[0] if target is None else target
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        if model.dim != self.x.shape[-1]:
            raise ValueError(f"model works on states of dimension {model.dim}, the data have {self.x.shape[-1]}")
        if dtype is not None and not isinstance(dtype, torch.dtype):
            raise TypeError(f"dtype must be a torch.dtype, got {type(dtype).__name__}")
        data, loss, name = model._training_data(self, target, method)
        data = tuple(d.to(dtype or _param_dtype(model)) for d in data)
        return TrainingProblem(model=model, loss=loss, data=data, batch_size=batch_size, name=name)

    def summary(self) -> dict[str, Any]:
        return {
            "problem": type(self).__name__,
            "system": self.system.name,
            "trajectories": self.n_trajectories,
            "times": int(self.t.numel()),
            "noise": self.noise,
        }
