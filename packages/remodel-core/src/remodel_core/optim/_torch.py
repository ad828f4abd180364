"""PyTorch's own optimizers as algorithms for :func:`remodel_core.solve`."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from .._algorithm import check_positive
from .._training import OptimizerAlgorithm


@dataclasses.dataclass(frozen=True, kw_only=True)
class Adam(OptimizerAlgorithm):
    """Adam (Kingma & Ba, ICLR 2015), ``torch.optim.Adam``.

    One iteration of ``solve`` is one Adam step on one minibatch (or the full data).

    Parameters
    ----------
    lr : float, default 1e-3
        Step size, ``> 0``.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates of the first and second moment averages, each in ``[0, 1)``.
    eps : float, default 1e-8
        Added to the root of the second moment in the denominator, ``> 0``.
    weight_decay : float, default 0.0
        L2 penalty coefficient (added to the gradient), ``>= 0``.

    Examples
    --------
    >>> import torch
    >>> from remodel_core import TrainingProblem, solve
    >>> prob = TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m: (m.weight - 2).pow(2).sum())
    >>> round(float(solve(prob, Adam(lr=0.1), maxiters=200).u.weight), 3)
    2.0
    """

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0

    def validate(self) -> None:
        check_positive("lr", self.lr)
        check_positive("eps", self.eps)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(
            [p for p in model.parameters() if p.requires_grad],
            lr=self.lr,
            betas=self.betas,
            eps=self.eps,
            weight_decay=self.weight_decay,
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class SGD(OptimizerAlgorithm):
    """Stochastic gradient descent with optional (Nesterov) momentum, ``torch.optim.SGD``.

    Parameters
    ----------
    lr : float, default 1e-2
        Step size, ``> 0``.
    momentum : float, default 0.0
        Heavy-ball momentum factor, ``>= 0``.
    nesterov : bool, default False
        Nesterov's momentum (Sutskever et al. 2013); needs ``momentum > 0``.
    weight_decay : float, default 0.0
        L2 penalty coefficient (added to the gradient), ``>= 0``.

    Examples
    --------
    >>> SGD(lr=0.1, momentum=0.9).momentum
    0.9
    """

    lr: float = 1e-2
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0

    def validate(self) -> None:
        check_positive("lr", self.lr)
        check_positive("momentum", self.momentum, allow_zero=True)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.SGD(
            [p for p in model.parameters() if p.requires_grad],
            lr=self.lr,
            momentum=self.momentum,
            nesterov=self.nesterov,
            weight_decay=self.weight_decay,
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class LBFGS(OptimizerAlgorithm):
    """PyTorch's ``torch.optim.LBFGS`` (Liu & Nocedal 1989), the baseline PINN users have today.

    One iteration of ``solve`` is one ``step``, which runs up to ``max_iter`` L-BFGS iterations.
    For the hardened variant see :class:`remodel_core.optim.RobustLBFGS`.

    Parameters
    ----------
    lr : float, default 1.0
        Initial step length of each line search (or the fixed step without one), ``> 0``.
    max_iter : int, default 20
        L-BFGS iterations per ``step`` (per iteration of ``solve``), positive.
    history_size : int, default 50
        Number of curvature pairs kept, positive.
    line_search_fn : {"strong_wolfe", None}, default "strong_wolfe"
        torch's strong-Wolfe line search, or ``None`` for fixed steps of ``lr``.
    tolerance_grad : float, default 1e-7
        A ``step`` stops when the largest gradient entry is at most this, ``>= 0``.
    tolerance_change : float, default 1e-9
        A ``step`` stops when the change of the loss or of the parameters is at most this, ``>= 0``.

    Examples
    --------
    >>> LBFGS(history_size=50).line_search_fn
    'strong_wolfe'
    """

    lr: float = 1.0
    max_iter: int = 20
    history_size: int = 50
    line_search_fn: str | None = "strong_wolfe"
    tolerance_grad: float = 1e-7
    tolerance_change: float = 1e-9

    def validate(self) -> None:
        check_positive("lr", self.lr)
        check_positive("max_iter", self.max_iter, integer=True)
        check_positive("history_size", self.history_size, integer=True)
        check_positive("tolerance_grad", self.tolerance_grad, allow_zero=True)
        check_positive("tolerance_change", self.tolerance_change, allow_zero=True)
        if self.line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"line_search_fn must be None or 'strong_wolfe', got {self.line_search_fn!r}")

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.LBFGS(
            [p for p in model.parameters() if p.requires_grad],
            lr=self.lr,
            max_iter=self.max_iter,
            history_size=self.history_size,
            line_search_fn=self.line_search_fn,
            tolerance_grad=self.tolerance_grad,
            tolerance_change=self.tolerance_change,
        )
