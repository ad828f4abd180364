"""Adam with a cosine learning-rate decay, the usual schedule of flow-matching and diffusion training."""

from __future__ import annotations

import dataclasses
import math

import torch
from remodel_core import OptimizerAlgorithm, check_positive
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
