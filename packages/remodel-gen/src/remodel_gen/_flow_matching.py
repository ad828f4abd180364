"""Conditional flow matching (Lipman et al. 2023; Tong et al. 2024) as an algorithm of ``solve``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from remodel_core import (
    Algorithm,
    OptimizerAlgorithm,
    Problem,
    Solution,
    SolveContext,
    TrainingProblem,
    check_positive,
    train,
)
from remodel_core.optim import Adam
from scipy.optimize import linear_sum_assignment

from ._metrics import energy_distance
from ._model import FlowModel

Sampler = Callable[..., torch.Tensor]


@dataclasses.dataclass(frozen=True)
class GenerativeProblem(Problem):
    """Learn to sample a distribution known through a sampler.

    Parameters
    ----------
    sampler : callable
        ``sampler(n, generator) -> tensor [n, dim]`` drawing from the target distribution.
    dim : int
        Dimension of the samples.
    name : str
        A label for reports.

    Examples
    --------
    >>> from remodel_gen import two_moons
    >>> GenerativeProblem(two_moons, dim=2).draw(3, seed=0).shape
    torch.Size([3, 2])
    """

    sampler: Sampler
    dim: int
    name: str = "generative"

    def validate(self) -> None:
        if not callable(self.sampler):
            raise TypeError(f"sampler must be callable sampler(n, generator), got {type(self.sampler).__name__}")
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim <= 0:
            raise ValueError(f"dim must be a positive integer, got {self.dim!r}")
        x = self.sampler(2, torch.Generator().manual_seed(0))
        if not isinstance(x, torch.Tensor) or tuple(x.shape) != (2, self.dim):
            got = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"sampler(n, generator) must return a tensor of shape [n, dim={self.dim}], got {got}")

    def draw(self, n: int, *, seed: int = 0) -> torch.Tensor:
        """``n`` samples of the target with a seeded generator."""
        return self.sampler(n, torch.Generator().manual_seed(seed))

    def summary(self) -> dict[str, Any]:
        return {"problem": type(self).__name__, "name": self.name, "dim": self.dim}


def ot_pairing(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """The permutation ``π`` minimising ``sum_i |x0[π_i] - x1_i|^2``: exact optimal transport between two
    equal-size minibatches with uniform weights (an assignment problem, Hungarian/LAPJV algorithm).

    Examples
    --------
    >>> x1 = torch.tensor([[0.0], [10.0]]); x0 = torch.tensor([[9.0], [1.0]])
    >>> ot_pairing(x0, x1).tolist()
    [1, 0]
    """
    cost = torch.cdist(x1.detach().double(), x0.detach().double()).pow(2).cpu().numpy()
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty_like(cols)
    perm[rows] = cols
    return torch.as_tensor(perm, dtype=torch.long, device=x0.device)


def cfm_target(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor, *, path: str = "icfm", sigma: float = 0.0,
               eps: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The point ``x_t`` on the conditional path from ``x0`` to ``x1`` and the conditional velocity ``u_t``.

    ``path="icfm"`` (Tong et al. 2024): ``x_t = t x1 + (1 - t) x0 + sigma eps``, ``u_t = x1 - x0``.
    ``path="lipman"`` (Lipman et al. 2023, optimal-transport path with ``sigma_min = sigma``):
    ``x_t = (1 - (1 - sigma) t) x0 + t x1``, ``u_t = x1 - (1 - sigma) x0``.

    Examples
    --------
    >>> x0, x1 = torch.zeros(1, 2), torch.ones(1, 2)
    >>> xt, ut = cfm_target(x0, x1, torch.tensor([[0.25]]))
    >>> xt.tolist(), ut.tolist()
    ([[0.25, 0.25]], [[1.0, 1.0]])
    """
    t = t.reshape(-1, 1)
    if path == "icfm":
        xt = t * x1 + (1 - t) * x0
        if sigma > 0:
            if eps is None:
                raise ValueError("eps (standard normal noise) is needed when sigma > 0")
            xt = xt + sigma * eps
        return xt, x1 - x0
    if path == "lipman":
        return (1 - (1 - sigma) * t) * x0 + t * x1, x1 - (1 - sigma) * x0
    raise ValueError(f"path must be 'icfm' or 'lipman', got {path!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FlowMatching(Algorithm):
    """Train a :class:`FlowModel` on a :class:`GenerativeProblem` by conditional flow matching.

    The loss ``E_{t, (x0, x1)} |v_θ(t, x_t) - u_t(x_t | x0, x1)|^2`` with ``t ~ U(0, 1)``, ``x0 ~ N(0, I)``
    and ``x1`` a data minibatch regresses the marginal velocity field that transports noise to data
    (Lipman, Chen, Ben-Hamu, Nickel & Le, "Flow matching for generative modeling", ICLR 2023; Tong et al.,
    "Improving and generalizing flow-based generative models with minibatch optimal transport", TMLR 2024).
    ``coupling="ot"`` pairs ``x0`` and ``x1`` by exact minibatch optimal transport (OT-CFM), which
    straightens the learned paths. The noise of each evaluation is keyed by the seed and the evaluation
    count, so ``checkpoint=``/``resume=True`` continue a run exactly. The problem becomes a
    :class:`remodel_core.TrainingProblem` on a pool of ``n_train`` samples trained by ``optimizer`` through
    the shared loop (one iteration = one minibatch).

    After training, ``Solution.stats`` holds the energy distance (:func:`energy_distance`) of
    ``eval_samples`` generated samples to held-out data, for the trained and for the untrained model.

    Examples
    --------
    >>> from remodel_core import solve
    >>> from remodel_gen import GenerativeProblem, eight_gaussians
    >>> prob = GenerativeProblem(eight_gaussians, dim=2)
    >>> sol = solve(prob, FlowMatching(width=32, depth=2, n_train=2000, eval_samples=200), maxiters=20)
    >>> sol.u.sample(4, seed=1).shape
    torch.Size([4, 2])
    """

    path: str = "icfm"
    sigma: float = 0.0
    coupling: str = "independent"
    width: int = 64
    depth: int = 3
    activation: str = "silu"
    batch_size: int = 256
    n_train: int = 20_000
    optimizer: OptimizerAlgorithm = dataclasses.field(default_factory=lambda: Adam(lr=2e-3))
    eval_samples: int = 1000
    eval_steps: int = 50

    problem_types = (GenerativeProblem,)
    supported_options = OptimizerAlgorithm.supported_options - {"data_parallel"}

    def validate(self) -> None:
        if self.path not in ("icfm", "lipman"):
            raise ValueError(f"path must be 'icfm' or 'lipman', got {self.path!r}")
        if self.coupling not in ("independent", "ot"):
            raise ValueError(f"coupling must be 'independent' or 'ot', got {self.coupling!r}")
        check_positive("sigma", self.sigma, allow_zero=True)
        if self.path == "lipman" and not self.sigma < 1:
            raise ValueError(f"sigma (sigma_min of the Lipman path) must be < 1, got {self.sigma!r}")
        for name in ("width", "depth", "batch_size", "n_train", "eval_samples", "eval_steps"):
            check_positive(name, getattr(self, name), integer=True)
        if not isinstance(self.optimizer, OptimizerAlgorithm):
            raise TypeError(f"optimizer must be a remodel_core OptimizerAlgorithm, got {type(self.optimizer).__name__}")
        self.optimizer.validate()

    def loss_fn(self, dim: int, generator: Callable[[], torch.Generator]
                ) -> Callable[[FlowModel, torch.Tensor], torch.Tensor]:
        """The conditional flow matching loss ``loss(model, x1)`` drawing ``x0``, ``t`` (and the path noise)
        from ``generator()``, called once per evaluation."""

        def loss(model: FlowModel, x1: torch.Tensor) -> torch.Tensor:
            n = x1.shape[0]
            gen = generator()
            x0 = torch.randn(n, dim, generator=gen, dtype=x1.dtype).to(x1.device)
            t = torch.rand(n, 1, generator=gen, dtype=x1.dtype).to(x1.device)
            eps = None
            if self.path == "icfm" and self.sigma > 0:
                eps = torch.randn(n, dim, generator=gen, dtype=x1.dtype).to(x1.device)
            if self.coupling == "ot":
                x0 = x0[ot_pairing(x0, x1)]
            xt, ut = cfm_target(x0, x1, t, path=self.path, sigma=self.sigma, eps=eps)
            return (model(t.reshape(-1), xt) - ut).pow(2).sum(1).mean()

        return loss

    def _solve(self, problem: GenerativeProblem, ctx: SolveContext) -> Solution:
        opts = ctx.options
        dtype = opts.dtype or torch.float32
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(opts.seed)
            model = FlowModel(problem.dim, width=self.width, depth=self.depth, activation=self.activation)
        model = model.to(dtype)
        pool = problem.sampler(self.n_train, ctx.generator).to(dtype)

        def noise() -> torch.Generator:
            # keyed by (seed, evaluation count): the count is checkpointed, so a resumed run draws the same noise
            return torch.Generator().manual_seed((opts.seed * 1_000_003 + 7_919 * ctx.stats["evals"] + 1) % 2**62)

        training = TrainingProblem(model=model, loss=self.loss_fn(problem.dim, noise), data=(pool,),
                                   batch_size=min(self.batch_size, self.n_train), name=f"flow matching {problem.name}")
        training.validate()
        sol = train(training, self.optimizer.make_optimizer, ctx)
        with ctx.excluded_time():
            held_out = problem.sampler(self.eval_samples, torch.Generator().manual_seed(opts.seed + 2)).to(dtype)
            for name, m in (("energy_distance", sol.u), ("energy_distance_untrained", model)):
                m = m.to(device=opts.device)
                gen = m.sample(self.eval_samples, seed=opts.seed + 3, steps=self.eval_steps).cpu()
                sol.stats[name] = energy_distance(gen, held_out)
        return sol
