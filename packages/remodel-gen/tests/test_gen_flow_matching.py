import math

import pytest
import torch
from remodel_core import ReturnCode, solve
from remodel_core.optim import Adam
from remodel_gen import (
    CosineAdam,
    FlowMatching,
    FlowModel,
    GenerativeProblem,
    MLPField,
    eight_gaussians,
    gaussian,
    two_moons,
    wasserstein2,
)

SMALL = dict(width=32, depth=2, batch_size=128, n_train=4000, eval_samples=500, eval_steps=20)


def exact_velocity(t, x, m, s):
    # E[x1 - x0 | x_t = x] for x0 ~ N(0, 1), x1 ~ N(m, s^2) independent, x_t = (1 - t) x0 + t x1
    var = (1 - t) ** 2 + t**2 * s**2
    return m + (t * s**2 - (1 - t)) / var * (x - t * m)


class ExactField(torch.nn.Module):
    """The marginal field of N(0, 1) -> N(m, s^2) plus a learnable affine perturbation a + b x."""

    def __init__(self, m, s):
        super().__init__()
        self.m, self.s = m, s
        self.a = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
        self.b = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, t, x):
        return exact_velocity(t[:, None], x, self.m, self.s) + self.a + self.b * x


def test_cfm_loss_is_minimised_by_the_analytic_marginal_field():
    m, s = 1.5, 0.5
    alg = FlowMatching()
    g = torch.Generator().manual_seed(0)
    x1 = m + s * torch.randn(200_000, 1, generator=g, dtype=torch.float64)
    loss = alg.loss_fn((1,), lambda: torch.Generator().manual_seed(1))
    field = ExactField(m, s)
    base = loss(field, x1)
    base.backward()
    grad0 = torch.stack((field.a.grad, field.b.grad)).abs().max()
    # the loss is quadratic in (a, b): its minimiser is at (0, 0) up to Monte Carlo error
    assert float(grad0) < 0.02
    for a, b in ((0.1, 0.0), (-0.1, 0.0), (0.0, 0.1), (0.0, -0.1)):
        with torch.no_grad():
            field.a.fill_(a), field.b.fill_(b)
        assert float(loss(field, x1).detach()) > float(base.detach()) + 0.005
    # the minimum is the conditional variance E|u - E[u | x_t]|^2 > 0, not zero: CFM's regression target is noisy
    assert float(base.detach()) > 0.1


def test_learned_velocity_matches_closed_form_for_gaussian_target():
    m, s = 2.0, 0.5
    prob = GenerativeProblem(gaussian([m], s), dim=1, name="gauss1d")
    alg = FlowMatching(
        width=32, depth=2, batch_size=512, n_train=8000, eval_samples=400, eval_steps=20, optimizer=Adam(lr=1e-2)
    )
    sol = solve(prob, alg, maxiters=300, seed=0)
    t = torch.linspace(0.05, 0.95, 10).repeat_interleave(50)
    x = (t * m + ((1 - t) ** 2 + t**2 * s**2).sqrt() * torch.linspace(-2, 2, 50).repeat(10))[:, None]
    with torch.no_grad():
        learned = sol.u(t, x)[:, 0]
    exact = exact_velocity(t, x[:, 0], m, s)
    assert float((learned - exact).norm() / exact.norm()) < 0.15
    samples = sol.u.sample(4000, seed=1, steps=20).double()
    assert abs(float(samples.mean()) - m) < 0.1 and abs(float(samples.std()) - s) < 0.1


def test_samplers_reach_the_analytic_flow_of_gaussian_to_gaussian():
    # the marginal flow of N(0, 1) -> N(m, s^2) on the linear path maps x0 to m + s x0 at t = 1
    m, s = 1.5, 0.5
    model = FlowModel(ExactField(m, s), 1)
    x0 = torch.linspace(-2, 2, 9, dtype=torch.float64)[:, None]
    exact = m + s * x0
    err = {}
    for method in ("euler", "heun", "rk4"):
        for steps in (16, 32, 64):
            x, stats = model.sample(x0=x0, steps=steps, method=method, return_stats=True)
            err[method, steps] = float((x - exact).abs().max())
            assert stats["nfe"] == steps * {"euler": 1, "heun": 2, "rk4": 4}[method]
    for method, order, n in (("euler", 1, 16), ("heun", 2, 16), ("rk4", 4, 32)):
        rate = math.log2(err[method, n] / err[method, 2 * n])
        assert abs(rate - order) < 0.5, (method, rate)
    assert err["rk4", 64] < 1e-8
    x, stats = model.sample(x0=x0, steps=1, method="dopri5", rtol=1e-10, atol=1e-10, return_stats=True)
    assert float((x - exact).abs().max()) < 1e-8 and stats["nfe"] > 6


