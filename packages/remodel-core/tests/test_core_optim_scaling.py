"""Training that scales (issue 10): decomposed curvature in the Schwarz methods, neuron decompositions sized
to a memory budget, the two-level coarse correction, RMTR's coarse steps inside the fine trust region, and
``Auto``'s size-dependent choice. Each test checks the defining step of its method (breaking that step makes
it fail; see the report of issue 10)."""

from __future__ import annotations

import importlib.util
import math
import pathlib

import pytest
import torch
from remodel_core import TrainingProblem, solve
from remodel_core.nn import MLP, ResNetMLP
from remodel_core.optim import (
    ASPQN,
    MGOPT,
    MSPQN,
    RMTR,
    Auto,
    AutoOptimizer,
    BlockInverseHessian,
    DenseInverseHessian,
    LBFGSMemory,
    MGOPTOptimizer,
    ParameterDecomposition,
    RMTROptimizer,
    SPQNOptimizer,
    WidthHierarchy,
    decompose,
    decompose_layers,
    decompose_neurons,
    dense_block_size,
)
from remodel_core.optim._multilevel import _norm

_spec = importlib.util.spec_from_file_location(
    "_optim_problems", pathlib.Path(__file__).with_name("_optim_problems.py")
)
P = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(P)


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """All tests here run on one intra-op thread (the root conftest.py)."""


def _block_quadratic(sizes=(12, 12), cond=1e4, seed=0):
    """0.5 (x - x*)'A(x - x*) with A block diagonal (one SPD block per "layer" of a Vector module)."""
    gen = torch.Generator().manual_seed(seed)
    blocks = []
    for n in sizes:
        q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
        blocks.append(q @ torch.diag(torch.logspace(0, math.log10(cond), n, dtype=torch.float64)) @ q.T)
    A = torch.block_diag(*blocks)
    x_star = torch.randn(sum(sizes), generator=gen, dtype=torch.float64)
    model = P.Vector(list(sizes))

    def loss(m):
        e = m.vector() - x_star
        return 0.5 * e @ (A @ e)

    return TrainingProblem(model=model, loss=loss, name="block-quadratic"), A


# decompositions ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("overlap", [0, 2])
def test_neuron_groups_cover_every_parameter(overlap):
    net = MLP(2, 1, width=10, depth=3)
    dec = decompose_neurons(net, 3, overlap=overlap)
    n = sum(p.numel() for p in net.parameters())
    assert dec.size == n
    covered = torch.zeros(n)
    for idx in dec.indices:
        covered[idx] += 1
    assert torch.equal(covered.double(), dec.multiplicity)
    assert bool((covered >= 1).all())
    assert (overlap == 0) == bool((covered == 1).all())
    # a neuron's incoming weights and its bias lie in the same group: the first hidden layer's row 0
    w0 = torch.arange(0, 2)  # weight[0, :] of the first Linear(2, 10)
    b0 = torch.tensor([20])  # bias[0] follows the 20 weights
    home = [k for k, idx in enumerate(dec.indices) if bool(torch.isin(w0, idx).all())]
    assert home and all(bool(torch.isin(b0, dec.indices[k]).all()) for k in home)


@pytest.mark.parametrize("by", ["layers", "neurons"])
@pytest.mark.parametrize("max_dense", [300, 1000, 5000])
def test_automatic_sizing_respects_max_dense(by, max_dense):
    net = MLP(2, 1, width=30, depth=3)
    n = sum(p.numel() for p in net.parameters())
    dec = decompose(net, by=by, max_dense=max_dense)
    sizes = [int(i.numel()) for i in dec.indices]
    assert max(sizes) <= max_dense
    assert len(dec) == 1 if max_dense >= n else len(dec) > 1
    # the fewest subdomains: one subdomain fewer would exceed the budget (neuron groups are balanced)
    if by == "neurons" and len(dec) > 1:
        assert max(int(i.numel()) for i in decompose_neurons(net, len(dec) - 1).indices) > max_dense


