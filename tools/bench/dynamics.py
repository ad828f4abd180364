"""Structure-preserving learned dynamics: the table of Greydanus et al. (2019) plus SympNets and LNNs (issue 4).

Set-up of Greydanus et al.'s code (github.com/greydanus/hamiltonian-nn). Mass-spring ``H = q^2 + p^2`` (k = 2,
m = 1/2) and ideal pendulum ``H = 3 (1 - cos q) + p^2``: 50 trajectories of 30 points over [0, 3) with Gaussian
observation noise 0.1 on (q, p) and exact derivatives, half train, half test; their MLP (three linear layers:
two hidden layers of 200, tanh, orthogonal weights), 2,000 full-batch Adam steps at lr 1e-3 with weight decay
1e-4 (their ``experiment-spring/train.py``). Two-body (G = m1 = m2 = 1): as their ``experiment-2body``, 1,000
orbits of 50 points over [0, 20) (no observation noise), test split 0.2, 10,000 Adam steps in batches of 200 at
lr 1e-3, the last 30% at lr 1e-4 (the same schedule for every model), 3 hidden layers of 200; our orbits keep
the orbit noise 0.2 (velocity factor 1 + 0.2 U(-1, 1), directions uniform; see BENCHMARKS.md for the authors'
0.05 N(0, 1)). The baseline (an MLP fitted to x') and the HNN have the same network, data and Adam budget; the
LNN (Cranmer et al. 2020) has the same size with softplus and fits the accelerations; the G-SympNet (Jin et al.
2020) learns the time-dt map from consecutive pairs with the same optimizer budget. All train in float32
through ``remodel_core.solve`` and are evaluated in float64.

Metrics per model:

* ``state_mse``, ``energy_mse``: mean squared error of the state and of the true energy along trajectories of
  the learned model against the true ones from 25 held-out initial states over t in [0, 20] at the data step
  (vector-field models integrated by Dormand-Prince at rtol 1e-9, the SympNet by iterating its map). [0, 20]
  is the authors' horizon (their ``analyze-spring`` notebook integrates 15 initial states over t_span [0, 20]);
* ``energy_mse_data_horizon``: the same along the held-out trajectories themselves over the data horizon (spring
  and pendulum [0, 3)), the figure of the issue's calibration (baseline 1.6e-3, HNN 7.3e-6);
* ``energy_mse_authors_protocol`` (spring): the authors' analysis, 15 initial states with q and p each uniform
  in [-1, -0.2] u [0.2, 1] (partly outside the training radii 0.1-1), t in [0, 20];
* ``energy_drift``: mean relative true-energy drift |H(x_N) - H(x_0)| / |H(x_0)| over 10 test states after
  N = 10^4 steps: HNN with the implicit midpoint rule (symplectic for the non-separable learned H), baseline and
  LNN with RK4, SympNet by its map, all at the data step (two-body: 0.05 for the vector fields, the data step
  0.4 for the SympNet map). The mean, not a median: one diverging orbit counts. For the two-body problem
  ``total_momentum_end`` (|p1 + p2| at the end; exactly 0 for the true flow) and ``com_kinetic_over_H0`` (the
  kinetic energy |P|^2 / (2 M) of the spurious centre-of-mass motion over |H(x_0)|) show where a learned
  model's energy drift comes from: H_theta is conserved, but it is not translation invariant, so total momentum
  is not, and its errors add up over the 25 training horizons of the long rollout.

It also records the drift of the learned H_theta under the implicit midpoint rule and under the explicit
leapfrog, which is not symplectic for a non-separable H_theta, and a speed-up figure: CPU time of the reference
integrator (Yoshida-4 at the data generator's step) against the learned models' larger steps on the pendulum.

Full run, one system after another (about 10 minutes on one core), then merged:

    uv run --frozen python tools/bench/dynamics.py --systems mass_spring --json a.json
    uv run --frozen python tools/bench/dynamics.py --systems pendulum --no-sindy --json b.json
    uv run --frozen python tools/bench/dynamics.py --systems two_body --no-sindy --json c.json
    uv run --frozen python tools/bench/dynamics.py --merge a.json b.json c.json --json docs/bench/dynamics.json
    uv run --frozen python tools/bench/dynamics.py --quick
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from remodel_core import solve
from remodel_core.optim import Adam
from remodel_dynamics import (
    HNN,
    LNN,
    BaselineMLP,
    GSympNet,
    HamiltonianProblem,
    Lorenz,
    MassSpring,
    Pendulum,
    TwoBody,
    energy_drift,
    energy_mse,
    state_mse,
)
from remodel_dynamics.sindy import (
    FourierLibrary,
    PolynomialLibrary,
    SINDy,
    finite_difference,
    stlsq,
    stlsq_reference,
)
from threadpoolctl import threadpool_limits

F64 = torch.float64

PAPER = {  # Greydanus et al. 2019, Table 1: energy MSE along test trajectories
    "mass_spring": {"baseline": 1.71e-1, "hnn": 3.84e-4},
    "two_body": {"baseline": 6.33e-2, "hnn": 3.88e-5},
}


def configs(quick: bool) -> dict[str, dict[str, Any]]:
    # Greydanus et al.'s code: an MLP of three linear layers (two hidden layers of 200, tanh, orthogonal weights);
    # spring and pendulum: 2,000 full-batch Adam steps at lr 1e-3 with weight decay 1e-4; two-body: 1,000 orbits
    # (test split 0.2), 10,000 steps in batches of 200, no weight decay.
    authors = {"width": 200, "depth": 2}
    spring = {
        "system": MassSpring(k=2.0, m=0.5),
        "n_traj": 50,
        "t_span": (0.0, 3.0),
        "n_times": 30,
        "noise": 0.1,
        "test_fraction": 0.5,
        "steps": 2000,
        "lr": 1e-3,
        "weight_decay": 1e-4,
        "lr_drop": None,
        "batch": None,
        "net": authors,
        "eval_T": 20.0,
        "drift_dt": 0.1,
        "sympnet": {"layers": 8, "width": 50},
        "sympnet_lr": 1e-2,
        "lnn_steps": 2000,
        "drift_n": 10,
        "drift_steps": 10_000,
        "eval_n": 25,
        "authors_x0": 15,
    }
    pendulum = dict(spring, system=Pendulum(m=0.5, l=1.0, g=6.0), authors_x0=0)
    two_body = {
        "system": TwoBody(),
        "n_traj": 1000,
        "t_span": (0.0, 20.0),
        "n_times": 50,
        "noise": 0.0,
        "test_fraction": 0.2,
        "steps": 10_000,
        "lr": 1e-3,
        "weight_decay": 0.0,
        "lr_drop": 0.3,
        "batch": 200,
        "net": {"width": 200, "depth": 3},
        "eval_T": 20.0,
        "drift_dt": 0.05,
        "sympnet": {"layers": 8, "width": 100},
        "sympnet_lr": 1e-3,
        "lnn_steps": 2000,
        "drift_n": 10,
        "drift_steps": 10_000,
        "eval_n": 25,
        "authors_x0": 0,
    }
    if quick:
        for cfg in (spring, pendulum, two_body):
            cfg.update(steps=150, lnn_steps=40, drift_steps=300, drift_n=3, net={"width": 64, "depth": 2}, eval_T=6.0)
        two_body.update(n_traj=40, batch=100, t_span=(0.0, 8.0), n_times=20, test_fraction=0.5)
    return {"mass_spring": spring, "pendulum": pendulum, "two_body": two_body}


def fit(
    model: torch.nn.Module,
    data: HamiltonianProblem,
    *,
    target: str,
    steps: int,
    lr: float,
    batch: int | None,
    seed: int,
    weight_decay: float = 0.0,
    lr_drop: float | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Adam through ``solve``; with ``lr_drop`` the last fraction of the steps runs at lr / 10 (same for all)."""
    t0 = time.process_time()
    phases = [(steps, lr)]
    if lr_drop:
        late = round(steps * lr_drop)
        phases = [(steps - late, lr), (late, lr / 10)]
    losses: list[float] = []
    for k, (n, rate) in enumerate(phases):
        sol = solve(
            data.discretize(model, target=target, batch_size=batch),
            Adam(lr=rate, weight_decay=weight_decay),
            maxiters=n,
            seed=seed + k,
            dtype=torch.float32,
        )
        model = sol.u
        losses += list(sol.history["loss"])
    info = {
        "train_loss": losses[-1],
        "train_cpu_s": time.process_time() - t0,
        "retcode": sol.retcode.name,
        "steps": steps,
    }
    return sol.u.to(F64).eval(), info


