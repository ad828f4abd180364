"""Bad input fails at the call with a clear error naming the argument (no diffusers import here)."""

import numpy as np
import pytest
import torch
from remodel_core import solve
from remodel_core.optim import Adam
from remodel_gen import (
    EMA,
    BrownianBridgePath,
    CosineAdam,
    Diffusion,
    DiffusionModel,
    FlowMatching,
    FlowModel,
    GenerativeProblem,
    LinearPath,
    LipmanOTPath,
    MLPField,
    array_sampler,
    cfm_target,
    checkerboard,
    digits,
    eight_gaussians,
    energy_distance,
    frechet_distance,
    gaussian,
    make_path,
    make_scheduler,
    mmd,
    ot_pairing,
    sample_plan,
    sample_times,
    sinkhorn_plan,
    sliced_wasserstein,
    spirals,
    train_digit_classifier,
    two_moons,
    wasserstein2,
)

PROB = GenerativeProblem(eight_gaussians, dim=2)
X = torch.randn(10, 2)


def run(alg, prob=PROB, **kw):
    return solve(prob, alg, maxiters=1, **kw)


# ---------------------------------------------------------------- FlowMatching options
@pytest.mark.parametrize(
    "kw,match",
    [
        ({"path": "curved"}, "path"),
        ({"path": 3}, "path"),
        ({"path": "vp", "sigma": 0.1}, "sigma"),
        ({"path": "lipman", "sigma": 1.0}, "sigma_min"),
        ({"path": "brownian_bridge", "sigma": 0.0}, "sigma"),
        ({"sigma": -0.1}, "sigma"),
        ({"sigma": float("nan")}, "sigma"),
        ({"coupling": "sinkhorn_ot"}, "coupling"),
        ({"reg": 0.0}, "reg"),
        ({"reg": -1.0}, "reg"),
        ({"width": 0}, "width"),
        ({"depth": -1}, "depth"),
        ({"batch_size": 0}, "batch_size"),
        ({"n_train": 0}, "n_train"),
        ({"reflow": -1}, "reflow"),
        ({"reflow_pairs": 0}, "reflow_pairs"),
        ({"reflow_steps": 0}, "reflow_steps"),
        ({"reflow_iters": 0}, "reflow_iters"),
        ({"reflow_method": "rk45"}, "reflow_method"),
        ({"reflow_tol": 0.0}, "reflow_tol"),
        ({"reflow_tol": -1e-5}, "reflow_tol"),
        ({"reflow_optimizer": Adam(lr=-1.0)}, "lr"),
        ({"p_uncond": 1.0}, "p_uncond"),
        ({"p_uncond": -0.1}, "p_uncond"),
        ({"eval_samples": 1}, "eval_samples"),
        ({"eval_samples": -5}, "eval_samples"),
        ({"eval_steps": 0}, "eval_steps"),
        ({"time_features": -2}, "time_features"),
        ({"optimizer": Adam(lr=-1.0)}, "lr"),
        ({"time_sampling": "logit_normal"}, "time_sampling"),
        ({"time_sampling": None}, "time_sampling"),
        ({"reflow_time_sampling": "u"}, "reflow_time_sampling"),
        ({"time_scale": 0.0}, "time_scale"),
        ({"time_scale": -4.0}, "time_scale"),
        ({"time_scale": 1000.0}, "time_scale"),  # OverflowError: math range error, at the first step
        ({"optimizer": EMA(optimizer=Adam(), decay=1.0)}, "decay"),
        ({"reflow_optimizer": EMA(optimizer=Adam(), decay=-0.5)}, "decay"),
    ],
)
def test_flow_matching_rejects_bad_options(kw, match):
    with pytest.raises(ValueError, match=match):
        run(FlowMatching(**kw))


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"width": 2.5}, "width"),
        ({"batch_size": "256"}, "batch_size"),
        ({"reflow": True}, "reflow"),
        ({"network": "mlp"}, "network"),
        ({"network": lambda t, x: x}, "network"),
        ({"optimizer": torch.optim.Adam}, "optimizer"),
        ({"reflow_optimizer": torch.optim.Adam}, "reflow_optimizer"),
        ({"reflow_iters": 2.0}, "reflow_iters"),
        ({"sigma": "0.1"}, "sigma"),
    ],
)
def test_flow_matching_rejects_bad_option_types(kw, match):
    with pytest.raises(TypeError, match=match):
        run(FlowMatching(**kw))


