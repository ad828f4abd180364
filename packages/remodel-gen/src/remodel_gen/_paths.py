"""Conditional probability paths ``x_t = mu_t(x0, x1) + sigma_t eps`` and their conditional velocities.

A path is the interpolation that conditional flow matching regresses on: given a pair ``(x0, x1)`` from a
coupling, a time ``t`` and standard normal noise ``eps``, :meth:`Path.sample` gives the point ``x_t`` and
:meth:`Path.velocity` the velocity ``u_t(x_t | x0, x1)`` of the conditional flow through it. The marginal
field ``E[u_t | x_t]`` transports the source to the target (Lipman et al. 2023, Theorem 1; Tong et al. 2024,
Proposition 1).
"""

from __future__ import annotations

import math

import torch

from ._checks import check_nonnegative_float, check_pair, check_positive_int


def _pad(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``t`` of shape ``[n]`` (or a scalar) reshaped to broadcast against ``x`` of shape ``[n, ...]``."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    if t.dim() == 0:
        t = t.expand(x.shape[0])
    return t.reshape(-1, *([1] * (x.dim() - 1)))


class Path:
    """Base class: a Gaussian conditional path ``N(mu_t(x0, x1), sigma_t^2 I)``.

    Subclasses define :meth:`mean`, :meth:`mean_dot` (``d mu_t / dt``), :meth:`std` and :meth:`std_dot`;
    the conditional velocity is ``u_t = mu_t' + sigma_t' / sigma_t (x_t - mu_t)`` (Lipman et al. 2023, Theorem 3).
    """

    name = "path"
    stochastic = False

    def mean(self, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def mean_dot(self, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def std(self, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(t)

    def std_dot(self, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(t)

    def sample(
        self, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The point ``x_t = mu_t + sigma_t eps`` (``eps`` is needed when the path is stochastic).

        Parameters
        ----------
        x0, x1 : torch.Tensor
            Coupled source and target points ``[n, ...]``.
        t : torch.Tensor
            Times ``[n]`` in ``[0, 1]``.
        eps : torch.Tensor, optional
            Standard normal noise of the shape of ``x0``.
        """
        tt = _pad(t, x0)
        mu = self.mean(x0, x1, tt)
        if self.stochastic:
            if eps is None:
                raise ValueError(f"eps (standard normal noise) is needed by the stochastic path {self.name!r}")
            mu = mu + self.std(tt) * eps
        return mu

    def velocity(self, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
        """The conditional velocity ``u_t(x_t | x0, x1) = mu_t' + sigma_t' / sigma_t (x_t - mu_t)``."""
        tt = _pad(t, x0)
        u = self.mean_dot(x0, x1, tt)
        if self.stochastic:
            s = self.std(tt)
            u = u + self.std_dot(tt) / s.clamp_min(1e-12) * (xt - self.mean(x0, x1, tt))
        return u

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LinearPath(Path):
    """The straight (conditional optimal-transport) path ``x_t = (1 - t) x0 + t x1 + sigma eps`` with
    constant velocity ``u_t = x1 - x0`` (I-CFM / OT-CFM of Tong et al. 2024, Eq. 14; rectified flow of
    Liu, Gong & Liu, ICLR 2023, for ``sigma = 0``).

    Parameters
    ----------
    sigma : float
        Constant noise level of the path (0: deterministic).

    Examples
    --------
    >>> p = LinearPath()
    >>> x0, x1 = torch.zeros(1, 2), torch.ones(1, 2)
    >>> p.sample(x0, x1, torch.tensor([0.25])).tolist(), p.velocity(x0, x1, torch.tensor([0.25]), None).tolist()
    ([[0.25, 0.25]], [[1.0, 1.0]])
    """

    name = "linear"

    def __init__(self, sigma: float = 0.0) -> None:
        self.sigma = check_nonnegative_float("sigma", sigma)
        self.stochastic = self.sigma > 0

    def mean(self, x0, x1, t):  # noqa: D102
        return (1 - t) * x0 + t * x1

    def mean_dot(self, x0, x1, t):  # noqa: D102
        return x1 - x0

    def std(self, t):  # noqa: D102
        return torch.full_like(t, self.sigma)

    def velocity(self, x0, x1, t, xt):  # noqa: D102 - constant sigma: the noise term has zero derivative
        return x1 - x0

    def __repr__(self) -> str:
        return f"LinearPath(sigma={self.sigma})"


class LipmanOTPath(Path):
    """The optimal-transport path of Lipman et al. (2023, Eq. 20-23) from ``N(0, I)``:
    ``x_t = (1 - (1 - sigma_min) t) x0 + t x1``, ``u_t = x1 - (1 - sigma_min) x0``.

    Parameters
    ----------
    sigma_min : float
        Width of the path at ``t = 1`` (``0 <= sigma_min < 1``).

    Examples
    --------
    >>> p = LipmanOTPath(0.1)
    >>> round(p.sample(torch.ones(1, 1), torch.zeros(1, 1), torch.tensor([1.0])).item(), 6)
    0.1
    """

    name = "lipman"

    def __init__(self, sigma_min: float = 0.0) -> None:
        self.sigma_min = check_nonnegative_float("sigma_min", sigma_min)
        if not self.sigma_min < 1:
            raise ValueError(f"sigma_min must be < 1, got {sigma_min!r}")

    def mean(self, x0, x1, t):  # noqa: D102
        return (1 - (1 - self.sigma_min) * t) * x0 + t * x1

    def mean_dot(self, x0, x1, t):  # noqa: D102
        return x1 - (1 - self.sigma_min) * x0

    def __repr__(self) -> str:
        return f"LipmanOTPath(sigma_min={self.sigma_min})"


class VariancePreservingPath(Path):
    """The variance-preserving (trigonometric) path ``x_t = cos(pi t / 2) x0 + sin(pi t / 2) x1`` with
    ``u_t = pi / 2 (cos(pi t / 2) x1 - sin(pi t / 2) x0)`` (Albergo & Vanden-Eijnden 2023; VP path of
    Lipman et al. 2023, Section 4.1). For independent ``x0 ~ N(0, I)`` and unit-variance data the marginal
    variance stays 1.

    Examples
    --------
    >>> p = VariancePreservingPath()
    >>> p.sample(torch.ones(1, 1), 3 * torch.ones(1, 1), torch.tensor([1.0])).item()
    3.0
    """

    name = "vp"

    def mean(self, x0, x1, t):  # noqa: D102
        a = math.pi / 2 * t
        return torch.cos(a) * x0 + torch.sin(a) * x1

    def mean_dot(self, x0, x1, t):  # noqa: D102
        a = math.pi / 2 * t
        return math.pi / 2 * (torch.cos(a) * x1 - torch.sin(a) * x0)


class BrownianBridgePath(Path):
    """The Brownian-bridge path of Schrödinger-bridge CFM (Tong et al. 2024, Eq. 20-21; Tong et al.,
    AISTATS 2024): ``x_t = (1 - t) x0 + t x1 + sigma sqrt(t (1 - t)) eps`` and
    ``u_t = (1 - 2t) / (2 t (1 - t)) (x_t - mu_t) + x1 - x0``. Paired with the entropic OT coupling of
    regularisation ``2 sigma^2`` its marginals are those of the Schrödinger bridge with reference
    Brownian motion ``sigma W``.

    Parameters
    ----------
    sigma : float
        Diffusion coefficient of the reference Brownian motion (> 0).

    Examples
    --------
    >>> p = BrownianBridgePath(0.5)
    >>> float(p.std(torch.tensor(0.5)))
    0.25
    """

    name = "brownian_bridge"
    stochastic = True

    def __init__(self, sigma: float = 1.0) -> None:
        self.sigma = check_nonnegative_float("sigma", sigma)
        if self.sigma == 0:
            raise ValueError("sigma of the Brownian-bridge path must be > 0")

    def mean(self, x0, x1, t):  # noqa: D102
        return (1 - t) * x0 + t * x1

    def mean_dot(self, x0, x1, t):  # noqa: D102
        return x1 - x0

    def std(self, t):  # noqa: D102
        return self.sigma * torch.sqrt((t * (1 - t)).clamp_min(0))

    def velocity(self, x0, x1, t, xt):  # noqa: D102
        tt = _pad(t, x0)
        # sigma_t' / sigma_t = (1 - 2t) / (2 t (1 - t)), written without the sigma that cancels
        ratio = (1 - 2 * tt) / (2 * tt * (1 - tt)).clamp_min(1e-8)
        return ratio * (xt - self.mean(x0, x1, tt)) + x1 - x0

    def __repr__(self) -> str:
        return f"BrownianBridgePath(sigma={self.sigma})"


PATHS = {
    "linear": LinearPath,
    "lipman": LipmanOTPath,
    "vp": VariancePreservingPath,
    "brownian_bridge": BrownianBridgePath,
}


def make_path(path: str | Path, sigma: float = 0.0) -> Path:
    """A :class:`Path` from its name (``linear``, ``lipman``, ``vp``, ``brownian_bridge``) or itself.

    Parameters
    ----------
    path : str or Path
        A registered name or a ``Path`` instance (returned as is).
    sigma : float, default 0.0
        The noise level of the named path (``linear``: constant ``sigma``; ``lipman``: ``sigma_min``;
        ``brownian_bridge``: ``sigma sqrt(t (1 - t))``); must be 0 for ``vp``.

    Returns
    -------
    Path
        The path.

    Examples
    --------
    >>> make_path("brownian_bridge", 0.5)
    BrownianBridgePath(sigma=0.5)
    """
    if isinstance(path, Path):
        return path
    if not isinstance(path, str) or path not in PATHS:
        raise ValueError(f"path must be one of {sorted(PATHS)} or a Path, got {path!r}")
    if path == "vp":
        if sigma:
            raise ValueError("sigma must be 0 for the 'vp' path")
        return VariancePreservingPath()
    if path == "brownian_bridge":
        return BrownianBridgePath(sigma)
    return PATHS[path](sigma)


def cfm_target(
    x0: torch.Tensor,
    x1: torch.Tensor,
    t: torch.Tensor,
    *,
    path: str = "icfm",
    sigma: float = 0.0,
    eps: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The point ``x_t`` on the conditional path from ``x0`` to ``x1`` and the conditional velocity ``u_t``.

    ``path="icfm"`` (alias ``"linear"``, Tong et al. 2024): ``x_t = t x1 + (1 - t) x0 + sigma eps``,
    ``u_t = x1 - x0``. ``path="lipman"`` (Lipman et al. 2023, ``sigma_min = sigma``). Other names as in
    :func:`make_path`.

    Parameters
    ----------
    x0, x1 : torch.Tensor
        Coupled source and target points ``[n, ...]``.
    t : torch.Tensor or float
        Times in ``[0, 1]``, ``n`` of them (any shape that flattens to ``[n]``), or one for all samples.
    path : str, default "icfm"
        ``"icfm"`` or a name of :func:`make_path`.
    sigma : float, default 0.0
        The noise level of the path.
    eps : torch.Tensor, optional
        Standard normal noise shaped like ``x0``, needed when the path is stochastic (``sigma > 0``).

    Returns
    -------
    xt : torch.Tensor
        The points on the path, shaped like ``x0``.
    ut : torch.Tensor
        The conditional velocities at ``xt``, shaped like ``x0``.

    Examples
    --------
    >>> x0, x1 = torch.zeros(1, 2), torch.ones(1, 2)
    >>> xt, ut = cfm_target(x0, x1, torch.tensor([[0.25]]))
    >>> xt.tolist(), ut.tolist()
    ([[0.25, 0.25]], [[1.0, 1.0]])
    """
    p = make_path("linear" if path == "icfm" else path, sigma)
    check_pair(x0, x1)
    if x0.shape != x1.shape:
        raise ValueError(f"x0 and x1 must have the same shape [n, ...], got {list(x0.shape)} and {list(x1.shape)}")
    t = torch.as_tensor(t, dtype=x0.dtype, device=x0.device).reshape(-1)
    if t.numel() == 1:
        t = t.expand(x0.shape[0])
    if t.numel() != x0.shape[0]:
        raise ValueError(f"t must hold one time per sample ({x0.shape[0]}) or one for all, got {t.numel()}")
    if eps is not None and (not isinstance(eps, torch.Tensor) or eps.shape != x0.shape):
        got = list(eps.shape) if isinstance(eps, torch.Tensor) else type(eps).__name__
        raise ValueError(f"eps must have the shape of x0 {list(x0.shape)}, got {got}")
    xt = p.sample(x0, x1, t, eps)
    return xt, p.velocity(x0, x1, t, xt)


TIME_SAMPLINGS = ("uniform", "u_shaped")
MAX_TIME_SCALE = 700.0  # math.sinh overflows float64 above ~710


def sample_times(
    n: int,
    generator: torch.Generator,
    *,
    kind: str = "uniform",
    scale: float = 4.0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``n`` training times in ``[0, 1]`` for flow matching: ``"uniform"`` (``U(0, 1)``), or ``"u_shaped"``,
    the density ``p(t) ∝ cosh(scale (2 t - 1))`` that puts more weight near both ends (the U-shaped
    timestep distribution of Lee, Lin & Fanti, "Improving the training of rectified flows", NeurIPS 2024,
    for reflow: the one-step sampler reads the field at ``t = 0``). Drawn by the inverse CDF
    ``t = (1 + asinh((2 u - 1) sinh(scale)) / scale) / 2`` of ``u ~ U(0, 1)`` (one uniform draw per time;
    the uniform case draws in ``dtype``, the others in float64).

    Parameters
    ----------
    n : int
        Number of times.
    generator : torch.Generator
        The random generator.
    kind : str
        ``"uniform"`` or ``"u_shaped"``.
    scale : float
        Positive, at most 700: the steepness ``a`` of ``cosh(a (2 t - 1))`` (``p(0) / p(1/2) = cosh(a)``).
    dtype : torch.dtype
        Of the result.

    Examples
    --------
    >>> t = sample_times(100_000, torch.Generator().manual_seed(0), kind="u_shaped", scale=4.0)
    >>> bool((t < 0.1).float().mean() > 0.25), bool(0 <= t.min() and t.max() <= 1)  # P(t < 0.1) = 0.276
    (True, True)
    """
    check_positive_int("n", n)
    if kind not in TIME_SAMPLINGS:
        raise ValueError(f"kind must be one of {list(TIME_SAMPLINGS)}, got {kind!r}")
    if kind == "uniform":
        return torch.rand(n, generator=generator, dtype=dtype)
    if not 0 < scale <= MAX_TIME_SCALE:
        raise ValueError(
            f"scale must be positive and <= {MAX_TIME_SCALE} (sinh(scale) overflows beyond), got {scale!r}"
        )
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    return (0.5 * (1.0 + torch.asinh((2.0 * u - 1.0) * math.sinh(scale)) / scale)).to(dtype)
