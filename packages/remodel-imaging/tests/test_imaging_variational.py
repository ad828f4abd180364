"""ConvexRidgeVariational: the learned convex ridge regulariser used variationally, and its PnP counterpart."""

from __future__ import annotations

import pytest
import torch
from remodel_core import solve
from remodel_imaging import (
    ConvexRidgeDenoiser,
    ConvexRidgeVariational,
    GaussianBlur,
    InverseProblem,
    PnPPGD,
    camera,
    lipschitz_estimate,
    train_regulariser,
)


def _model(lam: float = 0.05, steps: int = 400) -> ConvexRidgeVariational:
    torch.manual_seed(0)
    reg = ConvexRidgeDenoiser(channels=4, kernel_size=3).double()
    with torch.no_grad():
        reg.weight.normal_()
        reg.log_w.add_(torch.randn_like(reg.log_w))
    return ConvexRidgeVariational(reg, unrolled_steps=steps, lam=lam).double()


def _problem(n: int = 16) -> InverseProblem:
    return InverseProblem.simulate(GaussianBlur((n, n), sigma=1.0), camera(n), noise_sigma=0.03, seed=0)


def _grad_F(rec: ConvexRidgeVariational, x: torch.Tensor, prob: InverseProblem) -> torch.Tensor:
    A, reg = prob.operator, rec.regulariser
    reg.strength = 1.0
    return A.apply_adjoint(A.apply(x) - prob.y) + rec.lam * reg.grad_regulariser(x[None, None])[0, 0]


def test_unrolled_steps_reach_the_minimiser_of_the_variational_objective():
    rec, prob = _model(), _problem()
    with torch.no_grad():
        x = rec(prob.y[None, None], prob.operator)[0, 0]
        assert float(_grad_F(rec, x, prob).norm()) < 1e-6 * float(prob.y.norm())


def test_pnp_with_the_certified_denoiser_converges_to_the_same_minimiser():
    rec, prob = _model(), _problem()
    with torch.no_grad():
        x_var = rec(prob.y[None, None], prob.operator)[0, 0]
    den = rec.pnp_denoiser(gamma=1.5, steps=30)
    assert den.lipschitz_bound() <= 1.0 + 1e-12
    sol = solve(prob, PnPPGD(denoiser=den, step=1.5, relaxation=1.0, tol=1e-7), maxiters=800)
    assert sol.retcode.name == "Success"
    assert float((sol.u - x_var).norm()) < 3e-4 * float(x_var.norm())
    est = lipschitz_estimate(den, sol.u[None, None], iters=20)
    assert est <= den.lipschitz_bound() + 1e-6


def test_training_learns_the_weight_and_lowers_the_loss():
    torch.manual_seed(0)
    rec = ConvexRidgeVariational(ConvexRidgeDenoiser(channels=4, kernel_size=3), unrolled_steps=5, lam=0.02)
    patches = camera(64).float().unfold(0, 16, 16).unfold(1, 16, 16).reshape(-1, 1, 16, 16)
    sol = train_regulariser(
        rec, GaussianBlur((16, 16), 1.0), patches, noise_sigma=0.05, iters=40, lr=2e-2, batch_size=16
    )
    loss = sol.history["loss"]
    assert sum(loss[-5:]) < 0.9 * sum(loss[:5])
    assert sol.u.lam != pytest.approx(0.02, rel=1e-3)
    assert rec.lam == pytest.approx(0.02)  # the input model is left as it was


def test_warm_steps_reach_the_minimiser_and_carry_no_gradient():
    rec, prob = _model(), _problem()
    A, y = prob.operator, prob.y[None, None]
    rec.unrolled_steps, rec.warm_steps = 1, 399
    out = rec(y, A)[0, 0]
    with torch.no_grad():
        assert float(_grad_F(rec, out, prob).norm()) < 1e-6 * float(prob.y.norm())  # the minimiser of F
    # W warm steps then one differentiable step = one gradient step from the (detached) W-step FISTA iterate
    rec.unrolled_steps, rec.warm_steps = 30, 0
    with torch.no_grad():
        x_w = rec(y, A)[0, 0]
    rec.unrolled_steps, rec.warm_steps = 1, 30
    out = rec(y, A)[0, 0]
    L = A.norm(dtype=torch.float64) ** 2 + rec.lam * rec.regulariser.smoothness()
    with torch.no_grad():
        expected = x_w - _grad_F(rec, x_w, prob) / L
        grad_R = rec.regulariser.grad_regulariser(x_w[None, None])[0, 0]
    assert torch.allclose(out, expected, rtol=0, atol=1e-10)
    v = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    (g,) = torch.autograd.grad((out * v).sum(), rec.log_lam)
    # d out / d log(lam) = -lam grad R(x_w) / L: nothing flows back through the warm steps
    assert float(g) == pytest.approx(-rec.lam * float((grad_R * v).sum()) / L, rel=1e-8)


def test_bad_inputs_name_the_argument():
    reg = ConvexRidgeDenoiser(channels=2, kernel_size=3)
    A = GaussianBlur((8, 8), 1.0)
    with pytest.raises(TypeError, match="regulariser"):
        ConvexRidgeVariational(torch.nn.Identity())
    with pytest.raises(ValueError, match="unrolled_steps"):
        ConvexRidgeVariational(reg, unrolled_steps=0)
    with pytest.raises(ValueError, match="lam"):
        ConvexRidgeVariational(reg, lam=-1.0)
    with pytest.raises(ValueError, match="eps"):
        ConvexRidgeVariational(reg, eps=float("nan"))
    with pytest.raises(ValueError, match="warm_steps"):
        ConvexRidgeVariational(reg, warm_steps=-1)
    with pytest.raises(ValueError, match="warm_steps"):
        ConvexRidgeVariational(reg, warm_steps=2.5)
    rec = ConvexRidgeVariational(reg)
    with pytest.raises(ValueError, match="gamma"):
        rec.pnp_denoiser(gamma=0.0)
    with pytest.raises(ValueError, match="steps"):
        rec.pnp_denoiser(gamma=1.0, steps=0)
    with pytest.raises(ValueError, match="y must"):
        rec(torch.rand(8, 8), A)
    with pytest.raises(TypeError, match="A must"):
        rec(torch.rand(1, 1, 8, 8), "blur")
    with pytest.raises(TypeError, match="model"):
        train_regulariser(reg, A, torch.rand(2, 1, 8, 8), noise_sigma=0.1)
    with pytest.raises(ValueError, match="lr_end"):
        train_regulariser(rec, A, torch.rand(2, 1, 8, 8), noise_sigma=0.1, lr=1e-3, lr_end=1e-2)
    with pytest.raises(ValueError, match="iters"):
        train_regulariser(rec, A, torch.rand(2, 1, 8, 8), noise_sigma=0.1, iters=0)
    with pytest.raises(ValueError, match="lr"):
        train_regulariser(rec, A, torch.rand(2, 1, 8, 8), noise_sigma=0.1, lr=0.0)