def test_flow_matching_refuses_reflow_iters_beyond_maxiters():
    with pytest.raises(ValueError, match="reflow_iters"):
        solve(PROB, FlowMatching(reflow=1, reflow_iters=50, n_train=100, eval_samples=0), maxiters=40)


def test_flow_matching_refuses_fewer_iterations_than_stages():
    # maxiters is the total over the reflow + 1 stages: maxiters=2 with reflow=2 ran 4 iterations ([1, 1, 2])
    with pytest.raises(ValueError, match="maxiters=2 is smaller than the 3 stages"):
        solve(PROB, FlowMatching(reflow=2, n_train=100, eval_samples=0), maxiters=2)
    alg = FlowMatching(reflow=2, reflow_method="euler", reflow_steps=2, width=8, depth=1, n_train=64, eval_samples=0)
    sol = solve(PROB, alg, maxiters=4, seed=0)
    assert sol.stats["stage_iters"] == [1, 1, 2] and sol.stats["iterations"] == 4


def test_flow_matching_with_reflow_refuses_a_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="checkpoint"):
        run(FlowMatching(reflow=1, n_train=100, eval_samples=0), checkpoint=tmp_path / "x.pt")


# ---------------------------------------------------------------- GenerativeProblem
@pytest.mark.parametrize(
    "kw,err,match",
    [
        ({"data": "moons", "dim": 2}, TypeError, "data"),
        ({"data": [[0.0, 1.0]], "dim": 2}, TypeError, "data"),
        ({"data": eight_gaussians}, ValueError, "dim"),
        ({"data": eight_gaussians, "dim": 0}, ValueError, "dim"),
        ({"data": eight_gaussians, "dim": (2, 0)}, ValueError, "dim"),
        ({"data": eight_gaussians, "dim": 3}, ValueError, r"shape \[n, dim=3\]"),
        ({"data": torch.zeros(1, 2)}, ValueError, "N >= 2"),
        ({"data": torch.zeros(5)}, ValueError, "data"),
        ({"data": torch.zeros(5, 2), "dim": 3}, ValueError, "dim"),
        ({"data": torch.tensor([[0.0, float("nan")], [1.0, 1.0]])}, ValueError, "finite"),
        ({"data": torch.zeros(5, 2, dtype=torch.complex64)}, TypeError, "data"),
        ({"data": torch.zeros(4, 2), "labels": [0, 1, 0, 1]}, TypeError, "labels"),
        ({"data": torch.zeros(4, 2), "labels": torch.zeros(3, dtype=torch.long)}, ValueError, "labels"),
        ({"data": torch.zeros(4, 2), "labels": torch.zeros(4)}, ValueError, "labels"),
        ({"data": torch.zeros(4, 2), "labels": torch.tensor([0, -1, 0, 1])}, ValueError, "labels"),
        (
            {"data": torch.zeros(4, 2), "labels": torch.tensor([0, 3, 0, 1]), "num_classes": 2},
            ValueError,
            "num_classes",
        ),
        ({"data": torch.zeros(4, 2), "num_classes": 0}, ValueError, "num_classes"),
        ({"data": eight_gaussians, "dim": 2, "labels": torch.zeros(4, dtype=torch.long)}, ValueError, "labels"),
        ({"data": eight_gaussians, "dim": 2, "source": "gauss"}, TypeError, "source"),
        ({"data": eight_gaussians, "dim": 2, "source": torch.zeros(5, 3)}, ValueError, "source"),
        ({"data": eight_gaussians, "dim": 2, "source": lambda n, g: torch.zeros(n, 3)}, ValueError, "source"),
        (
            {"data": lambda n, g: (torch.zeros(n, 2), torch.zeros(n, dtype=torch.long)), "dim": 2},
            ValueError,
            "num_classes",
        ),
    ],
)
def test_generative_problem_rejects_bad_data(kw, err, match):
    with pytest.raises(err, match=match):
        run(FlowMatching(n_train=50, eval_samples=0), prob=GenerativeProblem(**kw))