@pytest.mark.parametrize(
    "kw",
    [
        {"coupling": "independent"},
        {"coupling": "ot"},
        {"coupling": "sinkhorn", "reg": 1.0},
        {"path": "vp"},
        {"path": "lipman", "sigma": 0.01},
    ],
)
def test_training_lowers_energy_distance_on_eight_gaussians(kw):
    prob = GenerativeProblem(eight_gaussians, dim=2, name="8 gaussians")
    sol = solve(prob, FlowMatching(optimizer=Adam(lr=5e-3), **kw, **SMALL), maxiters=150, seed=0)
    assert sol.retcode is ReturnCode.MaxIters
    assert isinstance(sol.u, FlowModel) and len(sol.history["loss"]) == 150
    assert sol.stats["energy_distance"] < 0.25 * sol.stats["energy_distance_untrained"]


def test_ot_coupling_straightens_paths_and_reflow_straightens_further():
    """One Euler step against the converged ODE map: OT-CFM and rectified flow move less than I-CFM."""
    prob = GenerativeProblem(two_moons, dim=2, source=eight_gaussians)
    kw = dict(width=48, depth=2, batch_size=256, n_train=4000, eval_samples=0, optimizer=Adam(lr=3e-3))
    x0 = eight_gaussians(500, torch.Generator().manual_seed(5))

    def curvature(model):
        return float((model.sample(x0=x0, steps=1, method="euler") - model.sample(x0=x0, steps=20)).norm(dim=1).mean())

    icfm = solve(prob, FlowMatching(**kw), maxiters=200, seed=0)
    rect = solve(
        prob,
        FlowMatching(reflow=1, reflow_method="rk4", reflow_steps=20, reflow_pairs=4000, **kw),
        maxiters=400,
        seed=0,
    )
    otcfm = solve(prob, FlowMatching(coupling="ot", **kw), maxiters=200, seed=0)
    c_i, c_r, c_o = curvature(icfm.u), curvature(rect.u), curvature(otcfm.u)
    assert rect.stats["stages"] == 2 and rect.stats["iterations"] == 400 and rect.stats["reflow_nfe"] == 80
    # the first stage of rectified flow is the I-CFM run itself (same seed, same noise)
    assert rect.history["loss"][:200] == icfm.history["loss"]
    assert c_r < 0.5 * c_i and c_o < 0.5 * c_i


def test_any_module_as_field_and_array_data():
    g = torch.Generator().manual_seed(0)
    data = (torch.randn(500, 2, generator=g) * 0.3 + 1.0).numpy()

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 2)

        def forward(self, t, x):
            return self.lin(torch.cat((x, t[:, None]), 1))

    net = Field()
    before = net.lin.weight.detach().clone()
    sol = solve(
        GenerativeProblem(data),
        FlowMatching(network=net, batch_size=100, eval_samples=0, optimizer=Adam(lr=2e-2)),
        maxiters=200,
        seed=0,
    )
    assert isinstance(sol.u.field, Field) and torch.equal(net.lin.weight, before)  # the user's module is copied
    assert sol.stats["train_samples"] == 500
    x = sol.u.sample(1000, seed=1, steps=10)
    assert torch.allclose(x.mean(0), torch.ones(2), atol=0.1)


def test_class_conditional_generation_with_guidance():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (2000,), generator=g)
    x = (4.0 * y - 2.0)[:, None] + 0.3 * torch.randn(2000, 1, generator=g)
    prob = GenerativeProblem(x, labels=y)
    sol = solve(
        prob,
        FlowMatching(width=32, depth=2, eval_samples=0, optimizer=Adam(lr=5e-3), p_uncond=0.2),
        maxiters=300,
        seed=0,
    )
    model = sol.u
    for label, sign in ((0, -1.0), (1, 1.0)):
        s = model.sample(400, seed=2, steps=20, y=label, guidance=1.5)
        assert float((sign * s > 0).double().mean()) > 0.95
    # the guided field is v(∅) + w (v(y) - v(∅))
    t, xs, lab = torch.full((5,), 0.3), torch.randn(5, 1), torch.tensor([0, 1, 0, 1, 1])
    with torch.no_grad():
        cond, uncond = model(t, xs, lab), model(t, xs, torch.full((5,), 2))
        assert torch.allclose(model.velocity(t, xs, lab, 3.0), uncond + 3.0 * (cond - uncond), atol=1e-6)
    # the unconditional field (label dropped) still covers both modes
    s = model.sample(1000, seed=3, steps=20)
    assert 0.3 < float((s > 0).double().mean()) < 0.7


def test_schrodinger_bridge_cfm_through_solve():
    prob = GenerativeProblem(two_moons, dim=2, source=eight_gaussians)
    alg = FlowMatching(
        path="brownian_bridge",
        sigma=1.0,
        coupling="sinkhorn",
        width=32,
        depth=2,
        n_train=2000,
        batch_size=64,
        eval_samples=300,
        optimizer=Adam(lr=5e-3),
    )
    sol = solve(prob, alg, maxiters=300, seed=0)
    # measured: 0.0315 against 0.1233 untrained, W2 0.587
    assert sol.stats["energy_distance"] < 0.35 * sol.stats["energy_distance_untrained"]
    x = sol.u.sample(300, seed=1, steps=20)
    assert wasserstein2(x, two_moons(300, torch.Generator().manual_seed(9))) < 0.8


