"""Kronecker-factored Gauss–Newton (KFAC) training: the factors read from the Taylor-mode channels of a PINN
residual, the exact Gauss–Newton products of the quadratic model, the step control, training, resume and bad
input."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from remodel_core import pde, solve
from remodel_core.nn import MLP, ResNetMLP
from remodel_core.optim import KFAC, KFACOptimizer, flat_params, residual_jacobian
from remodel_core.testing import check_algorithm

PROBLEMS = ["poisson2d", "burgers", "klein_gordon", "allen_cahn"]  # Dirichlet, initial velocity, periodic


def _pinn(name: str = "poisson2d", width: int = 8, points: int = 40, boundary: object = 16, seed: int = 0, net=None):
    torch.manual_seed(seed)
    net = MLP(2, 1, width=width, depth=2).double() if net is None else net
    return net, getattr(pde, name)().discretize(net, points=points, boundary_points=boundary, seed=seed)


def _optimizer(net, train, **kw):
    x = train.data[0]
    return KFACOptimizer(net.parameters(), net, lambda: train.loss.residual_blocks(x, route="taylor"), **kw)


@pytest.mark.parametrize("name", PROBLEMS)
def test_taylor_route_blocks_are_the_loss(name):
    """The Taylor-mode residual blocks KFAC reads are the same sum of squares as the loss, for every condition."""
    net, train = _pinn(name)
    x = train.data[0]
    r = torch.cat([fn(net, rows).reshape(-1) for fn, rows in train.loss.residual_blocks(x, route="taylor")])
    assert float(r @ r) == pytest.approx(float(train.loss(net, x)), rel=1e-12)


def test_first_layer_factor_sees_every_taylor_channel_and_the_bias_in_the_value_channel_only():
    """The first layer of a PINN receives the point (value channel), the unit vectors (gradient channels) and
    zeros (second-derivative channels); boundary rows enter through the ordinary forward pass. ``A`` is the mean
    of the augmented inputs' outer products over all of these rows: known in closed form."""
    net, train = _pinn("poisson2d", points=30, boundary=12)  # Poisson: u_xx + u_yy, so 1 + 2 + 2 channels
    opt = _optimizer(net, train, ema=0.0)
    opt.step()
    x = train.data[0]
    (pts,) = train.loss.points(x)
    aug = lambda z: torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype)], 1)  # noqa: E731
    n = len(x)
    expected = aug(x).T @ aug(x) + aug(pts).T @ aug(pts)
    expected[:2, :2] += n * torch.eye(2, dtype=x.dtype)  # the gradient channels: e_k, no bias
    rows = 5 * n + len(pts)
    assert torch.allclose(opt._A[0], expected / rows, atol=1e-13)


def test_sensitivity_factor_is_the_sum_of_exact_output_sensitivities():
    """``B`` of the last layer (one output) is the sum over rows and channels of ``(dr/dy)^2``: for the Dirichlet
    rows ``dr/du = c``, for the PDE rows of Poisson ``dr/d(u_xx) = dr/d(u_yy) = c``, the other channels 0."""
    net, train = _pinn("poisson2d", points=30, boundary=12)
    opt = _optimizer(net, train, ema=0.0)
    opt.step()
    blocks = train.loss.residual_blocks(train.data[0], route="taylor")
    c_pde, c_bc = (1.0 / len(blocks[0][1])) ** 0.5, (1.0 / len(blocks[1][1])) ** 0.5
    expected = len(blocks[0][1]) * 2 * c_pde**2 + len(blocks[1][1]) * c_bc**2
    assert float(opt._B[-1][0, 0]) == pytest.approx(expected, rel=1e-12)


def test_gauss_newton_products_by_forward_differences_match_the_jacobian():
    net, train = _pinn("burgers")
    opt = _optimizer(net, train)
    _, J = residual_jacobian(net, train.loss.residual_blocks(train.data[0]))
    r0 = opt._residuals().detach()
    v = torch.randn(J.shape[1], dtype=torch.float64)
    with torch.no_grad():
        Jv = opt._jvp(flat_params(opt._params), v, r0)
    assert float((Jv - J @ v).norm()) < 1e-6 * float((J @ v).norm())