def test_block_inverse_hessian_with_one_block_is_the_dense_one():
    torch.manual_seed(0)
    n = 8
    A = torch.randn(n, n, dtype=torch.float64)
    A = A @ A.T + n * torch.eye(n, dtype=torch.float64)
    dec = ParameterDecomposition((torch.arange(n),), n, torch.ones(n, dtype=torch.float64), ((),))
    block, dense = BlockInverseHessian(dec, "ssbroyden"), DenseInverseHessian("ssbroyden")
    g = torch.randn(n, dtype=torch.float64)
    for _ in range(5):
        d1, d2 = block.direction(g), dense.direction(g)
        assert torch.allclose(d1, d2, rtol=1e-12, atol=1e-14)
        s = 0.3 * d1
        block.push(s, A @ s)
        dense.push(s, A @ s)
        g = g + A @ s
    assert block.numel == n * n


# decomposed curvature ----------------------------------------------------------------------------------
def test_block_dense_curvature_solves_a_block_quadratic():
    """ASPQN with one dense SSBroyden matrix per subdomain and the global step on their block-diagonal
    assembly: on a block-diagonal quadratic (cond 1e4, f0 = 4e4) this is a self-scaled quasi-Newton method on
    each block and reaches 1e-12 (52 steps when written); a block whose curvature update is dropped is left
    at steepest descent (still ~2e3 after 80 steps)."""
    prob, _ = _block_quadratic()
    alg = ASPQN(subdomains=2, local_iters=0, local_hessian="ssbroyden", global_hessian="block")
    sol = solve(prob, alg, maxiters=70, dtype=torch.float64)
    assert sol.history["loss"][-1] < 1e-12
    # the memory is sum n_i^2, not n^2
    opt = alg.make_optimizer(prob.model.double())
    assert isinstance(opt.memory, BlockInverseHessian) and opt.memory.blocks is opt.local_memories


def test_every_subdomain_updates_its_own_curvature():
    """Each subdomain's dense matrix is updated by its local steps and by the global pairs."""
    prob, _ = _block_quadratic(sizes=(6, 6, 6))
    net = prob.model.double()
    opt = SPQNOptimizer(
        net.parameters(),
        decompose_layers(net, 3),
        local_iters=2,
        local_hessian="ssbroyden",
        global_hessian="block",
        global_iters=1,
    )

    def closure():
        opt.zero_grad()
        loss = prob.loss(net)
        loss.backward()
        return loss

    first = float(closure().detach())
    for _ in range(4):
        opt.step(closure)
    assert float(closure().detach()) < 1e-3 * first
    # two local pairs per subdomain and step, plus the global pair of each step (shared blocks)
    assert [m.updates + m.skipped for m in opt.local_memories] == [12, 12, 12]
    assert all(m.updates >= 9 for m in opt.local_memories)
    assert opt.memory.numel == 3 * 6 * 6


@pytest.mark.parametrize("method", [ASPQN, MSPQN])
def test_local_dense_with_lbfgs_global_trains_a_network(method):
    prob = P.regression()
    first = float(prob.loss(prob.model.double(), *prob.data).detach())
    sol = solve(
        prob,
        method(decomposition="neurons", max_dense=60, local_iters=1, local_hessian="ssbroyden", global_hessian="lbfgs"),
        maxiters=40,
        dtype=torch.float64,
    )
    assert sol.history["loss"][-1] < 1e-3 * first


# two-level SPQN: the coarse correction ------------------------------------------------------------------
class _SpyCoarse(SPQNOptimizer):
    calls: list[tuple[float, float]]

    def _coarse(self, fc, x, f, g, directions):
        out = super()._coarse(fc, x, f, g, directions)
        self.calls.append((f, out[1]))
        return out


def test_two_level_coarse_correction_lowers_the_fine_loss():
    """The coarse problem beta -> L(x + V beta) over the span of the subdomain corrections never raises the
    loss and lowers it strictly on a coupled problem (a network), on which the subdomain sweep alone is not
    optimal in that span."""
    torch.manual_seed(0)
    net = ResNetMLP(1, 1, width=6, depth=4).double()
    x = torch.linspace(-1, 1, 48, dtype=torch.float64).unsqueeze(1)
    y = torch.sin(3 * x)
    opt = _SpyCoarse(
        net.parameters(),
        decompose_layers(net, 3),
        method="multiplicative",
        coarse=True,
        coarse_iters=3,
        global_iters=0,
        local_iters=1,
    )
    opt.calls = []

    def closure():
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(8):
        opt.step(closure)
    assert len(opt.calls) == 8
    assert all(after <= before for before, after in opt.calls)
    gains = [before - after for before, after in opt.calls]
    assert sum(g > 1e-3 * abs(b) for g, (b, _) in zip(gains, opt.calls)) >= 4


