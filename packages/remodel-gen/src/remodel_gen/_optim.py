"""Adam with a cosine learning-rate decay and an exponential moving average of the weights: the usual
schedule and sampling weights of flow-matching and diffusion training."""

from __future__ import annotations

import dataclasses
import math

import torch
from remodel_core import OptimizerAlgorithm, ReturnCode, Solution, SolveContext, TrainingProblem, check_positive, train
from torch import nn


class _CosineAdamOptimizer(torch.optim.Adam):
    """``torch.optim.Adam`` whose learning rate at step ``k`` is
    ``lr_min + (lr - lr_min) (1 + cos(pi min(k, K) / K)) / 2``; ``k`` is read from Adam's own step count,
    so a checkpointed optimizer resumes on the schedule."""

    def __init__(self, params, *, lr: float, decay_steps: int, final_lr_ratio: float, **kwargs) -> None:
        super().__init__(params, lr=lr, **kwargs)
        self.base_lr, self.decay_steps, self.final_lr_ratio = lr, decay_steps, final_lr_ratio

    def lr_at(self, k: int) -> float:
        """The learning rate of step ``k`` (0-based)."""
        frac = min(k, self.decay_steps) / self.decay_steps
        low = self.base_lr * self.final_lr_ratio
        return low + (self.base_lr - low) * 0.5 * (1.0 + math.cos(math.pi * frac))

    def step(self, closure=None):  # type: ignore[override]
        first = self.param_groups[0]["params"][0]
        k = int(self.state[first]["step"]) if first in self.state and "step" in self.state[first] else 0
        for group in self.param_groups:
            group["lr"] = self.lr_at(k)
        return super().step(closure)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CosineAdam(OptimizerAlgorithm):
    """Adam (Kingma & Ba 2015) with cosine learning-rate decay (Loshchilov & Hutter, "SGDR", ICLR 2017)
    from ``lr`` to ``final_lr_ratio * lr`` over ``decay_steps`` steps, then constant.

    Parameters
    ----------
    lr : float
        Initial learning rate.
    decay_steps : int
        Steps of the decay (match it to the iteration budget of one training stage).
    final_lr_ratio : float
        Final learning rate as a fraction of ``lr``.
    betas, eps, weight_decay
        As in ``torch.optim.Adam``.

    Examples
    --------
    >>> opt = CosineAdam(lr=1e-2, decay_steps=10).make_optimizer(torch.nn.Linear(1, 1))
    >>> round(opt.lr_at(0), 6), round(opt.lr_at(5), 6), round(opt.lr_at(20), 6)
    (0.01, 0.00505, 0.0001)
    """

    lr: float = 1e-3
    decay_steps: int = 1000
    final_lr_ratio: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0

    def validate(self) -> None:
        check_positive("lr", self.lr)
        check_positive("decay_steps", self.decay_steps, integer=True)
        check_positive("final_lr_ratio", self.final_lr_ratio, allow_zero=True)
        if self.final_lr_ratio > 1:
            raise ValueError(f"final_lr_ratio must be <= 1, got {self.final_lr_ratio!r}")
        check_positive("eps", self.eps)
        check_positive("weight_decay", self.weight_decay, allow_zero=True)
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return _CosineAdamOptimizer(
            [p for p in model.parameters() if p.requires_grad],
            lr=self.lr,
            decay_steps=self.decay_steps,
            final_lr_ratio=self.final_lr_ratio,
            betas=self.betas,
            eps=self.eps,
            weight_decay=self.weight_decay,
        )


class _EMAOptimizer(torch.optim.Optimizer):
    """An optimizer that steps ``inner`` and then updates an exponential moving average of the parameters:
    ``a <- d_k a + (1 - d_k) p`` with ``d_k = decay`` (or ``min(decay, (1 + k) / (10 + k))`` with warm-up,
    ``k`` the number of updates so far). The averages and ``k`` are part of ``state_dict`` (bit-exact resume)."""

    def __init__(self, params: list[torch.Tensor], inner: torch.optim.Optimizer, *, decay: float, warmup: bool):
        super().__init__(params, {})
        self.param_groups = inner.param_groups  # the inner optimizer's groups: its lr and options, one view
        self.inner, self.decay, self.warmup = inner, decay, warmup
        self.params = params
        self.averages = [p.detach().clone() for p in params]
        self.updates = 0

    @property
    def converged(self) -> bool:
        return bool(getattr(self.inner, "converged", False))

    @property
    def failed(self) -> bool:
        return bool(getattr(self.inner, "failed", False))

    def decay_at(self, k: int) -> float:
        """The decay ``d_k`` of update ``k`` (0-based)."""
        return min(self.decay, (1.0 + k) / (10.0 + k)) if self.warmup else self.decay

    def step(self, closure=None):  # type: ignore[override]
        out = self.inner.step(closure)
        d = self.decay_at(self.updates)
        with torch.no_grad():
            if all(bool(torch.isfinite(p).all()) for p in self.params):  # a diverged step does not enter the mean
                for a, p in zip(self.averages, self.params, strict=True):
                    a.mul_(d).add_(p.detach(), alpha=1.0 - d)
                self.updates += 1
        return out

    def state_dict(self) -> dict:  # type: ignore[override]
        averages = [a.clone() for a in self.averages]
        return {"inner": self.inner.state_dict(), "averages": averages, "updates": self.updates}

    def load_state_dict(self, state_dict: dict) -> None:  # type: ignore[override]
        if set(state_dict) != {"inner", "averages", "updates"} or len(state_dict["averages"]) != len(self.averages):
            raise ValueError("state_dict is not the state of an EMA optimizer over these parameters")
        self.inner.load_state_dict(state_dict["inner"])
        with torch.no_grad():
            for a, s in zip(self.averages, state_dict["averages"], strict=True):
                a.copy_(s)
        self.updates = int(state_dict["updates"])

    @torch.no_grad()
    def copy_averages_to(self, model: nn.Module) -> None:
        """Write the averaged weights into ``model`` (the model this optimizer trains, or a copy of it)."""
        params = [p for p in model.parameters() if p.requires_grad]
        if len(params) != len(self.averages):
            raise ValueError("model does not have the parameters this optimizer averages")
        for p, a in zip(params, self.averages, strict=True):
            p.copy_(a)


