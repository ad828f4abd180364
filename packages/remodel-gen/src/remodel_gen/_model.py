"""Velocity fields ``v(t, x[, y])`` and the :class:`FlowModel` that samples by integrating their ODE."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from remodel_core.integrate import odeint
from remodel_core.nn import activation as make_activation
from torch import nn

from ._checks import check_nonnegative_float, check_positive_int

Sampler = Callable[..., Any]


def as_shape(name: str, shape: Any) -> tuple[int, ...]:
    """The sample shape from an int (a vector dimension) or a sequence of positive ints."""
    if isinstance(shape, (int,)) and not isinstance(shape, bool):
        shape = (shape,)
    if (
        not isinstance(shape, Sequence)
        or not shape
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
    ):
        raise ValueError(f"{name} must be a positive integer or a tuple of positive integers, got {shape!r}")
    return tuple(int(s) for s in shape)


def time_features(t: torch.Tensor, n: int) -> torch.Tensor:
    """``[t, sin(2^k pi t), cos(2^k pi t)]``-style sinusoidal features of ``t`` (``n`` of them, ``n`` even),
    with geometric frequencies from 1 to 1000 as in the transformer/DDPM time embedding (Vaswani et al. 2017)."""
    half = n // 2
    freqs = torch.exp(torch.linspace(0.0, math.log(1000.0), half, dtype=t.dtype, device=t.device))
    arg = t[:, None] * freqs[None, :]
    return torch.cat((torch.sin(arg), torch.cos(arg)), dim=1)


class MLPField(nn.Module):
    """A velocity field ``v(t, x[, y])``: an MLP on ``[flatten(x), t (or sinusoidal features of t), e(y)]``.

    Parameters
    ----------
    shape : int or tuple of int
        Shape of one sample (flattened inside).
    width, depth : int
        Of the hidden layers.
    activation : str
        Hidden activation (``tanh``, ``relu``, ``gelu``, ``silu``, ``softplus``, ``sin``).
    num_classes : int, optional
        Class-conditional field: a learned embedding of the label ``y`` in ``0..num_classes`` (the extra
        label ``num_classes`` is the "no class" of classifier-free guidance).
    time_features : int
        0 feeds ``t`` itself; an even number ``> 0`` feeds that many sinusoidal features of ``t``.
    embed_dim : int
        Size of the class embedding.

    Examples
    --------
    >>> f = MLPField(2, width=16, depth=2)
    >>> f(torch.zeros(5), torch.zeros(5, 2)).shape
    torch.Size([5, 2])
    >>> g = MLPField((1, 4, 4), width=16, depth=2, num_classes=3, time_features=8)
    >>> g(torch.rand(2), torch.zeros(2, 1, 4, 4), torch.tensor([0, 3])).shape
    torch.Size([2, 1, 4, 4])
    """

    def __init__(
        self,
        shape: int | tuple[int, ...],
        *,
        width: int = 64,
        depth: int = 3,
        activation: str = "silu",
        num_classes: int | None = None,
        time_features: int = 0,
        embed_dim: int = 32,
    ) -> None:
        super().__init__()
        self.shape = as_shape("shape", shape)
        check_positive_int("width", width)
        check_positive_int("depth", depth)
        if (
            isinstance(time_features, bool)
            or not isinstance(time_features, int)
            or time_features < 0
            or (time_features % 2)
        ):
            raise ValueError(f"time_features must be 0 or a positive even integer, got {time_features!r}")
        if num_classes is not None:
            check_positive_int("num_classes", num_classes)
        self.num_classes = num_classes
        self.n_time = time_features
        dim = math.prod(self.shape)
        n_in = dim + (time_features or 1)
        if num_classes is not None:
            self.embed = nn.Embedding(num_classes + 1, check_positive_int("embed_dim", embed_dim))
            n_in += embed_dim
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [nn.Linear(n_in, width), make_activation(activation)]
            n_in = width
        layers.append(nn.Linear(n_in, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The velocity at times ``t`` (scalar or ``[n]``), points ``x`` (``[n, *shape]``), labels ``y``."""
        n = x.shape[0]
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        t = t.expand(n) if t.dim() == 0 else t.reshape(-1)
        feats = [x.reshape(n, -1), time_features(t, self.n_time) if self.n_time else t[:, None]]
        if self.num_classes is not None:
            if y is None:
                y = torch.full((n,), self.num_classes, dtype=torch.long, device=x.device)
            feats.append(self.embed(y))
        elif y is not None:
            raise ValueError("y was given to an unconditional field (num_classes=None)")
        return self.net(torch.cat(feats, dim=1)).reshape(x.shape)


