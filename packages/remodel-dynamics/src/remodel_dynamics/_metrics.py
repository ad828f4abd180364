"""Figures of merit of learned dynamics along trajectories: state error, energy error, energy drift."""

from __future__ import annotations

from collections.abc import Callable

import torch


def _check_pair(pred: torch.Tensor, true: torch.Tensor) -> None:
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have the same shape, got {tuple(pred.shape)} and {tuple(true.shape)}")


def state_mse(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Mean squared state error over trajectories, times and components.

    Parameters
    ----------
    pred, true : torch.Tensor
        Predicted and true trajectories of the same shape.

    Returns
    -------
    float

    Examples
    --------
    >>> state_mse(torch.zeros(2, 3, 2), torch.ones(2, 3, 2))
    1.0
    """
    _check_pair(pred, true)
    return float(((pred - true) ** 2).mean())


def energy_mse(energy: Callable[[torch.Tensor], torch.Tensor], pred: torch.Tensor, true: torch.Tensor) -> float:
    """Mean squared error of the true energy along predicted trajectories against the true ones.

    Parameters
    ----------
    energy : callable
        The true ``energy(x) -> H``, reducing the last axis.
    pred, true : torch.Tensor, shape (n, n_times, dim)
        Predicted and true trajectories.

    Returns
    -------
    float

    Examples
    --------
    >>> E = lambda x: (x**2).sum(-1)
    >>> energy_mse(E, torch.ones(1, 2, 1), torch.zeros(1, 2, 1))
    1.0
    """
    _check_pair(pred, true)
    return float(((energy(pred) - energy(true)) ** 2).mean())


def energy_drift(energy: Callable[[torch.Tensor], torch.Tensor], traj: torch.Tensor) -> torch.Tensor:
    """Relative energy drift ``|H(x_T) - H(x_0)| / |H(x_0)|`` of each trajectory (n, n_times, dim); the absolute
    drift ``|H(x_T) - H(x_0)|`` where ``H(x_0) = 0`` (a relative drift is undefined there).

    Parameters
    ----------
    energy : callable
        ``energy(x) -> H``, reducing the last axis.
    traj : torch.Tensor, shape (n, n_times, dim)
        Trajectories.

    Returns
    -------
    torch.Tensor, shape (n,)
        The drift of each trajectory.

    Examples
    --------
    >>> E = lambda x: (x**2).sum(-1)
    >>> energy_drift(E, torch.tensor([[[1.0], [2.0]]])).tolist()
    [3.0]
    """
    if traj.ndim < 2:
        raise ValueError(f"traj must have shape (..., n_times, dim), got {tuple(traj.shape)}")
    e0, e1 = energy(traj[..., 0, :]), energy(traj[..., -1, :])
    return (e1 - e0).abs() / torch.where(e0 != 0, e0.abs(), torch.ones_like(e0))
