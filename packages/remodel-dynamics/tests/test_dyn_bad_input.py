"""Bad input to remodel-dynamics: every call raises at once a ValueError/TypeError whose message names the argument.

Issue 11's acceptance asks for such a file per package; each entry is one distinct bad call.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from remodel_dynamics import (
    HNN,
    LNN,
    BaselineMLP,
    DoublePendulum,
    GSympNet,
    HamiltonianProblem,
    LASympNet,
    Lorenz,
    MassSpring,
    Pendulum,
    TwoBody,
    energy_drift,
    state_mse,
)
from remodel_dynamics.sindy import (
    ConcatLibrary,
    FourierLibrary,
    PolynomialLibrary,
    SINDy,
    finite_difference,
    savgol_derivative,
    stlsq,
    stlsq_reference,
)

NAN, INF = math.nan, math.inf
T = np.linspace(0.0, 1.0, 21)
XS = np.stack([np.cos(T), np.sin(T)], 1)


def _data():
    return HamiltonianProblem.generate(MassSpring(), n_trajectories=3, n_times=5, seed=0)


def _sindy():
    return SINDy(PolynomialLibrary(degree=1)).fit(XS, T)


CASES = [
    # systems: physical parameters at construction
    ("massspring k negative", lambda: MassSpring(k=-1.0), ValueError, "k must"),
    ("massspring k zero", lambda: MassSpring(k=0.0), ValueError, "k must"),
    ("massspring k nan", lambda: MassSpring(k=NAN), ValueError, "k must"),
    ("massspring k inf", lambda: MassSpring(k=INF), ValueError, "k must"),
    ("massspring k string", lambda: MassSpring(k="1"), TypeError, "k must"),
    ("massspring m zero", lambda: MassSpring(m=0.0), ValueError, "m must"),
    ("massspring m negative", lambda: MassSpring(m=-2.0), ValueError, "m must"),
    ("massspring radius reversed", lambda: MassSpring(radius=(1.0, 0.1)), ValueError, "radius"),
    ("massspring radius negative", lambda: MassSpring(radius=(-1.0, 0.1)), ValueError, "radius"),
    ("massspring radius scalar", lambda: MassSpring(radius=1.0), TypeError, "radius"),
    ("pendulum l nan", lambda: Pendulum(l=NAN), ValueError, "l must"),
    ("pendulum l zero", lambda: Pendulum(l=0.0), ValueError, "l must"),
    ("pendulum m negative", lambda: Pendulum(m=-1.0), ValueError, "m must"),
    ("pendulum g negative", lambda: Pendulum(g=-9.8), ValueError, "g must"),
    ("pendulum g inf", lambda: Pendulum(g=INF), ValueError, "g must"),
    ("pendulum radius nan", lambda: Pendulum(radius=(NAN, 1.0)), ValueError, "radius"),
    ("twobody m1 zero", lambda: TwoBody(m1=0.0), ValueError, "m1 must"),
    ("twobody m2 nan", lambda: TwoBody(m2=NAN), ValueError, "m2 must"),
    ("twobody G negative", lambda: TwoBody(G=-1.0), ValueError, "G must"),
    ("twobody radius zero", lambda: TwoBody(radius=(0.0, 1.0)), ValueError, "radius"),
    ("twobody orbit_noise", lambda: TwoBody(orbit_noise=1.5), ValueError, "orbit_noise"),
    ("twobody orbit_noise negative", lambda: TwoBody(orbit_noise=-0.1), ValueError, "orbit_noise"),
    (
        "twobody unequal masses",
        lambda: TwoBody(m1=1.0, m2=2.0).sample_initial(2, np.random.default_rng(0)),
        ValueError,
        "m1 == m2",
    ),
    ("double pendulum l1", lambda: DoublePendulum(l1=0.0), ValueError, "l1 must"),
    ("double pendulum m2", lambda: DoublePendulum(m2=-1.0), ValueError, "m2 must"),
    ("double pendulum g", lambda: DoublePendulum(g=NAN), ValueError, "g must"),
    ("lorenz sigma", lambda: Lorenz(sigma=-10.0), ValueError, "sigma must"),
    ("lorenz rho nan", lambda: Lorenz(rho=NAN), ValueError, "rho must"),
    ("lorenz beta", lambda: Lorenz(beta=0.0), ValueError, "beta must"),
    ("lorenz x shape", lambda: Lorenz().vector_field(torch.ones(2)), ValueError, "x must"),
    ("energy x shape", lambda: MassSpring().energy(torch.ones(3)), ValueError, "x must"),
    ("energy x type", lambda: MassSpring().energy(np.ones(2)), TypeError, "x must"),
    ("flow x0 shape", lambda: Pendulum().flow(torch.ones(2, 3), torch.linspace(0, 1, 3)), ValueError, "x0 must"),
    ("double pendulum s", lambda: DoublePendulum().vector_field(torch.ones(3)), ValueError, "s must"),
    # data generation and problems
    ("generate system", lambda: HamiltonianProblem.generate(Lorenz()), TypeError, "system"),
    (
        "generate n_trajectories",
        lambda: HamiltonianProblem.generate(MassSpring(), n_trajectories=0),
        ValueError,
        "n_trajectories",
    ),
    (
        "generate n_trajectories float",
        lambda: HamiltonianProblem.generate(MassSpring(), n_trajectories=2.5),
        TypeError,
        "n_trajectories",
    ),
    ("generate n_times", lambda: HamiltonianProblem.generate(MassSpring(), n_times=1), ValueError, "n_times"),
    (
        "generate t_span reversed",
        lambda: HamiltonianProblem.generate(MassSpring(), t_span=(1.0, 0.0)),
        ValueError,
        "t_span",
    ),
    ("generate t_span nan", lambda: HamiltonianProblem.generate(MassSpring(), t_span=(0.0, NAN)), ValueError, "t_span"),
    ("generate t_span scalar", lambda: HamiltonianProblem.generate(MassSpring(), t_span=3.0), ValueError, "t_span"),
    ("generate noise negative", lambda: HamiltonianProblem.generate(MassSpring(), noise=-0.1), ValueError, "noise"),
    ("generate noise nan", lambda: HamiltonianProblem.generate(MassSpring(), noise=NAN), ValueError, "noise"),
    ("generate noise inf", lambda: HamiltonianProblem.generate(MassSpring(), noise=INF), ValueError, "noise"),
    ("generate seed", lambda: HamiltonianProblem.generate(MassSpring(), seed=-1), ValueError, "seed"),
    (
        "problem t type",
        lambda: HamiltonianProblem(MassSpring(), np.zeros(3), torch.zeros(1, 3, 2), torch.zeros(1, 3, 2)),
        TypeError,
        "t must",
    ),
    (
        "problem t decreasing",
        lambda: HamiltonianProblem(MassSpring(), torch.tensor([1.0, 0.0]), torch.zeros(1, 2, 2), torch.zeros(1, 2, 2)),
        ValueError,
        "t must",
    ),
    (
        "problem x shape",
        lambda: HamiltonianProblem(MassSpring(), torch.tensor([0.0, 1.0]), torch.zeros(1, 2, 3), torch.zeros(1, 2, 3)),
        ValueError,
        "x must",
    ),
    (
        "problem dx shape",
        lambda: HamiltonianProblem(MassSpring(), torch.tensor([0.0, 1.0]), torch.zeros(1, 2, 2), torch.zeros(1, 3, 2)),
        ValueError,
        "dx must",
    ),
    (
        "problem x nan",
        lambda: HamiltonianProblem(
            MassSpring(), torch.tensor([0.0, 1.0]), torch.full((1, 2, 2), NAN), torch.zeros(1, 2, 2)
        ),
        ValueError,
        "x and dx",
    ),
    ("split fraction", lambda: _data().split(test_fraction=1.0), ValueError, "test_fraction"),
    ("split empty", lambda: _data().split(test_fraction=0.01), ValueError, "test_fraction"),
    ("discretize model", lambda: _data().discretize(torch.nn.Linear(2, 2)), TypeError, "model must"),
    ("discretize target", lambda: _data().discretize(HNN(2, width=4, depth=1), target="x"), ValueError, "target"),
    ("discretize dim", lambda: _data().discretize(HNN(4, width=4, depth=1)), ValueError, "dimension"),
    (
        "discretize sympnet derivatives",
        lambda: _data().discretize(GSympNet(2, h=0.1), target="derivatives"),
        ValueError,
        "target",
    ),
    ("discretize sympnet h", lambda: _data().discretize(GSympNet(2, h=0.07)), ValueError, "h=0.07"),
    (
        "discretize lnn pairs",
        lambda: _data().discretize(LNN(2, width=4, depth=1), target="pairs"),
        ValueError,
        "target",
    ),
    ("discretize dtype", lambda: _data().discretize(HNN(2, width=4, depth=1), dtype="float64"), TypeError, "dtype"),
    # models
    ("hnn dim odd", lambda: HNN(3), ValueError, "dim must"),
    ("hnn dim zero", lambda: HNN(0), ValueError, "dim must"),
    ("hnn dim float", lambda: HNN(2.0), TypeError, "dim must"),
    ("lnn dim odd", lambda: LNN(5), ValueError, "dim must"),
    ("baseline dim", lambda: BaselineMLP(-1), ValueError, "dim must"),
    ("hnn init", lambda: HNN(2, init="xavier"), ValueError, "init"),
    ("hnn state shape", lambda: HNN(2, width=4, depth=1).time_derivative(torch.ones(3, 4)), ValueError, "x must"),
    ("hnn state type", lambda: HNN(2, width=4, depth=1).hamiltonian(np.ones((3, 2))), TypeError, "x must"),
    (
        "rollout t",
        lambda: BaselineMLP(2, width=4, depth=1).rollout(torch.zeros(1, 2), torch.tensor([0.0])),
        ValueError,
        "t must",
    ),
    (
        "rollout t decreasing",
        lambda: BaselineMLP(2, width=4, depth=1).rollout(torch.zeros(1, 2), torch.tensor([1.0, 0.0])),
        ValueError,
        "t must",
    ),
    (
        "rollout x0",
        lambda: HNN(2, width=4, depth=1).rollout(torch.zeros(1, 3), torch.linspace(0, 1, 3)),
        ValueError,
        "x0 must",
    ),
    ("sympnet h zero", lambda: GSympNet(2, h=0.0), ValueError, "h must"),
    ("sympnet h inf", lambda: LASympNet(2, h=INF), ValueError, "h must"),
    ("sympnet h string", lambda: GSympNet(2, h="0.1"), TypeError, "h must"),
    ("sympnet dim odd", lambda: GSympNet(3, h=0.1), ValueError, "dim must"),
    ("gsympnet width", lambda: GSympNet(2, h=0.1, width=0), ValueError, "width"),
    ("sympnet vector field", lambda: GSympNet(2, h=0.1).time_derivative(torch.zeros(1, 2)), TypeError, "vector field"),
    ("sympnet step", lambda: GSympNet(2, h=0.1).step(torch.zeros(1, 2), 0.15), ValueError, "h=0.1"),
    # metrics
    ("state_mse shapes", lambda: state_mse(torch.zeros(2, 3), torch.zeros(3, 2)), ValueError, "pred and true"),
    ("energy_drift traj", lambda: energy_drift(MassSpring().energy, torch.zeros(2)), ValueError, "traj must"),
    # SINDy
    ("sindy max_iter zero", lambda: SINDy(max_iter=0).fit(XS, T), ValueError, "max_iter"),
    ("sindy max_iter float", lambda: SINDy(max_iter=2.5).fit(XS, T), TypeError, "max_iter"),
    ("sindy threshold", lambda: SINDy(threshold=-0.1).fit(XS, T), ValueError, "threshold"),
    ("sindy threshold nan", lambda: SINDy(threshold=NAN).fit(XS, T), ValueError, "threshold"),
    ("sindy alpha", lambda: SINDy(alpha=-1.0).fit(XS, T), ValueError, "alpha"),
    ("sindy backend", lambda: SINDy(backend="jax").fit(XS, T), ValueError, "backend"),
    ("sindy differentiation", lambda: SINDy(differentiation="spline").fit(XS, T), ValueError, "differentiation"),
    ("sindy library", lambda: SINDy(library="poly").fit(XS, T), TypeError, "library"),
    ("sindy fd_order", lambda: SINDy(fd_order=3).fit(XS, T), ValueError, "order"),
    ("sindy window", lambda: SINDy(differentiation="savgol", window=4).fit(XS, T), ValueError, "window"),
    ("sindy polyorder", lambda: SINDy(differentiation="savgol", polyorder=20).fit(XS, T), ValueError, "polyorder"),
    ("sindy feature_names", lambda: SINDy(feature_names=["a"]).fit(XS, T), ValueError, "feature_names"),
    ("sindy x nan", lambda: SINDy().fit(np.full((5, 2), NAN), T[:5]), ValueError, "x"),
    ("sindy x 3-D", lambda: SINDy().fit(np.ones((4, 2, 2)), T[:4]), ValueError, "x"),
    ("sindy x empty", lambda: SINDy().fit([], T), ValueError, "x must"),
    ("sindy x features differ", lambda: SINDy().fit([XS, XS[:, :1]], [T, T]), ValueError, "x must"),
    ("sindy t missing", lambda: SINDy().fit(XS), ValueError, "t "),
    ("sindy t decreasing", lambda: SINDy().fit(XS, T[::-1]), ValueError, "t must"),
    ("sindy t step", lambda: SINDy().fit(XS, -0.1), ValueError, "t "),
    ("sindy t count", lambda: SINDy().fit([XS, XS], [T]), ValueError, "t must"),
    ("sindy x_dot shape", lambda: SINDy().fit(XS, x_dot=XS[:, :1]), ValueError, "x_dot must"),
    ("sindy x_dot nan", lambda: SINDy().fit(XS, x_dot=np.full_like(XS, NAN)), ValueError, "x_dot"),
    ("sindy predict shape", lambda: _sindy().predict(np.ones((2, 3))), ValueError, "x must"),
    ("sindy simulate x0", lambda: _sindy().simulate(np.ones(3), T), ValueError, "x0 must"),
    ("sindy simulate t", lambda: _sindy().simulate(np.ones(2), np.ones(1)), ValueError, "t must"),
    ("sindy score t", lambda: _sindy().score(XS), ValueError, "t is needed"),
    ("sindy unfitted", lambda: SINDy().predict(XS), ValueError, "not fitted"),
    ("stlsq theta 1-D", lambda: stlsq(np.ones(5), np.ones(5)), ValueError, "theta"),
    ("stlsq theta empty", lambda: stlsq(np.ones((0, 2)), np.ones((0, 1))), ValueError, "theta"),
    ("stlsq dx rows", lambda: stlsq(np.ones((5, 2)), np.ones((4, 1))), ValueError, "dx"),
    ("stlsq nan", lambda: stlsq(np.full((5, 2), NAN), np.ones((5, 1))), ValueError, "theta and dx"),
    ("stlsq threshold", lambda: stlsq(np.eye(3), np.ones((3, 1)), threshold=-1.0), ValueError, "threshold"),
    ("stlsq alpha", lambda: stlsq_reference(np.eye(3), np.ones((3, 1)), alpha=NAN), ValueError, "alpha"),
    ("stlsq max_iter", lambda: stlsq(np.eye(3), np.ones((3, 1)), max_iter=0), ValueError, "max_iter"),
    ("poly degree", lambda: PolynomialLibrary(degree=0).fit(XS), ValueError, "degree"),
    ("poly degree bool", lambda: PolynomialLibrary(degree=True).fit(XS), ValueError, "degree"),
    ("poly x nan", lambda: PolynomialLibrary().fit(np.full((3, 2), NAN)), ValueError, "X"),
    (
        "poly transform features",
        lambda: PolynomialLibrary().fit(XS).transform(np.ones((2, 3))),
        ValueError,
        "X has 3 features",
    ),
    ("poly names", lambda: PolynomialLibrary().fit(XS).get_feature_names(["a"]), ValueError, "input_features"),
    ("fourier n_frequencies", lambda: FourierLibrary(n_frequencies=0).fit(XS), ValueError, "n_frequencies"),
    (
        "fourier no terms",
        lambda: FourierLibrary(include_sin=False, include_cos=False).fit(XS),
        ValueError,
        "include_sin",
    ),
    ("concat libraries", lambda: ConcatLibrary([]).fit(XS), TypeError, "libraries"),
    ("concat libraries type", lambda: ConcatLibrary(["poly"]).fit(XS), TypeError, "libraries"),
    ("finite_difference order", lambda: finite_difference(XS, T, order=3), ValueError, "order"),
    ("finite_difference short", lambda: finite_difference(XS[:2], T[:2], order=4), ValueError, "n_samples"),
    ("finite_difference t", lambda: finite_difference(XS, T[:5]), ValueError, "t must"),
    ("finite_difference dt", lambda: finite_difference(XS, 0.0), ValueError, "t "),
    ("savgol window", lambda: savgol_derivative(XS, T, window=2), ValueError, "window"),
    ("savgol too long", lambda: savgol_derivative(XS[:5], T[:5], window=7), ValueError, "window"),
]


@pytest.mark.parametrize(("name", "call", "exc", "match"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_naming_the_argument(name, call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_enough_distinct_bad_calls():
    assert len({c[0] for c in CASES}) == len(CASES) >= 100