# RMTR: coarse steps stay inside the fine trust region -------------------------------------------------
class _SpyRMTR(RMTROptimizer):
    records: list[tuple[int, float, float, float]]

    def _cycle(self, level, it, psi, closure, outer):
        x0 = it.x.clone()
        out = super()._cycle(level, it, psi, closure, outer)
        if outer is not None:
            step = out.x - x0
            coarse_norm = _norm(step, self._weights(level))
            fine_norm = _norm(self.hierarchy.prolongate(level - 1, step), self._weights(level - 1))
            self.records.append((level, outer, coarse_norm, fine_norm))
        return out


def test_rmtr_coarse_steps_stay_in_the_fine_radius():
    torch.manual_seed(0)
    net = ResNetMLP(1, 1, width=8, depth=8).double()
    x = torch.linspace(-1, 1, 64, dtype=torch.float64).unsqueeze(1)
    y = torch.sin(3 * x)
    opt = _SpyRMTR(net, levels=3, coarse_iters=4, delta0=2.0, delta_max=100.0)
    opt.records = []

    def closure():
        opt.zero_grad()
        loss = (net(x) - y).pow(2).mean()
        loss.backward()
        return loss

    for _ in range(10):
        opt.step(closure)
    assert {r[0] for r in opt.records} == {1, 2}
    moved = [r for r in opt.records if r[2] > 0]
    assert len(moved) >= 5
    for _, radius, coarse_norm, fine_norm in opt.records:
        assert coarse_norm <= radius * (1 + 1e-9)
        assert fine_norm <= radius * (1 + 1e-9)


# Auto ---------------------------------------------------------------------------------------------------
def test_dense_block_size_follows_size_memory_and_cost():
    rate = 5e9
    assert dense_block_size(1000, 0.05, rate) == 1000  # small: one dense matrix
    m_big = dense_block_size(100_000, 0.05, rate)
    assert 0 < m_big < 100_000
    assert dense_block_size(100_000, 0.5, rate) > m_big  # a costlier evaluation affords more curvature
    assert dense_block_size(100_000, 0.5, rate, memory_mb=10) == int(10e6 / 8 / 100_000)  # memory-bound


def _auto_run(model, memory_mb, steps=4, **kw):
    x = torch.linspace(-1, 1, 32, dtype=torch.float64).unsqueeze(1)
    opt = AutoOptimizer(model.parameters(), model, memory_mb=memory_mb, warmup_s=0.0, warmup_max_s=0.0, **kw)

    def closure():
        opt.zero_grad()
        loss = ((model(x) - torch.sin(3 * x)) ** 2).mean()
        loss.backward()
        return loss

    losses = [float(opt.step(closure)) for _ in range(steps)]
    return opt, losses


def test_auto_choice_depends_on_the_size():
    """The same rule gives one dense matrix to a small network, neuron/layer blocks sized to the budget to a
    larger one, and L-BFGS when not even min_block fits; the budget is what bounds the blocks."""
    torch.manual_seed(0)
    small = MLP(1, 1, width=8, depth=2).double()
    opt, _ = _auto_run(small, memory_mb=1.0)
    assert opt.plan["kind"] == "dense" and opt.plan["subdomains"] == 1
    assert opt.structured.param_groups[0]["trial_step"] == "quadratic"  # the dense directions are not well scaled
    torch.manual_seed(0)
    big = MLP(1, 1, width=40, depth=3).double()  # 3,401 parameters
    n = sum(p.numel() for p in big.parameters())
    budget = 8 * n * 900 / 1e6  # room for blocks of 900
    opt, _ = _auto_run(big, memory_mb=budget, dense_cost=1e6)
    assert opt.plan["kind"] == "lbfgs" and opt.structured is None  # blocks are off by default (measured to lose)
    opt, _ = _auto_run(big, memory_mb=budget, dense_cost=1e6, blocks=True)
    assert opt.plan["kind"] == "block"
    assert opt.plan["max_dense"] == 900 and opt.plan["largest"] <= 900 and opt.plan["subdomains"] >= 4
    assert opt.structured.memory.numel <= n * 900
    opt, _ = _auto_run(big, memory_mb=8 * n * 100 / 1e6, dense_cost=1e6, blocks=True)
    assert opt.plan["kind"] == "lbfgs" and opt.structured is None


