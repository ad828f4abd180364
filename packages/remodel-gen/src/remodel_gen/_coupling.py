"""Couplings of minibatches: exact optimal transport (assignment) and entropic OT (Sinkhorn)."""

from __future__ import annotations

import math

import numpy as np
import torch

from ._checks import check_nonnegative_float, check_pair, check_positive_int


def _sq_cost(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    a, b = x0.detach().reshape(x0.shape[0], -1).double(), x1.detach().reshape(x1.shape[0], -1).double()
    return torch.cdist(a, b).pow(2)


def ot_pairing(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """The permutation ``π`` minimising ``sum_i |x0[π_i] - x1_i|^2``: exact optimal transport between two
    equal-size minibatches with uniform weights, an assignment problem solved by
    ``scipy.optimize.linear_sum_assignment`` (shortest augmenting paths, Crouse 2016). Used by OT-CFM
    (Tong et al. 2024, Section 3.2) and for the exact W2 of :func:`wasserstein2`.

    Parameters
    ----------
    x0, x1 : torch.Tensor
        Minibatches ``[n, ...]`` of the same shape (flattened after the first dimension).

    Returns
    -------
    torch.Tensor
        ``π`` (long, ``[n]``): ``x0[π]`` is paired with ``x1``.

    Examples
    --------
    >>> x1 = torch.tensor([[0.0], [10.0]]); x0 = torch.tensor([[9.0], [1.0]])
    >>> ot_pairing(x0, x1).tolist()
    [1, 0]
    """
    from scipy.optimize import linear_sum_assignment

    check_pair(x0, x1)
    if x0.shape[0] != x1.shape[0]:
        raise ValueError(f"x0 and x1 must have the same number of samples, got {x0.shape[0]} and {x1.shape[0]}")
    cost = _sq_cost(x1, x0).cpu().numpy()
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty_like(cols)
    perm[rows] = cols
    return torch.as_tensor(perm, dtype=torch.long, device=x0.device)


def sinkhorn_plan(
    x0: torch.Tensor, x1: torch.Tensor, reg: float, *, max_iter: int = 1000, tol: float = 1e-9
) -> torch.Tensor:
    """The entropic optimal transport plan between uniform minibatches for the squared Euclidean cost:
    ``argmin_P <P, C> - reg H(P)`` over plans with uniform marginals, by log-domain Sinkhorn iterations
    (Cuturi 2013; Peyré & Cuturi, *Computational Optimal Transport*, 2019, Section 4.4) in float64.

    Parameters
    ----------
    x0, x1 : torch.Tensor
        Minibatches ``[n, ...]`` and ``[m, ...]``.
    reg : float
        Entropic regularisation ``epsilon > 0`` (Schrödinger-bridge CFM uses ``2 sigma^2``).
    max_iter : int
        Most Sinkhorn iterations.
    tol : float
        Stop when the L1 violation of the first marginal falls below ``tol``.

    Returns
    -------
    torch.Tensor
        The plan ``[n, m]`` (float64), rows summing to ``1/n`` and columns to ``1/m``.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> P = sinkhorn_plan(torch.randn(5, 2, generator=g), torch.randn(4, 2, generator=g), reg=0.5)
    >>> P.shape, bool(torch.allclose(P.sum(1), torch.full((5,), 0.2, dtype=torch.float64)))
    (torch.Size([5, 4]), True)
    """
    check_pair(x0, x1)
    reg = check_nonnegative_float("reg", reg)
    if reg == 0:
        raise ValueError("reg must be > 0 (use ot_pairing for exact optimal transport)")
    check_positive_int("max_iter", max_iter)
    tol = check_nonnegative_float("tol", tol)
    cost = _sq_cost(x0, x1)
    n, m = cost.shape
    log_a, log_b = torch.full((n,), -math.log(n), dtype=cost.dtype), torch.full((m,), -math.log(m), dtype=cost.dtype)
    f, g = torch.zeros(n, dtype=cost.dtype), torch.zeros(m, dtype=cost.dtype)
    k = -cost / reg
    for it in range(max_iter):
        f = reg * (log_a - torch.logsumexp(k + g[None, :] / reg, dim=1))
        g = reg * (log_b - torch.logsumexp(k + f[:, None] / reg, dim=0))
        if it % 10 == 9:  # after the g-update the columns are exact; test the rows every 10 iterations (as POT)
            log_p = k + (f[:, None] + g[None, :]) / reg
            if float((log_p.exp().sum(1) - log_a.exp()).abs().sum()) < tol:
                break
    return (k + (f[:, None] + g[None, :]) / reg).exp().to(x0.device)


def sample_plan(
    plan: torch.Tensor, n: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` index pairs ``(i, j) ~ plan`` with replacement (the minibatch coupling of OT-CFM/SB-CFM).

    Parameters
    ----------
    plan : torch.Tensor
        A coupling ``[n0, n1]`` with non-negative entries and positive mass (it is normalised here), e.g. the
        exact OT plan or the Sinkhorn plan of a minibatch.
    n : int
        Number of pairs to draw, positive.
    generator : torch.Generator, optional
        The random generator (``None``: torch's global one).

    Returns
    -------
    i, j : torch.Tensor
        int64 row (source) and column (target) indices, each of shape ``[n]``.

    Examples
    --------
    >>> i, j = sample_plan(torch.eye(3) / 3, 5, torch.Generator().manual_seed(0))
    >>> bool((i == j).all())
    True
    """
    if not isinstance(plan, torch.Tensor) or plan.dim() != 2:
        raise ValueError("plan must be a 2-D tensor [n, m]")
    check_positive_int("n", n)
    flat = plan.reshape(-1).double().cpu().clamp_min(0)
    if not float(flat.sum()) > 0:
        raise ValueError("plan must have positive mass")
    idx = torch.multinomial(flat / flat.sum(), n, replacement=True, generator=generator)
    return idx // plan.shape[1], idx % plan.shape[1]