def test_solve_rejects_unknown_options_and_wrong_problem():
    with pytest.raises(TypeError, match="unknown option"):
        solve(PROB, FlowMatching(), maxiters=1, lr=1e-3)
    from remodel_core import TrainingProblem

    with pytest.raises(TypeError, match="cannot solve"):
        solve(TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m: m.weight.sum()), FlowMatching())


# ---------------------------------------------------------------- Diffusion options (checked before diffusers loads)
@pytest.mark.parametrize(
    "kw,err,match",
    [
        ({"network": "unet"}, TypeError, "network"),
        ({"unet": [("block_out_channels", (8,))]}, TypeError, "unet"),
        ({"unet": {}, "network": torch.nn.Linear(2, 2)}, ValueError, "network or unet"),
        ({"num_train_timesteps": 0}, ValueError, "num_train_timesteps"),
        ({"beta_schedule": "cosine"}, ValueError, "beta_schedule"),
        ({"prediction_type": "score"}, ValueError, "prediction_type"),
        ({"clip_sample": 0.0}, ValueError, "clip_sample"),
        ({"p_uncond": 1.5}, ValueError, "p_uncond"),
        ({"batch_size": -1}, ValueError, "batch_size"),
        ({"width": 0}, ValueError, "width"),
        ({"time_features": -1}, ValueError, "time_features"),
        ({"optimizer": "adam"}, TypeError, "optimizer"),
    ],
)
def test_diffusion_rejects_bad_options(kw, err, match):
    with pytest.raises(err, match=match):
        run(Diffusion(**kw))


def test_diffusion_model_and_scheduler_bad_calls():
    with pytest.raises(ValueError, match="scheduler"):
        make_scheduler("euler", {})
    with pytest.raises(TypeError, match="field"):
        DiffusionModel("net", 2, {})
    m = DiffusionModel(MLPField(2, width=4, depth=1), 2, {"num_train_timesteps": 10})
    for kw, err, match in [
        ({"n": 0}, ValueError, "n must"),
        ({"steps": 0}, ValueError, "steps"),
        ({"steps": 11}, ValueError, "steps"),
        ({"y": 0}, ValueError, "unconditional"),
        ({"guidance": 2.0}, ValueError, "guidance"),
        ({"guidance": "2"}, TypeError, "guidance"),
    ]:
        with pytest.raises(err, match=match):
            m.sample(**{"n": 2, "steps": 5, **kw})


# ---------------------------------------------------------------- fields and models
def test_field_and_model_bad_arguments():
    for kw, match in [
        ({"shape": 0}, "shape"),
        ({"shape": (2, -1)}, "shape"),
        ({"shape": 2, "width": 0}, "width"),
        ({"shape": 2, "depth": 0}, "depth"),
        ({"shape": 2, "time_features": 3}, "time_features"),
        ({"shape": 2, "num_classes": 0}, "num_classes"),
        ({"shape": 2, "activation": "swish"}, "activation"),
    ]:
        with pytest.raises(ValueError, match=match):
            MLPField(**kw)
    with pytest.raises(ValueError, match="y was given"):
        MLPField(2)(torch.zeros(1), torch.zeros(1, 2), torch.zeros(1, dtype=torch.long))
    with pytest.raises(TypeError, match="field"):
        FlowModel(lambda t, x: x, 2)
    with pytest.raises(ValueError, match="shape"):
        FlowModel(MLPField(2), "2")
    model = FlowModel(MLPField(2, width=4, depth=1), 2)
    cond = FlowModel(MLPField(2, width=4, depth=1, num_classes=3), 2, num_classes=3)
    for m, kw, err, match in [
        (model, {"steps": 0}, ValueError, "steps"),
        (model, {"steps": 1.5}, TypeError, "steps"),
        (model, {"n": 0}, ValueError, "n must"),
        (model, {"x0": torch.zeros(3, 4)}, ValueError, "x0"),
        (model, {"x0": [[0.0, 0.0]]}, ValueError, "x0"),
        (model, {"method": "rk45"}, ValueError, "method"),
        (model, {"y": 1}, ValueError, "unconditional"),
        (model, {"guidance": float("inf")}, TypeError, "guidance"),
        (cond, {"guidance": 2.0}, ValueError, "guidance"),
        (cond, {"y": 3}, ValueError, "labels in"),
        (cond, {"y": torch.tensor([0, 1, 2])}, ValueError, "y must"),
        (model, {"method": "dopri5", "rtol": -1.0}, ValueError, "rtol"),
    ]:
        with pytest.raises(err, match=match):
            m.sample(**{"n": 2, **kw})


