"""Denoising diffusion through ``diffusers``: DDPM training, DDIM / DPM-Solver / DDPM sampling.

``diffusers`` is imported lazily (it takes seconds); nothing is downloaded: networks are built from a
config and trained here.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from typing import Any, ClassVar

import torch
from remodel_core import (
    TRAIN_OPTIONS,
    Algorithm,
    OptimizerAlgorithm,
    Solution,
    SolveContext,
    TrainingProblem,
    check_positive,
)
from remodel_core.optim import Adam
from torch import nn

from ._checks import check_positive_int
from ._model import MLPField, UNetField, as_shape, call_field
from ._optim import train_averaged
from ._problem import GenerativeProblem

SCHEDULERS = ("ddim", "dpm", "ddpm")
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
# below this alpha_bar at the last training timestep (the capped cosine schedule: 2.4e-9) a noise predictor's
# data estimate is too ill-conditioned there for DPM-Solver to start at it (see make_scheduler)
EPSILON_MIN_ALPHA_BAR = 1e-6


def _diffusers():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the hub
    import diffusers

    return diffusers


def make_scheduler(kind: str, config: dict[str, Any]):
    """A ``diffusers`` scheduler (``"ddpm"``, ``"ddim"`` or ``"dpm"`` = ``DPMSolverMultistepScheduler``)
    from the training scheduler's config (betas, number of training steps).

    Parameters
    ----------
    kind : {"ddpm", "ddim", "dpm"}
        The sampler: ancestral DDPM (Ho et al. 2020), deterministic DDIM (Song et al. 2021) or the second-order
        multistep DPM-Solver++ (Lu et al. 2022).
    config : dict
        Keyword arguments of the diffusers scheduler (e.g. ``num_train_timesteps``, ``beta_schedule``); the
        clipping options are dropped for ``"dpm"``. The timestep grids start at the last training timestep
        ("trailing" for DDPM and DDIM, as Lin et al. 2024 recommend, instead of diffusers' "leading", which
        starts ``T/steps - 1`` timesteps early and with one step returns the noise; diffusers' "linspace" for
        DPM-Solver), except for a noise predictor (``prediction_type="epsilon"``) on a schedule whose last
        ``alpha_bar`` is below 1e-6 (the capped cosine ``squaredcos_cap_v2``: 2.4e-9): there the predictor's
        error would be multiplied by ``1 / sqrt(alpha_bar)``, so all three start lower ("leading"). A
        ``timestep_spacing`` in ``config`` is kept.

    Returns
    -------
    diffusers.SchedulerMixin
        A new scheduler (diffusers is imported here, lazily).

    Examples
    --------
    >>> s = make_scheduler("ddim", {"num_train_timesteps": 100, "beta_schedule": "linear"})  # doctest: +SKIP
    >>> type(s).__name__  # doctest: +SKIP
    'DDIMScheduler'
    """
    if kind not in SCHEDULERS:
        raise ValueError(f"scheduler must be one of {list(SCHEDULERS)}, got {kind!r}")
    d = _diffusers()
    cfg = dict(config)
    if kind == "dpm":
        cfg.pop("clip_sample", None)
        cfg.pop("clip_sample_range", None)

    def build(**extra: Any):
        if kind == "ddpm":
            return d.DDPMScheduler(**cfg, **extra)
        if kind == "ddim":
            return d.DDIMScheduler(**cfg, **extra)
        return d.DPMSolverMultistepScheduler(**cfg, algorithm_type="dpmsolver++", solver_order=2, **extra)

    sched = build()
    if "timestep_spacing" in cfg:
        return sched
    if cfg.get("prediction_type", "epsilon") == "epsilon" and float(sched.alphas_cumprod[-1]) < EPSILON_MIN_ALPHA_BAR:
        # A grid that starts at the last training timestep, where the capped cosine schedule has alpha_bar ~ 2e-9,
        # would multiply the noise predictor's error by ~1/sqrt(alpha_bar) ~ 2e4 in the data estimate
        # (x - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar): start lower ("leading").
        return build(timestep_spacing="leading")
    if kind != "dpm":
        # "leading" starts T/steps - 1 timesteps early (one step: at t = 0, returning the noise); "trailing" starts
        # at the last timestep (Lin, Liu, Li & Yang, WACV 2024, table 2)
        return build(timestep_spacing="trailing")
    return sched


class DiffusionModel(nn.Module):
    """A trained noise-prediction network ``eps_θ(t, x_t[, y])`` (``t`` = timestep / number of training
    timesteps, in ``[0, 1)``) with its noise schedule; :meth:`sample` runs a ``diffusers`` scheduler.

    Parameters
    ----------
    field : torch.nn.Module
        ``field(t, x)`` or ``field(t, x, y)`` predicting the noise.
    shape : int or tuple of int
        Shape of one sample.
    scheduler_config : dict
        Keyword arguments of ``diffusers.DDPMScheduler`` used in training.
    num_classes : int, optional
        For class conditioning (label ``num_classes`` = no class, for classifier-free guidance).

    Examples
    --------
    >>> m = DiffusionModel(MLPField(2, width=8, depth=1), 2, {"num_train_timesteps": 50})
    >>> m.sample(3, steps=5, scheduler="ddim").shape  # doctest: +SKIP
    torch.Size([3, 2])
    """

    def __init__(
        self,
        field: nn.Module,
        shape: int | tuple[int, ...],
        scheduler_config: dict[str, Any],
        *,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(field, nn.Module):
            raise TypeError(f"field must be a torch.nn.Module, got {type(field).__name__}")
        self.field = field
        self.shape = as_shape("shape", shape)
        self.scheduler_config = dict(scheduler_config)
        self.num_classes = num_classes

    @property
    def num_train_timesteps(self) -> int:
        return int(self.scheduler_config.get("num_train_timesteps", 1000))

    def forward(self, timesteps: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The predicted noise at integer ``timesteps`` (scalar or ``[n]``)."""
        t = torch.as_tensor(timesteps, device=x.device).to(x.dtype)
        t = t.expand(x.shape[0]) if t.dim() == 0 else t.reshape(-1)
        return call_field(self.field, t / self.num_train_timesteps, x, y)

    def _guided(self, timestep: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None, guidance: float) -> torch.Tensor:
        if y is None or guidance == 1.0:
            return self(timestep, x, y)
        null = torch.full_like(y, self.num_classes)
        eps = self(timestep, torch.cat((x, x)), torch.cat((y, null)))
        cond, uncond = eps[: x.shape[0]], eps[x.shape[0] :]
        return uncond + guidance * (cond - uncond)

    @torch.no_grad()
    def sample(
        self,
        n: int = 1,
        *,
        seed: int = 0,
        steps: int = 50,
        scheduler: str = "ddim",
        y: Any = None,
        guidance: float = 1.0,
        return_stats: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, int]]:
        """Draw ``n`` samples with ``steps`` denoising steps of a ``diffusers`` scheduler.

        Parameters
        ----------
        n : int
            Number of samples.
        seed : int
            Seed of the initial noise (and of the DDPM noise).
        steps : int
            Number of denoising steps (network evaluations), at most the number of training timesteps.
        scheduler : str
            ``"ddim"`` (Song, Meng & Ermon 2021, deterministic, eta = 0), ``"dpm"`` (DPM-Solver++(2M), Lu et al.
            2022) or ``"ddpm"`` (ancestral sampling, Ho et al. 2020).
        y : int or tensor, optional
            Class label(s).
        guidance : float
            Classifier-free guidance weight (1: plain conditional).
        return_stats : bool
            Also return ``{"nfe", "network_evals"}``.
        """
        check_positive_int("n", n)
        check_positive_int("steps", steps)
        if steps > self.num_train_timesteps:
            raise ValueError(f"steps must be <= num_train_timesteps={self.num_train_timesteps}, got {steps}")
        if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or not math.isfinite(guidance):
            raise TypeError(f"guidance must be a finite number, got {guidance!r}")
        p = next(self.parameters())
        labels = None
        if y is not None:
            if self.num_classes is None:
                raise ValueError("y (class labels) was given but the model is unconditional (num_classes=None)")
            labels = torch.as_tensor(y, dtype=torch.long, device=p.device)
            labels = labels.expand(n) if labels.dim() == 0 else labels
            if labels.shape != (n,) or bool(((labels < 0) | (labels >= self.num_classes)).any()):
                raise ValueError(f"y must be one label or {n} labels in 0..{self.num_classes - 1}")
        elif guidance != 1.0:
            raise ValueError("guidance != 1 needs class labels y")
        sched = make_scheduler(scheduler, self.scheduler_config)
        sched.set_timesteps(steps)
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(n, *self.shape, generator=gen, dtype=p.dtype).to(p.device) * sched.init_noise_sigma
        nfe = 0
        for t in sched.timesteps:
            eps = self._guided(t, sched.scale_model_input(x, t), labels, guidance)
            nfe += 1
            kwargs = {"generator": gen} if scheduler == "ddpm" else {}
            x = sched.step(eps, t, x, **kwargs).prev_sample
        return (x, {"nfe": nfe, "network_evals": nfe}) if return_stats else x


