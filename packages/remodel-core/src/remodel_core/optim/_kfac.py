"""Kronecker-factored Gauss–Newton (KFAC) training of least-squares losses, PINN losses included: the curvature
of each linear layer is one Kronecker product of two small matrices, so memory and cost grow with the squares of
the layer widths, not with the square of the parameter count, and no Jacobian is formed.

For a layer ``y = W z + b`` used on rows ``z`` (inputs) with output sensitivities ``g = dr/dy`` of the residuals
``r``, the Gauss–Newton matrix of ``f = sum(r^2)`` restricted to ``[W, b]`` is approximated by ``2 A (x) B`` with
``A`` the mean of ``[z; 1] [z; 1]^T`` over the rows and ``B`` the sum of ``g g^T`` (Martens & Grosse 2015). A PINN
residual applies each weight to several rows per point (the value, gradient and second-derivative channels of the
Taylor-mode forward pass, :mod:`remodel_core.pde`; the bias enters the value channel only); all channels are
treated as rows ("KFAC-expand", Eschenhagen et al. 2023), which is the KFAC of PINN losses of Dangel, Müller &
Zeinhofer (NeurIPS 2024). ``B`` is formed exactly from one backward pass with random signs ``xi`` on the residuals
(``xi^2 = 1``: exact for one residual per row).

A step (Martens & Grosse 2015, sections 6–7): the factors are averaged exponentially (``ema``); the direction is
``-(B + gamma/pi I)^{-1} grad (2A + pi gamma I)^{-1}`` per layer with ``gamma = sqrt(lambda)`` and ``pi`` the
factored-Tikhonov balance of the two traces; the step ``alpha d + mu p`` along it and the previous step ``p`` minimises
the damped quadratic model ``grad^T s + s^T (J^T J + lambda/2 I) s`` built with the exact Gauss–Newton products
``J d``, ``J p`` (forward differences of the residuals, no Jacobian); ``lambda`` follows the Levenberg–Marquardt
rule on the ratio of actual to predicted decrease, and a step that does not lower the loss is refused and retried
with more damping.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from .._algorithm import check_positive
from ._gauss_newton import ResidualAlgorithm, ResidualBlock
from ._lbfgs import flat_params, set_flat_params

__all__ = ["KFAC", "KFACOptimizer"]

OMEGA = 0.5  # factor of the factor-damping candidates tried every ``adapt_every`` steps


@dataclasses.dataclass(frozen=True)
class _Evaluation:
    """Residuals ``r`` with their graph at the flat parameter leaf ``x``, and the layers' recorded uses."""

    x: torch.Tensor
    r: torch.Tensor
    taylor: list
    plain: list


@contextlib.contextmanager
def _capture(linears: Sequence[nn.Linear], taylor: list, plain: list) -> Iterator[None]:
    """Record every use of the layers: the Taylor-mode propagation's linear maps into ``taylor`` (``(layer,
    input stack [C, n, in], output [C, n, out])``) and ordinary module calls into ``plain``."""
    from ..pde import _taylor

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        plain.append((module, inputs[0], output))

    handles = [m.register_forward_hook(hook) for m in linears]
    previous, _taylor.RECORD = _taylor.RECORD, taylor
    try:
        yield
    finally:
        _taylor.RECORD = previous
        for h in handles:
            h.remove()


