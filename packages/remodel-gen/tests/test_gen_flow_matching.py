import pytest
import torch
from remodel_core import ReturnCode, solve
from remodel_core.optim import Adam
from remodel_gen import FlowMatching, FlowModel, GenerativeProblem, eight_gaussians, gaussian

SMALL = dict(width=32, depth=2, batch_size=128, n_train=4000, eval_samples=500, eval_steps=20)


def exact_velocity(t, x, m, s):
    # E[x1 - x0 | x_t = x] for x0 ~ N(0, 1), x1 ~ N(m, s^2) independent, x_t = (1 - t) x0 + t x1
    var = (1 - t) ** 2 + t**2 * s**2
    return m + (t * s**2 - (1 - t)) / var * (x - t * m)


def test_learned_velocity_matches_closed_form_for_gaussian_target():
    m, s = 2.0, 0.5
    prob = GenerativeProblem(gaussian([m], s), dim=1, name="gauss1d")
    alg = FlowMatching(width=32, depth=2, batch_size=512, n_train=8000, eval_samples=400, eval_steps=20,
                       optimizer=Adam(lr=1e-2))
    sol = solve(prob, alg, maxiters=400, seed=0)
    t = torch.linspace(0.05, 0.95, 10).repeat_interleave(50)
    x = (t * m + ((1 - t) ** 2 + t**2 * s**2).sqrt() * torch.linspace(-2, 2, 50).repeat(10))[:, None]
    with torch.no_grad():
        learned = sol.u(t, x)[:, 0]
    exact = exact_velocity(t, x[:, 0], m, s)
    # a regression on a noisy target after 400 Adam steps: ~11% relative L2 error over the bulk of p_t
    assert float((learned - exact).norm() / exact.norm()) < 0.15
    # and the exact field transports N(0, 1) to N(m, s^2): sampling through the same ODE path
    samples = sol.u.sample(4000, seed=1, steps=20).double()
    assert abs(float(samples.mean()) - m) < 0.1 and abs(float(samples.std()) - s) < 0.1


@pytest.mark.parametrize("coupling", ["independent", "ot"])
def test_training_lowers_energy_distance_on_eight_gaussians(coupling):
    prob = GenerativeProblem(eight_gaussians, dim=2, name="8 gaussians")
    sol = solve(prob, FlowMatching(coupling=coupling, optimizer=Adam(lr=5e-3), **SMALL), maxiters=150, seed=0)
    assert sol.retcode is ReturnCode.MaxIters
    assert isinstance(sol.u, FlowModel) and len(sol.history["loss"]) == 150
    assert sol.stats["energy_distance"] < 0.25 * sol.stats["energy_distance_untrained"]


def test_reproducible_with_seed():
    prob = GenerativeProblem(eight_gaussians, dim=2)
    alg = FlowMatching(**SMALL)
    a, b = solve(prob, alg, maxiters=5, seed=3), solve(prob, alg, maxiters=5, seed=3)
    assert a.history["loss"] == b.history["loss"]
    assert torch.equal(a.u.sample(10, seed=0, steps=5), b.u.sample(10, seed=0, steps=5))


def test_bad_input():
    with pytest.raises(ValueError, match="dim"):
        solve(GenerativeProblem(eight_gaussians, dim=0), FlowMatching())
    with pytest.raises(ValueError, match=r"shape \[n, dim=3\]"):
        solve(GenerativeProblem(eight_gaussians, dim=3), FlowMatching())
    with pytest.raises(TypeError, match="sampler"):
        solve(GenerativeProblem("moons", dim=2), FlowMatching())
    prob = GenerativeProblem(eight_gaussians, dim=2)
    with pytest.raises(ValueError, match="coupling"):
        solve(prob, FlowMatching(coupling="sinkhorn"))
    with pytest.raises(ValueError, match="batch_size"):
        solve(prob, FlowMatching(batch_size=0))
    with pytest.raises(ValueError, match="lr"):
        solve(prob, FlowMatching(optimizer=Adam(lr=-1.0)))
    with pytest.raises(ValueError, match="steps"):
        FlowModel(2).sample(3, steps=0)
    with pytest.raises(ValueError, match="x0"):
        FlowModel(2).sample(3, x0=torch.zeros(3, 4))


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
