"""Dense BFGS, SSBFGS and SSBroyden inverse-Hessian updates, and their use in the quasi-Newton methods."""

from __future__ import annotations

import importlib.util
import math
import pathlib

import pytest
import torch
from remodel_core import ReturnCode, TrainingProblem, solve
from remodel_core.optim import (
    ASPQN,
    MGOPT,
    MSPQN,
    RMTR,
    DenseInverseHessian,
    SSBroyden,
    SSBroydenOptimizer,
)

_spec = importlib.util.spec_from_file_location(
    "_optim_problems", pathlib.Path(__file__).with_name("_optim_problems.py")
)
P = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(P)

UPDATES = ("bfgs", "ssbfgs", "ssbroyden")


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """All tests here run on one intra-op thread (the root conftest.py)."""


def _spd(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return Q @ torch.diag(torch.logspace(0, 3, n, dtype=torch.float64)) @ Q.T


@pytest.mark.parametrize("update", UPDATES)
def test_secant_equation_symmetry_and_positive_definiteness(update):
    n = 12
    A = _spd(n, 0)
    H = DenseInverseHessian(update)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, generator=g, dtype=torch.float64)
    for k in range(8):
        # steps along the method's own direction (so s'Bs is exact and the self-scaling is active)
        d = H.direction(A @ x)
        s = 0.7 * d
        y = A @ s
        assert H.push(s, y)
        assert torch.allclose(H.apply(y), s, rtol=1e-9, atol=1e-12), k  # H+ y = s
        assert torch.allclose(H.H, H.H.T, atol=1e-9 * float(H.H.abs().max()))
        assert float(torch.linalg.eigvalsh(0.5 * (H.H + H.H.T)).min()) > 0
        x = x + s
    assert len(H) == 8


def _paper_theta_tau(update: str, n: int, h: float, b: float, first: bool) -> tuple[float, float]:
    """theta_k and tau_k written out from Al-Baali (1998, SSBFGS) and Al-Baali & Khalfan (2012, SSBroyden),
    independently of DenseInverseHessian._scaling."""
    a = b * h - 1
    if update == "ssbfgs":
        return 0.0, (h if first else min(1.0, 1 / b))
    c = math.sqrt(abs(a / (1 + a)))
    rho_minus = min(1.0, h * (1 - c))
    theta = max((rho_minus - 1) / a, min(1 / rho_minus, (1 - b) / b))
    sigma = 1 + a * theta
    if first:
        return theta, h / sigma
    sigma_n = abs(sigma) ** (1 / (1 - n))
    rho_k = min(1.0, 1 / b)
    return theta, (min(rho_k * sigma_n, sigma) if theta <= 0 else rho_k * min(sigma_n, 1 / theta))


@pytest.mark.parametrize("update", ["ssbfgs", "ssbroyden"])
def test_fused_update_equals_the_papers_formula(update):
    """The fused rank-2 update equals H+ = (H - Hyy'H/y'Hy + phi y'Hy vv')/tau + ss'/y's, with theta and tau
    of the papers computed here from b = s'Bs/y's where B = H^-1 is formed explicitly."""
    n = 9
    A = _spd(n, 2)
    H = DenseInverseHessian(update)
    x = torch.ones(n, dtype=torch.float64)
    scalings = []
    for _ in range(4):  # past the first update, so the later-iteration tau is exercised
        s = 0.5 * H.direction(A @ x)
        H0 = H.H.clone() if H.H is not None else torch.eye(n, dtype=torch.float64)
        first = H.H is None
        y = A @ s
        H.push(s, y)
        rho = 1 / float(s @ y)
        Hy = H0 @ y
        yHy = float(y @ Hy)
        h, b = rho * yHy, rho * float(s @ torch.linalg.solve(H0, s))
        theta, tau = _paper_theta_tau(update, n, h, b, first)
        scalings.append((theta, tau))
        phi = (1 - theta) / (1 + (b * h - 1) * theta)
        v = rho * s - Hy / yHy
        ref = (H0 - torch.outer(Hy, Hy) / yHy + phi * yHy * torch.outer(v, v)) / tau + rho * torch.outer(s, s)
        assert torch.allclose(H.H, ref, rtol=1e-9, atol=1e-12)
        x = x + s
    # the self-scaling is active: tau differs from 1 (and, for SSBroyden, theta from 0) somewhere
    assert any(abs(t - 1) > 1e-6 for _, t in scalings)
    if update == "ssbroyden":
        assert any(abs(th) > 1e-6 for th, _ in scalings)


