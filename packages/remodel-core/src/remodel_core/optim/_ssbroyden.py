"""Dense quasi-Newton updates of the inverse Hessian: BFGS and the self-scaled BFGS and Broyden methods.

References
----------
M. Al-Baali, "Numerical experience with a class of self-scaling quasi-Newton algorithms", J. Optim. Theory
Appl. 96 (1998) 533-553; M. Al-Baali, H. Khalfan, "A combined class of self-scaling and modified quasi-Newton
methods", Comput. Optim. Appl. 52 (2012) 393-408 (the SSBroyden choice of theta_k and tau_k).
J. F. Urbán, P. Stefanou, J. A. Pons, "Unveiling the optimization process of physics informed neural networks:
how accurate and competitive can PINNs be?", J. Comput. Phys. 523 (2025) 113656; E. Kiyani, K. Shukla,
J. F. Urbán, J. Darbon, G. E. Karniadakis, "Optimizing the optimizer for physics-informed neural networks and
Kolmogorov-Arnold networks", arXiv:2501.16371 (2025): SSBFGS and SSBroyden on PINNs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from .._algorithm import check_positive
from ._lbfgs import LBFGSMemory
from ._robust_lbfgs import RobustLBFGS, RobustLBFGSOptimizer

__all__ = ["HESSIANS", "DenseInverseHessian", "SSBroyden", "SSBroydenOptimizer", "check_hessian", "make_memory"]

UPDATES = ("bfgs", "ssbfgs", "ssbroyden")
HESSIANS = ("lbfgs", *UPDATES)


def check_hessian(hessian: str, *, name: str = "hessian", block: bool = False) -> None:
    """Raise a clear error naming ``name`` unless ``hessian`` is one of :data:`HESSIANS` (or ``"block"``, the
    block-diagonal dense curvature of a decomposition, when ``block`` is True)."""
    allowed = (*HESSIANS, "block") if block else HESSIANS
    if not isinstance(hessian, str) or hessian not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {hessian!r}")


def make_memory(hessian: str, history_size: int, curvature_eps: float = 1e-10) -> LBFGSMemory | DenseInverseHessian:
    """The inverse-Hessian approximation named ``hessian``: limited-memory (``"lbfgs"``, ``history_size``
    pairs) or dense (``"bfgs"``, ``"ssbfgs"``, ``"ssbroyden"``).

    Parameters
    ----------
    hessian : {"lbfgs", "bfgs", "ssbfgs", "ssbroyden"}
        The kind of memory.
    history_size : int
        Pairs kept by ``"lbfgs"`` (unused by the dense ones).
    curvature_eps : float, default 1e-10
        Pairs with ``s'y <= curvature_eps ||s|| ||y||`` are skipped.

    Returns
    -------
    LBFGSMemory or DenseInverseHessian
        A new, empty memory.

    Examples
    --------
    >>> type(make_memory("lbfgs", 5)).__name__, type(make_memory("ssbroyden", 5)).__name__
    ('LBFGSMemory', 'DenseInverseHessian')
    """
    check_hessian(hessian)
    if hessian == "lbfgs":
        return LBFGSMemory(history_size, curvature_eps=curvature_eps)
    return DenseInverseHessian(hessian, curvature_eps=curvature_eps)


class DenseInverseHessian:
    """A dense inverse-Hessian approximation ``H`` updated by BFGS or a self-scaled Broyden-class formula.

    It has the interface of :class:`~remodel_core.optim.LBFGSMemory` (``direction``, ``push``, ``reset``,
    ``len``), so every quasi-Newton method of :mod:`remodel_core.optim` can use it. The update of the pair
    ``(s, y)``, with ``rho = 1/y's``, ``h = rho y'Hy``, ``b = rho s'Bs`` (``B = H^-1``) and ``a = b h - 1``, is

        H+ = (H - Hy y'H / y'Hy + phi y'Hy v v') / tau + rho s s',   v = rho s - Hy / y'Hy,

    with ``phi = (1 - theta) / (1 + a theta)``:

    * ``"bfgs"``: ``theta = 0``, ``tau = 1``, first matrix ``(s'y / y'y) I`` (Nocedal & Wright, eq. 6.20);
    * ``"ssbfgs"``: ``theta = 0``; ``tau = h`` at the first update, then ``tau = min(1, 1/b)`` (Al-Baali 1998);
    * ``"ssbroyden"``: ``theta`` and ``tau`` of Al-Baali & Khalfan (2012) as used for PINNs by Urbán et al.
      (2025): ``c = sqrt|a/(1+a)|``, ``rho- = min(1, h(1-c))``, ``theta = max((rho- - 1)/a, min(1/rho-,
      (1-b)/b))``; ``tau = h/(1 + a theta)`` first, then with ``sigma = 1 + a theta`` and
      ``sigma' = |sigma|^(1/(1-n))``: ``min(min(1, 1/b) sigma', sigma)`` if ``theta <= 0`` else
      ``min(1, 1/b) min(sigma', 1/theta)``. One safeguard departs from the papers: when
      ``rho- = h(1-c) <= 0`` (possible only for ``b h <= 1/2``) this class takes ``theta = 0`` (the SSBFGS
      member) where the papers' formula gives ``theta = (rho- - 1)/a``; a zero denominator anywhere falls
      back to the plain BFGS update for that pair.

    ``s'Bs`` is known exactly without ``B`` when ``s`` is a multiple ``alpha d`` of the last direction
    ``d = -H g`` (``s'Bs = -alpha s'g``) or when no update has been made (``B = I``); a pair that is neither
    (e.g. the secant pair of a whole Schwarz iteration) gets the plain BFGS update. Pairs with
    ``s'y <= curvature_eps ||s|| ||y||`` are skipped; an update that is not finite is skipped too. The
    update is one rank-2 correction on ``span{s, Hy}``; n^2 float64 numbers.

    **One pass over the matrix per iteration.** ``H`` is held as ``a B + V N V'``: the stored matrix ``B``, a
    scale ``a`` and the pending rank-2 corrections ``V N V'`` (at most ``flush_every`` pairs), added into ``B``
    by one rank-``2 flush_every`` product (:meth:`flush`). When the pair continues the last direction
    (``s = alpha d``, ``d = -H g``) the product ``H g+`` of the new gradient ``g+ = g + y`` is formed once and
    gives both ``Hy = H g+ - H g`` (``H g = -d`` is known) and, after the update, the next direction
    ``H+ g+ = H g+ / tau + V N V' g+`` without another product: one read of the ``n x n`` matrix per
    quasi-Newton iteration instead of four (two products, the read and the write of the update). When
    ``y`` is small against ``g`` (cancellation in ``H g+ - H g``), or the pair does not continue the last
    direction, ``Hy`` is a product of its own.

    Parameters
    ----------
    update : {"ssbroyden", "ssbfgs", "bfgs"}, default "ssbroyden"
        The update formula.
    curvature_eps : float, default 1e-10
        Pairs with ``s'y <= curvature_eps ||s|| ||y||`` are skipped (``>= 0``).
    flush_every : int, default 8
        Pending pairs before they are added into the stored matrix (1: every update at once).

    Examples
    --------
    >>> A = torch.diag(torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64))
    >>> H = DenseInverseHessian("bfgs")
    >>> for i in range(3):
    ...     s = torch.eye(3, dtype=torch.float64)[i]; _ = H.push(s, A @ s)
    >>> torch.allclose(H.apply(torch.ones(3, dtype=torch.float64)), torch.tensor([1.0, 0.1, 0.01],
    ...                dtype=torch.float64))
    True
    """

    def __init__(self, update: str = "ssbroyden", *, curvature_eps: float = 1e-10, flush_every: int = 8) -> None:
        if update not in UPDATES:
            raise ValueError(f"update must be one of {UPDATES}, got {update!r}")
        check_positive("curvature_eps", curvature_eps, allow_zero=True)
        check_positive("flush_every", flush_every, integer=True)
        self.update, self.curvature_eps, self.flush_every = update, float(curvature_eps), int(flush_every)
        self.updates = 0
        self.skipped = 0
        self.reset()

    def __len__(self) -> int:
        return self.updates

    def reset(self) -> None:
        """Back to the identity (a restart)."""
        self._B: torch.Tensor | None = None  # None: the identity
        self._a = 1.0
        self._V: torch.Tensor | None = None
        self._N: torch.Tensor | None = None
        self._n: int | None = None
        self.updates, self._last = 0, None
        self._next: tuple[torch.Tensor, torch.Tensor] | None = None  # (g+, H g+) after the last update

    @property
    def H(self) -> torch.Tensor | None:
        """The matrix itself (pending corrections added in first); None before the first update."""
        if self._n is None:
            return None
        self.flush()
        return self._B

    @H.setter
    def H(self, value: torch.Tensor | None) -> None:
        updates = self.updates
        self.reset()
        if value is not None:
            self._B, self._n, self.updates = value, int(value.shape[0]), updates

    def flush(self) -> None:
        """Add the pending corrections into the stored matrix: ``B = a B + V N V'``, one pass over it."""
        if self._n is None or (self._V is None and self._B is not None and self._a == 1.0):
            return
        if self._B is None:
            self._B = torch.eye(self._n, dtype=torch.float64)
        if self._V is None:
            self._B.mul_(self._a)
        else:
            assert self._N is not None
            self._B.addmm_(self._V, self._N @ self._V.T, beta=self._a)
        self._a, self._V, self._N = 1.0, None, None

    def _product(self, v: torch.Tensor) -> torch.Tensor:
        """``H v`` from the stored matrix and the pending corrections."""
        out = v * self._a if self._B is None else torch.mv(self._B, v).mul_(self._a)
        if self._V is not None:
            assert self._N is not None
            out += self._V @ (self._N @ (self._V.T @ v))
        return out

    def apply(self, g: torch.Tensor) -> torch.Tensor:
        """``H g`` (``g`` itself before the first update)."""
        g = g.detach().reshape(-1).to(torch.float64)
        if self._n is None:
            return g.clone()
        if self._next is not None:
            g_next, Hg = self._next
            if g_next.shape == g.shape and float((g - g_next).norm()) <= 1e-12 * float(g.norm()):
                return Hg.clone()  # formed with the last update (g differs from g+ by rounding only)
        return self._product(g)

    def direction(self, g: torch.Tensor) -> torch.Tensor:
        """The quasi-Newton direction ``-H g``; remembered so that the next pair's ``s'Bs`` is exact."""
        d = self.apply(g).neg_()
        self._next = None
        self._last = (g.detach().reshape(-1).to(torch.float64).clone(), d.clone())
        return d

    def _sBs(self, s: torch.Tensor) -> float | None:
        if self._n is None:
            return float(s.dot(s))
        if self._last is None:
            return None
        g, d = self._last
        dd, sd = float(d.dot(d)), float(s.dot(d))
        if not dd > 0 or abs(sd) < (1 - 1e-10) * math.sqrt(dd * float(s.dot(s))):
            return None  # s is not along the last direction
        return -(sd / dd) * float(s.dot(g))

    def _scaling(self, n: int, h: float, b: float, first: bool) -> tuple[float, float]:
        """``(theta, tau)`` of the self-scaled update (with the ``rho- <= 0`` safeguard of the class docstring)."""
        a = b * h - 1.0
        theta = 0.0
        if self.update == "ssbroyden" and abs(a) > 1e-12 and a > -1.0:
            c = math.sqrt(abs(a / (1.0 + a)))
            rho_minus = min(1.0, h * (1.0 - c))
            if rho_minus > 0:
                theta = max((rho_minus - 1.0) / a, min(1.0 / rho_minus, (1.0 - b) / b))
        sigma = 1.0 + a * theta
        if first:
            return theta, h / sigma
        rho_k = min(1.0, 1.0 / b)
        sigma_n = abs(sigma) ** (1.0 / (1.0 - n)) if n > 1 else 1.0
        tau = min(rho_k * sigma_n, sigma) if theta <= 0 else rho_k * min(sigma_n, 1.0 / theta)
        return theta, tau

    def push(self, s: torch.Tensor, y: torch.Tensor) -> bool:
        """Update ``H`` with the pair ``(s, y)`` unless its curvature is too small; True when updated."""
        s = s.detach().reshape(-1).to(torch.float64)
        y = y.detach().reshape(-1).to(torch.float64)
        if s.shape != y.shape:
            raise ValueError(f"s and y must have the same size, got {s.numel()} and {y.numel()}")
        if self._n is not None and self._n != s.numel():
            raise ValueError(f"s has {s.numel()} entries, the inverse Hessian is {self._n}x{self._n}")
        sy, ns, ny = float(s.dot(y)), float(s.norm()), float(y.norm())
        sBs = self._sBs(s)
        last, self._last, self._next = self._last, None, None
        if not all(map(math.isfinite, (sy, ns, ny))) or ny == 0.0 or sy <= self.curvature_eps * ns * ny:
            self.skipped += 1
            return False
        first = self._n is None
        n, rho = s.numel(), 1.0 / sy
        if first:
            self._n, self._a = n, (sy / ny**2 if self.update == "bfgs" else 1.0)
        g_next = Hg_next = None
        if not first and last is not None and sBs is not None and ny >= 1e-2 * float(last[0].norm()):
            g_next = last[0] + y  # the new gradient: one product gives H g+ and Hy = H g+ - H g = H g+ + d
            Hg_next = self._product(g_next)
            Hy = Hg_next + last[1]
        else:
            Hy = self._product(y)
        yHy = float(y.dot(Hy))
        if not (math.isfinite(yHy) and yHy > 0):  # H has lost positive definiteness in rounding
            self.skipped += 1
            return False
        theta, tau, phi = 0.0, 1.0, 1.0
        if self.update != "bfgs" and sBs is not None and sBs > 0:
            try:
                theta, tau = self._scaling(n, rho * yHy, rho * sBs, first)
                phi = (1.0 - theta) / (1.0 + (rho * sBs * rho * yHy - 1.0) * theta)
            except (ZeroDivisionError, OverflowError):
                theta = math.nan
        if not (math.isfinite(theta) and math.isfinite(tau) and tau > 0 and math.isfinite(phi)):
            theta, tau, phi = 0.0, 1.0, 1.0  # plain BFGS for this pair
        # (H - Hy Hy'/yHy + phi yHy v v')/tau + rho s s' with v = rho s - Hy/yHy, as H/tau + U M U', U = [s, Hy]
        m_ss = rho + phi * yHy * rho**2 / tau
        m_hh = (phi - 1.0) / (tau * yHy)
        m_sh = -phi * rho / tau
        if not all(map(math.isfinite, (m_ss, m_hh, m_sh))):
            self.skipped += 1
            return False
        U = torch.stack([s, Hy], dim=1)
        M = torch.tensor([[m_ss, m_sh], [m_sh, m_hh]], dtype=torch.float64)
        if not bool(torch.isfinite(U).all()):
            self.skipped += 1
            return False
        # H+ = H / tau + U M U': scale the stored part and the pending corrections, append the new one
        self._a /= tau
        if self._V is None:
            self._V, self._N = U, M
        else:
            assert self._N is not None
            self._V = torch.cat([self._V, U], 1)
            self._N = torch.block_diag(self._N / tau, M)
        if g_next is not None and Hg_next is not None:
            self._next = (g_next, Hg_next / tau + U @ (M @ (U.T @ g_next)))
        if self._V.shape[1] >= 2 * self.flush_every:
            self.flush()
        self.updates += 1
        return True

    # persistence -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain Python values only (loadable with ``weights_only=True``); the pending corrections
        and the remembered products are kept as they are, so that a resumed run repeats the same arithmetic."""
        empty = torch.zeros(0, 0, dtype=torch.float64)
        last = self._last or (empty, empty)
        nxt = self._next or (empty, empty)
        return {
            "H": empty if self._B is None else self._B,
            "n": self._n,
            "a": self._a,
            "V": empty if self._V is None else self._V,
            "N": empty if self._N is None else self._N,
            "last": list(last),
            "next": list(nxt),
            "update": self.update,
            "updates": self.updates,
            "skipped": self.skipped,
            "curvature_eps": self.curvature_eps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("update") != self.update:
            raise ValueError(f"state holds a {state.get('update')!r} inverse Hessian, this is {self.update!r}")
        self.reset()

        def tensor(v: torch.Tensor) -> torch.Tensor | None:
            return None if v.numel() == 0 else v.to(torch.float64).clone()

        self._B = tensor(state["H"])
        self._n = state.get("n", None if self._B is None else int(self._B.shape[0]))
        self._a = float(state.get("a", 1.0))
        empty = torch.zeros(0, 0, dtype=torch.float64)
        self._V, self._N = tensor(state.get("V", empty)), tensor(state.get("N", empty))
        last, nxt = state.get("last", [empty, empty]), state.get("next", [empty, empty])
        if last[0].numel():
            self._last = (last[0].clone(), last[1].clone())
        if nxt[0].numel():
            self._next = (nxt[0].clone(), nxt[1].clone())
        self.updates, self.skipped = int(state["updates"]), int(state.get("skipped", 0))
        self.curvature_eps = float(state["curvature_eps"])


class SSBroydenOptimizer(RobustLBFGSOptimizer):
    """Dense quasi-Newton (``update`` = ``"ssbroyden"``, ``"ssbfgs"`` or ``"bfgs"``) with the strong Wolfe
    line search, restarts and NaN guards of :class:`~remodel_core.optim.RobustLBFGSOptimizer`.

    The inverse Hessian is a dense n x n float64 matrix (:class:`DenseInverseHessian`), so this suits
    networks of up to some ten thousand parameters, such as PINNs, where it reaches errors that L-BFGS
    does not (Urbán et al. 2025; Kiyani et al. 2025). Measured failure mode: on the Klein–Gordon PINN, whose loss
    starts near 1e4, the self-scaling keeps enlarging ``H`` and the line search accepts steps of 1e-8 to 1e-3
    (no progress in 120 s); MG/OPT with ``hessian="ssbroyden"`` trains it to 4.5e-3 (docs/BENCHMARKS.md).

    Parameters
    ----------
    params : iterable of tensors or of dicts
        The parameters, or parameter groups with the same options.
    lr : float, default 1.0
        Step scale of the line search's first trial step (as :class:`~remodel_core.optim.RobustLBFGSOptimizer`).
    update : {"ssbroyden", "ssbfgs", "bfgs"}, default "ssbroyden"
        The update of the dense inverse Hessian (:class:`DenseInverseHessian`).
    max_iter : int, default 1
        Quasi-Newton iterations per :meth:`step`.
    tolerance_grad : float, default 1e-9
        ``converged`` when the largest gradient entry is at most this.
    c1, c2 : float, default 1e-4, 0.9
        Strong Wolfe constants.
    max_ls : int, default 25
        Most function evaluations per line search.
    curvature_eps : float, default 1e-10
        Pairs with ``s'y <= curvature_eps ||s|| ||y||`` are skipped.

    Examples
    --------
    >>> w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    >>> opt = SSBroydenOptimizer([w], max_iter=20)
    >>> A = torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64)
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = (A * (w - 1) ** 2).sum()
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure)
    >>> torch.allclose(w, torch.ones(3, dtype=torch.float64)), opt.converged
    (True, True)
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1.0,
        update: str = "ssbroyden",
        max_iter: int = 1,
        tolerance_grad: float = 1e-9,
        c1: float = 1e-4,
        c2: float = 0.9,
        max_ls: int = 25,
        curvature_eps: float = 1e-10,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            max_iter=max_iter,
            tolerance_grad=tolerance_grad,
            c1=c1,
            c2=c2,
            max_ls=max_ls,
            curvature_eps=curvature_eps,
        )
        self.memory = DenseInverseHessian(update, curvature_eps=curvature_eps)  # type: ignore[assignment]
        self.param_groups[0]["update"] = update