@dataclasses.dataclass(frozen=True, kw_only=True)
class Diffusion(Algorithm):
    """Train a :class:`DiffusionModel` by denoising score matching with the DDPM objective
    ``E_{t, x0, eps} |eps_θ(t, sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) eps) - eps|^2`` (Ho, Jain & Abbeel, "Denoising
    diffusion probabilistic models", NeurIPS 2020), the forward process being ``diffusers.DDPMScheduler``'s.
    Class-conditional data train with label dropout ``p_uncond`` for classifier-free guidance (Ho & Salimans
    2021). The network is any module ``network(t, x[, y])``, a ``diffusers.UNet2DModel`` built from the
    ``unet`` config (images), or by default an :class:`MLPField`.

    Parameters
    ----------
    network : torch.nn.Module, optional
        Noise-prediction network (copied).
    unet : dict, optional
        Config of a ``UNet2DModel`` (keyword arguments of :class:`UNetField`), for image data ``[C, H, H]``.
    width, depth, activation, time_features
        Of the default :class:`MLPField`.
    num_train_timesteps : int
        Timesteps of the forward process.
    beta_schedule : str
        ``"linear"``, ``"scaled_linear"`` or ``"squaredcos_cap_v2"`` (Nichol & Dhariwal 2021).
    prediction_type : str
        What the network predicts: ``"v_prediction"`` (default; ``v = sqrt(ᾱ) eps - sqrt(1 - ᾱ) x0``, Salimans &
        Ho 2022, better conditioned at high noise), ``"epsilon"`` (the noise, Ho et al. 2020) or ``"sample"``
        (the clean sample). On the cosine schedule a noise predictor's error is multiplied by ``1/sqrt(ᾱ)``
        (about 2e4 at the last timestep): in ``tools/bench/gen.py`` (seed 0) the digits MLP reached 7 % class
        accuracy at 50 DDIM steps (19 % at 10) with ``"epsilon"`` against 96 % (98 %) with ``"v_prediction"``.
    clip_sample : float, optional
        Clip the predicted clean sample to ``[-c, c]`` while sampling (images in ``[-1, 1]``: 1.0).
    batch_size, n_train, optimizer, p_uncond
        As in :class:`FlowMatching` (an :class:`EMA` optimizer gives the model its averaged weights).

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_gen import GenerativeProblem, two_moons
    >>> sol = solve(GenerativeProblem(two_moons, dim=2), Diffusion(width=32, depth=2, n_train=500),
    ...             maxiters=5)  # doctest: +SKIP
    >>> sol.u.sample(4, steps=10, scheduler="dpm").shape  # doctest: +SKIP
    torch.Size([4, 2])
    """

    network: nn.Module | None = None
    unet: dict[str, Any] | None = None
    width: int = 256
    depth: int = 3
    activation: str = "silu"
    time_features: int = 32
    num_train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"
    clip_sample: float | None = None
    prediction_type: str = "v_prediction"
    batch_size: int = 256
    n_train: int = 20_000
    optimizer: OptimizerAlgorithm = dataclasses.field(default_factory=lambda: Adam(lr=1e-3))
    p_uncond: float = 0.1

    problem_types = (GenerativeProblem,)
    supported_options: ClassVar[frozenset[str]] = TRAIN_OPTIONS

    def validate(self) -> None:
        if self.network is not None and not isinstance(self.network, nn.Module):
            raise TypeError(f"network must be a torch.nn.Module eps(t, x), got {type(self.network).__name__}")
        if self.unet is not None and not isinstance(self.unet, dict):
            raise TypeError(f"unet must be a dict of UNet2DModel keyword arguments, got {type(self.unet).__name__}")
        if self.network is not None and self.unet is not None:
            raise ValueError("give either network or unet, not both")
        for name in ("width", "depth", "num_train_timesteps", "batch_size", "n_train"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("time_features", self.time_features, integer=True, allow_zero=True)
        if self.prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {list(PREDICTION_TYPES)}, got {self.prediction_type!r}")
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"beta_schedule must be one of {list(BETA_SCHEDULES)}, got {self.beta_schedule!r}")
        if self.clip_sample is not None:
            check_positive("clip_sample", self.clip_sample)
        check_positive("p_uncond", self.p_uncond, allow_zero=True)
        if not self.p_uncond < 1:
            raise ValueError(f"p_uncond must be < 1, got {self.p_uncond!r}")
        if not isinstance(self.optimizer, OptimizerAlgorithm):
            raise TypeError(f"optimizer must be a remodel_core OptimizerAlgorithm, got {type(self.optimizer).__name__}")
        self.optimizer.validate()

    def scheduler_config(self) -> dict[str, Any]:
        """Keyword arguments of the training ``DDPMScheduler``."""
        return {
            "num_train_timesteps": self.num_train_timesteps,
            "beta_schedule": self.beta_schedule,
            "clip_sample": self.clip_sample is not None,
            "clip_sample_range": self.clip_sample or 1.0,
            "prediction_type": self.prediction_type,
        }

    def _network(self, problem: GenerativeProblem, seed: int) -> nn.Module:
        if self.network is not None:
            return copy.deepcopy(self.network)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if self.unet is not None:
                return UNetField(
                    problem.shape, num_classes=problem.classes, time_scale=float(self.num_train_timesteps), **self.unet
                )
            return MLPField(
                problem.shape,
                width=self.width,
                depth=self.depth,
                activation=self.activation,
                num_classes=problem.classes,
                time_features=self.time_features,
            )

    def _solve(self, problem: GenerativeProblem, ctx: SolveContext) -> Solution:
        opts = ctx.options
        dtype = opts.dtype or torch.float32
        if problem.source is not None:
            raise ValueError("Diffusion starts from N(0, I): the problem's source must be None")
        classes = problem.classes
        d = _diffusers()
        sched = d.DDPMScheduler(**self.scheduler_config())
        field = self._network(problem, opts.seed).to(dtype)
        model = DiffusionModel(field, problem.shape, self.scheduler_config(), num_classes=classes)
        if problem.is_array:
            x, y = problem.tensors()
            pool: tuple[torch.Tensor, ...] = (x.to(dtype),) if y is None else (x.to(dtype), y)
        else:
            out = problem.target_sampler()(self.n_train, ctx.generator)
            pool = (out[0].to(dtype), out[1].long()) if isinstance(out, tuple) else (out.to(dtype),)
        big_t, p_uncond, kind = self.num_train_timesteps, self.p_uncond, self.prediction_type

        def loss(m: DiffusionModel, x0: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
            n = x0.shape[0]
            gen = torch.Generator().manual_seed((opts.seed * 1_000_003 + 7_919 * ctx.stats["evals"] + 1) % 2**62)
            t = torch.randint(0, big_t, (n,), generator=gen)
            eps = torch.randn(x0.shape, generator=gen, dtype=x0.dtype).to(x0.device)
            xt = sched.add_noise(x0, eps, t.to(x0.device))  # sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) eps (Ho et al. 2020, Eq. 4)
            y = rest[0] if rest else None
            if y is not None and p_uncond > 0:
                drop = torch.rand(n, generator=gen).to(y.device) < p_uncond
                y = torch.where(drop, torch.full_like(y, classes), y)
            if kind == "epsilon":
                target = eps
            elif kind == "sample":
                target = x0
            else:
                target = sched.get_velocity(x0, eps, t.to(x0.device))
            return (m(t.to(x0.device), xt, y) - target).pow(2).reshape(n, -1).sum(1).mean()

        training = TrainingProblem(
            model=model,
            loss=loss,
            data=pool,
            batch_size=min(self.batch_size, pool[0].shape[0]),
            name=f"diffusion {problem.name}",
        )
        training.validate()
        sol = train_averaged(training, self.optimizer, ctx)
        sol.stats["train_samples"] = pool[0].shape[0]
        return sol
