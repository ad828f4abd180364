"""Small test problems shared by the optimizer tests (float64)."""

from __future__ import annotations

import dataclasses

import torch
from remodel_core import OptimizerAlgorithm, TrainingProblem
from torch import nn


class Vector(nn.Module):
    """A module whose parameters are a few flat vectors (one per "layer")."""

    def __init__(self, sizes: list[int], init: torch.Tensor | None = None) -> None:
        super().__init__()
        self.parts = nn.ParameterList(nn.Parameter(torch.zeros(n, dtype=torch.float64)) for n in sizes)
        if init is not None:
            with torch.no_grad():
                torch.nn.utils.vector_to_parameters(init.to(torch.float64), self.parts.parameters())

    def vector(self) -> torch.Tensor:
        return torch.cat([p.reshape(-1) for p in self.parts])


def quadratic(n: int = 50, cond: float = 1e4, layers: int = 5, seed: int = 0):
    """f(x) = 0.5 (x - x*)'A(x - x*) with a random SPD A of condition ``cond`` (minimum f* = 0, so values are
    not swamped by rounding near the minimum); returns (problem, f_star, x_star)."""
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    eig = torch.logspace(0, torch.log10(torch.tensor(cond)).item(), n, dtype=torch.float64)
    A = q @ torch.diag(eig) @ q.T
    A = 0.5 * (A + A.T)
    x_star = torch.randn(n, generator=gen, dtype=torch.float64)
    f_star = 0.0
    sizes = [n // layers] * layers
    sizes[-1] += n - sum(sizes)
    model = Vector(sizes)

    def loss(m: Vector) -> torch.Tensor:
        e = m.vector() - x_star
        return 0.5 * e @ (A @ e)

    return TrainingProblem(model=model, loss=loss, name="quadratic"), f_star, x_star


def rosenbrock(n: int = 4):
    """The extended Rosenbrock function, minimum 0 at (1, ..., 1), started at (-1.2, 1, -1.2, 1, ...)."""
    init = torch.tensor([-1.2, 1.0] * (n // 2), dtype=torch.float64)
    model = Vector([2] * (n // 2), init)

    def loss(m: Vector) -> torch.Tensor:
        x = m.vector()
        return (100 * (x[1::2] - x[0::2] ** 2) ** 2 + (1 - x[0::2]) ** 2).sum()

    return TrainingProblem(model=model, loss=loss, name="rosenbrock")


def regression(seed: int = 0, n: int = 64, width: int = 8, depth: int = 3):
    """A small tanh MLP fitted to sin(3x) (float64): a nonconvex problem with layers."""
    from remodel_core.nn import MLP

    torch.manual_seed(seed)
    model = MLP(1, 1, width=width, depth=depth).to(torch.float64)
    x = torch.linspace(-1, 1, n, dtype=torch.float64).unsqueeze(1)
    y = torch.sin(3 * x)
    return TrainingProblem(model=model, loss=lambda m, x, y: ((m(x) - y) ** 2).mean(), data=(x, y), name="regression")


class _Converging(torch.optim.Optimizer):
    """Takes one evaluation and claims convergence (as an optimizer does after fitting one batch exactly)."""

    def __init__(self, params):
        super().__init__(params, {})
        self.converged = False

    def step(self, closure):
        loss = closure()
        self.converged = True
        return loss


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConvergesAtOnce(OptimizerAlgorithm):
    """An algorithm whose optimizer sets ``converged`` after its first step (tests of how train reads it)."""

    def make_optimizer(self, model):
        return _Converging(model.parameters())