def test_one_step_solves_linear_least_squares_with_several_outputs():
    """A single linear layer with uncorrelated output residuals: ``A (x) B`` is its Gauss–Newton matrix."""
    torch.manual_seed(1)
    net = torch.nn.Linear(4, 3).double()
    x = torch.randn(200, 4, dtype=torch.float64)
    t = x @ torch.randn(4, 3, dtype=torch.float64) + 0.5
    # one residual per (row, output): each residual its own row, the output picked by a one-hot column
    rows = torch.cat([x.repeat_interleave(3, 0), torch.eye(3, dtype=x.dtype).repeat(200, 1), t.reshape(-1, 1)], 1)

    def fn(m, z):
        return (m(z[:, :4]) * z[:, 4:7]).sum(1) - z[:, 7]

    opt = KFACOptimizer(net.parameters(), net, lambda: [(fn, rows)], damping=1e-12, factor_damping=1e-12, ema=0.0)
    f0 = float(opt.step())
    f1 = float(((net(x) - t) ** 2).sum().detach())
    assert f1 < 1e-8 * f0  # one residual per row: B = sum of one-hot outer products exactly, 2 A (x) B = J^T J


def test_kfac_trains_a_pinn_faster_than_lbfgs_per_iteration():
    from remodel_core.optim import LBFGS

    net, train = _pinn(width=10, points=60, boundary=24)
    kf = solve(train, KFAC(), maxiters=25, dtype=torch.float64)
    lb = solve(train, LBFGS(history_size=50, max_iter=1), maxiters=25, dtype=torch.float64)
    assert kf.history["loss"][-1] < 1e-2 * kf.history["loss"][0]
    assert kf.history["loss"][-1] < 0.1 * lb.history["loss"][-1]
    assert kf.stats["kfac_steps"] == 25


def test_kfac_trains_a_resnet_pinn():
    net = ResNetMLP(2, 1, width=8, depth=3, activation="tanh").double()
    net, train = _pinn("burgers", net=net, points=60, boundary=24)
    from remodel_core.optim import LBFGS

    sol = solve(train, KFAC(), maxiters=20, dtype=torch.float64)
    lb = solve(train, LBFGS(history_size=50, max_iter=1), maxiters=20, dtype=torch.float64)
    assert sol.history["loss"][-1] < 0.25 * sol.history["loss"][0]
    assert sol.history["loss"][-1] < 0.5 * lb.history["loss"][-1]


def test_the_curvature_matters():
    """With the Kronecker factors replaced by identities (``factors=False``) the same step control is a damped
    gradient method with momentum: far slower. A test of the factors themselves (break them and this fails)."""
    net, train = _pinn(width=10, points=60, boundary=24)
    kf = solve(train, KFAC(), maxiters=20, dtype=torch.float64)
    flat = solve(train, KFAC(factors=False), maxiters=20, dtype=torch.float64)
    assert kf.history["loss"][-1] < 0.25 * flat.history["loss"][-1]


def test_rejected_step_raises_damping_and_keeps_the_point():
    net, train = _pinn()
    opt = _optimizer(net, train, max_tries=3)
    opt.step()
    x0 = flat_params(opt._params).clone()
    lam = opt.lam
    opt._trial = lambda x, blocks: (float("inf"), None)  # every trial point is refused
    opt.step()
    assert opt.failed and opt.lam == pytest.approx(lam * 4.0**3)
    assert torch.equal(flat_params(opt._params), x0)


def test_non_finite_residuals_fail_the_step():
    net, train = _pinn()
    opt = _optimizer(net, train)
    with torch.no_grad():
        net[0].weight.fill_(float("nan"))
    opt.step()
    assert opt.failed


def test_resume_equals_uninterrupted(tmp_path):
    net, train = _pinn()
    full = solve(train, KFAC(), maxiters=6, dtype=torch.float64)
    path = tmp_path / "kfac.pt"
    solve(train, KFAC(), maxiters=3, dtype=torch.float64, checkpoint=path)
    resumed = solve(train, KFAC(), maxiters=6, dtype=torch.float64, checkpoint=path, resume=True)
    assert resumed.history["loss"] == full.history["loss"]
    # its own passes over the residuals are the solution's evaluations: at least one per step
    assert full.stats["evals"] >= full.stats["kfac_steps"] + full.stats["kfac_rejected"] > 0
    # the resumed run evaluates its first point once more (the evaluation KFAC carries to its next step is not
    # checkpointed); the iterates are the same
    assert full.stats["evals"] <= resumed.stats["evals"] <= full.stats["evals"] + 1