@dataclasses.dataclass(frozen=True, kw_only=True)
class EMA(OptimizerAlgorithm):
    """Any optimizer plus an exponential moving average (EMA) of the weights, which the trained model gets.

    After every step of ``optimizer`` the average is updated, ``a <- d a + (1 - d) θ``; when training ends
    the model returned by ``solve`` (and by :class:`FlowMatching` / :class:`Diffusion`, whose ``optimizer``
    may be an ``EMA``) carries the averaged weights ``a``. Averaging the iterates removes the minibatch
    noise of the last steps (Polyak & Juditsky 1992); the EMA of the weights is the standard way to
    sample from diffusion and flow-matching models (Ho, Jain & Abbeel 2020; Song et al. 2021; Tong et al.
    2024, whose torchcfm examples sample from an EMA). With ``warmup`` the decay of update ``k`` is
    ``min(decay, (1 + k) / (10 + k))``, so the first iterates (the initialisation) are forgotten quickly.

    Parameters
    ----------
    optimizer : OptimizerAlgorithm
        The optimizer that takes the steps (e.g. :class:`CosineAdam`).
    decay : float
        In ``[0, 1)``: the weight of the old average (``1 / (1 - decay)`` steps is its time scale).
    warmup : bool
        Use ``min(decay, (1 + k) / (10 + k))`` as the decay of update ``k``.

    Examples
    --------
    >>> from remodel_core import TrainingProblem, solve
    >>> from remodel_core.optim import Adam
    >>> x = torch.linspace(-1, 1, 32)[:, None]
    >>> prob = TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m, x: (m(x) - 2 * x).pow(2).mean(), data=(x,))
    >>> sol = solve(prob, EMA(optimizer=Adam(lr=0.1), decay=0.9), maxiters=300, seed=0)
    >>> round(sol.u.weight.item(), 2)
    2.0
    """

    optimizer: OptimizerAlgorithm
    decay: float = 0.999
    warmup: bool = True

    def validate(self) -> None:
        if not isinstance(self.optimizer, OptimizerAlgorithm):
            raise TypeError(f"optimizer must be a remodel_core OptimizerAlgorithm, got {type(self.optimizer).__name__}")
        if isinstance(self.optimizer, EMA):
            raise TypeError("optimizer must not itself be an EMA (one average of the weights)")
        self.optimizer.validate()
        if isinstance(self.decay, bool) or not isinstance(self.decay, (int, float)) or not 0.0 <= self.decay < 1.0:
            raise ValueError(f"decay must be a number in [0, 1), got {self.decay!r}")
        if not isinstance(self.warmup, bool):
            raise TypeError(f"warmup must be a bool, got {type(self.warmup).__name__}")

    def make_optimizer(self, model: nn.Module) -> _EMAOptimizer:
        params = [p for p in model.parameters() if p.requires_grad]
        return _EMAOptimizer(params, self.optimizer.make_optimizer(model), decay=self.decay, warmup=self.warmup)

    def _solve(self, problem, ctx):  # type: ignore[no-untyped-def]
        return train_averaged(problem, self, ctx)


def train_averaged(problem: TrainingProblem, optimizer: OptimizerAlgorithm, ctx: SolveContext) -> Solution:
    """``remodel_core.train`` with ``optimizer``; when it is an :class:`EMA`, the returned model carries the
    averaged weights (unless the run diverged: then the last good iterate is kept, as ``train`` returns it)."""
    made: list[torch.optim.Optimizer] = []

    def make(model: nn.Module) -> torch.optim.Optimizer:
        made.append(optimizer.make_optimizer(model))
        return made[-1]

    sol = train(problem, make, ctx, algorithm=optimizer)
    opt = made[-1] if made else None
    if isinstance(opt, _EMAOptimizer) and sol.retcode is not ReturnCode.Diverged and opt.updates:
        opt.copy_averages_to(sol.u)
    return sol
