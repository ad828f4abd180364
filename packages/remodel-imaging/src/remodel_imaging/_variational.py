"""A convex ridge regulariser learned for an inverse problem (bilevel, by unrolled accelerated gradient steps)."""

from __future__ import annotations

import copy
import math

import torch
from remodel_core import Solution
from torch import nn

from ._checks import check_finite_positive, check_positive_ints
from ._convex_ridge import ConvexRidgeDenoiser
from ._operator import LinearOperator, cached_norm
from ._pnp import data_prox

__all__ = ["ConvexRidgeVariational", "train_regulariser"]


class ConvexRidgeVariational(nn.Module):
    """``x_K(y)``: ``K`` accelerated gradient steps on ``F(x) = ||A x - y||^2 / 2 + λ R(x)`` with the convex
    ridge regulariser ``R`` of a :class:`ConvexRidgeDenoiser` (its strength set to 1) and a learnable weight
    ``λ``, from the Tikhonov start ``(A^*A + ε I)^{-1} A^* y``.

    This is the variational use of CRR-NN (Goujon, Neumayer, Bohra, Ducotterd & Unser, "A neural-network-based
    convex regularizer for inverse problems", IEEE TCI 2023): the reconstruction is the minimiser of the convex
    ``F``, computed by Nesterov/FISTA steps ``x_{k+1} = z_k - ∇F(z_k) / L_F`` (Beck & Teboulle 2009) with
    ``L_F = ||A||^2 + λ L_R``. Trained end to end on the inverse problem (``R`` and ``λ`` learned together, a
    bilevel problem approximated by the ``K`` unrolled steps, as in the unrolled training of variational
    networks, Kobler, Klatzer, Hammernik & Pock, GCPR 2017), it gives a regulariser made for the task; at test
    time the minimiser of ``F`` is computed to convergence, e.g. by plug-and-play proximal gradient with
    :meth:`pnp_denoiser`, whose certified Lipschitz bound is 1.

    Parameters
    ----------
    regulariser : ConvexRidgeDenoiser
        Supplies ``R`` (filters and profile; its ``strength`` and ``steps`` are not used here).
    unrolled_steps : int
        ``K``, the accelerated gradient steps.
    lam : float
        Initial ``λ > 0`` (learnable through ``log λ``).
    eps : float
        ``ε > 0`` of the Tikhonov start.
    warm_steps : int
        ``W >= 0`` accelerated steps taken first *without* gradient (then the ``K`` differentiable steps start
        from their result with the momentum restarted). With ``W`` large the output is the minimiser of ``F``
        and training differentiates only the last ``K`` steps (truncated backpropagation, as in Jacobian-free
        training of equilibrium models, Fung et al., AAAI 2022): the loss is then that of the minimiser, the
        reconstruction used at test time, rather than that of ``K`` steps from the start. ``0`` (default):
        plain ``K`` unrolled steps.

    Examples
    --------
    >>> from remodel_imaging import GaussianBlur
    >>> rec = ConvexRidgeVariational(ConvexRidgeDenoiser(channels=4, kernel_size=3), unrolled_steps=3)
    >>> A = GaussianBlur((16, 16), sigma=1.0)
    >>> rec(torch.rand(2, 1, 16, 16), A).shape, round(rec.lam, 6)
    (torch.Size([2, 1, 16, 16]), 0.1)
    """

    def __init__(
        self,
        regulariser: ConvexRidgeDenoiser,
        *,
        unrolled_steps: int = 20,
        lam: float = 0.1,
        eps: float = 0.02,
        warm_steps: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(regulariser, ConvexRidgeDenoiser):
            raise TypeError(f"regulariser must be a ConvexRidgeDenoiser, got {type(regulariser).__name__}")
        check_positive_ints(unrolled_steps=unrolled_steps)
        if isinstance(warm_steps, bool) or not isinstance(warm_steps, int) or warm_steps < 0:
            raise ValueError(f"warm_steps must be an int >= 0, got {warm_steps!r}")
        self.warm_steps = warm_steps
        self.regulariser = regulariser
        self.unrolled_steps = unrolled_steps
        self.log_lam = nn.Parameter(torch.tensor(math.log(check_finite_positive("lam", lam))))
        self.eps = check_finite_positive("eps", eps)
        self._norms: dict[int, tuple[LinearOperator, float]] = {}

    @property
    def lam(self) -> float:
        """``λ``, the weight of the regulariser."""
        return float(torch.exp(self.log_lam.detach()))

    def _norm2(self, A: LinearOperator) -> float:
        return cached_norm(self._norms, A) ** 2

    def forward(self, y: torch.Tensor, A: LinearOperator) -> torch.Tensor:
        if not isinstance(A, LinearOperator):
            raise TypeError(f"A must be a LinearOperator, got {type(A).__name__}")
        if not isinstance(y, torch.Tensor) or y.dim() != 4 or y.shape[1] != 1:
            raise ValueError(f"y must have shape (batch, 1, H, W), got {list(getattr(y, 'shape', []))}")
        reg = self.regulariser
        reg.strength = 1.0
        lam = torch.exp(self.log_lam).to(y.dtype)
        T = reg.transfer(tuple(A.in_shape))
        L = self._norm2(A) + float(lam.detach()) * reg.smoothness()
        with torch.no_grad():
            zero = torch.zeros_like(A.apply_adjoint(y))
            x = data_prox(A, y, zero, 1.0 / self.eps, zero)
            if self.warm_steps:
                x = self._fista(x, y, A, lam.detach(), T.detach(), L, self.warm_steps)
        return self._fista(x, y, A, lam, T, L, self.unrolled_steps)

    def _fista(
        self, x: torch.Tensor, y: torch.Tensor, A: LinearOperator, lam: torch.Tensor, T: torch.Tensor, L: float, k: int
    ) -> torch.Tensor:
        """``k`` FISTA steps ``x_{j+1} = z_j - ∇F(z_j) / L`` from ``x`` (momentum started afresh)."""
        z, t = x, 1.0
        for _ in range(k):
            grad = A.apply_adjoint(A.apply(z) - y) + lam * self.regulariser._grad_fft(z, T)
            x_new = z - grad / L
            t_new = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
            z = x_new + (t - 1.0) / t_new * (x_new - x)
            x, t = x_new, t_new
        return x

    def pnp_denoiser(self, gamma: float, steps: int = 30) -> ConvexRidgeDenoiser:
        """A copy of the regulariser's denoiser at strength ``μ = γ λ`` with ``steps`` gradient steps: about
        ``prox_{γλR}``, so that plug-and-play proximal gradient with step ``γ`` approaches the minimiser of
        ``||A x - y||^2 / 2 + λ R(x)``; its certified Lipschitz bound is 1 for every ``steps``.

        Parameters
        ----------
        gamma : float
            The PnP step ``γ > 0`` (``PnPPGD(step=s)`` uses ``γ = s / ||A||^2``).
        steps : int
            Gradient steps of the denoiser.

        Examples
        --------
        >>> rec = ConvexRidgeVariational(ConvexRidgeDenoiser(channels=4, kernel_size=3), lam=0.2)
        >>> den = rec.pnp_denoiser(gamma=1.5, steps=40)
        >>> round(den.strength, 6), den.steps, den.lipschitz_bound() <= 1.0 + 1e-12
        (0.3, 40, True)
        """
        check_finite_positive("gamma", gamma)
        check_positive_ints(steps=steps)
        den = copy.deepcopy(self.regulariser)
        den.strength = gamma * self.lam
        den.steps = steps
        return den.eval()


def train_regulariser(
    model: ConvexRidgeVariational,
    operator: LinearOperator,
    patches: torch.Tensor,
    *,
    noise_sigma: float,
    iters: int = 500,
    lr: float = 5e-3,
    lr_end: float | None = None,
    batch_size: int = 8,
    seed: int = 0,
    **options,
) -> Solution:
    """Learn a convex ridge regulariser and its weight for the inverse problem ``y = A x + noise_sigma n``:
    minimise the mean of ``||x_K(y) - x||^2`` over clean ``patches`` with Adam (cosine-annealed to ``lr_end``
    if given) through :func:`remodel_core.solve` (the shared training loop: checkpoints, NaN guard ...).

    Parameters
    ----------
    model : ConvexRidgeVariational
        The unrolled reconstruction whose regulariser and ``λ`` are trained (a trained copy is returned).
    operator : LinearOperator
        The forward operator on patches (``in_shape`` the patch size).
    patches : torch.Tensor
        Clean patches ``(N, 1, *operator.in_shape)``.
    noise_sigma : float
        Standard deviation of the measurement noise (one seeded draw per patch).
    iters : int
        Adam steps.
    lr, lr_end : float
        Adam's step size, and its final value under cosine annealing (``None``: constant).
    batch_size : int
        Patches per minibatch.
    seed : int
        Seed of the noise and the minibatch order.
    **options
        Further shared options of :func:`remodel_core.solve`.

    Returns
    -------
    remodel_core.Solution
        ``Solution.u`` is the trained :class:`ConvexRidgeVariational`.

    Examples
    --------
    >>> from remodel_imaging import GaussianBlur
    >>> rec = ConvexRidgeVariational(ConvexRidgeDenoiser(channels=2, kernel_size=3), unrolled_steps=2)
    >>> sol = train_regulariser(rec, GaussianBlur((8, 8), 1.0), torch.rand(4, 1, 8, 8), noise_sigma=0.05, iters=2)
    >>> sol.retcode.name, isinstance(sol.u, ConvexRidgeVariational)
    ('MaxIters', True)
    """
    from remodel_core import solve
    from remodel_core.optim import Adam

    from ._denoisers import _cosine_adam
    from ._unrolled import reconstruction_problem

    if not isinstance(model, ConvexRidgeVariational):
        raise TypeError(f"model must be a ConvexRidgeVariational, got {type(model).__name__}")
    check_positive_ints(iters=iters, batch_size=batch_size)
    check_finite_positive("lr", lr)
    if lr_end is not None and (isinstance(lr_end, bool) or not isinstance(lr_end, int | float) or not 0 < lr_end <= lr):
        raise ValueError(f"lr_end must be a number in (0, lr], got {lr_end!r}")
    prob = reconstruction_problem(
        model, operator, patches, noise_sigma=noise_sigma, batch_size=batch_size, seed=seed, name="convex ridge"
    )
    alg = Adam(lr=lr) if lr_end is None else _cosine_adam(lr, lr_end, iters)
    return solve(prob, alg, maxiters=iters, seed=seed, **options)