class KFACOptimizer(torch.optim.Optimizer):
    """KFAC steps on ``loss = sum(r^2)`` for networks whose trainable parameters are ``nn.Linear`` layers.

    One ``step`` evaluates the residual blocks once with their graph (recording each layer's inputs), takes two
    backward passes (the loss gradient; the output sensitivities against random signs), updates the factors and
    tries the step chosen by the quadratic model (see the module docstring). Two forward evaluations without a
    graph give ``J d`` and ``J p``, one more the trial loss; with ``reuse`` (the default) the trial is evaluated
    with its graph and, once accepted, is the next step's evaluation, so a step costs three forward and two
    backward passes (plus two forward passes every ``adapt_every`` steps).

    Parameters
    ----------
    params : iterable of tensors
        The model's trainable parameters, in ``model.parameters()`` order (one group).
    model : torch.nn.Module
        The network; every trainable parameter is the weight or bias of an ``nn.Linear`` (an MLP or ResNetMLP).
    residual_blocks : callable
        ``residual_blocks() -> sequence of (fn, rows)`` (:data:`~remodel_core.optim.ResidualBlock`) of the current
        loss; PINN residuals must take the ``"taylor"`` derivative route so that the layers' channels are seen.
    damping : float
        Initial ``lambda`` relative to the mean diagonal of the Kronecker factors' product (default 1e-3).
    factor_damping : float
        Initial ``gamma^2`` (the factors' Tikhonov damping) relative to the same scale.
    adapt_every : int
        Every this many steps ``gamma`` is chosen greedily among ``gamma/2, gamma, 2 gamma`` by the quadratic
        model's decrease (0: never).
    ema : float
        Weight of the previous factors in their exponential average, in ``[0, 1)`` (0: this step's only).
    momentum : bool
        Include the previous step in the quadratic model (``alpha d + mu p``); else ``alpha d`` alone.
    cg_iters : int
        0: the direction is the KFAC step. Otherwise at most this many preconditioned conjugate-gradient
        iterations on the damped Gauss–Newton system (one forward pass and one backward pass each), the KFAC
        inverse as the preconditioner (the factor damping is then not adapted).
    cg_tol : float
        Relative residual at which conjugate gradients stop.
    factors : bool
        False replaces the Kronecker factors by identities: the same step control (quadratic model, momentum,
        damping) without the curvature, the ablation that shows what the factors contribute.
    max_tries : int
        Damping increases per step before the step is declared failed.
    reuse : bool
        Evaluate the trial point with its graph, so that an accepted step's trial evaluation is the next step's
        (one forward pass per step saved; the iterates are the same). False: every step evaluates afresh.
    seed : int
        Seed of the random signs.

    Examples
    --------
    A linear least-squares fit: the factors are exact, one step lands on the minimiser.

    >>> net = torch.nn.Linear(3, 1).double()
    >>> x = torch.randn(40, 3, dtype=torch.float64)
    >>> y = x @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) + 0.3
    >>> blocks = lambda: [(lambda m, z: m(z[:, :3])[:, 0] - z[:, 3], torch.cat([x, y[:, None]], 1))]
    >>> opt = KFACOptimizer(net.parameters(), net, blocks, damping=1e-12, factor_damping=1e-12, ema=0.0)
    >>> closure = lambda: ((net(x)[:, 0] - y) ** 2).sum()
    >>> _ = opt.step(closure); float(closure().detach()) < 1e-8
    True
    """

    def __init__(
        self,
        params: Any,
        model: nn.Module,
        residual_blocks: Callable[[], Sequence[ResidualBlock]],
        *,
        damping: float = 1e-3,
        factor_damping: float = 1e-3,
        adapt_every: int = 5,
        ema: float = 0.95,
        momentum: bool = True,
        cg_iters: int = 0,
        cg_tol: float = 1e-2,
        factors: bool = True,
        max_tries: int = 8,
        reuse: bool = True,
        seed: int = 0,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not callable(residual_blocks):
            raise TypeError(f"residual_blocks must be callable, got {type(residual_blocks).__name__}")
        _check_options(
            damping=damping,
            factor_damping=factor_damping,
            adapt_every=adapt_every,
            ema=ema,
            momentum=momentum,
            cg_iters=cg_iters,
            cg_tol=cg_tol,
            factors=factors,
            max_tries=max_tries,
            reuse=reuse,
            seed=seed,
        )
        defaults = dict(
            damping=damping,
            factor_damping=factor_damping,
            adapt_every=adapt_every,
            ema=ema,
            momentum=momentum,
            cg_iters=cg_iters,
            cg_tol=cg_tol,
            factors=factors,
            max_tries=max_tries,
            reuse=reuse,
            seed=seed,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("KFACOptimizer supports a single parameter group")
        self._params: list[torch.Tensor] = list(self.param_groups[0]["params"])
        trainable = [p for p in model.parameters() if p.requires_grad]
        if len(trainable) != len(self._params) or any(a is not b for a, b in zip(trainable, self._params)):
            raise ValueError("params must be the model's trainable parameters, in model.parameters() order")
        self._linears = [m for m in model.modules() if isinstance(m, nn.Linear) and m.weight.requires_grad]
        owned = {id(m.weight) for m in self._linears} | {id(m.bias) for m in self._linears if m.bias is not None}
        for name, p in model.named_parameters():
            if p.requires_grad and id(p) not in owned:
                raise ValueError(
                    f"KFAC needs every trainable parameter to be the weight or bias of an nn.Linear; {name!r} is not"
                )
        for m in self._linears:
            if m.bias is not None and not m.bias.requires_grad:
                raise ValueError("KFAC needs the biases of trainable nn.Linear layers to be trainable too")
        self.model, self.residual_blocks = model, residual_blocks
        self.lam: float | None = None
        self.gamma = 0.0
        self.converged = False
        self.failed = False
        self.stats: dict[str, Any] = {"steps": 0, "rejected": 0, "cg_iters": 0}
        self._A: list[torch.Tensor] = []
        self._B: list[torch.Tensor] = []
        self._prev: torch.Tensor | None = None
        self._last: dict[str, Any] | None = None  # where the last accepted step ended: x and the rows
        self._next: _Evaluation | None = None  # the evaluation there, with its graph (reuse)
        self._gen = torch.Generator().manual_seed(seed)

    # evaluations ---------------------------------------------------------------------------------------
    def _residuals(self, blocks: Sequence[ResidualBlock] | None = None) -> torch.Tensor:
        blocks = self.residual_blocks() if blocks is None else blocks
        return torch.cat([fn(self.model, rows).reshape(-1) for fn, rows in blocks])

    def _evaluate(self, x: torch.Tensor, blocks: Sequence[ResidualBlock]) -> _Evaluation:
        """The residuals at the flat parameters ``x`` with their graph, recording the layers' uses; gradients are
        taken with respect to the flat leaf ``x`` (the model's parameters are not touched)."""
        leaf = x.detach().clone().requires_grad_(True)
        taylor: list = []
        plain: list = []
        with torch.enable_grad(), self._at(leaf), _capture(self._linears, taylor, plain):
            r = self._residuals(blocks)
        return _Evaluation(leaf, r, taylor, plain)

    def _factors(self, r: torch.Tensor, taylor: list, plain: list) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """This step's ``A`` (mean of augmented inputs' outer products) and ``B`` (sum of sensitivities' outer
        products) per layer, from one backward pass with random signs on the residuals."""
        records = [(layer, s, y, False) for layer, s, y in taylor] + [(layer, s, y, True) for layer, s, y in plain]
        if not records:
            raise ValueError(
                "KFAC saw no nn.Linear layer in the residuals: PINN residual blocks must use the 'taylor' route"
            )
        if not self.param_groups[0]["factors"]:  # the ablation: identity factors, the same step control
            eye = lambda n: torch.eye(n, dtype=r.dtype, device=r.device)  # noqa: E731
            return [eye(m.in_features + (m.bias is not None)) for m in self._linears], [
                eye(m.out_features) for m in self._linears
            ]
        xi = torch.randint(0, 2, r.shape, generator=self._gen).to(r).mul_(2.0).sub_(1.0)
        sens = torch.autograd.grad(
            r, [y for _, _, y, _ in records], grad_outputs=xi, allow_unused=True, retain_graph=True
        )
        index = {id(m): i for i, m in enumerate(self._linears)}
        A: list[Any] = [None] * len(self._linears)
        B: list[Any] = [None] * len(self._linears)
        rows = [0] * len(self._linears)
        for (layer, s, _, all_rows), g in zip(records, sens):
            i = index[id(layer)]
            z = s.detach().reshape(-1, layer.in_features)
            if layer.bias is not None:
                one = torch.ones(z.shape[0], 1, dtype=z.dtype, device=z.device)
                if not all_rows:  # the Taylor stack: the bias enters the value channel (the first) only
                    one.view(s.shape[0], -1)[1:] = 0.0
                z = torch.cat([z, one], 1)
            a = z.T @ z
            A[i] = a if A[i] is None else A[i] + a
            rows[i] += z.shape[0]
            if g is not None:
                g = g.reshape(-1, layer.out_features)
                b = g.T @ g
                B[i] = b if B[i] is None else B[i] + b
        for i, m in enumerate(self._linears):
            if A[i] is None:
                raise ValueError(f"KFAC: layer {i} ({m}) is not used by the residuals")
            A[i] = A[i] / rows[i]
            if B[i] is None:
                B[i] = torch.zeros(m.out_features, m.out_features, dtype=A[i].dtype, device=A[i].device)
        return A, B

    def _flatten(self, per_layer: Sequence[torch.Tensor]) -> torch.Tensor:
        """Per-layer ``[W, b]`` matrices as one vector in ``self._params`` order."""
        by_id: dict[int, torch.Tensor] = {}
        for m, d in zip(self._linears, per_layer):
            by_id[id(m.weight)] = d[:, : m.in_features]
            if m.bias is not None:
                by_id[id(m.bias)] = d[:, m.in_features]
        return torch.cat([by_id[id(p)].reshape(-1) for p in self._params])

    @contextlib.contextmanager
    def _at(self, x: torch.Tensor) -> Iterator[None]:
        """Evaluate the model at the flat parameters ``x`` without touching its parameters in place: the layers'
        parameter slots hold views of ``x`` meanwhile, so the step's retained graph stays valid."""
        saved = [(m, dict(m._parameters)) for m in self._linears]
        by_id, k = {}, 0
        for p in self._params:
            by_id[id(p)] = x[k : k + p.numel()].view_as(p)
            k += p.numel()
        try:
            for m, params in saved:
                for name, p in params.items():
                    if p is not None:
                        m._parameters[name] = by_id[id(p)]
            yield
        finally:
            for m, params in saved:
                m._parameters.update(params)

    def _jvp(self, x0: torch.Tensor, v: torch.Tensor, r0: torch.Tensor) -> torch.Tensor:
        """``J v`` by a forward difference of the residuals (step of relative size ``sqrt(eps)``)."""
        eps = math.sqrt(torch.finfo(x0.dtype).eps) * (1.0 + float(x0.norm())) / max(float(v.norm()), 1e-300)
        with self._at(x0 + eps * v):
            r = self._residuals()
        return (r - r0) / eps

    def _unflatten(self, v: torch.Tensor) -> list[torch.Tensor]:
        """A vector in ``self._params`` order as per-layer ``[W, b]`` matrices."""
        by_id, k = {}, 0
        for p in self._params:
            by_id[id(p)] = v[k : k + p.numel()].view_as(p)
            k += p.numel()
        out = []
        for m in self._linears:
            w = by_id[id(m.weight)]
            out.append(w if m.bias is None else torch.cat([w, by_id[id(m.bias)][:, None]], 1))
        return out

    def _precondition(self, G: list, eig: list, gamma: float) -> torch.Tensor:
        """``-(A (x) B + damping)^{-1} G`` per layer (factored Tikhonov damping ``gamma``), flattened."""
        return self._flatten([self._precondition_batch(Gl, ea, eb, gamma) for Gl, (ea, eb) in zip(G, eig)])

    def dense_inverse(self, damping: float | None = None, index: Any = None) -> Any:
        """The damped KFAC inverse at the current parameters as a dense matrix, in the order of the flat parameter
        vector: per layer ``(2 A + pi gamma I)^{-1} (x) (B + gamma / pi I)^{-1}`` on its ``[W, b]`` entries,
        zero across layers, with ``gamma^2 = damping`` times the factors' scale (default ``factor_damping``); or
        only its rows and columns ``index`` (a subdomain's block, formed without the whole matrix), or a list of
        such blocks for a list of index tensors (the factors are formed once). A
        structured first matrix for a dense quasi-Newton method (any positive definite matrix may start BFGS;
        Nocedal & Wright 2006, section 6.1), whose secant updates then add what the Kronecker blocks miss.

        Parameters
        ----------
        damping : float, optional
            ``gamma^2`` relative to the mean eigenvalue product of the factors (default: the ``factor_damping``
            option).
        index : 1-D integer tensor or list of them, optional
            Positions in the flat parameter vector (default: all).

        Examples
        --------
        A linear least-squares fit: the one block is the inverse Gauss–Newton matrix ``(2 J^T J)^{-1}``.

        >>> net = torch.nn.Linear(2, 1).double()
        >>> x = torch.randn(50, 2, dtype=torch.float64)
        >>> opt = KFACOptimizer(net.parameters(), net, lambda: [(lambda m, z: m(z)[:, 0], x)])
        >>> J = torch.cat([x, torch.ones(50, 1, dtype=torch.float64)], 1)
        >>> bool(torch.allclose(opt.dense_inverse(1e-14), torch.linalg.inv(2.0 * J.T @ J), rtol=1e-6))
        True
        """
        damping = self.param_groups[0]["factor_damping"] if damping is None else damping
        check_positive("damping", damping)
        x = flat_params(self._params)
        with torch.no_grad():
            ev = self._evaluate(x, self.residual_blocks())
            with torch.enable_grad():
                A, B = self._factors(ev.r, ev.taylor, ev.plain)
        eig = [(torch.linalg.eigh(2.0 * a), torch.linalg.eigh(b)) for a, b in zip(A, B)]
        eig = [((da.clamp_min(0.0), qa), (db.clamp_min(0.0), qb)) for (da, qa), (db, qb) in eig]
        scale = max(float(da.mean()) * float(db.mean()) for (da, _), (db, _) in eig)
        gamma = math.sqrt(damping * (scale if scale > 0 else 1.0))
        # each flat position's layer, output row o and input column i of that layer's [W, b]
        n = x.numel()
        layer_of = torch.full((n,), -1, dtype=torch.long)
        row_of = torch.zeros(n, dtype=torch.long)
        col_of = torch.zeros(n, dtype=torch.long)
        offsets, k = {}, 0
        for p in self._params:
            offsets[id(p)] = k
            k += p.numel()
        for li, m in enumerate(self._linears):
            w = slice(offsets[id(m.weight)], offsets[id(m.weight)] + m.weight.numel())
            layer_of[w] = li
            row_of[w] = torch.arange(m.out_features).repeat_interleave(m.in_features)
            col_of[w] = torch.arange(m.in_features).repeat(m.out_features)
            if m.bias is not None:
                b = slice(offsets[id(m.bias)], offsets[id(m.bias)] + m.out_features)
                layer_of[b], row_of[b], col_of[b] = li, torch.arange(m.out_features), m.in_features
        inverses = []
        for (da, qa), (db, qb) in eig:
            mean_a, mean_b = float(da.mean()), float(db.mean())
            pi = math.sqrt(mean_a / mean_b) if mean_a > 0 and mean_b > 0 else 1.0
            inverses.append(((qa / (da + gamma * pi)) @ qa.T, (qb / (db + gamma / pi)) @ qb.T))

        def block(index: torch.Tensor) -> torch.Tensor:
            index = torch.as_tensor(index, dtype=torch.long).reshape(-1)
            H = torch.zeros(index.numel(), index.numel(), dtype=torch.float64)
            for li, (a_inv, b_inv) in enumerate(inverses):
                at = (layer_of[index] == li).nonzero().reshape(-1)
                o, c = row_of[index[at]], col_of[index[at]]
                H[at[:, None], at[None, :]] = b_inv[o[:, None], o[None, :]] * a_inv[c[:, None], c[None, :]]
            return H

        if isinstance(index, (list, tuple)):
            return [block(i) for i in index]
        return block(torch.arange(n) if index is None else index)

    @staticmethod
    def _precondition_batch(G: torch.Tensor, ea: tuple, eb: tuple, gamma: float) -> torch.Tensor:
        """``-(A (x) B + damping)^{-1}`` applied to a stack of ``[out, in + 1]`` matrices (see
        :meth:`_precondition`)."""
        (da, qa), (db, qb) = ea, eb
        mean_a, mean_b = float(da.mean()), float(db.mean())
        pi = math.sqrt(mean_a / mean_b) if mean_a > 0 and mean_b > 0 else 1.0
        t = qb.T @ G @ qa
        t = t / ((db[:, None] + gamma / pi) * (da[None, :] + gamma * pi))
        return -(qb @ t @ qa.T)

    def _cg(
        self, g: torch.Tensor, eig: list, gamma: float, x0: torch.Tensor, r0: torch.Tensor, ev: _Evaluation
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Conjugate gradients on ``(2 J^T J + lambda I) d = -g`` preconditioned by the KFAC inverse (truncated
        Gauss–Newton, Martens 2010, with the preconditioner of Martens & Grosse 2015): ``J v`` by a forward
        difference, ``J^T u`` by a backward pass through the step's retained graph ``ev``. Returns ``d`` and
        ``J d``."""
        group = self.param_groups[0]
        d, Jd = torch.zeros_like(g), torch.zeros_like(r0)
        res = -g
        z = -self._precondition(self._unflatten(res), eig, gamma)
        p, rz = z, float(res @ z)
        g_norm = float(g.norm())
        for _ in range(group["cg_iters"]):
            Jp = self._jvp(x0, p, r0)
            (JtJp,) = torch.autograd.grad(ev.r, ev.x, Jp, retain_graph=True, materialize_grads=True)
            Ap = 2.0 * JtJp + self.lam * p
            pAp = float(p @ Ap)
            self.stats["cg_iters"] += 1
            if not pAp > 0:
                break
            a = rz / pAp
            d, Jd, res = d + a * p, Jd + a * Jp, res - a * Ap
            if float(res.norm()) <= group["cg_tol"] * g_norm:
                break
            z = -self._precondition(self._unflatten(res), eig, gamma)
            rz_new = float(res @ z)
            p, rz = z + (rz_new / rz) * p, rz_new
        return d, Jd

    def _model_step(
        self,
        G: list,
        eig: list,
        gamma: float,
        g: torch.Tensor,
        x0: torch.Tensor,
        r0: torch.Tensor,
        prev: torch.Tensor | None,
        Jp: torch.Tensor | None,
        ev: _Evaluation,
    ) -> tuple[torch.Tensor, float]:
        """The step ``alpha d + mu p`` that minimises the damped quadratic model, with ``d`` the KFAC direction
        for the factor damping ``gamma`` (or the preconditioned CG solution), and the model's change of the loss
        (negative for a descent step)."""
        if self.param_groups[0]["cg_iters"]:
            d, Jd = self._cg(g, eig, gamma, x0, r0, ev)
        else:
            d = self._precondition(G, eig, gamma)
            Jd = self._jvp(x0, d, r0)
        vs = [d] if prev is None else [d, prev]
        Jv = [Jd] if prev is None else [Jd, Jp]
        M = torch.tensor(
            [
                [2.0 * float(Jv[i] @ Jv[j]) + self.lam * float(vs[i] @ vs[j]) for j in range(len(vs))]
                for i in range(len(vs))
            ],
            dtype=torch.float64,
        )
        b = torch.tensor([float(g @ v) for v in vs], dtype=torch.float64)
        coef = _solve_small(M, b)
        if coef is None:  # the previous step is parallel to d (or the model is degenerate): d alone
            vs, M, b = vs[:1], M[:1, :1], b[:1]
            coef = _solve_small(M, b)
            if coef is None:
                return torch.zeros_like(d), 0.0
        s = sum(float(c) * v for c, v in zip(coef, vs))
        return s, 0.5 * float(b @ coef)

    def _trial(self, x: torch.Tensor, blocks: Sequence[ResidualBlock]) -> tuple[float, _Evaluation | None]:
        """The loss ``sum(r^2)`` at the flat parameters ``x`` and, with ``reuse``, its evaluation with the graph
        (the next step's, if the point is accepted)."""
        if self.param_groups[0]["reuse"]:
            ev = self._evaluate(x, blocks)
            r = ev.r.detach()
            return float(r @ r), ev
        with self._at(x):
            r = self._residuals(blocks)
        return float(r @ r), None

    def _same_point(self, x0: torch.Tensor, blocks: Sequence[ResidualBlock]) -> bool:
        """Whether this step starts where the last accepted step ended, on the same rows (no one moved the
        parameters or changed the data in between): then that step's trial evaluation is this step's."""
        last = self._last
        if last is None or not torch.equal(last["x"], x0) or len(last["rows"]) != len(blocks):
            return False
        return all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(last["rows"], (z for _, z in blocks)))

    # the step ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor:  # type: ignore[override]
        """One KFAC step; returns the loss ``sum(r^2)`` at its start (the closure is not needed)."""
        group = self.param_groups[0]
        x0 = flat_params(self._params)
        blocks = self.residual_blocks()
        same = self._same_point(x0, blocks)
        ev = self._next if same and self._next is not None else self._evaluate(x0, blocks)
        self._next = None
        with torch.enable_grad():
            f = ev.r @ ev.r
            f0 = float(f.detach())
            if not math.isfinite(f0):
                self.failed = True
                return f.detach()
            if not ev.taylor and not ev.plain:
                raise ValueError(
                    "KFAC saw no nn.Linear layer in the residuals: PINN residual blocks must use the 'taylor' route"
                )
            (g,) = torch.autograd.grad(f, ev.x, retain_graph=True, materialize_grads=True)
            A_new, B_new = self._factors(ev.r, ev.taylor, ev.plain)
        r0 = ev.r.detach()
        ev = dataclasses.replace(ev, taylor=[], plain=[])  # ev.r keeps its graph for the J^T u products of CG
        del f
        beta = group["ema"] if self._A else 0.0
        self._A = [beta * a + (1.0 - beta) * n for a, n in zip(self._A, A_new)] if self._A else A_new
        self._B = [beta * b + (1.0 - beta) * n for b, n in zip(self._B, B_new)] if self._B else B_new
        G = self._unflatten(g)
        if float(g.norm()) == 0.0:
            self.converged = True
            return torch.tensor(f0, dtype=r0.dtype)
        eig = [(torch.linalg.eigh(2.0 * a), torch.linalg.eigh(b)) for a, b in zip(self._A, self._B)]
        eig = [((da.clamp_min(0.0), qa), (db.clamp_min(0.0), qb)) for (da, qa), (db, qb) in eig]
        if self.lam is None:
            scale = max(float(da.mean()) * float(db.mean()) for (da, _), (db, _) in eig)
            self.lam = group["damping"] * (scale if scale > 0 else 1.0)
            self.gamma = math.sqrt(group["factor_damping"] * (scale if scale > 0 else 1.0))
        prev = self._prev if group["momentum"] else None
        Jp = None if prev is None else self._jvp(x0, prev, r0)
        every, first = group["adapt_every"], None
        # greedy choice of the factor damping (Martens & Grosse 2015, section 6.6)
        if every and not group["cg_iters"] and self.stats["steps"] % every == 0:
            best = None
            for gamma in (self.gamma * OMEGA, self.gamma, self.gamma / OMEGA):
                s, predicted = self._model_step(G, eig, gamma, g, x0, r0, prev, Jp, ev)
                if best is None or predicted < best[1]:
                    best = (s, predicted, gamma)
            self.gamma, first = best[2], best[:2]
        for _ in range(group["max_tries"]):
            s, predicted = first if first is not None else self._model_step(G, eig, self.gamma, g, x0, r0, prev, Jp, ev)
            first = None
            f1, ev1 = self._trial(x0 + s, blocks)
            if math.isfinite(f1) and f1 < f0 and predicted < 0:
                rho = (f1 - f0) / predicted
                if rho > 0.75:
                    self.lam *= 2.0 / 3.0
                elif rho < 0.25:
                    self.lam *= 1.5
                set_flat_params(self._params, x0 + s)
                self._prev = s
                self._next = ev1
                self._last = {"x": flat_params(self._params), "rows": [z.detach().clone() for _, z in blocks]}
                self.stats["steps"] += 1
                return torch.tensor(f0, dtype=r0.dtype)
            self.stats["rejected"] += 1
            self.lam *= 4.0
            self.gamma *= 2.0
            prev = Jp = None  # retry without the previous step's direction
        self.failed = True
        return torch.tensor(f0, dtype=r0.dtype)

    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        return {
            "lam": self.lam,
            "gamma": self.gamma,
            "A": [a.clone() for a in self._A],
            "B": [b.clone() for b in self._B],
            "prev": None if self._prev is None else self._prev.clone(),
            "generator": self._gen.get_state(),
            "stats": dict(self.stats),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        try:
            self.lam, self.gamma = state_dict["lam"], float(state_dict["gamma"])
            self._A = [a.clone() for a in state_dict["A"]]
            self._B = [b.clone() for b in state_dict["B"]]
            self._prev = None if state_dict["prev"] is None else state_dict["prev"].clone()
            self._last = self._next = None  # the next step evaluates afresh (the same numbers)
            self._gen.set_state(state_dict["generator"])
            self.stats = dict(state_dict["stats"])
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"not a KFACOptimizer state: {err}") from err


def _solve_small(M: torch.Tensor, b: torch.Tensor) -> torch.Tensor | None:
    """``-M^{-1} b`` for the small symmetric model matrix, or None when it is not positive definite."""
    L, info = torch.linalg.cholesky_ex(M)
    if int(info) != 0:
        return None
    return -torch.cholesky_solve(b[:, None], L)[:, 0]


def _check_options(
    *,
    damping: Any,
    factor_damping: Any,
    adapt_every: Any,
    ema: Any,
    momentum: Any,
    cg_iters: Any,
    cg_tol: Any,
    factors: Any,
    max_tries: Any,
    reuse: Any,
    seed: Any,
) -> None:
    """The options of :class:`KFACOptimizer` and :class:`KFAC`, each refused with an error naming it."""
    check_positive("damping", damping)
    check_positive("factor_damping", factor_damping)
    for name, value in (("adapt_every", adapt_every), ("cg_iters", cg_iters)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    if isinstance(ema, bool) or not isinstance(ema, (int, float)) or not 0.0 <= float(ema) < 1.0:
        raise ValueError(f"ema must be a number in [0, 1), got {ema!r}")
    for name, value in (("momentum", momentum), ("factors", factors), ("reuse", reuse)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    check_positive("cg_tol", cg_tol)
    check_positive("max_tries", max_tries, integer=True)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class KFAC(ResidualAlgorithm):
    """Kronecker-factored Gauss–Newton training of a least-squares loss (see :class:`KFACOptimizer`).

    The problem's loss must expose ``residual_blocks(*data, route=...)`` (the loss of
    :meth:`remodel_core.pde.PINNProblem.discretize` does) and the network must be built of ``nn.Linear`` layers
    (for a PINN: an MLP or ResNetMLP with tanh, sin, softplus, SiLU or GELU activations, which the Taylor-mode route
    differentiates); training is full batch.
    The curvature takes ``sum (in_l + 1)^2 + out_l^2`` numbers, so it scales to networks where a dense or
    sample-space Gauss–Newton matrix does not fit.

    Parameters
    ----------
    damping, factor_damping, adapt_every, ema, momentum, cg_iters, cg_tol, factors
        See :class:`KFACOptimizer`.
    max_tries, reuse, seed
        See :class:`KFACOptimizer`.

    Examples
    --------
    >>> from remodel_core import solve, pde
    >>> from remodel_core.nn import MLP
    >>> torch.manual_seed(0) and None
    >>> prob = pde.poisson2d().discretize(MLP(2, 1, width=8, depth=2), points=64, boundary_points=32)
    >>> sol = solve(prob, KFAC(), maxiters=30, dtype=torch.float64)
    >>> sol.history["loss"][-1] < 1e-2 * sol.history["loss"][0]
    True
    """

    damping: float = 1e-3
    factor_damping: float = 1e-3
    adapt_every: int = 5
    ema: float = 0.95
    momentum: bool = True
    cg_iters: int = 0
    cg_tol: float = 1e-2
    factors: bool = True
    max_tries: int = 8
    reuse: bool = True
    seed: int = 0

    optimizer_class = KFACOptimizer
    stats_prefix = "kfac"
    taylor_route = True

    def validate(self) -> None:
        _check_options(**self._options())