def test_auto_warmup_is_torch_lbfgs():
    """Until it switches, Auto's iterates are torch's L-BFGS (history 50, strong Wolfe), bit for bit."""
    prob = P.regression()
    sol_a = solve(prob, Auto(warmup_decrease=1e-30, warmup_s=1e9, warmup_max_s=1e9), maxiters=6, dtype=torch.float64)
    from remodel_core.optim import LBFGS

    sol_l = solve(prob, LBFGS(history_size=50), maxiters=6, dtype=torch.float64)
    assert sol_a.history["loss"] == sol_l.history["loss"]


def test_auto_trains_and_keeps_or_reverts():
    prob = P.regression()
    first = float(prob.loss(prob.model.double(), *prob.data).detach())
    captured = {}

    class Spy(Auto):
        def make_optimizer(self, model):
            captured["opt"] = opt = super().make_optimizer(model)
            return opt

    sol = solve(prob, Spy(warmup_s=0.0, trial_steps=3), maxiters=30, dtype=torch.float64)
    opt = captured["opt"]
    assert sol.history["loss"][-1] < 1e-4 * first
    assert opt.plan["kind"] == "dense"
    assert opt.phase in ("structured", "lbfgs")
    assert ("rate_structured" in opt.plan) or opt.phase == "trial"
    assert sol.stats["plan"] == opt.plan and sol.stats["plan"] is not opt.plan  # the user sees what it chose


def test_auto_tries_a_lost_trial_again_when_the_cpu_time_has_doubled(monkeypatch):
    """A structured trial that loses hands back to L-BFGS and is tried again at twice the CPU time of its switch,
    up to ``MAX_TRIALS`` trials in all (here the dense matrix always loses: L-BFGS's rate is made infinite)."""
    from remodel_core.optim import _auto

    monkeypatch.setattr(_auto.AutoOptimizer, "_lbfgs_rate", lambda self: math.inf)
    switches = []
    decide = _auto.AutoOptimizer._decide

    def spy(self):
        switches.append((self.cpu, self._switch[0]))
        decide(self)

    monkeypatch.setattr(_auto.AutoOptimizer, "_decide", spy)
    captured = {}

    class Spy(Auto):
        def make_optimizer(self, model):
            captured["opt"] = opt = super().make_optimizer(model)
            return opt

    solve(P.regression(), Spy(warmup_s=0.0, trial_steps=2), maxiters=400, dtype=torch.float64)
    opt = captured["opt"]
    assert len(switches) == _auto.MAX_TRIALS and opt.plan["trials"] == _auto.MAX_TRIALS
    assert opt.plan["kind"] == "dense" and opt.phase == "lbfgs" and opt.structured is None
    assert "retry_at" not in opt.plan and opt.plan["reverted"] == "slower than L-BFGS in the trial"
    for (_, before), (now, _) in zip(switches, switches[1:]):  # each retry at least at twice the previous switch
        assert now >= 2.0 * before


def test_auto_state_dict_round_trip(tmp_path):
    prob = P.regression()
    alg = Auto(warmup_s=0.0, trial_steps=2)
    path = tmp_path / "ck.pt"
    full = solve(prob, alg, maxiters=8, dtype=torch.float64)
    solve(prob, alg, maxiters=4, dtype=torch.float64, checkpoint=path)
    resumed = solve(prob, alg, maxiters=8, dtype=torch.float64, checkpoint=path, resume=True)
    assert resumed.history["loss"][:4] == full.history["loss"][:4]
    assert len(resumed.history["loss"]) == 8