def test_bfgs_recovers_inverse_hessian_from_conjugate_steps():
    n = 7
    A = _spd(n, 3)
    # A-conjugate directions (eigenvectors of A): n BFGS updates give H = A^-1 exactly
    _, V = torch.linalg.eigh(A)
    H = DenseInverseHessian("bfgs")
    for i in range(n):
        H.push(V[:, i], A @ V[:, i])
    assert torch.allclose(H.H, torch.linalg.inv(A), rtol=1e-8, atol=1e-10)


def test_skips_pairs_without_curvature_and_resets():
    H = DenseInverseHessian("ssbroyden")
    s = torch.tensor([1.0, 0.0], dtype=torch.float64)
    assert not H.push(s, -s) and H.skipped == 1 and len(H) == 0
    assert H.push(s, 2 * s) and len(H) == 1
    H.reset()
    assert len(H) == 0 and H.H is None
    # an approximation that lost positive definiteness (rounding) skips the pair instead of dividing by y'Hy <= 0
    H.push(s, 2 * s)
    H.H = -H.H
    assert not H.push(s, 3 * s) and H.skipped == 2


@pytest.mark.parametrize("update", UPDATES)
def test_quadratic_to_1e10(update):
    prob, f_star, x_star = P.quadratic(50, cond=1e3)
    sol = solve(prob, SSBroyden(update=update, tolerance_grad=1e-8), maxiters=1000)
    assert sol.retcode == ReturnCode.Success
    assert float(prob.loss(sol.u).detach()) - f_star < 1e-10
    assert torch.allclose(sol.u.vector().detach(), x_star, atol=1e-6)


@pytest.mark.parametrize(
    "alg",
    [
        ASPQN(subdomains=3, local_iters=2, hessian="ssbroyden", tolerance_grad=1e-8),
        MSPQN(subdomains=3, local_iters=2, hessian="ssbroyden", tolerance_grad=1e-8),
    ],
    ids=["aspqn", "mspqn"],
)
def test_schwarz_with_dense_hessian_reaches_1e10(alg):
    prob, f_star, _ = P.quadratic(50, cond=1e3)
    sol = solve(prob, alg, maxiters=1000)
    assert float(prob.loss(sol.u).detach()) - f_star < 1e-10


