"""Decomposed curvature: neuron-group decompositions, automatic sizing to a dense-memory budget, and a
block-diagonal dense inverse Hessian with one self-scaled quasi-Newton matrix per subdomain.

The memory of the curvature is ``sum_i n_i^2`` numbers instead of ``n^2`` (``n_i`` the size of subdomain
``i``): the decomposed curvature of the Schwarz-preconditioned quasi-Newton methods (Kopaničáková, Kothari,
Karniadakis & Krause, SISC 2024), where each subdomain keeps its own quasi-Newton approximation, here a dense
BFGS/SSBFGS/SSBroyden matrix (Al-Baali & Khalfan 2012; Urbán et al., JCP 2025).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ._decomposition import BALANCES, ParameterDecomposition, decompose_layers, layers_of
from ._ssbroyden import UPDATES, DenseInverseHessian

__all__ = ["KINDS", "BlockInverseHessian", "decompose", "decompose_neurons"]

KINDS = ("layers", "neurons")


def _ranges(n: int, parts: int, overlap: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges covering ``0..n-1`` (balanced), each widened by ``overlap`` on both sides."""
    bounds = [round(k * n / parts) for k in range(parts + 1)]
    return [(max(0, bounds[k] - overlap), min(n, bounds[k + 1] + overlap)) for k in range(parts)]