def test_interface():
    net, train = _pinn()
    check_algorithm(KFAC(), train, maxiters=2, dtype=torch.float64)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"damping": 0.0}, "damping"),
        ({"damping": -1.0}, "damping"),
        ({"ema": 1.0}, "ema"),
        ({"ema": -0.1}, "ema"),
        ({"ema": True}, "ema"),
        ({"momentum": 1}, "momentum"),
        ({"max_tries": 0}, "max_tries"),
        ({"max_tries": 2.5}, "max_tries"),
        ({"seed": 1.0}, "seed"),
        ({"factors": 1}, "factors"),
        ({"cg_iters": -1}, "cg_iters"),
        ({"cg_tol": 0.0}, "cg_tol"),
        ({"factor_damping": 0.0}, "factor_damping"),
        ({"adapt_every": -1}, "adapt_every"),
        ({"reuse": "yes"}, "reuse"),
    ],
)
def test_bad_options(kwargs, match):
    net, train = _pinn()
    with pytest.raises((ValueError, TypeError), match=match):
        solve(train, KFAC(**kwargs), maxiters=1)
    with pytest.raises((ValueError, TypeError), match=match):
        _optimizer(net, train, **kwargs)


def test_bad_problems_and_models():
    net, train = _pinn()
    plain = dataclasses.replace(train, loss=lambda m, x: train.loss(m, x))
    with pytest.raises(ValueError, match="residual_blocks"):
        solve(plain, KFAC(), maxiters=1)
    with pytest.raises(ValueError, match="batch_size"):
        solve(dataclasses.replace(train, batch_size=5), KFAC(), maxiters=1)
    with pytest.raises(TypeError, match="residual_blocks"):
        KFACOptimizer(net.parameters(), net, None)
    with pytest.raises(TypeError, match="model"):
        KFACOptimizer(net.parameters(), "net", lambda: [])
    with pytest.raises(ValueError, match="params"):
        KFACOptimizer(list(net.parameters())[:1], net, lambda: [])

    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net, self.scale = MLP(2, 1, width=4, depth=1).double(), torch.nn.Parameter(torch.ones(()))

        def forward(self, x):
            return self.net(x) * self.scale

    m = Scaled()
    with pytest.raises(ValueError, match="'scale'"):
        KFACOptimizer(m.parameters(), m, lambda: [])
    # a network the Taylor-mode route cannot differentiate is refused with the route's error
    relu = MLP(2, 1, width=4, depth=1, activation="relu").double()
    _, relu_train = _pinn(net=relu)
    with pytest.raises(ValueError, match="taylor"):
        solve(relu_train, KFAC(), maxiters=1, dtype=torch.float64)
    # residuals that use no nn.Linear layer
    opt = KFACOptimizer(net.parameters(), net, lambda: [(lambda m, z: z[:, 0] * 1.0, train.data[0])])
    with pytest.raises(ValueError, match="no nn.Linear"):
        opt.step()
    with pytest.raises(ValueError, match="derivatives"):
        train.loss.residual_blocks(train.data[0], route="symbolic")


def test_conjugate_gradients_solve_the_damped_gauss_newton_system():
    """With enough iterations the KFAC-preconditioned CG lands on ``(2 J^T J + lambda I)^{-1} (-g)``, and the
    ``J d`` it carries along is the Jacobian's product (no extra evaluation)."""
    net, train = _pinn("burgers", width=6, points=30, boundary=12)
    x = train.data[0]
    opt = _optimizer(net, train, cg_iters=300, cg_tol=1e-12)
    r, J = residual_jacobian(net, train.loss.residual_blocks(x))
    ev = opt._evaluate(flat_params(opt._params), opt.residual_blocks())
    A, B = opt._factors(ev.r, ev.taylor, ev.plain)
    eig = [(torch.linalg.eigh(2.0 * a), torch.linalg.eigh(b)) for a, b in zip(A, B)]
    opt.lam = 1e-3
    g = 2.0 * J.T @ r
    with torch.no_grad():
        d, Jd = opt._cg(g, eig, 1e-2, flat_params(opt._params), r, ev)
    ref = torch.linalg.solve(2.0 * J.T @ J + opt.lam * torch.eye(J.shape[1], dtype=J.dtype), -g)
    assert float((d - ref).norm()) < 1e-4 * float(ref.norm())
    assert float((Jd - J @ d).norm()) < 1e-5 * float((J @ d).norm())


