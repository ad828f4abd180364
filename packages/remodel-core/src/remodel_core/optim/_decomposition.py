"""Layer-wise decomposition of a network's parameters into (overlapping) subdomains, as used by the
Schwarz-preconditioned optimizers (Kopaničáková, Kothari, Karniadakis & Krause, SISC 2024)."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

__all__ = ["ParameterDecomposition", "decompose_layers", "layers_of"]


def layers_of(model: nn.Module) -> list[list[int]]:
    """The model's trainable parameters grouped into layers, in the order of ``model.parameters()``.

    A layer is the set of parameters a module owns directly (a ``Linear``'s weight and bias); each
    entry of a ``ParameterList``/``ParameterDict`` is a layer of its own. Entries are indices into the
    list of trainable parameters.

    Parameters
    ----------
    model : torch.nn.Module
        The network; parameters with ``requires_grad=False`` are left out.

    Returns
    -------
    list of list of int
        One list of parameter indices per layer, the layers sorted by their first index.

    Examples
    --------
    >>> from remodel_core.nn import ResNetMLP
    >>> [len(layer) for layer in layers_of(ResNetMLP(2, 1, width=4, depth=3))]
    [2, 2, 2, 2, 2]
    """
    params = [p for p in model.parameters() if p.requires_grad]
    index = {id(p): i for i, p in enumerate(params)}
    groups: list[list[int]] = []
    seen: set[int] = set()
    for module in model.modules():
        own = [p for p in module.parameters(recurse=False) if id(p) in index and id(p) not in seen]
        if not own:
            continue
        split = isinstance(module, nn.ParameterList | nn.ParameterDict)
        for chunk in [[p] for p in own] if split else [own]:
            groups.append([index[id(p)] for p in chunk])
            seen.update(id(p) for p in chunk)
    groups.sort(key=min)
    return groups


@dataclasses.dataclass(frozen=True)
class ParameterDecomposition:
    """Subdomains of a flat parameter vector: index sets (possibly overlapping) covering every entry.

    Made by :func:`decompose_layers` (or :func:`~remodel_core.optim.decompose`).

    Parameters
    ----------
    indices : tuple of LongTensor
        Flat indices of each subdomain (sorted).
    size : int
        Length of the flat parameter vector.
    multiplicity : Tensor
        How many subdomains hold each entry (float64, >= 1), for averaging on overlaps.
    layers : tuple of tuple of int
        The layers (indices into :func:`layers_of`) of each subdomain.
    """

    indices: tuple[torch.Tensor, ...]
    size: int
    multiplicity: torch.Tensor
    layers: tuple[tuple[int, ...], ...]

    def __len__(self) -> int:
        return len(self.indices)

    def combine(self, corrections: list[torch.Tensor]) -> torch.Tensor:
        """``sum_s R_s^T c_s`` divided by the multiplicity (the average on overlaps)."""
        out = torch.zeros(self.size, dtype=torch.float64)
        for idx, c in zip(self.indices, corrections):
            out.index_add_(0, idx, c.to(torch.float64))
        return out / self.multiplicity

    def prolong(self, s: int, c: torch.Tensor) -> torch.Tensor:
        """``R_s^T c``: the subdomain vector ``c`` as a flat vector (zeros elsewhere)."""
        out = torch.zeros(self.size, dtype=torch.float64)
        out[self.indices[s]] = c.to(torch.float64)
        return out


BALANCES = ("parameters", "layers")


def decompose_layers(
    model: nn.Module, subdomains: int, *, overlap: int = 0, balance: str = "parameters"
) -> ParameterDecomposition:
    """Split the model's layers into ``subdomains`` groups of consecutive layers, balanced by parameter
    count (``balance="parameters"``) or by number of layers (``balance="layers"``), each extended by
    ``overlap`` layers on both sides.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    subdomains : int
        Number of subdomains, between 1 and the number of layers.
    overlap : int
        Layers shared with each neighbour (>= 0).
    balance : {"parameters", "layers"}
        What the split balances.

    Examples
    --------
    >>> from remodel_core.nn import ResNetMLP
    >>> net = ResNetMLP(2, 1, width=20, depth=8)
    >>> dec = decompose_layers(net, 2)
    >>> dec.layers
    ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9))
    >>> [int(i.numel()) for i in dec.indices], dec.size
    ([1740, 1701], 3441)
    >>> decompose_layers(net, 2, overlap=1).layers
    ((0, 1, 2, 3, 4, 5), (4, 5, 6, 7, 8, 9))
    """
    if isinstance(subdomains, bool) or not isinstance(subdomains, int):
        raise TypeError(f"subdomains must be an integer, got {subdomains!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int):
        raise TypeError(f"overlap must be an integer, got {overlap!r}")
    if subdomains < 1:
        raise ValueError(f"subdomains must be >= 1, got {subdomains}")
    if overlap < 0:
        raise ValueError(f"overlap must be >= 0, got {overlap}")
    if balance not in BALANCES:
        raise ValueError(f"balance must be one of {BALANCES}, got {balance!r}")
    params = [p for p in model.parameters() if p.requires_grad]
    layers = layers_of(model)
    if subdomains > len(layers):
        raise ValueError(f"subdomains must be at most the number of layers ({len(layers)}), got {subdomains}")
    counts = [sum(params[i].numel() for i in layer) if balance == "parameters" else 1 for layer in layers]
    total = sum(counts)
    # split points: the layer where the cumulative count first reaches k/n of the total
    bounds = [0]
    cumulative = 0
    for j, c in enumerate(counts):
        cumulative += c
        k = len(bounds)
        if k < subdomains and cumulative >= k * total / subdomains and j + 1 > bounds[-1]:
            # keep enough layers for the remaining subdomains
            bounds.append(min(j + 1, len(layers) - (subdomains - k)))
    while len(bounds) < subdomains:  # degenerate counts: fall back to one layer each at the end
        bounds.append(bounds[-1] + 1)
    bounds.append(len(layers))
    for k in range(1, len(bounds)):
        if bounds[k] <= bounds[k - 1]:
            bounds[k] = bounds[k - 1] + 1
    offsets = [0]
    for p in params:
        offsets.append(offsets[-1] + p.numel())
    groups: list[tuple[int, ...]] = []
    indices: list[torch.Tensor] = []
    for k in range(subdomains):
        lo = max(0, bounds[k] - overlap)
        hi = min(len(layers), bounds[k + 1] + overlap)
        members = tuple(range(lo, hi))
        groups.append(members)
        flat = [torch.arange(offsets[i], offsets[i + 1]) for layer in members for i in layers[layer]]
        indices.append(torch.sort(torch.cat(flat)).values)
    multiplicity = torch.zeros(offsets[-1], dtype=torch.float64)
    for idx in indices:
        multiplicity[idx] += 1.0
    return ParameterDecomposition(tuple(indices), offsets[-1], multiplicity, tuple(groups))