@dataclasses.dataclass(frozen=True, kw_only=True)
class SSBroyden(RobustLBFGS):
    """Self-scaled Broyden (or SSBFGS, or BFGS) quasi-Newton as an algorithm for :func:`remodel_core.solve`
    (see :class:`SSBroydenOptimizer` and :class:`DenseInverseHessian`). ``history_size`` is unused.

    Parameters
    ----------
    update : {"ssbroyden", "ssbfgs", "bfgs"}, default "ssbroyden"
        The update of the dense inverse Hessian.
    lr : float, default 1.0
        Step scale: the first trial step of a line search is ``lr * min(1, 1 / ||g||_1)`` while the memory is
        empty (first step, restarts) and ``lr`` otherwise.
    history_size : int, default 50
        Curvature pairs kept.
    max_iter : int, default 1
        Quasi-Newton iterations per ``step`` (per iteration of ``solve``).
    tolerance_grad : float, default 1e-9
        The run succeeds when the largest gradient entry is at most this (``>= 0``).
    c1, c2 : float, default 1e-4, 0.9
        Strong Wolfe constants, ``0 < c1 < c2 < 1``.
    max_ls : int, default 25
        Most function evaluations per line search.
    curvature_eps : float, default 1e-10
        Pairs with ``s'y <= curvature_eps ||s|| ||y||`` are skipped (``>= 0``).

    Examples
    --------
    A small tanh network fitted to ``sin(3x)`` to a mean squared error below 1e-7 in 200 iterations:

    >>> import torch
    >>> from remodel_core import TrainingProblem, solve
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    >>> x = torch.linspace(-1, 1, 50).unsqueeze(1)
    >>> prob = TrainingProblem(model=net, loss=lambda m, x, y: ((m(x) - y) ** 2).mean(), data=(x, torch.sin(3 * x)))
    >>> sol = solve(prob, SSBroyden(), maxiters=200, dtype=torch.float64)
    >>> mse = float(prob.loss(sol.u, x.double(), torch.sin(3 * x).double()).detach())
    >>> mse < 1e-7
    True
    """

    update: str = "ssbroyden"

    def validate(self) -> None:
        super().validate()
        if self.update not in UPDATES:
            raise ValueError(f"update must be one of {UPDATES}, got {self.update!r}")

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return SSBroydenOptimizer(
            [p for p in model.parameters() if p.requires_grad],
            lr=self.lr,
            update=self.update,
            max_iter=self.max_iter,
            tolerance_grad=self.tolerance_grad,
            c1=self.c1,
            c2=self.c2,
            max_ls=self.max_ls,
            curvature_eps=self.curvature_eps,
        )
