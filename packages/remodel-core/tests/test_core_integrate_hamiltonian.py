"""Tests of remodel_core.integrate's Hamiltonian integrators: orders, long-time energy, symplecticity, autograd."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from remodel_core.integrate import (
    SYMPLECTIC_METHODS,
    hamiltonian_odeint,
    hamiltonian_vector_field,
    implicit_midpoint_step,
    odeint,
    stormer_verlet_implicit_step,
    symplectic_euler_step,
    verlet_step,
    yoshida4_step,
)

D = torch.float64


def ho_grad(q: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Harmonic oscillator H = (q^2 + p^2) / 2."""
    return q, p


def pendulum_grad(q: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pendulum H = p^2 / 2 - cos q."""
    return torch.sin(q), p


def nonsep_H(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Non-separable H = (|q|^2 + 1)(|p|^2 + 1) / 2, one value per sample (last axis = dimension)."""
    return 0.5 * ((q**2).sum(-1) + 1) * ((p**2).sum(-1) + 1)


def nonsep_grad(q: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Analytic gradient of :func:`nonsep_H`."""
    a = (q**2).sum(-1, keepdim=True) + 1
    b = (p**2).sum(-1, keepdim=True) + 1
    return q * b, p * a


def fitted_order(hs: list[float], errs: list[float]) -> float:
    return float(np.polyfit(np.log(hs), np.log(errs), 1)[0])


def t_grid(T: float) -> torch.Tensor:
    return torch.tensor([0.0, T], dtype=D)


# ------------------------------------------------------------------------------------------- convergence orders


@pytest.mark.parametrize("method", list(SYMPLECTIC_METHODS) + ["rk4"])
def test_order_harmonic_oscillator_exact(method: str) -> None:
    q0, p0, T = torch.tensor([1.0], dtype=D), torch.tensor([0.5], dtype=D), 2.0
    q_ex = math.cos(T) + 0.5 * math.sin(T)
    p_ex = -math.sin(T) + 0.5 * math.cos(T)
    hs = [0.2, 0.1, 0.05, 0.025]
    errs = []
    for h in hs:
        qs, ps = hamiltonian_odeint(ho_grad, q0, p0, t_grid(T), method, dt=h)
        errs.append(max(abs(float(qs[-1, 0]) - q_ex), abs(float(ps[-1, 0]) - p_ex)))
    nominal = SYMPLECTIC_METHODS.get(method, 4)
    assert abs(fitted_order(hs, errs) - nominal) < 0.3


@pytest.mark.parametrize("method", list(SYMPLECTIC_METHODS))
def test_order_pendulum_against_fine_reference(method: str) -> None:
    q0, p0, T = torch.tensor([1.2, -0.4], dtype=D), torch.tensor([0.0, 1.1], dtype=D), 2.0
    qr, pr = hamiltonian_odeint(pendulum_grad, q0, p0, t_grid(T), "dopri5", rtol=1e-13, atol=1e-14)
    hs = [0.2, 0.1, 0.05, 0.025]
    errs = []
    for h in hs:
        qs, ps = hamiltonian_odeint(pendulum_grad, q0, p0, t_grid(T), method, dt=h)
        errs.append(float(torch.maximum((qs[-1] - qr[-1]).abs().max(), (ps[-1] - pr[-1]).abs().max())))
    assert abs(fitted_order(hs, errs) - SYMPLECTIC_METHODS[method]) < 0.3


@pytest.mark.parametrize("method", ["implicit_midpoint", "stormer_verlet_implicit"])
def test_order_nonseparable_against_fine_reference(method: str) -> None:
    q0, p0, T = torch.tensor([[0.5, -0.3]], dtype=D), torch.tensor([[0.2, 0.4]], dtype=D), 1.0
    qr, pr = hamiltonian_odeint(nonsep_grad, q0, p0, t_grid(T), "dopri5", rtol=1e-13, atol=1e-14)
    hs = [0.1, 0.05, 0.025, 0.0125]
    errs = []
    for h in hs:
        qs, ps = hamiltonian_odeint(nonsep_grad, q0, p0, t_grid(T), method, dt=h)
        errs.append(float(torch.maximum((qs[-1] - qr[-1]).abs().max(), (ps[-1] - pr[-1]).abs().max())))
    assert abs(fitted_order(hs, errs) - 2) < 0.3


@pytest.mark.parametrize("method", ["euler", "heun", "rk4"])
def test_nonsymplectic_references_equal_odeint_on_stacked_state(method: str) -> None:
    q0, p0 = torch.tensor([[0.5, -0.3]], dtype=D), torch.tensor([[0.2, 0.4]], dtype=D)
    t = torch.linspace(0, 1, 4, dtype=D)
    qs, ps = hamiltonian_odeint(nonsep_grad, q0, p0, t, method, dt=0.05)

    def field(_t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        dq, dp = nonsep_grad(y[0], y[1])
        return torch.stack((dp, -dq))

    ys = odeint(field, torch.stack((q0, p0)), t, method, dt=0.05)
    assert torch.allclose(qs, ys[:, 0], atol=1e-14, rtol=0) and torch.allclose(ps, ys[:, 1], atol=1e-14, rtol=0)


def test_generalised_stormer_verlet_reduces_to_leapfrog_for_separable_H() -> None:
    q, p = torch.tensor([0.9, -0.2], dtype=D), torch.tensor([0.1, 0.7], dtype=D)
    qa, pa = verlet_step(pendulum_grad, q, p, 0.1)
    qb, pb = stormer_verlet_implicit_step(pendulum_grad, q, p, 0.1)
    assert torch.allclose(qa, qb, atol=1e-14, rtol=0) and torch.allclose(pa, pb, atol=1e-14, rtol=0)


def test_yoshida4_equals_composition_of_three_verlet_steps() -> None:
    w1 = 1.0 / (2.0 - 2.0 ** (1 / 3))
    w0 = 1.0 - 2.0 * w1
    q, p = torch.tensor([0.9, -0.2], dtype=D), torch.tensor([0.1, 0.7], dtype=D)
    qc, pc = q, p
    for w in (w1, w0, w1):
        qc, pc = verlet_step(pendulum_grad, qc, pc, w * 0.3)
    qy, py = yoshida4_step(pendulum_grad, q, p, 0.3)
    assert torch.allclose(qy, qc, atol=1e-14, rtol=0) and torch.allclose(py, pc, atol=1e-14, rtol=0)


# ------------------------------------------------------------------------------------------- long-time energy


def test_energy_bounded_over_1e5_steps_while_rk4_drifts() -> None:
    """10^5 steps of h = 0.3 on the harmonic oscillator: symplectic energy error bounded, no trend; RK4 decays."""
    n, h = 100_000, 0.3
    q0, p0 = torch.tensor([1.0], dtype=D), torch.tensor([0.0], dtype=D)
    t = torch.arange(n + 1, dtype=D) * h
    window = n // 10
    bounds = {"symplectic_euler": 0.2, "verlet": 0.025, "yoshida4": 1e-3}  # ~h/2, h^2/4, O(h^4)
    worst = 0.0
    for method, bound in bounds.items():
        qs, ps = hamiltonian_odeint(ho_grad, q0, p0, t, method)
        rel = (0.5 * (qs**2 + ps**2)[:, 0] - 0.5).abs() / 0.5
        first, last = float(rel[:window].max()), float(rel[-window:].max())
        assert float(rel.max()) < bound
        assert last < 1.01 * first  # no secular trend: the late oscillation is no larger than the early one
        worst = max(worst, float(rel.max()))
    # RK4 on the same problem and step (y' = J y), 10^5 steps: the energy decays monotonically.
    J = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=D)  # y = (q, p): q' = p, p' = -q
    ys = odeint(lambda t, y: y @ J, torch.tensor([1.0, 0.0], dtype=D), t, "rk4")
    energy = 0.5 * (ys**2).sum(-1)
    assert bool((energy.diff() < 0).all())
    drift = float((energy[-1] - 0.5).abs() / 0.5)
    assert drift > 0.5 > worst  # |R(ih)|^2 = 1 - h^6/72 + h^8/576 per step: 1 - exp(-1.0) after 10^5 steps
    predicted = 1 - (1 - h**6 / 72 + h**8 / 576) ** n
    assert drift == pytest.approx(predicted, rel=1e-6)


def test_implicit_midpoint_conserves_quadratic_energy_exactly() -> None:
    q0, p0 = torch.tensor([1.0, 0.3], dtype=D), torch.tensor([0.0, -0.8], dtype=D)
    t = torch.arange(1001, dtype=D) * 0.5
    qs, ps = hamiltonian_odeint(ho_grad, q0, p0, t, "implicit_midpoint", tol=1e-14)
    energy = 0.5 * (qs**2 + ps**2)
    assert float((energy - energy[0]).abs().max()) < 1e-11  # exact up to the fixed-point tolerance


def test_implicit_methods_bound_energy_of_nonseparable_H_where_leapfrog_fails() -> None:
    q0, p0 = torch.tensor([[0.5]], dtype=D), torch.tensor([[1.0]], dtype=D)
    n, h = 2000, 0.1
    t = torch.arange(n + 1, dtype=D) * h
    h0 = float(nonsep_H(q0, p0))
    rel = {}
    for method in ("implicit_midpoint", "stormer_verlet_implicit", "verlet"):
        qs, ps = hamiltonian_odeint(nonsep_grad, q0, p0, t, method)
        rel[method] = (nonsep_H(qs, ps)[:, 0] - h0).abs() / h0
    for method in ("implicit_midpoint", "stormer_verlet_implicit"):
        r = rel[method]
        assert float(r.max()) < 1e-2
        assert float(r[-n // 3 :].max()) < 1.01 * float(r[: n // 3].max())  # bounded, no trend
        assert float(rel["verlet"].max()) > 30 * float(r.max())  # explicit leapfrog is wrong for non-separable H


# ------------------------------------------------------------------------------------------- symplecticity


def _symplectic_defect(step, h: float) -> float:
    """max |J^T Omega J - Omega| of the one-step map of the non-separable H in dimension 2."""
    grad_H = hamiltonian_vector_field(nonsep_H, create_graph=True)
    d = 2

    def one_step(z: torch.Tensor) -> torch.Tensor:
        q1, p1 = step(grad_H, z[:d], z[d:], h)
        return torch.cat((q1, p1))

    z0 = torch.tensor([0.5, -0.3, 0.8, 0.2], dtype=D)
    jac = torch.autograd.functional.jacobian(one_step, z0)
    eye = torch.eye(d, dtype=D)
    omega = torch.zeros(2 * d, 2 * d, dtype=D)
    omega[:d, d:], omega[d:, :d] = eye, -eye
    return float((jac.T @ omega @ jac - omega).abs().max())


@pytest.mark.parametrize("step", [implicit_midpoint_step, stormer_verlet_implicit_step])
def test_implicit_maps_are_symplectic_for_nonseparable_H(step) -> None:
    assert _symplectic_defect(step, 0.2) < 1e-10


@pytest.mark.parametrize("step", [verlet_step, symplectic_euler_step])
def test_explicit_maps_are_not_symplectic_for_nonseparable_H(step) -> None:
    assert _symplectic_defect(step, 0.2) > 1e-4


def test_explicit_maps_are_symplectic_for_separable_H() -> None:
    grad_H = hamiltonian_vector_field(lambda q, p: 0.5 * (p**2).sum(-1) - torch.cos(q).sum(-1), create_graph=True)
    omega = torch.tensor([[0, 0, 1, 0], [0, 0, 0, 1], [-1, 0, 0, 0], [0, -1, 0, 0]], dtype=D)
    z0 = torch.rand(4, dtype=D, generator=torch.Generator().manual_seed(1))
    for step in (symplectic_euler_step, verlet_step, yoshida4_step):
        jac = torch.autograd.functional.jacobian(lambda z, step=step: torch.cat(step(grad_H, z[:2], z[2:], 0.3)), z0)
        assert float((jac.T @ omega @ jac - omega).abs().max()) < 1e-13


# ------------------------------------------------------------------------------------------- vector field, autograd


def test_hamiltonian_vector_field_matches_analytic_gradient_and_works_under_no_grad() -> None:
    gen = torch.Generator().manual_seed(0)
    q, p = torch.randn(5, 3, generator=gen, dtype=D), torch.randn(5, 3, generator=gen, dtype=D)
    grad_H = hamiltonian_vector_field(nonsep_H)
    with torch.no_grad():
        dq, dp = grad_H(q, p)
    eq, ep = nonsep_grad(q, p)
    assert torch.allclose(dq, eq, atol=1e-14) and torch.allclose(dp, ep, atol=1e-14)
    assert not dq.requires_grad and not dp.requires_grad
    dq, dp = hamiltonian_vector_field(lambda q, p: 0.5 * (p**2).sum(-1))(q, p)  # H independent of q
    assert torch.equal(dq, torch.zeros_like(q)) and torch.allclose(dp, p)


def test_vector_field_gives_partial_derivatives_when_p_depends_on_q() -> None:
    """With create_graph, dH/dq is the partial derivative even if p was computed from q (as after a kick)."""
    q = torch.tensor([0.7, -0.2], dtype=D, requires_grad=True)
    p = 2.0 * q + 1.0
    dq, dp = hamiltonian_vector_field(lambda q, p: (q * p).sum(-1), create_graph=True)(q, p)
    assert torch.allclose(dq, p) and torch.allclose(dp, q)  # not the total derivative d(q(2q+1))/dq = 4q + 1
    (g,) = torch.autograd.grad(dq.sum(), q)  # the graph stays connected: d/dq sum(p(q)) = 2
    assert torch.allclose(g, torch.full_like(q, 2.0))


def test_learned_hamiltonian_rollout_is_differentiable_in_its_parameters() -> None:
    """Discrete-time training through the integrator: gradcheck w.r.t. the parameters of H_theta and the state."""

    def rollout(theta: torch.Tensor, q0: torch.Tensor, p0: torch.Tensor) -> torch.Tensor:
        H = lambda q, p: 0.5 * theta[0] * p**2 + theta[1] * q**2 + theta[2] * (q * p) ** 2
        grad_H = hamiltonian_vector_field(H, create_graph=True)
        qs, ps = hamiltonian_odeint(grad_H, q0, p0, torch.tensor([0.0, 0.3], dtype=D), "implicit_midpoint", dt=0.1)
        qv, pv = hamiltonian_odeint(grad_H, q0, p0, torch.tensor([0.0, 0.3], dtype=D), "verlet", dt=0.1)
        return torch.cat((qs[-1], ps[-1], qv[-1], pv[-1]))

    theta = torch.tensor([1.0, 0.7, 0.3], dtype=D, requires_grad=True)
    q0 = torch.tensor([0.4, -0.6], dtype=D, requires_grad=True)
    p0 = torch.tensor([0.2, 0.5], dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(rollout, (theta, q0, p0), atol=1e-6)


def test_float32_batch_and_stats() -> None:
    gen = torch.Generator().manual_seed(2)
    q0, p0 = torch.rand(8, 3, generator=gen), torch.rand(8, 3, generator=gen)
    t = torch.linspace(0, 1, 4)
    grad_H = hamiltonian_vector_field(lambda q, p: 0.5 * (q**2 + p**2).sum(-1))
    for method in list(SYMPLECTIC_METHODS) + ["rk4", "dopri5"]:
        qs, ps, stats = hamiltonian_odeint(grad_H, q0, p0, t, method, dt=0.05, return_stats=True)
        assert qs.shape == ps.shape == (4, 8, 3) and qs.dtype == torch.float32
        tol = 3e-2 if method == "symplectic_euler" else 2e-3  # first order: error O(dt)
        assert torch.allclose(qs[-1], q0 * math.cos(1) + p0 * math.sin(1), atol=tol)
        assert stats["nfev"] > 0 and stats["steps"] >= 3
    _, _, stats = hamiltonian_odeint(ho_grad, q0, p0, t, "verlet", dt=0.05, return_stats=True)
    assert stats == {"nfev": 3 * 21, "steps": 21, "rejected": 0}  # ceil((1/3) / 0.05) = 7 steps per interval
    _, _, stats = hamiltonian_odeint(ho_grad, q0, p0, t, "yoshida4", dt=0.05, return_stats=True)
    assert stats["nfev"] == 7 * 21
    _, _, stats = hamiltonian_odeint(
        ho_grad, q0.double(), p0.double(), t.double(), "implicit_midpoint", return_stats=True
    )
    assert stats["iterations"] == stats["nfev"] > 3


# ------------------------------------------------------------------------------------------- bad input


def test_nonconvergence_raises_or_warns() -> None:
    q0, p0, t = torch.tensor([1.0], dtype=D), torch.tensor([1.0], dtype=D), torch.tensor([0.0, 5.0], dtype=D)
    for method in ("implicit_midpoint", "stormer_verlet_implicit"):
        with pytest.raises(RuntimeError, match="did not converge"):
            hamiltonian_odeint(nonsep_grad, q0, p0, t, method, max_iter=20)
        with pytest.warns(RuntimeWarning, match="did not converge"):
            qs, _ = hamiltonian_odeint(nonsep_grad, q0, p0, t, method, max_iter=3, on_fail="warn")
        assert qs.shape == (2, 1)  # the run continues after the warning


def test_blow_up_in_fixed_point_fails_at_once() -> None:
    grad_H = lambda q, p: (q * math.inf, p)  # the iteration blows up at once
    calls = []
    counted = lambda q, p: (calls.append(1), grad_H(q, p))[1]
    with pytest.raises(RuntimeError, match="did not converge"):
        implicit_midpoint_step(counted, torch.ones(1, dtype=D), torch.ones(1, dtype=D), 1.0, max_iter=50)
    assert len(calls) <= 3


def test_bad_input_errors() -> None:
    q0, p0, t = torch.ones(2, dtype=D), torch.ones(2, dtype=D), torch.tensor([0.0, 1.0], dtype=D)
    with pytest.raises(ValueError, match="unknown method 'leapfrog'.*implicit_midpoint.*verlet.*yoshida4"):
        hamiltonian_odeint(ho_grad, q0, p0, t, "leapfrog")
    with pytest.raises(ValueError, match="q0 and p0 must have the same shape"):
        hamiltonian_odeint(ho_grad, q0, torch.ones(3, dtype=D), t)
    with pytest.raises(TypeError, match="p0 must have the dtype"):
        hamiltonian_odeint(ho_grad, q0, torch.ones(2), t)
    with pytest.raises(ValueError, match="t must be strictly increasing"):
        hamiltonian_odeint(ho_grad, q0, p0, torch.tensor([1.0, 0.0], dtype=D))
    with pytest.raises(TypeError, match="t must have the dtype"):
        hamiltonian_odeint(ho_grad, q0, p0, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="dt must be > 0"):
        hamiltonian_odeint(ho_grad, q0, p0, t, dt=0)
    with pytest.raises(ValueError, match="tol must be > 0"):
        hamiltonian_odeint(ho_grad, q0, p0, t, "implicit_midpoint", tol=-1.0)
    with pytest.raises(ValueError, match="max_iter must be > 0"):
        hamiltonian_odeint(ho_grad, q0, p0, t, "implicit_midpoint", max_iter=0)
    with pytest.raises(ValueError, match="on_fail"):
        hamiltonian_odeint(ho_grad, q0, p0, t, "implicit_midpoint", on_fail="ignore")
    with pytest.raises(TypeError, match="grad_H must be callable"):
        hamiltonian_odeint("H", q0, p0, t)
    with pytest.raises(TypeError, match="grad_H must return a pair"):
        hamiltonian_odeint(lambda q, p: q + p, q0, p0, t)
    with pytest.raises(ValueError, match="grad_H returned shapes"):
        hamiltonian_odeint(lambda q, p: (q.sum(), p), q0, p0, t)
    with pytest.raises(ValueError, match="tol must be > 0"):
        implicit_midpoint_step(ho_grad, q0, p0, 0.1, tol=0.0)
    with pytest.raises(TypeError, match="H must be callable"):
        hamiltonian_vector_field(3.0)


def test_explicit_methods_fall_to_first_order_on_a_non_separable_hamiltonian():
    """As the docstrings say: on ``H = (1 + q^2) p^2 / 2 + q^2 / 2`` Störmer–Verlet and Yoshida's method are
    first order (their orders 2 and 4 need a separable H); the implicit methods keep order 2."""
    grad_H = hamiltonian_vector_field(lambda q, p: 0.5 * (1 + q**2) * p**2 + 0.5 * q**2)
    q0, p0 = torch.tensor([1.0], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64)
    t = torch.tensor([0.0, 2.0], dtype=torch.float64)
    qr, pr = hamiltonian_odeint(grad_H, q0, p0, t, method="dopri5", rtol=1e-12, atol=1e-14)

    def order(method: str) -> float:
        errs = []
        for n in (100, 200):
            qs, ps = hamiltonian_odeint(grad_H, q0, p0, t, method=method, dt=2.0 / n)
            errs.append(max(float((qs[-1] - qr[-1]).abs().max()), float((ps[-1] - pr[-1]).abs().max())))
        return math.log2(errs[0] / errs[1])

    assert 0.8 < order("verlet") < 1.2 and 0.8 < order("yoshida4") < 1.2
    assert 1.9 < order("implicit_midpoint") < 2.1 and 1.9 < order("stormer_verlet_implicit") < 2.1