def test_reproducible_with_seed():
    prob = GenerativeProblem(eight_gaussians, dim=2)
    alg = FlowMatching(**SMALL)
    a, b = solve(prob, alg, maxiters=5, seed=3), solve(prob, alg, maxiters=5, seed=3)
    assert a.history["loss"] == b.history["loss"]
    assert torch.equal(a.u.sample(10, seed=0, steps=5), b.u.sample(10, seed=0, steps=5))


def test_checkpoint_resume_is_exact(tmp_path):
    prob = GenerativeProblem(eight_gaussians, dim=2)
    alg = FlowMatching(coupling="ot", **SMALL)
    full = solve(prob, alg, maxiters=8, seed=1)
    ckpt = tmp_path / "cfm.pt"
    solve(prob, alg, maxiters=4, seed=1, checkpoint=ckpt)
    resumed = solve(prob, alg, maxiters=8, seed=1, checkpoint=ckpt, resume=True)
    assert resumed.history["loss"] == full.history["loss"]
    for a, b in zip(full.u.parameters(), resumed.u.parameters()):
        assert torch.equal(a, b)


def test_conformance_with_the_common_interface():
    from remodel_core.testing import check_algorithm, check_problem

    prob = GenerativeProblem(eight_gaussians, dim=2)
    check_problem(prob)
    sol = check_algorithm(FlowMatching(**SMALL), prob)
    assert len(sol.history["loss"]) == 3 and "energy_distance" in sol.stats


def test_mlp_field_shapes():
    f = MLPField((1, 4, 4), width=8, depth=1, num_classes=3, time_features=4)
    assert f(torch.rand(2), torch.zeros(2, 1, 4, 4), torch.tensor([0, 3])).shape == (2, 1, 4, 4)


class RectifiableRotation(torch.nn.Module):
    """``v(t, x) = B ((1 - t) I + t C)^{-1} x``: with ``B = A``, ``C = I`` the rotation field ``A x`` (curved
    paths, map ``M = expm(A)``); with ``B = M - I``, ``C = M`` exactly its rectified (straight-line) field."""

    def __init__(self, a):
        super().__init__()
        self.b = torch.nn.Parameter(a.clone())
        self.c = torch.nn.Parameter(torch.eye(2, dtype=a.dtype))

    def forward(self, t, x):
        eye = torch.eye(2, dtype=x.dtype)
        mats = (1 - t)[:, None, None] * eye + t[:, None, None] * self.c  # [n, 2, 2]
        return torch.linalg.solve(mats, x) @ self.b.T


def test_reflow_regresses_the_ode_map_of_the_previous_flow():
    """Rectified flow (Liu et al. 2023) of the rotation flow dx/dt = A x (curved paths, map x1 = expm(A) x0):
    the reflow pairs are the accurate ODE solution from fresh source draws, and one Euler step of the 2-flow
    (warm-started from the 1-flow, first stage skipped) lands on expm(A) x0, where the 1-flow's step does not."""
    theta = math.pi / 3
    a = torch.tensor([[0.0, -theta], [theta, 0.0]], dtype=torch.float64)
    m = torch.linalg.matrix_exp(a)
    prob = GenerativeProblem(gaussian([0.0, 0.0]), dim=2)
    alg = FlowMatching(
        network=RectifiableRotation(a),
        reflow=1,
        reflow_iters=300,
        batch_size=64,
        n_train=256,
        optimizer=Adam(lr=1e-3),
        reflow_optimizer=CosineAdam(lr=2e-2, decay_steps=300),
        eval_samples=0,
        reflow_tol=1e-7,
    )
    base = FlowModel(RectifiableRotation(a), 2)
    # the pairs: the ODE solution of the 1-flow from fresh source draws, one per training sample
    (x1, x0), nfe = alg._reflow_pairs(base, (torch.zeros(256, 2, dtype=torch.float64),), 1000, seed=3)
    assert x0.shape == (1000, 2) and nfe > 0
    assert torch.allclose(x1, x0 @ m.T, atol=1e-5)
    assert alg._n_pairs(256, (2,), 300) == 64 * 300 and alg._n_pairs(256, (2,), 2) == 256
    sol = solve(prob, alg, maxiters=300, seed=0, dtype=torch.float64)
    assert sol.stats["stage_iters"] == [0, 300] and sol.stats["iterations"] == 300
    assert sol.stats["reflow_pairs"] == 64 * 300
    x0 = torch.randn(2000, 2, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    exact = x0 @ m.T

    def one_step_error(model):
        return float((model.sample(x0=x0, steps=1, method="euler") - exact).norm(dim=1).mean())

    before, after = one_step_error(base), one_step_error(sol.u)
    assert before > 0.5 and after < 1e-3, (before, after)