def decompose_neurons(model: nn.Module, subdomains: int, *, overlap: int = 0) -> ParameterDecomposition:
    """Split the network by groups of neurons across all layers.

    Subdomain ``k`` holds, in every layer, the ``k``-th contiguous group of that layer's output neurons
    (their rows of the weight matrix and their biases). A layer with fewer outputs than subdomains (the
    output layer of a PINN) is split by its inputs instead (columns of the weight matrix, which follow the
    neuron groups of the layer before), its bias going to the first subdomain. ``overlap`` neurons are
    shared with each neighbouring group. Parameters that are neither a weight matrix nor a bias vector go
    whole to the currently smallest subdomain.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    subdomains : int
        Number of neuron groups (>= 1).
    overlap : int
        Neurons shared with each neighbouring group (>= 0).

    Examples
    --------
    >>> from remodel_core.nn import MLP
    >>> dec = decompose_neurons(MLP(2, 1, width=4, depth=2), 2)
    >>> [int(i.numel()) for i in dec.indices], dec.size
    ([19, 18], 37)
    """
    if isinstance(subdomains, bool) or not isinstance(subdomains, int):
        raise TypeError(f"subdomains must be an integer, got {subdomains!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int):
        raise TypeError(f"overlap must be an integer, got {overlap!r}")
    if subdomains < 1:
        raise ValueError(f"subdomains must be >= 1, got {subdomains}")
    if overlap < 0:
        raise ValueError(f"overlap must be >= 0, got {overlap}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    offsets = [0]
    for p in params:
        offsets.append(offsets[-1] + p.numel())
    parts: list[list[torch.Tensor]] = [[] for _ in range(subdomains)]
    counts = [0] * subdomains
    for layer in layers_of(model):
        weights = [i for i in layer if params[i].dim() == 2]
        out = params[weights[0]].shape[0] if len(weights) == 1 else 0
        by_rows = out >= subdomains
        for i in layer:
            p, base = params[i], offsets[i]
            flat = torch.arange(base, base + p.numel())
            if p.dim() == 2 and by_rows:
                rows = flat.view(p.shape)
                for k, (lo, hi) in enumerate(_ranges(p.shape[0], subdomains, overlap)):
                    parts[k].append(rows[lo:hi].reshape(-1))
                    counts[k] += (hi - lo) * p.shape[1]
            elif p.dim() == 2 and p.shape[1] >= subdomains:
                cols = flat.view(p.shape)
                for k, (lo, hi) in enumerate(_ranges(p.shape[1], subdomains, overlap)):
                    parts[k].append(cols[:, lo:hi].reshape(-1))
                    counts[k] += (hi - lo) * p.shape[0]
            elif p.dim() == 1 and by_rows and len(weights) == 1 and p.numel() == out:
                for k, (lo, hi) in enumerate(_ranges(p.numel(), subdomains, overlap)):
                    parts[k].append(flat[lo:hi])
                    counts[k] += hi - lo
            else:
                k = 0 if p.dim() == 1 and len(weights) == 1 else counts.index(min(counts))
                parts[k].append(flat)
                counts[k] += p.numel()
    indices = [torch.sort(torch.cat(ps)).values if ps else torch.zeros(0, dtype=torch.long) for ps in parts]
    if any(idx.numel() == 0 for idx in indices):
        raise ValueError(f"subdomains={subdomains} leaves a neuron group empty (the network is too narrow)")
    multiplicity = torch.zeros(offsets[-1], dtype=torch.float64)
    for idx in indices:
        multiplicity[idx] += 1.0
    return ParameterDecomposition(tuple(indices), offsets[-1], multiplicity, tuple(() for _ in indices))


def decompose(
    model: nn.Module,
    *,
    by: str = "layers",
    subdomains: int | None = None,
    max_dense: int | None = None,
    overlap: int = 0,
    balance: str = "parameters",
) -> ParameterDecomposition:
    """A decomposition of the model's parameters by layers or by neuron groups, sized automatically.

    With ``subdomains`` given, that many subdomains; otherwise the fewest whose largest subdomain holds at
    most ``max_dense`` parameters (so that a dense matrix per subdomain costs at most ``max_dense^2``
    numbers). When even one layer per subdomain exceeds ``max_dense`` (``by="layers"``), the split falls back
    to neuron groups.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    by : {"layers", "neurons"}
        Consecutive layers (:func:`~remodel_core.optim.decompose_layers`) or groups of neurons across layers
        (:func:`decompose_neurons`).
    subdomains : int, optional
        Number of subdomains; exclusive with ``max_dense``.
    max_dense : int, optional
        Largest subdomain size (parameters) allowed.
    overlap : int
        Layers (or neurons) shared with each neighbour.
    balance : {"parameters", "layers"}
        Balance of a layer-wise split.

    Examples
    --------
    >>> from remodel_core.nn import MLP
    >>> net = MLP(2, 1, width=50, depth=4)
    >>> dec = decompose(net, max_dense=2000)
    >>> len(dec), max(int(i.numel()) for i in dec.indices) <= 2000
    (5, True)
    >>> dec = decompose(net, by="neurons", max_dense=1000)
    >>> len(dec), max(int(i.numel()) for i in dec.indices) <= 1000
    (9, True)
    """
    if by not in KINDS:
        raise ValueError(f"by must be one of {KINDS}, got {by!r}")
    if balance not in BALANCES:
        raise ValueError(f"balance must be one of {BALANCES}, got {balance!r}")
    if (subdomains is None) == (max_dense is None):
        raise ValueError("give exactly one of subdomains and max_dense")
    if subdomains is not None:
        if by == "layers":
            return decompose_layers(model, subdomains, overlap=overlap, balance=balance)
        return decompose_neurons(model, subdomains, overlap=overlap)
    if isinstance(max_dense, bool) or not isinstance(max_dense, int):
        raise TypeError(f"max_dense must be an integer, got {max_dense!r}")
    if max_dense < 1:
        raise ValueError(f"max_dense must be >= 1, got {max_dense}")
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    largest = lambda d: max(int(i.numel()) for i in d.indices)  # noqa: E731
    if by == "layers":
        for k in range(max(1, math.ceil(n / max_dense)), len(layers_of(model)) + 1):
            dec = decompose_layers(model, k, overlap=overlap, balance="parameters")
            if largest(dec) <= max_dense:
                return dec
    k = max(1, math.ceil(n / max_dense))
    while True:
        try:
            dec = decompose_neurons(model, k, overlap=overlap)
        except ValueError as err:
            raise ValueError(f"max_dense={max_dense} is too small for this network: {err}") from err
        if largest(dec) <= max_dense:
            return dec
        k += 1


class BlockInverseHessian:
    """Block-diagonal dense inverse Hessian: one :class:`~remodel_core.optim.DenseInverseHessian` per subdomain.

    The direction is ``d = -sum_i R_i^T D_i H_i D_i R_i g`` with ``R_i`` the restriction to subdomain ``i`` and
    ``D_i = diag(multiplicity)^(-1/2)`` on that subdomain (the identity without overlap), so ``-g'd > 0``
    whenever every ``H_i`` is positive definite (an additive Schwarz preconditioner with local dense
    quasi-Newton solvers). A pair ``(s, y)`` updates each block with ``(R_i s, R_i y)`` unless that block's
    own curvature ``s_i'y_i`` is too small (each block skips for itself). Memory ``sum_i n_i^2`` float64
    numbers. The interface is that of :class:`~remodel_core.optim.LBFGSMemory`.

    Parameters
    ----------
    decomposition : ParameterDecomposition
        The subdomains.
    update : {"bfgs", "ssbfgs", "ssbroyden"}
        The dense update of each block.
    curvature_eps : float
        Curvature threshold of each block's pairs.
    blocks : list of DenseInverseHessian, optional
        Existing per-subdomain matrices to share (e.g. the local curvature of a Schwarz method).

    Examples
    --------
    >>> from remodel_core.optim import ParameterDecomposition
    >>> idx = (torch.tensor([0, 1]), torch.tensor([2]))
    >>> dec = ParameterDecomposition(idx, 3, torch.ones(3, dtype=torch.float64), ((), ()))
    >>> H = BlockInverseHessian(dec, "bfgs")
    >>> A = torch.diag(torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64))
    >>> for i in range(3):
    ...     s = torch.eye(3, dtype=torch.float64)[i]; _ = H.push(s, A @ s)
    >>> H.apply(torch.ones(3, dtype=torch.float64))
    tensor([1.0000, 0.1000, 0.0100], dtype=torch.float64)
    """

    def __init__(
        self,
        decomposition: ParameterDecomposition,
        update: str = "ssbroyden",
        *,
        curvature_eps: float = 1e-10,
        blocks: list[DenseInverseHessian] | None = None,
    ) -> None:
        if not isinstance(decomposition, ParameterDecomposition):
            raise TypeError(f"decomposition must be a ParameterDecomposition, got {type(decomposition).__name__}")
        if update not in UPDATES:
            raise ValueError(f"update must be one of {UPDATES}, got {update!r}")
        if blocks is not None and len(blocks) != len(decomposition):
            raise ValueError(f"blocks must have one matrix per subdomain ({len(decomposition)}), got {len(blocks)}")
        self.decomposition, self.update = decomposition, update
        self.blocks = (
            blocks
            if blocks is not None
            else [DenseInverseHessian(update, curvature_eps=curvature_eps) for _ in decomposition.indices]
        )
        self.weights = [decomposition.multiplicity[idx].rsqrt() for idx in decomposition.indices]
        self.overlapping = bool((decomposition.multiplicity > 1).any())
        self.pushes = 0

    def __len__(self) -> int:
        return max((len(b) for b in self.blocks), default=0)

    @property
    def numel(self) -> int:
        """Float64 numbers held by the dense blocks (``sum_i n_i^2`` once every block is updated)."""
        return sum(0 if b.H is None else b.H.numel() for b in self.blocks)

    def reset(self) -> None:
        """Every block back to the identity."""
        for b in self.blocks:
            b.reset()

    def _apply(self, g: torch.Tensor, *, remember: bool) -> torch.Tensor:
        g = g.detach().reshape(-1).to(torch.float64)
        if g.numel() != self.decomposition.size:
            raise ValueError(f"g has {g.numel()} entries, the decomposition {self.decomposition.size}")
        out = torch.zeros_like(g)
        for b, idx, w in zip(self.blocks, self.decomposition.indices, self.weights):
            gi = g[idx] * w if self.overlapping else g[idx]
            di = b.direction(gi).neg_() if remember else b.apply(gi)
            out.index_add_(0, idx, di * w if self.overlapping else di)
        return out

    def apply(self, g: torch.Tensor) -> torch.Tensor:
        """``H g`` with the block-diagonal ``H``."""
        return self._apply(g, remember=False)

    def direction(self, g: torch.Tensor) -> torch.Tensor:
        """``-H g`` (each block remembers its part, so the next pair's ``s_i'B_i s_i`` is exact)."""
        return self._apply(g, remember=True).neg_()

    def push(self, s: torch.Tensor, y: torch.Tensor) -> bool:
        """Update every block with its part of ``(s, y)``; True when at least one block was updated."""
        s = s.detach().reshape(-1).to(torch.float64)
        y = y.detach().reshape(-1).to(torch.float64)
        if s.shape != y.shape or s.numel() != self.decomposition.size:
            raise ValueError(f"s and y must have {self.decomposition.size} entries, got {s.numel()} and {y.numel()}")
        updated = False
        for b, idx in zip(self.blocks, self.decomposition.indices):
            updated |= b.push(s[idx], y[idx])
        self.pushes += int(updated)
        return updated

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain Python values only."""
        return {"blocks": [b.state_dict() for b in self.blocks], "update": self.update, "pushes": self.pushes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        blocks = list(state["blocks"])
        if len(blocks) != len(self.blocks):
            raise ValueError(f"state has {len(blocks)} blocks, this inverse Hessian {len(self.blocks)}")
        for b, st in zip(self.blocks, blocks):
            b.load_state_dict(st)
        self.pushes = int(state.get("pushes", 0))
