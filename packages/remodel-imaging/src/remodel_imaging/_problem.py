"""The :class:`InverseProblem`: recover ``x`` from ``y = A x + noise``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from remodel_core import Problem

from ._operator import LinearOperator


@dataclasses.dataclass(frozen=True)
class InverseProblem(Problem):
    """A linear inverse problem ``y = A x + e`` with Gaussian noise ``e`` of standard deviation ``noise_sigma``.

    Parameters
    ----------
    operator : LinearOperator
        The forward operator ``A``.
    y : torch.Tensor
        The measurements, shape ``operator.out_shape`` (complex for complex-valued operators).
    noise_sigma : float
        Standard deviation of the noise (per real component), ``>= 0``.
    x_true : torch.Tensor, optional
        The ground truth, when known: algorithms then monitor the PSNR against it.

    Examples
    --------
    >>> from remodel_imaging import GaussianBlur
    >>> x = torch.rand(16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> prob = InverseProblem.simulate(GaussianBlur((16, 16), sigma=1.0), x, noise_sigma=0.01, seed=0)
    >>> prob.y.shape
    torch.Size([16, 16])
    """

    operator: LinearOperator
    y: torch.Tensor
    noise_sigma: float = 0.0
    x_true: torch.Tensor | None = None

    def validate(self) -> None:
        if not isinstance(self.operator, LinearOperator):
            raise TypeError(f"operator must be a remodel_imaging.LinearOperator, got {type(self.operator).__name__}")
        if not isinstance(self.y, torch.Tensor):
            raise TypeError(f"y must be a torch.Tensor, got {type(self.y).__name__}")
        if not (self.y.is_floating_point() or self.y.is_complex()):
            raise TypeError(
                f"y must be a floating-point or complex tensor (scale integer images first), got {self.y.dtype}"
            )
        if tuple(self.y.shape) != self.operator.out_shape:
            raise ValueError(
                f"y must have the operator's output shape {list(self.operator.out_shape)}, got {list(self.y.shape)}"
            )
        if not bool(torch.isfinite(self.y).all()):
            raise ValueError("y must be finite")
        sigma = self.noise_sigma
        if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not math.isfinite(sigma) or sigma < 0:
            raise ValueError(f"noise_sigma must be a finite number >= 0, got {sigma!r}")
        if self.x_true is not None:
            if not isinstance(self.x_true, torch.Tensor) or tuple(self.x_true.shape) != self.operator.in_shape:
                raise ValueError(
                    f"x_true must be a tensor of the operator's input shape "
                    f"{list(self.operator.in_shape)}, got {list(getattr(self.x_true, 'shape', []))}"
                )
            if not (self.x_true.is_floating_point() or self.x_true.is_complex()):
                raise TypeError(
                    "x_true must be a floating-point or complex tensor (scale integer images first), "
                    f"got {self.x_true.dtype}"
                )
            if not bool(torch.isfinite(self.x_true).all()):
                raise ValueError("x_true must be finite (it is the reference of the PSNR monitored by the algorithms)")

    @classmethod
    def simulate(
        cls, operator: LinearOperator, x_true: torch.Tensor, *, noise_sigma: float, seed: int = 0
    ) -> InverseProblem:
        """Measurements ``y = A x_true + noise_sigma * n`` with seeded standard normal ``n`` (complex for a
        complex range, ``noise_sigma`` per real component)."""
        gen = torch.Generator().manual_seed(seed)
        clean = operator.apply(x_true)
        real = clean.real if clean.is_complex() else clean
        noise = torch.randn(real.shape, generator=gen, dtype=real.dtype)
        if clean.is_complex():
            noise = torch.complex(noise, torch.randn(real.shape, generator=gen, dtype=real.dtype))
        prob = cls(operator=operator, y=clean + noise_sigma * noise, noise_sigma=noise_sigma, x_true=x_true)
        prob.validate()
        return prob

    def summary(self) -> dict[str, Any]:
        return {"problem": type(self).__name__, "operator": repr(self.operator), "noise_sigma": self.noise_sigma}