def test_wrapped_losses_keep_the_taylor_route():
    """A loss that forwards ``residual_blocks(*data, **kwargs)`` still gets the Taylor-mode route (on the "func"
    route the layers' derivative channels would be invisible to the factors)."""
    net, train = _pinn()
    routes = []

    class Wrapped:
        def __call__(self, model, x):
            return train.loss(model, x)

        def residual_blocks(self, *data, **kwargs):
            routes.append(kwargs.get("route"))
            return train.loss.residual_blocks(*data, **kwargs)

    solve(dataclasses.replace(train, loss=Wrapped()), KFAC(), maxiters=2, dtype=torch.float64)
    assert routes and set(routes) == {"taylor"}


@pytest.mark.parametrize("kfac_step, kind", [("lbfgs", "kfac-lbfgs"), ("gauss-newton", "kfac")])
def test_auto_takes_kfac_steps_where_one_dense_matrix_does_not_fit_and_resumes_them(tmp_path, kfac_step, kind):
    """Auto's rule: one dense matrix if it fits; otherwise KFAC's curvature for a PINN loss of a tanh MLP (in
    L-BFGS's initial matrix, or KFAC's own steps). Making Auto ignore the size (a dense matrix at any size) or the
    residuals changes the choice; the state resumes exactly."""
    from remodel_core.optim import Auto

    net, train = _pinn(width=10, points=60, boundary=24)
    made = {}

    class Spy(Auto):
        def make_optimizer(self, model, residual_blocks=None, kfac_blocks=None):
            made["opt"] = opt = super().make_optimizer(model, residual_blocks, kfac_blocks)
            return opt

    small = Spy(warmup_s=0.0, warmup_max_s=0.0, trial_steps=2, kfac_step=kfac_step)
    solve(train, small, maxiters=4, dtype=torch.float64)
    assert made["opt"].plan["kind"] == "dense"
    tight = dataclasses.replace(small, memory_mb=1e-3)  # the dense matrix (0.1 MB) no longer fits the budget
    sol = solve(train, tight, maxiters=12, dtype=torch.float64)
    assert made["opt"].plan["kind"] == kind and made["opt"].choice.startswith(kind)
    assert sol.history["loss"][-1] < 0.1 * sol.history["loss"][0]
    plain = dataclasses.replace(train, loss=lambda m, x: train.loss(m, x))
    solve(plain, tight, maxiters=4, dtype=torch.float64)
    assert not made["opt"].plan["kind"].startswith("kfac")
    path = tmp_path / "auto.pt"
    full = solve(train, tight, maxiters=10, dtype=torch.float64)
    solve(train, tight, maxiters=6, dtype=torch.float64, checkpoint=path)
    resumed = solve(train, tight, maxiters=10, dtype=torch.float64, checkpoint=path, resume=True)
    assert resumed.history["loss"] == full.history["loss"]


def _counting(train, counter):
    x = train.data[0]

    def blocks():
        out = []
        for fn, rows in train.loss.residual_blocks(x, route="taylor"):

            def counted(m, z, fn=fn):
                counter[0] += 1
                return fn(m, z)

            out.append((counted, rows))
        return out

    return blocks


def test_reusing_the_accepted_trial_evaluation_changes_no_iterate_and_saves_one_pass_per_step():
    runs = {}
    for reuse in (False, True):
        net, train = _pinn(width=10, points=60, boundary=24)
        count = [0]
        opt = KFACOptimizer(net.parameters(), net, _counting(train, count), reuse=reuse, adapt_every=0)
        losses = [float(opt.step()) for _ in range(8)]
        runs[reuse] = (losses, count[0], opt.stats["steps"], flat_params(opt._params))
    assert runs[True][0] == runs[False][0] and torch.equal(runs[True][3], runs[False][3])
    blocks = 2  # the Dirichlet condition and the PDE: one pass of each block per evaluation
    assert runs[False][1] - runs[True][1] == blocks * (runs[True][2] - 1)  # every accepted step but the last


def test_a_reused_evaluation_is_dropped_when_the_data_or_the_parameters_changed():
    """The trial evaluation carries over only to a step that starts at the same point on the same rows: after
    the collocation points move (resampling) or the parameters are set from outside, the step evaluates anew."""
    net, train = _pinn(width=10, points=60, boundary=24)
    opt = _optimizer(net, train)
    for _ in range(3):
        opt.step()
    x = train.data[0]
    with torch.no_grad():
        x[:, 0] = x[:, 0] * 0.9  # the points move, the parameters stay
    expected = float(train.loss(net, x).detach())
    assert float(opt.step()) == pytest.approx(expected, rel=1e-12)
    opt.step()
    with torch.no_grad():
        net[0].weight.mul_(1.01)  # the parameters move, the points stay
    expected = float(train.loss(net, x).detach())
    assert float(opt.step()) == pytest.approx(expected, rel=1e-12)


