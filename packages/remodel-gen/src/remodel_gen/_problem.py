"""The :class:`GenerativeProblem`: a target distribution known by samples or by a sampler."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from remodel_core import Problem

from ._checks import as_tensor
from ._model import as_shape

Sampler = Callable[..., Any]


def array_sampler(x: torch.Tensor, labels: torch.Tensor | None = None) -> Sampler:
    """A sampler ``sampler(n, generator)`` drawing rows of ``x`` uniformly with replacement (with their
    ``labels``: then it returns ``(x, y)``).

    Parameters
    ----------
    x : torch.Tensor
        The samples ``[N, *shape]``.
    labels : torch.Tensor, optional
        Their labels ``[N]``, drawn along with them.

    Returns
    -------
    callable
        ``sample(n, generator=None, *, dtype=None)``: ``[n, *shape]``, or ``(x, y)`` with labels.

    Examples
    --------
    >>> s = array_sampler(torch.arange(6.0).reshape(3, 2))
    >>> s(4, torch.Generator().manual_seed(0)).shape
    torch.Size([4, 2])
    """
    x = as_tensor("x", x)

    def sample(n: int, generator: torch.Generator | None = None, *, dtype: torch.dtype | None = None):
        idx = torch.randint(0, x.shape[0], (n,), generator=generator)
        out = x[idx] if dtype is None else x[idx].to(dtype)
        return out if labels is None else (out, labels[idx])

    return sample


@dataclasses.dataclass(frozen=True)
class GenerativeProblem(Problem):
    """Learn to transport a source distribution (standard normal by default) to a target distribution.

    Parameters
    ----------
    data : callable or tensor or array
        The target: a sampler ``data(n, generator) -> [n, *shape]`` (or ``(x, y)`` with labels), or a fixed
        set of samples ``[N, *shape]`` (tensor or numpy array).
    dim : int or tuple of int, optional
        Shape of one sample (an int for vectors); inferred from array data.
    source : callable or tensor or array, optional
        The source distribution, the same way; ``None`` is ``N(0, I)``.
    labels : tensor or array, optional
        Integer class labels ``[N]`` of array data (class-conditional generation).
    num_classes : int, optional
        Number of classes; inferred from ``labels``; needed for a labelled sampler.
    name : str
        A label for reports.

    Examples
    --------
    >>> from remodel_gen import two_moons, eight_gaussians
    >>> GenerativeProblem(two_moons, dim=2).draw(3, seed=0).shape
    torch.Size([3, 2])
    >>> prob = GenerativeProblem(torch.randn(100, 2), source=eight_gaussians)
    >>> prob.shape, prob.draw_source(4, seed=0).shape
    ((2,), torch.Size([4, 2]))
    """

    data: Any
    dim: int | tuple[int, ...] | None = None
    source: Any = None
    labels: Any = None
    num_classes: int | None = None
    name: str = "generative"

    # ------------------------------------------------------------------ shapes and samplers
    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one sample."""
        if self.dim is not None:
            return as_shape("dim", self.dim)
        if callable(self.data):
            raise ValueError("dim must be given when data is a sampler")
        return tuple(int(s) for s in as_tensor("data", self.data).shape[1:])

    @property
    def is_array(self) -> bool:
        """Whether the target is a fixed set of samples."""
        return not callable(self.data)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The array data (float) and labels (long or None)."""
        x = as_tensor("data", self.data)
        y = None
        if self.labels is not None:
            y = torch.as_tensor(
                np.asarray(self.labels) if not isinstance(self.labels, torch.Tensor) else self.labels
            ).long()
        return x, y

    @property
    def classes(self) -> int | None:
        """The number of classes (None for unconditional data)."""
        if self.num_classes is not None:
            return self.num_classes
        if self.labels is not None:
            return int(self.tensors()[1].max()) + 1
        return None

    def target_sampler(self) -> Sampler:
        """The target as a sampler (array data: rows drawn with replacement)."""
        if callable(self.data):
            return self.data
        x, y = self.tensors()
        return array_sampler(x, y)

    def source_sampler(self) -> Sampler | None:
        """The source as a sampler, or None for ``N(0, I)``."""
        if self.source is None or callable(self.source):
            return self.source
        return array_sampler(as_tensor("source", self.source))

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        if not callable(self.data) and not isinstance(self.data, (torch.Tensor, np.ndarray)):
            raise TypeError(
                f"data must be a sampler data(n, generator) or a tensor/array of samples, got "
                f"{type(self.data).__name__}"
            )
        if self.dim is not None:
            as_shape("dim", self.dim)
        shape = self.shape
        if self.is_array:
            x = as_tensor("data", self.data)
            if x.dim() < 2 or x.shape[0] < 2:
                raise ValueError(f"data must have shape [N, ...] with N >= 2 samples, got {list(x.shape)}")
            if self.dim is not None and tuple(x.shape[1:]) != shape:
                raise ValueError(f"data has samples of shape {list(x.shape[1:])} but dim={self.dim!r}")
            if self.labels is not None:
                y = self.labels
                if not isinstance(y, (torch.Tensor, np.ndarray)):
                    raise TypeError(f"labels must be a tensor or array of integers, got {type(y).__name__}")
                y = torch.as_tensor(np.asarray(y) if isinstance(y, np.ndarray) else y)
                if y.is_floating_point() or y.is_complex() or y.dim() != 1 or y.shape[0] != x.shape[0]:
                    raise ValueError(
                        f"labels must be {x.shape[0]} integers (one per sample), got {list(y.shape)} of {y.dtype}"
                    )
                if bool((y < 0).any()):
                    raise ValueError("labels must be >= 0")
                if self.num_classes is not None and int(y.max()) >= self.num_classes:
                    raise ValueError(f"labels must be < num_classes={self.num_classes}, got {int(y.max())}")
        elif self.labels is not None:
            raise ValueError("labels go with array data; a labelled sampler returns (x, y) and needs num_classes")
        if self.num_classes is not None and (
            isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or self.num_classes < 1
        ):
            raise ValueError(f"num_classes must be a positive integer, got {self.num_classes!r}")
        out = self.target_sampler()(2, torch.Generator().manual_seed(0))
        labelled = isinstance(out, tuple)
        x = out[0] if labelled else out
        if not isinstance(x, torch.Tensor) or tuple(x.shape) != (2, *shape):
            got = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"data(n, generator) must return a tensor of shape [n, dim={self.dim}], got {got}")
        if labelled and self.classes is None:
            raise ValueError("the sampler returns labels (x, y): give num_classes")
        if self.source is not None:
            if not callable(self.source) and not isinstance(self.source, (torch.Tensor, np.ndarray)):
                raise TypeError(
                    f"source must be a sampler or a tensor/array of samples, got {type(self.source).__name__}"
                )
            s = self.source_sampler()(2, torch.Generator().manual_seed(0))
            s = s[0] if isinstance(s, tuple) else s
            if not isinstance(s, torch.Tensor) or tuple(s.shape) != (2, *shape):
                got = list(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
                raise ValueError(f"source must give samples of the data's shape {list(shape)}, got {got}")

    # ------------------------------------------------------------------ draws
    def draw(self, n: int, *, seed: int = 0) -> torch.Tensor:
        """``n`` samples of the target with a seeded generator (labels dropped)."""
        out = self.target_sampler()(n, torch.Generator().manual_seed(seed))
        return out[0] if isinstance(out, tuple) else out

    def draw_source(self, n: int, *, seed: int = 0) -> torch.Tensor:
        """``n`` samples of the source with a seeded generator."""
        from ._model import draw_source

        return draw_source(self.source_sampler(), n, self.shape, torch.Generator().manual_seed(seed), torch.float32)

    def summary(self) -> dict[str, Any]:
        return {
            "problem": type(self).__name__,
            "name": self.name,
            "shape": self.shape,
            "classes": self.classes,
            "source": "N(0, I)" if self.source is None else "given",
        }
