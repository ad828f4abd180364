"""Noise models: ``y = noise(A x)`` with a seeded generator."""

from __future__ import annotations

import dataclasses
import math

import torch


def _check_clean(clean: torch.Tensor) -> None:
    if not isinstance(clean, torch.Tensor):
        raise TypeError(f"clean must be a torch.Tensor, got {type(clean).__name__}")


@dataclasses.dataclass(frozen=True)
class GaussianNoise:
    """Additive white Gaussian noise of standard deviation ``sigma`` (per real component for complex data).

    Parameters
    ----------
    sigma : float
        Standard deviation, ``>= 0``.

    Examples
    --------
    >>> y = GaussianNoise(0.1)(torch.zeros(100, 100, dtype=torch.float64), seed=0)
    >>> abs(float(y.std()) - 0.1) < 0.005
    True
    """

    sigma: float

    def __post_init__(self) -> None:
        s = self.sigma
        if isinstance(s, bool) or not isinstance(s, int | float) or not math.isfinite(s) or s < 0:
            raise ValueError(f"sigma must be a finite number >= 0, got {s!r}")

    def __call__(self, clean: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
        _check_clean(clean)
        gen = torch.Generator().manual_seed(seed)
        real = clean.real if clean.is_complex() else clean
        noise = torch.randn(real.shape, generator=gen, dtype=real.dtype).to(clean.device)
        if clean.is_complex():
            noise = torch.complex(noise, torch.randn(real.shape, generator=gen, dtype=real.dtype).to(clean.device))
        return clean + self.sigma * noise

    @property
    def std(self) -> float:
        """The noise standard deviation (for the discrepancy principle)."""
        return float(self.sigma)


@dataclasses.dataclass(frozen=True)
class PoissonNoise:
    """Photon-counting noise: ``y = Poisson(gain * A x) / gain`` for nonnegative ``A x``; the larger ``gain``
    (photons per unit intensity), the weaker the noise (variance ``A x / gain``).

    Parameters
    ----------
    gain : float
        Photons per unit intensity, ``> 0``.

    Examples
    --------
    >>> y = PoissonNoise(100.0)(torch.full((200, 200), 0.5, dtype=torch.float64), seed=0)
    >>> abs(float(y.mean()) - 0.5) < 0.01, abs(float(y.var()) - 0.005) < 0.001
    (True, True)
    """

    gain: float

    def __post_init__(self) -> None:
        g = self.gain
        if isinstance(g, bool) or not isinstance(g, int | float) or not math.isfinite(g) or g <= 0:
            raise ValueError(f"gain must be a finite number > 0, got {g!r}")

    def __call__(self, clean: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
        _check_clean(clean)
        if clean.is_complex():
            raise ValueError("clean must be real for Poisson noise")
        if bool((clean < 0).any()):
            raise ValueError("clean must be nonnegative for Poisson noise")
        gen = torch.Generator().manual_seed(seed)
        return torch.poisson(clean.cpu() * self.gain, generator=gen).to(clean) / self.gain