def test_mgopt_with_dense_hessian_reaches_1e10():
    """Point-coarsened MG/OPT with SSBroyden smoothers on a linear least-squares problem (convex quadratic)."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(256, 20, generator=g, dtype=torch.float64) @ torch.diag(
        torch.logspace(0, 1.5, 20, dtype=torch.float64)
    )
    y = X @ torch.randn(20, 1, generator=g, dtype=torch.float64) + 0.1 * torch.randn(
        256, 1, generator=g, dtype=torch.float64
    )
    A = torch.cat([X, torch.ones(256, 1, dtype=torch.float64)], dim=1)
    f_star = float(((A @ torch.linalg.lstsq(A, y).solution - y) ** 2).mean())
    prob = TrainingProblem(
        model=torch.nn.Linear(20, 1).double(), loss=lambda m, x, t: ((m(x) - t) ** 2).mean(), data=(X, y)
    )
    sol = solve(prob, MGOPT(levels=2, coarsen="points", hessian="ssbroyden", gtol=1e-9), maxiters=300)
    assert float(prob.loss(sol.u, X, y).detach()) - f_star < 1e-10


def test_rosenbrock_converges():
    sol = solve(P.rosenbrock(4), SSBroyden(tolerance_grad=1e-10), maxiters=500)
    assert sol.retcode == ReturnCode.Success
    assert torch.allclose(sol.u.vector().detach(), torch.ones(4, dtype=torch.float64), atol=1e-6)


def test_checkpoint_resumes_exactly(tmp_path):
    prob = P.regression(seed=1)
    ref = solve(prob, SSBroyden(), maxiters=30)
    ck = tmp_path / "ck.pt"
    solve(prob, SSBroyden(), maxiters=15, checkpoint=ck)
    resumed = solve(prob, SSBroyden(), maxiters=30, checkpoint=ck, resume=True)
    for p, q in zip(ref.u.parameters(), resumed.u.parameters()):
        assert torch.equal(p, q)
    opt = SSBroydenOptimizer(list(ref.u.parameters()))
    torch.save(opt.state_dict(), tmp_path / "s.pt")
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    with pytest.raises(ValueError, match="ssbroyden"):
        SSBroydenOptimizer(list(ref.u.parameters()), update="bfgs").load_state_dict(state)


def test_rejects_bad_configuration():
    with pytest.raises(ValueError, match="update"):
        DenseInverseHessian("dfp")
    with pytest.raises(ValueError, match="update"):
        SSBroyden(update="sr1").validate()
    for alg in (ASPQN(hessian="newton"), MSPQN(hessian="newton"), MGOPT(hessian="newton"), RMTR(hessian="newton")):
        with pytest.raises(ValueError, match="hessian"):
            alg.validate()
    H = DenseInverseHessian()
    H.push(torch.ones(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="entries"):
        H.push(torch.ones(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="same size"):
        H.push(torch.ones(2, dtype=torch.float64), torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("update", UPDATES)
def test_one_product_per_iteration_and_the_same_matrix(update, monkeypatch):
    """The lazily held ``a B + V N V'`` with the fused ``Hy = H g+ - H g`` gives the directions and, after its
    flushes, the matrix of the paper's update formula, with one matrix product per quasi-Newton iteration."""
    n, iters = 12, 20
    A = _spd(n, 5)
    H = DenseInverseHessian(update, flush_every=8)
    products = []
    plain = DenseInverseHessian._product
    # products with an approximation that exists (the first pair's product with the identity is free)
    monkeypatch.setattr(H, "_product", lambda v: products.append(H._V is not None or H._B is not None) or plain(H, v))
    R = None  # the explicit reference matrix
    x = torch.linspace(-1, 1, n, dtype=torch.float64)
    g = A @ x
    for _k in range(iters):
        d = H.direction(g)
        assert torch.allclose(d, -(g if R is None else R @ g), rtol=1e-9, atol=1e-12)
        s = 0.5 * d
        y = A @ s
        first = R is None
        H0 = (
            torch.eye(n, dtype=torch.float64) * (float(s @ y) / float(y @ y) if update == "bfgs" else 1.0)
            if first
            else R
        )
        assert H.push(s, y)
        rho = 1 / float(s @ y)
        Hy = H0 @ y
        yHy = float(y @ Hy)
        b = rho * (float(s @ s) if first else float(s @ torch.linalg.solve(H0, s)))
        theta, tau = (0.0, 1.0) if update == "bfgs" else _paper_theta_tau(update, n, rho * yHy, b, first)
        phi = (1 - theta) / (1 + (b * rho * yHy - 1) * theta)
        v = rho * s - Hy / yHy
        R = (H0 - torch.outer(Hy, Hy) / yHy + phi * yHy * torch.outer(v, v)) / tau + rho * torch.outer(s, s)
        x, g = x + s, g + y
    assert sum(products) <= iters  # one product per iteration
    assert H._V is not None  # corrections still pending at the end
    assert torch.allclose(H.H, R, rtol=1e-8, atol=1e-11)


def test_lazy_state_resumes_bit_for_bit():
    A = _spd(6, 7)
    a, b = DenseInverseHessian("ssbroyden", flush_every=3), None
    g = A @ torch.ones(6, dtype=torch.float64)
    for k in range(8):
        if k == 4:
            b = DenseInverseHessian("ssbroyden", flush_every=3)
            b.load_state_dict(a.state_dict())
        for m in (a, b) if b is not None else (a,):
            d = m.direction(g)
            m.push(0.5 * d, A @ (0.5 * d))
        g = g + A @ (0.5 * d)
    assert b is not None and torch.equal(a.direction(g), b.direction(g))