# dense curvature on the coarse levels only -----------------------------------------------------------------
@pytest.mark.parametrize("cls", [RMTROptimizer, MGOPTOptimizer])
def test_dense_curvature_on_coarse_levels_only(cls):
    """Fine level L-BFGS, coarse levels (fewer residual blocks) dense SSBroyden: each coarse matrix is the
    size of its level, smaller than the fine n x n, and is updated; the loss goes down."""
    torch.manual_seed(0)
    net = ResNetMLP(1, 1, width=8, depth=8).double()
    x = torch.linspace(-1, 1, 64, dtype=torch.float64).unsqueeze(1)
    y = torch.sin(3 * x)
    opt = cls(net, levels=3, hessian="lbfgs", coarse_hessian="ssbroyden")

    def closure():
        opt.zero_grad()
        loss = (net(x) - y).pow(2).mean()
        loss.backward()
        return loss

    first = float(closure().detach())
    for _ in range(10):
        opt.step(closure)
    assert float(closure().detach()) < 0.1 * first
    n = sum(p.numel() for p in net.parameters())
    assert isinstance(opt.memories[0], LBFGSMemory)
    for level in (1, 2):
        H = opt.memories[level]
        assert isinstance(H, DenseInverseHessian) and H.updates > 0
        assert H.H.shape[0] == opt.hierarchy.size(level) < n


# width coarsening of a plain MLP ---------------------------------------------------------------------------
def test_width_hierarchy_coarse_network_is_the_prolongated_one():
    """f_l(y) = f_0(P y) exactly (a duplicated neuron pair with halved outgoing weights is the coarse
    neuron), hence grad f_l(y) = P^T grad f_0(P y); and R P = I."""
    torch.manual_seed(0)
    net = MLP(2, 1, width=8, depth=3).double()
    H = WidthHierarchy(net, levels=3)
    x = torch.rand(20, 2, dtype=torch.float64)

    def closure():
        loss = (net(x) ** 2).mean()
        loss.backward()
        return loss

    assert [H.size(level) for level in range(3)] == [177, 57, 21]
    for level in (1, 2):
        y = torch.randn(H.size(level), dtype=torch.float64)
        z = y
        for k in range(level - 1, -1, -1):
            z = H.prolongate(k, z)
        assert torch.allclose(H.restrict(level - 1, H.prolongate(level - 1, y)), y)
        f_coarse, g_coarse = H.evaluate(level, y, closure)
        f_fine, g_fine = H.evaluate(0, z, closure)
        for k in range(level):
            g_fine = H.restrict_gradient(k, g_fine)
        assert f_coarse == pytest.approx(f_fine, rel=1e-12)
        assert torch.allclose(g_coarse, g_fine, rtol=1e-10, atol=1e-12)
    assert [p.shape for p in net.parameters()][2] == (8, 8)  # the fine weights are back


@pytest.mark.parametrize("cls", [RMTR, MGOPT])
def test_width_coarsening_trains_a_plain_mlp(cls):
    prob = P.regression(width=16, depth=3)
    first = float(prob.loss(prob.model.double(), *prob.data).detach())
    sol = solve(prob, cls(levels=3, coarsen="width", coarse_hessian="ssbroyden"), maxiters=30, dtype=torch.float64)
    assert sol.history["loss"][-1] < 1e-2 * first
    assert all(n > 0 for n in sol.stats["evals_per_level"])


def test_width_hierarchy_rejects_bad_networks():
    with pytest.raises(ValueError, match="divisible"):
        WidthHierarchy(MLP(1, 1, width=6, depth=2), levels=3)
    with pytest.raises(TypeError, match="Linear"):
        WidthHierarchy(torch.nn.Tanh(), levels=2)
    with pytest.raises(TypeError, match="model"):
        WidthHierarchy("net", levels=2)
    with pytest.raises(ValueError, match="levels"):
        WidthHierarchy(MLP(1, 1, width=8, depth=2), levels=0)


def test_auto_memory_budget_defaults_to_an_eighth_of_the_machine():
    """Without ``memory_mb`` the curvature budget is an eighth of the physical memory: the rule sizes the dense
    matrices from the machine it runs on."""
    import os

    from remodel_core.optim import memory_budget_mb

    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert memory_budget_mb() == pytest.approx(total / 8e6)
    net = MLP(1, 1, width=8, depth=2).double()
    assert AutoOptimizer(net.parameters(), net).param_groups[0]["memory_mb"] == memory_budget_mb()
    assert AutoOptimizer(net.parameters(), net, memory_mb=5.0).param_groups[0]["memory_mb"] == 5.0