class UNetField(nn.Module):
    """A ``diffusers.UNet2DModel`` built from a config (never downloaded) as a field ``v(t, x[, y])``.

    The UNet sees the time ``t * time_scale`` (flow matching: ``t`` in ``[0, 1]`` and ``time_scale=999``;
    diffusion: integer timesteps and ``time_scale=1``) and, when ``num_classes`` is set, the class label
    through its class embedding (``num_class_embeds = num_classes + 1``; label ``num_classes`` = no class).

    Parameters
    ----------
    sample_shape : tuple of int
        ``(channels, height, width)``.
    num_classes : int, optional
        For class conditioning.
    time_scale : float
        Multiplier of ``t`` before the UNet's sinusoidal time embedding.
    **config
        Further keyword arguments of ``UNet2DModel`` (``block_out_channels``, ``layers_per_block``, ...);
        the defaults build a small two-level UNet without attention.

    Examples
    --------
    >>> f = UNetField((1, 8, 8), num_classes=2, block_out_channels=(8, 16), norm_num_groups=4)  # doctest: +SKIP
    >>> f(torch.rand(3), torch.zeros(3, 1, 8, 8), torch.tensor([0, 1, 2])).shape  # doctest: +SKIP
    torch.Size([3, 1, 8, 8])
    """

    def __init__(
        self,
        sample_shape: tuple[int, int, int],
        *,
        num_classes: int | None = None,
        time_scale: float = 999.0,
        **config: Any,
    ) -> None:
        super().__init__()
        shape = as_shape("sample_shape", sample_shape)
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ValueError(f"sample_shape must be (channels, size, size), got {sample_shape!r}")
        if num_classes is not None:
            check_positive_int("num_classes", num_classes)
        from diffusers import UNet2DModel  # lazy: diffusers takes seconds to import

        cfg: dict[str, Any] = dict(
            block_out_channels=(32, 64),
            layers_per_block=1,
            norm_num_groups=8,
            down_block_types=("DownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "UpBlock2D"),
        )
        cfg.update(config)
        self.shape, self.num_classes, self.time_scale = shape, num_classes, float(time_scale)
        self.unet = UNet2DModel(
            sample_size=shape[1],
            in_channels=shape[0],
            out_channels=shape[0],
            num_class_embeds=None if num_classes is None else num_classes + 1,
            **cfg,
        )

    def forward(self, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The output of the UNet at times ``t``, images ``x``, labels ``y``."""
        n = x.shape[0]
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        t = t.expand(n) if t.dim() == 0 else t.reshape(-1)
        if self.num_classes is not None and y is None:
            y = torch.full((n,), self.num_classes, dtype=torch.long, device=x.device)
        return self.unet(x, t * self.time_scale, class_labels=y).sample


def call_field(field: nn.Module, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """``field(t, x)`` or ``field(t, x, y)``."""
    return field(t, x) if y is None else field(t, x, y)


def draw_source(
    source: Sampler | None,
    n: int,
    shape: tuple[int, ...],
    generator: torch.Generator,
    dtype: torch.dtype,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """``n`` source points: standard normal when ``source`` is None, else ``source(n, generator)``."""
    if source is None:
        return torch.randn(n, *shape, generator=generator, dtype=dtype).to(device)
    x0 = source(n, generator)
    if isinstance(x0, tuple):
        x0 = x0[0]
    return x0.to(device=device, dtype=dtype).reshape(n, *shape)


class FlowModel(nn.Module):
    """A trained velocity field ``v_θ(t, x[, y])`` with a source distribution: samples are drawn by
    integrating ``dx/dt = v_θ(t, x)`` from ``t = 0`` (source) to ``t = 1`` (target) with
    :func:`remodel_core.integrate.odeint` (continuous normalising flow; Chen et al. 2018), optionally with
    classifier-free guidance ``v = v(t, x, ∅) + w (v(t, x, y) - v(t, x, ∅))`` (Ho & Salimans 2021, in the
    flow-matching form of Zheng et al. 2023).

    Parameters
    ----------
    field : torch.nn.Module
        Any module ``field(t, x)`` (or ``field(t, x, y)`` when ``num_classes`` is set) returning ``x``'s shape.
    shape : int or tuple of int
        Shape of one sample.
    source : callable, optional
        ``source(n, generator) -> [n, *shape]``; standard normal when None.
    num_classes : int, optional
        Number of classes of a class-conditional field (label ``num_classes`` = no class).

    Examples
    --------
    >>> model = FlowModel(MLPField(2, width=16, depth=2), 2)
    >>> model(torch.zeros(5), torch.zeros(5, 2)).shape
    torch.Size([5, 2])
    >>> x, stats = model.sample(10, seed=0, steps=4, method="euler", return_stats=True)
    >>> x.shape, stats["nfe"]
    (torch.Size([10, 2]), 4)
    """

    def __init__(
        self,
        field: nn.Module,
        shape: int | tuple[int, ...],
        *,
        source: Sampler | None = None,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(field, nn.Module):
            raise TypeError(f"field must be a torch.nn.Module, got {type(field).__name__}")
        self.field = field
        self.shape = as_shape("shape", shape)
        self.source = source
        self.num_classes = num_classes

    @property
    def dim(self) -> int:
        """Number of entries of one sample."""
        return math.prod(self.shape)

    def forward(self, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The velocity at times ``t`` (scalar or ``[n]``), points ``x`` and labels ``y``."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        t = t.expand(x.shape[0]) if t.dim() == 0 else t.reshape(-1)
        return call_field(self.field, t, x, y)

    def velocity(
        self, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None, guidance: float = 1.0
    ) -> torch.Tensor:
        """The (guided) velocity: ``v(t, x, y)`` for ``guidance = 1``, ``v(t, x, ∅) + w (v(t, x, y) - v(t, x, ∅))``
        otherwise (one batched call of the field on the conditional and unconditional halves)."""
        if y is None or guidance == 1.0:
            return self(t, x, y)
        null = torch.full_like(y, self.num_classes)
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        t = t.expand(x.shape[0]) if t.dim() == 0 else t.reshape(-1)
        v = self(torch.cat((t, t)), torch.cat((x, x)), torch.cat((y, null)))
        cond, uncond = v[: x.shape[0]], v[x.shape[0] :]
        return uncond + guidance * (cond - uncond)

    def _labels(self, y: Any, n: int, device: torch.device) -> torch.Tensor | None:
        if y is None:
            return None
        if self.num_classes is None:
            raise ValueError("y (class labels) was given but the model is unconditional (num_classes=None)")
        y = torch.as_tensor(y, dtype=torch.long, device=device)
        if y.dim() == 0:
            y = y.expand(n)
        if y.dim() != 1 or y.shape[0] != n:
            raise ValueError(f"y must be an integer label or a tensor of {n} labels, got shape {list(y.shape)}")
        if bool(((y < 0) | (y >= self.num_classes)).any()):
            raise ValueError(f"y must hold labels in 0..{self.num_classes - 1}")
        return y

    @torch.no_grad()
    def sample(
        self,
        n: int = 1,
        *,
        seed: int = 0,
        steps: int = 100,
        method: str = "rk4",
        x0: torch.Tensor | None = None,
        y: Any = None,
        guidance: float = 1.0,
        trajectory: bool = False,
        rtol: float = 1e-5,
        atol: float = 1e-5,
        return_stats: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, int]]:
        """Draw ``n`` samples by integrating the flow from the source (or from given ``x0``).

        Parameters
        ----------
        n : int
            Number of samples (ignored when ``x0`` is given).
        seed : int
            Seed of the source draw.
        steps : int
            Fixed-step methods: number of steps on ``[0, 1]``. ``dopri5``: number of output intervals
            (the step sizes are adaptive).
        method : str
            ``"euler"``, ``"heun"``, ``"rk4"`` or ``"dopri5"`` (:mod:`remodel_core.integrate`).
        x0 : torch.Tensor, optional
            Source points ``[n, *shape]``.
        y : int or tensor, optional
            Class label(s) of a class-conditional model.
        guidance : float
            Classifier-free guidance weight ``w`` (1: plain conditional; needs ``y``).
        trajectory : bool
            Return the path ``[steps + 1, n, *shape]`` instead of the end points.
        rtol, atol : float
            Tolerances of ``dopri5``.
        return_stats : bool
            Also return ``{"nfe", "network_evals", "steps", "rejected"}``; ``nfe`` counts evaluations of the
            (guided) velocity, ``network_evals`` the batched calls of the field (the same number).
        """
        check_positive_int("steps", steps)
        if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or not math.isfinite(guidance):
            raise TypeError(f"guidance must be a finite number, got {guidance!r}")
        p = next(self.parameters())
        if x0 is None:
            check_positive_int("n", n)
            x0 = draw_source(self.source, n, self.shape, torch.Generator().manual_seed(seed), p.dtype, p.device)
        elif not isinstance(x0, torch.Tensor) or tuple(x0.shape[1:]) != self.shape or x0.dim() < 2:
            got = list(x0.shape) if isinstance(x0, torch.Tensor) else type(x0).__name__
            raise ValueError(f"x0 must have shape [n, {', '.join(map(str, self.shape))}], got {got}")
        x0 = x0.to(device=p.device, dtype=p.dtype)
        labels = self._labels(y, x0.shape[0], x0.device)
        if guidance != 1.0 and labels is None:
            raise ValueError("guidance != 1 needs class labels y")
        t = torch.linspace(0.0, 1.0, steps + 1, dtype=x0.dtype, device=x0.device)
        ys, stats = odeint(
            lambda s, x: self.velocity(s, x, labels, guidance),
            x0,
            t,
            method=method,
            rtol=rtol,
            atol=atol,
            return_stats=True,
        )
        stats = {
            "nfe": stats["nfev"],
            "network_evals": stats["nfev"],
            "steps": stats["steps"],
            "rejected": stats["rejected"],
        }
        out = ys if trajectory else ys[-1]
        return (out, stats) if return_stats else out


def check_guidance(guidance: Any) -> float:
    """A finite guidance weight (``TypeError``/``ValueError`` naming ``guidance`` otherwise)."""
    return check_nonnegative_float("guidance", guidance)