def test_dense_inverse_is_the_kfac_preconditioner_as_a_matrix():
    """``dense_inverse`` places each layer's damped Kronecker inverse at that layer's weight and bias entries of
    the flat vector: applied to any vector it is the KFAC step's preconditioner (the same factors and damping)."""
    import math

    net = ResNetMLP(2, 1, width=6, depth=2, activation="tanh").double()
    net, train = _pinn("burgers", net=net, points=30, boundary=12)
    H = _optimizer(net, train).dense_inverse(1e-2)
    assert torch.allclose(H, H.T, atol=1e-12 * float(H.abs().max()))
    opt = _optimizer(net, train)
    ev = opt._evaluate(flat_params(opt._params), opt.residual_blocks())
    A, B = opt._factors(ev.r, ev.taylor, ev.plain)
    eig = [(torch.linalg.eigh(2.0 * a), torch.linalg.eigh(b)) for a, b in zip(A, B)]
    eig = [((da.clamp_min(0.0), qa), (db.clamp_min(0.0), qb)) for (da, qa), (db, qb) in eig]
    gamma = math.sqrt(1e-2 * max(float(da.mean()) * float(db.mean()) for (da, _), (db, _) in eig))
    v = torch.randn(H.shape[0], dtype=torch.float64)
    expected = -opt._precondition(opt._unflatten(v), eig, gamma)
    assert torch.allclose(H @ v, expected, rtol=1e-10, atol=1e-12 * float(expected.abs().max()))
    assert float(torch.linalg.eigvalsh(H).min()) > 0
    idx = [torch.randperm(H.shape[0])[:17], torch.arange(5, 40)]  # subdomain blocks, formed without H
    blocks = _optimizer(net, train).dense_inverse(1e-2, index=idx)
    assert all(torch.allclose(b, H[i][:, i], rtol=1e-12, atol=0.0) for b, i in zip(blocks, idx))


def test_auto_starts_its_dense_matrix_from_the_scaled_kfac_inverse_and_resumes_it(tmp_path, monkeypatch):
    """Where one dense matrix fits and the loss is a PINN's, Auto's dense matrix starts from ``c K`` (``K`` the
    damped KFAC inverse at the switch point, ``c = s'y / y'Ky`` of the last warm-up pair) instead of the identity;
    the run resumes exactly. Without ``kfac`` (the ablation) it starts from the identity."""
    from remodel_core.optim import Auto
    from remodel_core.optim._auto import AutoOptimizer

    net, train = _pinn(width=10, points=60, boundary=24)
    seen = {}
    seed = AutoOptimizer._seed_from_kfac

    def spy(self, opt, dec, pair):
        K = KFACOptimizer(self._params, self.model, self.kfac_blocks).dense_inverse()
        seed(self, opt, dec, pair)
        seen.update(K=K, H=opt.memory.blocks[0].H.clone(), idx=dec.indices[0], pair=pair, plan=self.plan)

    monkeypatch.setattr(AutoOptimizer, "_seed_from_kfac", spy)
    alg = Auto(warmup_s=0.0, warmup_max_s=0.0, trial_steps=2)
    full = solve(train, alg, maxiters=10, dtype=torch.float64)
    assert seen["plan"]["kind"] == "dense" and seen["plan"]["dense_start"] == "kfac"
    s, y = (t.reshape(-1).double() for t in seen["pair"])
    K = seen["K"][seen["idx"]][:, seen["idx"]]
    c = float(s @ y) / float(y @ K @ y)
    assert torch.allclose(seen["H"], c * K, rtol=1e-12, atol=0.0)
    assert float(y @ seen["H"] @ y) == pytest.approx(float(s @ y), rel=1e-10)  # the last pair's scaling
    path = tmp_path / "auto.pt"
    solve(train, alg, maxiters=5, dtype=torch.float64, checkpoint=path)
    resumed = solve(train, alg, maxiters=10, dtype=torch.float64, checkpoint=path, resume=True)
    assert resumed.history["loss"] == full.history["loss"]
    seen.clear()
    solve(train, dataclasses.replace(alg, kfac=False), maxiters=4, dtype=torch.float64)
    assert not seen
