"""EMA of the weights and the training-time distributions of flow matching."""

import math

import numpy as np
import pytest
import torch
from remodel_core import TrainingProblem, solve
from remodel_core.optim import SGD, Adam
from remodel_gen import EMA, CosineAdam, FlowMatching, GenerativeProblem, eight_gaussians, sample_times, two_moons

C, THETA0, LR = 3.0, torch.tensor([0.5, -1.0], dtype=torch.float64), 0.1


class Vec(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.theta = torch.nn.Parameter(THETA0.clone())


def quadratic_problem():
    # loss 0.5 |theta - C|^2: gradient descent's iterates are theta_j = C + (1 - lr)^j (theta_0 - C)
    return TrainingProblem(model=Vec(), loss=lambda m: 0.5 * (m.theta - C).pow(2).sum(), name="quadratic")


def iterate(j):
    return C + (1 - LR) ** j * (THETA0 - C)


@pytest.mark.parametrize("warmup", [False, True])
def test_ema_weights_equal_the_closed_form_average(warmup):
    d, k = 0.9, 25
    sol = solve(quadratic_problem(), EMA(optimizer=SGD(lr=LR), decay=d, warmup=warmup), maxiters=k, seed=0)
    # a_0 = theta_0, a_j = d_j a_{j-1} + (1 - d_j) theta_j, with d_j = d (or min(d, j / (9 + j)) with warm-up)
    expected = THETA0.clone()
    for j in range(1, k + 1):
        dj = min(d, j / (9 + j)) if warmup else d
        expected = dj * expected + (1 - dj) * iterate(j)
    if not warmup:  # the unrolled sum d^k theta_0 + sum_j (1 - d) d^(k - j) theta_j
        unrolled = d**k * THETA0 + sum((1 - d) * d ** (k - j) * iterate(j) for j in range(1, k + 1))
        torch.testing.assert_close(expected, unrolled)
    torch.testing.assert_close(sol.u.theta.detach(), expected, rtol=1e-12, atol=1e-12)
    # not the last iterate, which plain SGD returns
    assert (sol.u.theta.detach() - iterate(k)).abs().max() > 1e-3
    plain = solve(quadratic_problem(), SGD(lr=LR), maxiters=k, seed=0)
    torch.testing.assert_close(plain.u.theta.detach(), iterate(k), rtol=1e-12, atol=1e-12)


def test_ema_decay_zero_is_the_last_iterate_and_lr_is_the_inner_one():
    sol = solve(quadratic_problem(), EMA(optimizer=SGD(lr=LR), decay=0.0), maxiters=7, seed=0)
    torch.testing.assert_close(sol.u.theta.detach(), iterate(7), rtol=1e-12, atol=1e-12)
    opt = EMA(optimizer=CosineAdam(lr=1e-2, decay_steps=10)).make_optimizer(Vec())
    assert opt.param_groups is opt.inner.param_groups and opt.param_groups[0]["lr"] == 1e-2


def test_ema_checkpoint_resume_is_exact(tmp_path):
    alg = EMA(optimizer=Adam(lr=0.05), decay=0.8)
    full = solve(quadratic_problem(), alg, maxiters=10, seed=0)
    ckpt = tmp_path / "ema.pt"
    solve(quadratic_problem(), alg, maxiters=4, seed=0, checkpoint=ckpt)
    resumed = solve(quadratic_problem(), alg, maxiters=10, seed=0, checkpoint=ckpt, resume=True)
    assert torch.equal(full.u.theta, resumed.u.theta)
    opt = alg.make_optimizer(Vec())
    with pytest.raises(ValueError, match="state_dict"):
        opt.load_state_dict({"inner": {}, "averages": []})


def test_flow_matching_returns_the_averaged_weights():
    prob = GenerativeProblem(two_moons(512, torch.Generator().manual_seed(0)), source=eight_gaussians)
    kw = dict(coupling="ot", width=16, depth=2, batch_size=64, eval_samples=0)
    raw = solve(prob, FlowMatching(optimizer=Adam(lr=1e-2), **kw), maxiters=30, seed=0)
    last = solve(prob, FlowMatching(optimizer=EMA(optimizer=Adam(lr=1e-2), decay=0.0), **kw), maxiters=30, seed=0)
    avg = solve(prob, FlowMatching(optimizer=EMA(optimizer=Adam(lr=1e-2), decay=0.9), **kw), maxiters=30, seed=0)
    assert raw.history["loss"] == last.history["loss"] == avg.history["loss"]  # same iterates
    for a, b in zip(raw.u.parameters(), last.u.parameters(), strict=True):
        assert torch.equal(a, b)  # decay 0: the average is the last iterate
    assert any(not torch.equal(a, c) for a, c in zip(raw.u.parameters(), avg.u.parameters()))
    # with a reflow stage, both stages average (the pairs come from the averaged first stage)
    both = FlowMatching(optimizer=EMA(optimizer=Adam(lr=1e-2), decay=0.9), reflow=1, reflow_pairs=256, **kw)
    assert solve(prob, both, maxiters=20, seed=0).stats["stages"] == 2


def u_shaped_cdf(t, a):
    return (np.sinh(a * (2 * np.asarray(t) - 1)) + math.sinh(a)) / (2 * math.sinh(a))


@pytest.mark.parametrize("a", [1.0, 4.0])
def test_u_shaped_times_follow_their_density(a):
    from scipy.stats import kstest

    t = sample_times(20_000, torch.Generator().manual_seed(0), kind="u_shaped", scale=a, dtype=torch.float64)
    assert 0 <= float(t.min()) and float(t.max()) <= 1
    assert kstest(t.numpy(), lambda s: u_shaped_cdf(s, a)).pvalue > 0.01
    # and it is not uniform
    assert kstest(t.numpy(), "uniform").pvalue < 1e-6
    # mass near the ends: P(t < 0.1) = F(0.1)
    assert abs(float((t < 0.1).double().mean()) - u_shaped_cdf(0.1, a)) < 0.01
    u = sample_times(10, torch.Generator().manual_seed(1))
    assert torch.equal(u, torch.rand(10, generator=torch.Generator().manual_seed(1)))


class RecordT(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.seen = []

    def forward(self, t, x):
        self.seen.append(t.detach().clone())
        return self.w * x


@pytest.mark.parametrize("paired", [False, True])
def test_reflow_time_sampling_applies_to_the_reflow_stage_only(paired):
    alg = FlowMatching(reflow_time_sampling="u_shaped", time_scale=3.0)
    field, x1, x0 = RecordT(), torch.randn(64, 2), torch.randn(64, 2)
    loss = alg.loss_fn((2,), lambda: torch.Generator().manual_seed(5), paired=paired)
    loss(field, x1, x0) if paired else loss(field, x1)
    gen = torch.Generator().manual_seed(5)
    if not paired:
        torch.randn(64, 2, generator=gen)  # the source draw comes first
    want = sample_times(64, gen, kind="u_shaped" if paired else "uniform", scale=3.0)
    torch.testing.assert_close(field.seen[0], want)
