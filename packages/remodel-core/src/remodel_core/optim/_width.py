"""Width coarsening of a plain MLP: the coarse network has half the hidden neurons per level.

Neuron prolongation duplicates each coarse neuron into a pair of fine neurons and halves the weights that
leave it, so the prolongated fine network computes exactly the coarse network's function (the nested
networks of multilevel training, Gratton, Kopaničáková & Toint, SIOPT 2023; Kopaničáková & Krause, SISC
2022); restriction averages the pairs' incoming weights and biases and sums their outgoing weights
(``R P = I``). Coarse levels are evaluated with the narrow weights swapped into the model's own ``Linear``
layers, so a coarse evaluation costs about the coarse network's size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from ._lbfgs import flat_params, set_flat_params
from ._levels import Closure, LevelHierarchy, _call, _check_levels

__all__ = ["WidthHierarchy"]


class WidthHierarchy(LevelHierarchy):
    """Width (neuron) coarsening of a network whose trainable layers are consecutive ``nn.Linear`` layers.

    Level ``l`` has every hidden width divided by ``2**l`` (input and output widths are kept). Prolongation of
    a correction from level ``l + 1`` to ``l`` repeats each coarse neuron's incoming weights and bias for its
    two fine neurons and splits each outgoing weight equally between them; restriction of parameters averages
    incoming weights and biases over the pair and sums outgoing weights; gradients are restricted by ``P^T``.

    Parameters
    ----------
    model : torch.nn.Module
        A network whose trainable parameters are those of consecutive ``nn.Linear`` layers with bias (e.g.
        :class:`remodel_core.nn.MLP`), applied in order.
    levels : int
        Number of levels (>= 1); every hidden width must be divisible by ``2 ** (levels - 1)``.

    Examples
    --------
    >>> from remodel_core.nn import MLP
    >>> H = WidthHierarchy(MLP(2, 1, width=8, depth=2), levels=3)
    >>> [H.size(level) for level in range(3)]
    [105, 37, 15]
    >>> x = H.get_fine()
    >>> e = torch.randn(H.size(1), dtype=torch.float64)
    >>> torch.allclose(H.restrict(0, H.prolongate(0, e)), e)
    True
    """

    def __init__(self, model: nn.Module, levels: int = 2) -> None:
        _check_levels(levels)
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise TypeError(f"width coarsening needs nn.Linear layers; {type(model).__name__} has none")
        trainable = [p for p in model.parameters() if p.requires_grad]
        own = [p for m in linears for p in (m.weight, m.bias) if p is not None]
        if any(m.bias is None for m in linears) or [id(p) for p in trainable] != [id(p) for p in own]:
            raise TypeError(
                "width coarsening needs a model whose trainable parameters are exactly its Linear "
                "layers' weights and biases, in order"
            )
        for a, b in zip(linears[:-1], linears[1:]):
            if a.out_features != b.in_features:
                raise ValueError(f"consecutive Linear layers must chain ({a.out_features} -> {b.in_features})")
        step = 2 ** (levels - 1)
        for m in linears[:-1]:
            if m.out_features % step:
                raise ValueError(f"hidden width {m.out_features} is not divisible by 2**(levels-1) = {step}")
        self.model, self.linears, self.n_levels = model, linears, levels
        self.params = own
        super().__init__()

    # shapes -------------------------------------------------------------------------------------------
    def _shapes(self, level: int) -> list[tuple[int, int]]:
        k, last = 2**level, len(self.linears) - 1
        return [
            (m.out_features // (k if i < last else 1), m.in_features // (k if i > 0 else 1))
            for i, m in enumerate(self.linears)
        ]

    def size(self, level: int) -> int:
        return sum(o * i + o for o, i in self._shapes(level))

    def cost(self, level: int) -> float:
        """Parameter count of level ``level`` over the fine one (about its evaluation cost ratio)."""
        return self.size(level) / self.size(0)

    def _split(self, level: int, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if x.numel() != self.size(level):
            raise ValueError(f"vector has {x.numel()} entries, level {level} has {self.size(level)}")
        out, pos = [], 0
        for o, i in self._shapes(level):
            W = x[pos : pos + o * i].view(o, i)
            pos += o * i
            out.append((W, x[pos : pos + o]))
            pos += o
        return out

    @staticmethod
    def _join(parts: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        return torch.cat([t.reshape(-1) for W, b in parts for t in (W, b)])

    # transfer -----------------------------------------------------------------------------------------
    def prolongate(self, level: int, e: torch.Tensor) -> torch.Tensor:
        self._check_level(level, coarse=True)
        last, out = len(self.linears) - 1, []
        for k, (W, b) in enumerate(self._split(level + 1, e)):
            if k < last:  # hidden outputs: each coarse neuron -> two fine neurons
                W, b = W.repeat_interleave(2, dim=0), b.repeat_interleave(2)
            if k > 0:  # hidden inputs: each outgoing weight split over the pair
                W = 0.5 * W.repeat_interleave(2, dim=1)
            out.append((W, b))
        return self._join(out)

    def restrict(self, level: int, x: torch.Tensor) -> torch.Tensor:
        self._check_level(level, coarse=True)
        last, out = len(self.linears) - 1, []
        for k, (W, b) in enumerate(self._split(level, x)):
            if k < last:
                W, b = 0.5 * (W[0::2] + W[1::2]), 0.5 * (b[0::2] + b[1::2])
            if k > 0:
                W = W[:, 0::2] + W[:, 1::2]
            out.append((W, b))
        return self._join(out)

    def restrict_gradient(self, level: int, g: torch.Tensor) -> torch.Tensor:
        self._check_level(level, coarse=True)
        last, out = len(self.linears) - 1, []
        for k, (W, b) in enumerate(self._split(level, g)):
            if k < last:
                W, b = W[0::2] + W[1::2], b[0::2] + b[1::2]
            if k > 0:
                W = 0.5 * (W[:, 0::2] + W[:, 1::2])
            out.append((W, b))
        return self._join(out)

    # evaluation ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _narrow(self, level: int, x: torch.Tensor) -> Iterator[None]:
        """The model's Linear layers temporarily hold the level-``level`` weights ``x``; restored on exit."""
        saved = [p.data for p in self.params]
        try:
            for m, (W, b) in zip(self.linears, self._split(level, x)):
                m.weight.data = W.to(saved[0].dtype).clone()
                m.bias.data = b.to(saved[0].dtype).clone()
            yield
        finally:
            for p, s in zip(self.params, saved):
                p.data = s
                p.grad = None

    def _evaluate(self, level: int, x: torch.Tensor, closure: Closure) -> tuple[float, torch.Tensor]:
        if level == 0:
            set_flat_params(self.params, x)
            for p in self.params:
                p.grad = None
            value = _call(closure)
            return float(value.detach()), self._grad()
        with self._narrow(level, x):
            for p in self.params:
                p.grad = None
            value = _call(closure)
            g = self._grad()
        return float(value.detach()), g

    def _grad(self) -> torch.Tensor:
        return torch.cat(
            [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).to(torch.float64) for p in self.params]
        )

    def get_fine(self) -> torch.Tensor:
        return flat_params(self.params)

    def set_fine(self, x: torch.Tensor) -> None:
        set_flat_params(self.params, x)