def predict(name: str, model: torch.nn.Module, system: Any, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Trajectories of a learned model at times ``t`` (dopri5 at rtol 1e-9 for vector fields, the SympNet's map)."""
    if name == "sympnet":
        return model.rollout(x0, t)
    if name == "lnn":
        return system.to_momentum(model.rollout(system.to_velocity(x0), t, method="dopri5", rtol=1e-9, atol=1e-11))
    return model.rollout(x0, t, method="dopri5", rtol=1e-9, atol=1e-11)


def authors_initial_states(n: int, seed: int) -> torch.Tensor:
    """Greydanus et al.'s spring analysis: q and p each uniform in [-1, -0.2] u [0.2, 1]."""
    u = np.random.default_rng(seed).uniform(-0.8, 0.8, size=(n, 2))
    return torch.from_numpy(u + 0.2 * np.sign(u))


def evaluate(
    name: str, model: torch.nn.Module, system: Any, test: HamiltonianProblem, cfg: dict[str, Any], seed: int
) -> dict[str, float]:
    dt_data = test.dt
    x0 = test.x_clean[: cfg["eval_n"], 0]
    t_eval = torch.arange(0, round(cfg["eval_T"] / dt_data) + 1, dtype=F64) * dt_data
    true = system.flow(x0, t_eval)
    t0 = time.process_time()
    pred = predict(name, model, system, x0, t_eval)
    out = {
        "state_mse": state_mse(pred, true),
        "energy_mse": energy_mse(system.energy, pred, true),
        "eval_cpu_s": time.process_time() - t0,
    }
    # the held-out trajectories themselves, over the data horizon (e.g. [0, 3) for the spring)
    held = test.x_clean[: cfg["eval_n"]]
    pred = predict(name, model, system, x0, test.t.to(F64))
    out["energy_mse_data_horizon"] = energy_mse(system.energy, pred, held)
    out["state_mse_data_horizon"] = state_mse(pred, held)
    if cfg["authors_x0"]:  # the authors' spring analysis: other initial states, t in [0, 20]
        xa = authors_initial_states(cfg["authors_x0"], seed + 2)
        pred = predict(name, model, system, xa, t_eval)
        out["energy_mse_authors_protocol"] = energy_mse(system.energy, pred, system.flow(xa, t_eval))
    # long rollout: 10^4 steps
    xd = x0[: cfg["drift_n"]]
    n = cfg["drift_steps"]
    t0 = time.process_time()
    if name == "sympnet":
        t_long = torch.tensor([0.0, n * dt_data], dtype=F64)
        long = model.rollout(xd, torch.arange(0, n + 1, dtype=F64) * dt_data)[:, [0, -1]]
    else:
        dt = cfg["drift_dt"]
        t_long = torch.tensor([0.0, n * dt], dtype=F64)
        if name == "lnn":
            long = system.to_momentum(model.rollout(system.to_velocity(xd), t_long, method="rk4", dt=dt))
        elif name == "hnn":
            long = model.rollout(xd, t_long, method="implicit_midpoint", dt=dt, tol=1e-10, on_fail="warn")
        else:
            long = model.rollout(xd, t_long, method="rk4", dt=dt)
    drift = energy_drift(system.energy, long)
    out["energy_drift"] = float(drift.nan_to_num(nan=float("inf")).mean())
    out["drift_cpu_s"] = time.process_time() - t0
    out["drift_horizon"] = float(t_long[-1])
    if isinstance(system, TwoBody):  # total momentum is conserved by the true flow (zero in every orbit here)
        p_end = long[:, -1, 4:6] + long[:, -1, 6:8]
        out["total_momentum_end"] = float(torch.linalg.vector_norm(p_end, dim=-1).nan_to_num(nan=float("inf")).mean())
        # kinetic energy of the spurious centre-of-mass motion, relative to |H(x_0)|
        com_ke = (p_end**2).sum(-1) / (2 * (system.m1 + system.m2)) / system.energy(long[:, 0]).abs()
        out["com_kinetic_over_H0"] = float(com_ke.nan_to_num(nan=float("inf")).mean())
    if name == "hnn":
        with torch.no_grad():
            learned = energy_drift(model.hamiltonian, long)
            out["learned_H_drift_implicit_midpoint"] = float(learned.mean())
            leap = model.rollout(xd, t_long, method="verlet", dt=cfg["drift_dt"])
            out["learned_H_drift_explicit_leapfrog"] = float(
                energy_drift(model.hamiltonian, leap).nan_to_num(nan=float("inf")).mean()
            )
    return out


def run_system(key: str, cfg: dict[str, Any], seed: int, log: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    system = cfg["system"]
    t0 = time.process_time()
    data = HamiltonianProblem.generate(
        system,
        n_trajectories=cfg["n_traj"],
        t_span=cfg["t_span"],
        n_times=cfg["n_times"],
        noise=cfg["noise"],
        seed=seed,
    )
    train, test = data.split(cfg["test_fraction"], seed=seed)
    gen_s = time.process_time() - t0
    dim = 2 * system.dof
    dt = data.dt
    results: dict[str, Any] = {}
    models: dict[str, Any] = {}
    specs = [
        ("baseline", lambda: BaselineMLP(dim, **cfg["net"]), "derivatives", cfg["steps"], cfg["lr"]),
        ("hnn", lambda: HNN(dim, **cfg["net"]), "derivatives", cfg["steps"], cfg["lr"]),
        ("sympnet", lambda: GSympNet(dim, h=dt, **cfg["sympnet"]), "pairs", cfg["steps"], cfg["sympnet_lr"]),
        ("lnn", lambda: LNN(dim, **cfg["net"]), "derivatives", cfg["lnn_steps"], cfg["lr"]),
    ]
    for name, make, target, steps, lr in specs:
        torch.manual_seed(seed)
        model, info = fit(
            make(),
            train,
            target=target,
            steps=steps,
            lr=lr,
            batch=cfg["batch"],
            seed=seed,
            weight_decay=0.0 if name == "sympnet" else cfg["weight_decay"],
            lr_drop=cfg["lr_drop"],
        )
        try:
            metrics = evaluate(name, model, system, test, cfg, seed)
        except RuntimeError as err:  # a learned field that blows up (e.g. a singular LNN Hessian)
            log(f"  {key:12s} {name:9s} rollout failed: {err}")
            metrics = {
                "state_mse": float("inf"),
                "energy_mse": float("inf"),
                "energy_drift": float("inf"),
                "failure": str(err),
            }
        results[name] = {
            **{k: metrics[k] for k in ("state_mse", "energy_mse", "energy_drift")},
            **{k: v for k, v in metrics.items() if k not in ("state_mse", "energy_mse", "energy_drift")},
            **info,
        }
        models[name] = model
        log(
            f"  {key:12s} {name:9s} state {metrics['state_mse']:.3e}  energy {metrics['energy_mse']:.3e}  "
            f"drift {metrics['energy_drift']:.3e}  (cpu s: train {info['train_cpu_s']:.0f}, eval "
            f"{metrics.get('eval_cpu_s', 0):.0f}, drift {metrics.get('drift_cpu_s', 0):.0f})"
        )
    results["_data"] = {
        "train_trajectories": train.n_trajectories,
        "test_trajectories": test.n_trajectories,
        "n_times": cfg["n_times"],
        "dt": dt,
        "noise": cfg["noise"],
        "generation_cpu_s": gen_s,
        "batch_size": cfg["batch"],
        "steps": cfg["steps"],
        "lnn_steps": cfg["lnn_steps"],
        "net": cfg["net"],
        "weight_decay": cfg["weight_decay"],
        "lr": cfg["lr"],
        "lr_drop_last_fraction": cfg["lr_drop"],
    }
    return results, models


def speedup(models: dict[str, Any], cfg: dict[str, Any], seed: int) -> dict[str, Any]:
    """Reference integrator (Yoshida-4 at the generator's fine step) against the learned models at the data step."""
    system = cfg["system"]
    x0 = system.sample_initial(25, np.random.default_rng(seed + 1))
    dt = (cfg["t_span"][1] - cfg["t_span"][0]) / cfg["n_times"]
    t = torch.arange(0, round(cfg["eval_T"] / dt) + 1, dtype=F64) * dt
    t0 = time.process_time()
    ref = system.flow(x0, t)
    ref_s = time.process_time() - t0
    out: dict[str, Any] = {
        "reference": {"method": "yoshida4", "dt": system.fine_dt, "cpu_s": ref_s},
        "horizon": float(t[-1]),
        "trajectories": 25,
    }
    runs = {
        "sympnet": lambda: models["sympnet"].rollout(x0, t),
        "hnn": lambda: models["hnn"].rollout(x0, t, method="implicit_midpoint"),
    }
    for name, fn in runs.items():
        t0 = time.process_time()
        pred = fn()
        s = time.process_time() - t0
        out[name] = {"dt": dt, "cpu_s": s, "speedup": ref_s / s, "state_mse": state_mse(pred, ref)}
    return out


def _best_time(fn: Any, repeat: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def sindy_bench(quick: bool) -> dict[str, Any]:
    """SINDy on noise-free Lorenz (and the pendulum with a Fourier library) against pysindy 1.7.5."""
    lorenz = Lorenz()
    n = 3001 if quick else 10001
    t = torch.linspace(0.0, (n - 1) * 1e-3, n, dtype=F64)
    x = lorenz.flow(torch.tensor([-8.0, 8.0, 27.0], dtype=F64), t).numpy()
    tn = t.numpy()
    exact = lorenz.coefficients()

    def score(coef: np.ndarray) -> dict[str, float]:
        return {
            "max_coef_error": float(np.abs(coef - exact).max()),
            "spurious_terms": int(((coef != 0) & (exact == 0)).sum()),
            "missing_terms": int(((coef == 0) & (exact != 0)).sum()),
        }

    out: dict[str, Any] = {"lorenz": {"samples": n, "dt": 1e-3}}
    for order in (2, 6):
        model = SINDy(PolynomialLibrary(degree=2), threshold=0.1, fd_order=order)
        s, _ = _best_time(lambda model=model: model.fit(x, tn))
        out["lorenz"][f"ours_fd{order}"] = {**score(model.coefficients_), "fit_cpu_s": s}
    try:
        import pysindy as ps

        def fit_ps() -> Any:
            m = ps.SINDy(
                optimizer=ps.STLSQ(threshold=0.1, alpha=0.0),
                feature_library=ps.PolynomialLibrary(degree=2),
                differentiation_method=ps.FiniteDifference(order=2),
            )
            return m.fit(x, t=tn)

        s, m = _best_time(fit_ps)
        out["lorenz"]["pysindy_fd2"] = {**score(m.coefficients()), "fit_cpu_s": s}
        theta = PolynomialLibrary(degree=2).fit(x).transform(x)
        dx = finite_difference(x, tn, order=2)
        stlsq(theta, dx)  # compile
        s_nb, xi_nb = _best_time(lambda: stlsq(theta, dx, threshold=0.1))
        s_np, _ = _best_time(lambda: stlsq_reference(theta, dx, threshold=0.1))
        opt = ps.STLSQ(threshold=0.1, alpha=0.0)
        s_ps, _ = _best_time(lambda: opt.fit(theta, dx))
        out["stlsq"] = {
            "numba_cpu_s": s_nb,
            "numpy_cpu_s": s_np,
            "pysindy_cpu_s": s_ps,
            "max_diff_vs_pysindy": float(np.abs(xi_nb.T - opt.coef_).max()),
        }
    except ImportError:  # pysindy lives in the bench dependency group
        out["lorenz"]["pysindy_fd2"] = None
    system = Pendulum()
    tp = torch.linspace(0.0, 10.0, 1001, dtype=F64)
    xp = system.flow(system.sample_initial(4, np.random.default_rng(0)), tp).numpy()
    model = SINDy(
        PolynomialLibrary(degree=1) + FourierLibrary(n_frequencies=1),
        threshold=0.05,
        fd_order=6,
        feature_names=["q", "p"],
    ).fit(list(xp), tp.numpy())
    ex = np.zeros((2, 7))
    ex[0, 2], ex[1, 3] = 1.0, -1.0
    out["pendulum_fourier"] = {
        "equations": model.equations(),
        "max_coef_error": float(np.abs(model.coefficients_ - ex).max()),
        "spurious_terms": int(((model.coefficients_ != 0) & (ex == 0)).sum()),
    }
    return out


def _num(v: float | None) -> float:
    return float("inf") if v is None else float(v)


def _fmt(v: float | None) -> str:
    return "failed" if v is None or not np.isfinite(v) else f"{v:.3e}"


def _finite(obj: Any) -> Any:
    """JSON without Infinity/NaN: non-finite figures (a failed rollout) are written as null."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small networks and budgets (about a minute)")
    ap.add_argument("--json", type=Path, help="write the figures to this JSON file")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--systems", nargs="*", default=["mass_spring", "pendulum", "two_body"])
    ap.add_argument("--no-sindy", action="store_true", help="skip the SINDy comparison")
    ap.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="combine the JSON files of per-system runs (one after another) and print the table",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 is fastest for these sizes)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfgs = configs(args.quick)
    t_start = time.time()
    out: dict[str, Any] = {
        "systems": {},
        "config": {},
        "quick": args.quick,
        "seed": args.seed,
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "threads": args.threads},
    }
    if args.merge:
        parts = [json.loads(p.read_text()) for p in args.merge]
        for part in parts:
            out["systems"].update(part["systems"])
            out["config"].update(part["config"])
            for key in ("speedup", "sindy"):
                if key in part:
                    out[key] = part[key]
        out["wall_s_parts"] = [part["wall_s"] for part in parts]
        args.systems, args.no_sindy = [], True
        args.quick = out["quick"] = parts[0]["quick"]
        cfgs = configs(args.quick)
    print(f"dynamics benchmark ({'quick' if args.quick else 'full'})", flush=True)
    for key in args.systems:
        cfg = cfgs[key]
        res, models = run_system(key, cfg, args.seed, lambda s: print(s, flush=True))
        print(f"  {key}: data generation {res['_data']['generation_cpu_s']:.1f}s cpu", flush=True)
        out["config"][key] = res.pop("_data")
        out["systems"][key] = res
        if key == "pendulum":
            out["speedup"] = speedup(models, cfg, args.seed)
    if not args.no_sindy:
        with threadpool_limits(1):  # single-threaded BLAS: fair CPU timings on a shared machine
            out["sindy"] = sindy_bench(args.quick)
    # parts run one after another: the full run's wall time is their sum
    out["wall_s"] = time.time() - t_start + sum(out.get("wall_s_parts", []))

    print()
    n_drift = cfgs["mass_spring"]["drift_steps"]
    print(f"| system | model | state MSE | energy MSE | energy drift ({n_drift} steps) | paper energy MSE |")
    print("|---|---|---|---|---|---|")
    for key, res in out["systems"].items():
        for name, r in res.items():
            paper = PAPER.get(key, {}).get(name)
            print(
                f"| {key} | {name} | {_fmt(r['state_mse'])} | {_fmt(r['energy_mse'])} | {_fmt(r['energy_drift'])} | "
                f"{'' if paper is None else f'{paper:.3g}'} |"
            )
    print()
    for key, res in out["systems"].items():
        b, h = res["baseline"], res["hnn"]
        ratio_e = _num(b["energy_mse"]) / _num(h["energy_mse"])
        ratio_d = _num(b["energy_drift"]) / _num(h["energy_drift"])
        out["systems"][key]["hnn"]["energy_mse_ratio_vs_baseline"] = ratio_e
        out["systems"][key]["hnn"]["energy_drift_ratio_vs_baseline"] = ratio_d
        print(
            f"{key}: baseline/HNN energy MSE = {ratio_e:.3g}, drift = {ratio_d:.3g}; HNN learned-H drift: "
            f"implicit midpoint {_num(h.get('learned_H_drift_implicit_midpoint')):.2e}, explicit leapfrog "
            f"{_num(h.get('learned_H_drift_explicit_leapfrog')):.2e}"
        )
    if "speedup" in out:
        sp = out["speedup"]
        print(
            f"pendulum speed-up over Yoshida-4 at dt={sp['reference']['dt']}: SympNet x{sp['sympnet']['speedup']:.1f}"
            f" (state MSE {sp['sympnet']['state_mse']:.2e}), HNN implicit midpoint x{sp['hnn']['speedup']:.2f} "
            f"(state MSE {sp['hnn']['state_mse']:.2e})"
        )
    if "sindy" in out:
        print()
        print("| SINDy on Lorenz (noise-free, dt=1e-3) | max coefficient error | spurious terms | fit CPU s |")
        print("|---|---|---|---|")
        for name, r in out["sindy"]["lorenz"].items():
            if isinstance(r, dict):
                print(f"| {name} | {r['max_coef_error']:.2e} | {r['spurious_terms']} | {r['fit_cpu_s']:.3f} |")
        if "stlsq" in out["sindy"]:
            st = out["sindy"]["stlsq"]
            print(
                f"STLSQ alone: numba {st['numba_cpu_s'] * 1e3:.2f} ms, numpy {st['numpy_cpu_s'] * 1e3:.2f} ms, "
                f"pysindy {st['pysindy_cpu_s'] * 1e3:.2f} ms (max |diff| vs pysindy {st['max_diff_vs_pysindy']:.1e})"
            )
        pf = out["sindy"]["pendulum_fourier"]
        print(
            f"pendulum, Fourier library: {pf['equations']} (max error {pf['max_coef_error']:.1e}, "
            f"{pf['spurious_terms']} spurious)"
        )
    print(f"wall time {out['wall_s']:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_finite(out), indent=2))
    return out


if __name__ == "__main__":
    main()