# ---------------------------------------------------------------- paths
def test_paths_bad_arguments():
    with pytest.raises(ValueError, match="sigma"):
        LinearPath(-1.0)
    with pytest.raises(TypeError, match="sigma"):
        LinearPath("0.1")
    with pytest.raises(ValueError, match="sigma_min"):
        LipmanOTPath(1.5)
    with pytest.raises(ValueError, match="sigma"):
        BrownianBridgePath(0.0)
    with pytest.raises(ValueError, match="path"):
        make_path("ot")
    with pytest.raises(ValueError, match="eps"):
        BrownianBridgePath(1.0).sample(X, X, torch.rand(10))
    with pytest.raises(ValueError, match="eps"):
        cfm_target(X, X, torch.rand(10), sigma=0.1)
    with pytest.raises(ValueError, match="path"):
        cfm_target(X, X, torch.rand(10), path="bridge")
    # mismatched shapes raised torch broadcasting errors, or (one x0 for four x1) broadcast silently
    with pytest.raises(ValueError, match="same sample shape"):
        cfm_target(X, torch.zeros(10, 3), torch.rand(10))
    with pytest.raises(ValueError, match="same shape"):
        cfm_target(X[:1], X[:4], torch.rand(4))
    with pytest.raises(ValueError, match=r"t must hold one time per sample \(10\)"):
        cfm_target(X, X, torch.rand(3))
    with pytest.raises(ValueError, match="eps must have the shape of x0"):
        cfm_target(X, X, torch.rand(10), sigma=0.1, eps=torch.randn(10, 1))
    xt, ut = cfm_target(X, 2 * X, 0.25)  # one time for all (a float raised AttributeError)
    assert torch.allclose(xt, 1.25 * X) and torch.allclose(ut, X)


# ---------------------------------------------------------------- couplings
def test_coupling_bad_arguments():
    with pytest.raises(ValueError, match="same number"):
        ot_pairing(X, torch.zeros(5, 2))
    with pytest.raises(ValueError, match="same sample shape"):
        ot_pairing(X, torch.zeros(10, 3))
    with pytest.raises(TypeError, match="x0"):
        ot_pairing(X.numpy(), X)
    with pytest.raises(ValueError, match="x1"):
        ot_pairing(X, torch.zeros(10))
    with pytest.raises(ValueError, match="reg"):
        sinkhorn_plan(X, X, 0.0)
    with pytest.raises(ValueError, match="reg"):
        sinkhorn_plan(X, X, -1.0)
    with pytest.raises(ValueError, match="max_iter"):
        sinkhorn_plan(X, X, 1.0, max_iter=0)
    with pytest.raises(ValueError, match="tol"):
        sinkhorn_plan(X, X, 1.0, tol=-1.0)
    with pytest.raises(ValueError, match="plan"):
        sample_plan(torch.ones(3), 2)
    with pytest.raises(ValueError, match="n must"):
        sample_plan(torch.ones(3, 3), 0)
    with pytest.raises(ValueError, match="mass"):
        sample_plan(torch.zeros(3, 3), 2)


# ---------------------------------------------------------------- metrics
def test_metric_bad_arguments():
    for fn in (wasserstein2, sliced_wasserstein, mmd, energy_distance):
        with pytest.raises(ValueError, match="x must"):
            fn(torch.zeros(1, 2), X)
        with pytest.raises(ValueError, match="same dimension"):
            fn(X, torch.zeros(10, 3))
        with pytest.raises(ValueError, match="y must be finite"):  # energy_distance returned nan
            fn(X, torch.full((10, 2), float("nan")))
    with pytest.raises(ValueError, match="same number"):
        wasserstein2(X, torch.zeros(5, 2))
    with pytest.raises(ValueError, match="projections"):
        sliced_wasserstein(X, X, projections=0)
    with pytest.raises(ValueError, match="seed must"):  # torch's "manual_seed expected a long" RuntimeError
        sliced_wasserstein(X, X, seed=1.5)
    with pytest.raises(ValueError, match="bandwidths"):
        mmd(X, X, bandwidths=(-1.0,))
    with pytest.raises(ValueError, match="a must"):
        frechet_distance(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="feature dimension"):
        frechet_distance(torch.zeros(5, 3), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="b must be finite"):  # returned nan
        frechet_distance(torch.zeros(5, 3), torch.full((5, 3), float("nan")))


