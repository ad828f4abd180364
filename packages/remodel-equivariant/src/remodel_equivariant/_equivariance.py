"""Measuring equivariance: ``|| f(g x) - g f(x) || / || f(x) ||``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

Action = Callable[[torch.Tensor], torch.Tensor]


def rot90(k: int = 1) -> Action:
    """The action of a rotation by ``k * 90°`` on images (last two dimensions).

    Parameters
    ----------
    k : int
        Number of quarter turns (in the sense of :func:`torch.rot90`).

    Examples
    --------
    >>> rot90(1)(torch.tensor([[1, 2], [3, 4]])).tolist()
    [[2, 4], [1, 3]]
    """
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an integer, got {k!r}")
    return lambda x: torch.rot90(x, k, dims=(-2, -1))


def hflip() -> Action:
    """The action of the reflection ``x -> -x`` (left-right flip) on images.

    Examples
    --------
    >>> hflip()(torch.tensor([[1, 2], [3, 4]])).tolist()
    [[2, 1], [4, 3]]
    """
    return lambda x: torch.flip(x, dims=(-1,))


@torch.no_grad()
def equivariance_error(
    model: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    group_action: Action | Sequence[Action],
    x: torch.Tensor,
    *,
    output_action: Action | Sequence[Action] | None = None,
) -> float:
    """Relative equivariance error ``max_g || f(g x) - ρ(g) f(x) || / || f(x) ||``.

    Parameters
    ----------
    model : callable
        The map ``f`` (put into eval mode by the caller if it has dropout/batch norm).
    group_action : callable or sequence of callables
        The input actions ``x -> g x``; with several, the worst error is returned.
    x : torch.Tensor
        Inputs.
    output_action : callable or sequence of callables, optional
        The matching output actions ``ρ(g)`` (same order); ``None`` means invariance (``ρ(g) = id``).

    Examples
    --------
    >>> f = lambda x: x.sum(dim=(-2, -1))                # invariant to every permutation of pixels
    >>> equivariance_error(f, [rot90(1), hflip()], torch.randn(2, 1, 5, 5)) < 1e-6
    True
    >>> equivariance_error(lambda x: x, rot90(1), torch.randn(1, 1, 5, 5), output_action=rot90(1))
    0.0
    """
    actions = [group_action] if callable(group_action) else list(group_action)
    if not actions or not all(callable(a) for a in actions):
        raise TypeError("group_action must be a callable or a non-empty sequence of callables")
    if output_action is None:
        outs: list[Action | None] = [None] * len(actions)
    else:
        outs = [output_action] if callable(output_action) else list(output_action)
        if len(outs) != len(actions) or not all(callable(a) for a in outs):
            raise ValueError("output_action must match group_action (one callable per input action)")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    fx = model(x)
    scale = float(fx.norm())
    if scale == 0.0:
        raise ValueError("model(x) is zero: the relative error is undefined")
    worst = 0.0
    for act, out in zip(actions, outs):
        target = fx if out is None else out(fx)
        worst = max(worst, float((model(act(x)) - target).norm()) / scale)
    return worst


@torch.no_grad()
def check_equivariance(
    model: nn.Module | Callable[[torch.Tensor], torch.Tensor], group: object, x: torch.Tensor, *, output: object = None
) -> float:
    """Worst relative error ``|| f(g x) - g f(x) || / || f(x) ||`` over all exact elements ``g`` of ``group``
    (rotations by multiples of 90° and, for ``D_N``, flips).

    Parameters
    ----------
    model : nn.Module or callable
        The map ``f`` on images ``[B, C, H, W]`` (put it in eval mode first if it has batch norm or dropout).
    group : PlanarGroup or str
        ``"C8"``, ``"D4"``, ... or a :class:`~remodel_equivariant.PlanarGroup`.
    x : torch.Tensor
        Square input images ``[B, C, H, H]``.
    output : {"invariant", "image", "regular"} or QuotientSpace, optional
        How the group acts on the output: not at all (logits), on maps ``[B, C, H, W]`` as on images, on
        fields over the group ``[B, C, |G|, H, W]``, or on fields on a quotient ``G / H``
        (:class:`~remodel_equivariant.QuotientSpace`, ``[B, C, |G/H|, H, W]``). By default: from the output's
        number of dimensions (2 -> invariant, 4 -> image, 5 -> regular).

    Returns
    -------
    float
        The worst relative error (0 for exact equivariance; float32 round-off is about 1e-7).

    Raises
    ------
    ValueError
        When ``group`` has no exact element other than the identity (``C_N`` with ``N`` odd: nothing to check),
        or the output does not fit ``output``.

    Examples
    --------
    >>> from remodel_equivariant import GCNN
    >>> model = GCNN("D4", hidden=(2,), out_features=3, kernel_size=3).eval()
    >>> check_equivariance(model, "D4", torch.randn(2, 1, 9, 9)) < 1e-5
    True
    """
    from ._groups import as_group
    from ._quotient import QuotientSpace

    g = as_group(group)
    if len(g.exact_elements()) < 2:
        raise ValueError(
            f"{g.name} has no element but the identity that maps the pixel grid to itself (rotations by multiples "
            "of 90° and flips), so the check would be vacuous; use equivariance_error with your own actions"
        )
    space = output if isinstance(output, QuotientSpace) else None
    if space is not None and space.group != g:
        raise ValueError(f"output must be a quotient of {g.name}, got {space.name}")
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"x must be square images [B, C, H, H], got {getattr(x, 'shape', type(x).__name__)}")
    fx = model(x)
    kind = "quotient" if space else output or {2: "invariant", 4: "image", 5: "regular"}.get(fx.dim())
    if kind not in ("invariant", "image", "regular", "quotient"):
        raise ValueError(f"output must be 'invariant', 'image' or 'regular', got {output!r} (output dim {fx.dim()})")
    if kind == "image" and fx.dim() < 4:
        raise ValueError(f"an image output must be maps [B, C, H, W], got {list(fx.shape)} (output='invariant'?)")
    if kind == "regular" and (fx.dim() != 5 or fx.shape[2] != g.order):
        raise ValueError(f"a regular output must be [B, C, {g.order}, H, W] for {g.name}, got {list(fx.shape)}")
    scale = float(fx.norm())
    if scale == 0.0:
        raise ValueError("model(x) is zero: the relative error is undefined")
    worst = 0.0
    for a in g.exact_elements():
        if kind == "quotient":
            target = space.act_on_field(a, fx)
        else:
            target = (
                fx if kind == "invariant" else g.act_on_image(a, fx) if kind == "image" else g.act_on_regular(a, fx)
            )
        worst = max(worst, float((model(g.act_on_image(a, x)) - target).norm()) / scale)
    return worst