@pytest.mark.parametrize(
    "args,error,match",
    [
        (([float("nan")],), ValueError, "mean must be finite"),  # sampled NaN
        (([],), ValueError, "mean must be finite"),
        (("a",), TypeError, "mean must be"),
        ((3, torch.Generator()), TypeError, "std must be a number"),  # '>' not supported between Generator and int
        ((0.0, float("inf")), ValueError, "std must be"),
        ((0.0, 0.0), ValueError, "std must be"),
    ],
)
def test_gaussian_rejects_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        gaussian(*args)


# ---------------------------------------------------------------- data and digits helpers
def test_data_bad_arguments():
    for dens in (two_moons, eight_gaussians, checkerboard, spirals):
        with pytest.raises(ValueError, match="n must"):
            dens(0)
        with pytest.raises(TypeError, match="generator"):
            dens(5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="size"):
        digits(4)
    with pytest.raises(TypeError, match="x must"):
        array_sampler([[0.0]])
    x = torch.zeros(4, 1, 16, 16)
    with pytest.raises(ValueError, match="images"):
        train_digit_classifier(torch.zeros(4, 256), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        train_digit_classifier(x, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="iterations"):
        train_digit_classifier(x, torch.zeros(4, dtype=torch.long), iterations=0)
    with pytest.raises(ValueError, match="holdout"):
        train_digit_classifier(x, torch.zeros(4, dtype=torch.long), holdout=1.0)


def test_cosine_adam_bad_arguments():
    for kw, match in [
        ({"lr": 0.0}, "lr"),
        ({"decay_steps": 0}, "decay_steps"),
        ({"final_lr_ratio": 2.0}, "final_lr_ratio"),
        ({"final_lr_ratio": -0.1}, "final_lr_ratio"),
        ({"betas": (0.9, 1.0)}, "betas"),
        ({"eps": 0.0}, "eps"),
    ]:
        with pytest.raises(ValueError, match=match):
            run(FlowMatching(optimizer=CosineAdam(**kw)))


# ---------------------------------------------------------------- EMA and training times
@pytest.mark.parametrize(
    "kw,err,match",
    [
        ({"optimizer": Adam(), "decay": 1.0}, ValueError, "decay"),
        ({"optimizer": Adam(), "decay": -0.1}, ValueError, "decay"),
        ({"optimizer": Adam(), "decay": float("nan")}, ValueError, "decay"),
        ({"optimizer": Adam(), "decay": "0.9"}, ValueError, "decay"),
        ({"optimizer": Adam(), "decay": True}, ValueError, "decay"),
        ({"optimizer": Adam(lr=-1.0)}, ValueError, "lr"),
        ({"optimizer": torch.optim.Adam}, TypeError, "optimizer"),
        ({"optimizer": EMA(optimizer=Adam())}, TypeError, "optimizer"),
        ({"optimizer": Adam(), "warmup": 1}, TypeError, "warmup"),
    ],
)
def test_ema_rejects_bad_arguments(kw, err, match):
    from remodel_core import TrainingProblem

    prob = TrainingProblem(model=torch.nn.Linear(1, 1), loss=lambda m: m.weight.sum())
    with pytest.raises(err, match=match):
        solve(prob, EMA(**kw), maxiters=1)


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"kind": "beta"}, "kind"),
        ({"kind": "u_shaped", "scale": 0.0}, "scale"),
        ({"kind": "u_shaped", "scale": -1}, "scale"),
        ({"kind": "u_shaped", "scale": 1000.0}, "scale"),
    ],
)
def test_sample_times_rejects_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        sample_times(4, torch.Generator().manual_seed(0), **kw)
    with pytest.raises(ValueError, match="n must"):  # "Trying to create tensor with negative dimension"
        sample_times(-1, torch.Generator().manual_seed(0))
