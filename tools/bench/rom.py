"""Model order reduction against pyMOR (issue 5, item 4).

Thermal block 2x2 (pyMOR's ``thermal_block_problem``, ``discretize_stationary_cg``, diameter 1/100: 20,201
DoFs): pyMOR's matrices and affine decomposition are exported to scipy.sparse (``to_matrix`` of every
component of its ``LincombOperator``: the Dirichlet ``boundary_part`` with coefficient 1 and the four
diffusion blocks with coefficients mu_q), so our reductors and pyMOR's ``CoerciveRBReductor`` + ``rb_greedy``
reduce the identical full model, on the same 100 training and 50 test parameters (uniform in [0.1, 1]^4,
fixed seed). Errors are relative errors in the energy norm ``||e||_{A(mu)} / ||u||_{A(mu)}`` against the
same sparse direct full solve. ``online_s`` is the time of one reduced solve (reduced assembly + solve, no
reconstruction) averaged over the 50 test parameters, best of 5 rounds; ``speedup`` is our own full solve's
time over ``online_s``. Then 1-D viscous Burgers with POD-DEIM, and CG iterations to a relative residual of
1e-8 on the full thermal block, cold (x0 = 0) and from the reconstruction of an RB model (greedy basis 40,
and the basis-20 model of the table) or of POD-NN, and the learned choice among CG, Jacobi-CG and
SSOR(omega)-CG on thermal blocks of several mesh sizes (work in matrix-vector products, against the best
single solver and the per-problem oracle).

    uv run --frozen python tools/bench/rom.py --json docs/bench/rom.json
    uv run --frozen python tools/bench/rom.py --quick
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
from remodel_rom import (
    DEFAULT_SOLVERS,
    PODNN,
    AffineCoefficients,
    BurgersModel,
    LearnedInitialGuess,
    PODGalerkin,
    RBGreedy,
    ReductionProblem,
    SolverSelector,
    StationaryAffineModel,
    cg_iterations,
    solver_costs,
    thermal_block,
)

SIZES = (5, 10, 20)


def pymor_thermal_block(diameter: float) -> tuple[Any, StationaryAffineModel]:
    """pyMOR's 2x2 thermal block and the same model exported to scipy.sparse."""
    from pymor.algorithms.to_matrix import to_matrix
    from pymor.analyticalproblems.thermalblock import thermal_block_problem
    from pymor.core.logger import set_log_levels
    from pymor.discretizers.builtin import discretize_stationary_cg

    set_log_levels({"pymor": "ERROR"})
    fom, _ = discretize_stationary_cg(thermal_block_problem((2, 2)), diameter=diameter)
    op = fom.operator
    n_const = sum(1 for c in op.coefficients if isinstance(c, int | float))
    assert n_const == 1 and op.coefficients[0] == 1.0, op.coefficients
    ops = [to_matrix(o).tocsr() for o in op.operators]
    rhs = np.asarray(to_matrix(fom.rhs)).ravel()
    ours = StationaryAffineModel(
        ops,
        rhs,
        [(0.1, 1.0)] * 4,
        theta=AffineCoefficients(n_constant=1),
        product=to_matrix(fom.h1_0_semi_product),
        name="pymor_thermal_block_2x2",
    )
    # the exported model must reproduce pyMOR's operator
    mu = np.array([0.1, 0.4, 0.7, 1.0])
    A_pymor = to_matrix(op.assemble(fom.parameters.parse(mu)))
    assert abs(A_pymor - ours.operator(mu)).max() < 1e-12
    return fom, ours


def to_array(U: Any, n: int) -> np.ndarray:
    a = np.asarray(U.to_numpy())
    return a if a.shape[0] == n and a.ndim == 2 and a.shape[1] != n else a.T


def rel_energy_errors(
    fom: StationaryAffineModel, truths: list[np.ndarray], mus: np.ndarray, approx: list[np.ndarray]
) -> np.ndarray:
    out = []
    for u, mu, v in zip(truths, mus, approx):
        out.append(fom.energy_norm(u - v, mu) / fom.energy_norm(u, mu))
    return np.array(out)


def time_online(solve_one, mus, rounds: int = 5) -> float:
    for mu in mus[:3]:
        solve_one(mu)
    best = np.inf
    for _ in range(rounds):
        t = time.perf_counter()
        for mu in mus:
            solve_one(mu)
        best = min(best, (time.perf_counter() - t) / len(mus))
    return float(best)


def thermal_block_bench(args: argparse.Namespace, out: dict[str, Any]) -> StationaryAffineModel:
    from pymor.algorithms.greedy import rb_greedy
    from pymor.parameters.functionals import ExpressionParameterFunctional
    from pymor.reductors.coercive import CoerciveRBReductor

    pfom, fom = pymor_thermal_block(args.diameter)
    rng = np.random.default_rng(args.seed)
    train = fom.sample(args.training, rng)
    test = fom.sample(args.test, rng)
    print(f"thermal block 2x2: {fom.n_dofs} DoFs, {len(train)} training / {len(test)} test parameters")

    t = time.perf_counter()
    truths = [fom.solve(mu) for mu in test]
    t_full = (time.perf_counter() - t) / len(test)
    t = time.perf_counter()
    for mu in test[:5]:
        pfom.solve(pfom.parameters.parse(mu))
    t_full_pymor = (time.perf_counter() - t) / 5
    out["setup"] = {
        "dofs": fom.n_dofs,
        "training": len(train),
        "test": len(test),
        "full_solve_s": t_full,
        "pymor_full_solve_s": t_full_pymor,
    }

    tb: dict[str, dict[str, dict[str, float]]] = {}
    offline: dict[str, float] = {}
    t = time.perf_counter()
    rb = solve(ReductionProblem(fom, training=train), RBGreedy(basis_size=max(SIZES))).u
    offline["rb_greedy"] = time.perf_counter() - t
    t = time.perf_counter()
    pod = solve(ReductionProblem(fom, training=train), PODGalerkin(basis_size=max(SIZES))).u
    offline["pod_galerkin"] = time.perf_counter() - t
    for name, rom in (("rb_greedy", rb), ("pod_galerkin", pod)):
        tb[name] = {}
        for n in SIZES:
            r = rom.truncate(min(n, rom.basis_size))  # a greedy that exhausted its training set stops early
            errs = rel_energy_errors(fom, truths, test, [r.reconstruct(r.solve(mu)) for mu in test])
            online = time_online(r.solve, test)
            tb[name][str(n)] = {
                "max_rel_err": float(errs.max()),
                "mean_rel_err": float(errs.mean()),
                "speedup": t_full / online,
                "online_s": online,
                "basis_size": r.basis_size,
            }
    # POD-NN: the snapshots of the POD-Galerkin run, one network per basis size
    S = np.array([fom.solve(mu) for mu in train])
    tb["pod_nn"] = {}
    t = time.perf_counter()
    podnn: dict[int, PODNN] = {}
    for n in SIZES:
        model = podnn[n] = PODNN(
            n_components=n, product=fom.product, width=args.width, depth=3, maxiters=args.podnn_iters, seed=args.seed
        ).fit(train, S)
        pred = model.predict(test)
        errs = rel_energy_errors(fom, truths, test, list(pred))
        online = time_online(model.solve, test)
        tb["pod_nn"][str(n)] = {
            "max_rel_err": float(errs.max()),
            "mean_rel_err": float(errs.mean()),
            "speedup": t_full / online,
            "online_s": online,
        }
    offline["pod_nn"] = time.perf_counter() - t
    out["thermal_block"] = tb

    # pyMOR's RB greedy on the same model, training and test sets
    reductor = CoerciveRBReductor(
        pfom,
        product=pfom.h1_0_semi_product,
        coercivity_estimator=ExpressionParameterFunctional("min(diffusion)", pfom.parameters),
    )
    t = time.perf_counter()
    rb_greedy(pfom, reductor, [pfom.parameters.parse(mu) for mu in train], max_extensions=max(SIZES))
    offline["pymor_rb_greedy"] = time.perf_counter() - t
    pmus = [pfom.parameters.parse(mu) for mu in test]
    out["pymor"] = {"rb_greedy": {}}
    for n in SIZES:
        prom = reductor.reduce(n)
        approx = [to_array(reductor.reconstruct(prom.solve(mu)), fom.n_dofs)[:, 0] for mu in pmus]
        errs = rel_energy_errors(fom, truths, test, approx)
        online = time_online(prom.solve, pmus)
        out["pymor"]["rb_greedy"][str(n)] = {
            "max_rel_err": float(errs.max()),
            "mean_rel_err": float(errs.mean()),
            "speedup": t_full_pymor / online,
            "online_s": online,
        }
    out["offline_s"] = offline
    p20 = out["pymor"]["rb_greedy"]["20"]
    out["ratios_vs_pymor_at_20"] = {
        m: {
            "err_ratio": tb[m]["20"]["max_rel_err"] / p20["max_rel_err"],
            "online_speedup_vs_pymor": p20["online_s"] / tb[m]["20"]["online_s"],
        }
        for m in ("rb_greedy", "pod_galerkin", "pod_nn")
    }

    # CG with and without the learned initial guess (RB model, basis 20)
    cg_mus = test[: args.cg_params]
    cold = cg_iterations(fom, cg_mus, rtol=1e-8)
    # a larger greedy basis for the initial guess (it stops when the training set is exhausted): online it still
    # costs microseconds against CG's milliseconds. Iteration counts of 0 (the guess already meets the
    # tolerance) count as 1 in the ratios, since checking the residual costs one matrix-vector product.
    rb_guess = solve(ReductionProblem(fom, training=train), RBGreedy(basis_size=args.guess_basis)).u
    by_size = {}
    for n in sorted({10, max(SIZES), 25, rb_guess.basis_size}):
        if n > rb_guess.basis_size:
            continue
        w = cg_iterations(fom, cg_mus, LearnedInitialGuess(rb_guess.truncate(n)), rtol=1e-8)
        by_size[str(n)] = {
            "iters": float(w.mean()),
            "reduction": float(cold.mean() / max(w.mean(), 1.0)),
            "min_reduction": float(np.min(cold / np.maximum(w, 1))),
        }
    warm_nn = cg_iterations(fom, cg_mus, LearnedInitialGuess(podnn[max(SIZES)]), rtol=1e-8)
    best = by_size[str(rb_guess.basis_size)]
    out["cg_iters"] = {
        "cold": float(cold.mean()),
        "learned": best["iters"],
        "reduction": best["reduction"],
        "min_reduction": best["min_reduction"],
        "initial_guess": f"rb_greedy basis {rb_guess.basis_size} (greedy's final model)",
        "by_rb_basis_size": by_size,
        "learned_pod_nn": float(warm_nn.mean()),
        "reduction_pod_nn": float(cold.mean() / max(warm_nn.mean(), 1.0)),
        "parameters": len(cg_mus),
        "rtol": 1e-8,
    }
    return fom


def selector_bench(args: argparse.Namespace, out: dict[str, Any]) -> None:
    """Learned choice among CG, Jacobi-CG and SSOR(omega)-CG from (log mesh size, log contrast)."""

    def family(seed: int, per: int) -> tuple[np.ndarray, list]:
        rng = np.random.default_rng(seed)
        feats, systems = [], []
        for n in args.selector_sizes:
            tb = thermal_block(n=n, mu_range=(0.01, 1.0))
            for mu in tb.sample(per, rng):
                systems.append((tb.operator(mu), tb.rhs))
                feats.append([np.log(n), np.log(mu.max() / mu.min())])
        return np.array(feats), systems

    f_train, s_train = family(args.seed + 10, args.selector_per)
    f_test, s_test = family(args.seed + 11, max(2, args.selector_per // 2))
    _, w_train = solver_costs(s_train)
    its_test, w_test = solver_costs(s_test)
    sel = SolverSelector().fit(f_train, w_train)
    res = sel.evaluate(f_test, w_test)
    names = list(DEFAULT_SOLVERS)
    out["solver_selection"] = {
        **res,
        "best_fixed_solver": names[sel.best_fixed_],
        "work_saved_vs_best_fixed": 1.0 - res["selected"] / res["best_fixed"],
        "work_saved_vs_plain_cg": 1.0 - res["selected"] / float(w_test[:, 0].mean()),
        "plain_cg": float(w_test[:, 0].mean()),
        "unit": "matrix-vector products to 1e-8",
        "mesh_sizes": list(args.selector_sizes),
    }


def burgers_bench(args: argparse.Namespace, out: dict[str, Any]) -> None:
    fom = BurgersModel(
        n=args.burgers_n,
        nt=args.burgers_nt,
        T=1.0,
        save_every=args.burgers_nt // 100,
        parameter_ranges=((0.5, 1.0), (0.002, 0.02)),
    )
    rng = np.random.default_rng(args.seed + 1)
    train, test = fom.sample(args.burgers_training, rng), fom.sample(args.burgers_test, rng)
    fom.solve(train[0])  # compile
    t = time.perf_counter()
    rom = solve(
        ReductionProblem(fom, training=train),
        PODGalerkin(basis_size=args.burgers_basis, deim_size=2 * args.burgers_basis),
    ).u
    offline = time.perf_counter() - t
    rom.solve(test[0])  # compile
    errs, t_fom, t_rom, t_rec = [], [], [], []
    for mu in test:
        t = time.perf_counter()
        U = fom.solve(mu)
        t_fom.append(time.perf_counter() - t)
        t = time.perf_counter()
        a = rom.solve(mu)
        t_rom.append(time.perf_counter() - t)
        t = time.perf_counter()
        Ur = rom.reconstruct(a)
        t_rec.append(time.perf_counter() - t)
        errs.append(np.linalg.norm(U - Ur) / np.linalg.norm(U))
    out["burgers_deim"] = {
        "rel_err": float(np.max(errs)),
        "mean_rel_err": float(np.mean(errs)),
        "speedup": float(np.mean(t_fom) / np.mean(t_rom)),
        "speedup_with_reconstruction": float(np.mean(t_fom) / (np.mean(t_rom) + np.mean(t_rec))),
        "fom_s": float(np.mean(t_fom)),
        "rom_s": float(np.mean(t_rom)),
        "offline_s": offline,
        "grid": fom.n,
        "steps": fom.nt,
        "basis_size": rom.basis_size,
        "deim_points": len(rom.points),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="coarse mesh and small sets (about a minute)")
    ap.add_argument("--json", type=Path, help="write the figures to this JSON file")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.diameter, args.training, args.test, args.cg_params = 1 / 25, 40, 20, 5
        args.width, args.podnn_iters, args.guess_basis = 24, 60, 30
        args.selector_sizes, args.selector_per = (8, 16, 32), 4
        args.burgers_n, args.burgers_nt, args.burgers_training, args.burgers_test, args.burgers_basis = (
            1000,
            2000,
            10,
            3,
            15,
        )
    else:
        args.diameter, args.training, args.test, args.cg_params = 1 / 100, 100, 50, 20
        args.width, args.podnn_iters, args.guess_basis = 32, 400, 40
        args.selector_sizes, args.selector_per = (8, 16, 32, 48, 64), 8
        args.burgers_n, args.burgers_nt, args.burgers_training, args.burgers_test, args.burgers_basis = (
            4000,
            8000,
            30,
            10,
            20,
        )
    torch.set_num_threads(1)
    out: dict[str, Any] = {"machine": platform.machine(), "python": platform.python_version(), "quick": args.quick}
    t0 = time.perf_counter()
    thermal_block_bench(args, out)
    burgers_bench(args, out)
    selector_bench(args, out)
    out["total_s"] = time.perf_counter() - t0

    s = out["setup"]
    print(f"full solve: ours {s['full_solve_s'] * 1e3:.1f} ms, pyMOR {s['pymor_full_solve_s'] * 1e3:.1f} ms")
    print(f"{'method':<14}{'n':>4}{'max rel err':>14}{'mean rel err':>14}{'online [ms]':>13}{'speed-up':>10}")
    rows = [(m, out["thermal_block"][m]) for m in ("pod_galerkin", "rb_greedy", "pod_nn")]
    rows.append(("pymor_rb", out["pymor"]["rb_greedy"]))
    for name, d in rows:
        for n in map(str, SIZES):
            r = d[n]
            print(
                f"{name:<14}{n:>4}{r['max_rel_err']:>14.3e}{r['mean_rel_err']:>14.3e}"
                f"{r['online_s'] * 1e3:>13.4f}{r['speedup']:>10.0f}"
            )
    for m, r in out["ratios_vs_pymor_at_20"].items():
        print(
            f"basis 20, {m}: max error / pyMOR's = {r['err_ratio']:.2f}, "
            f"online time pyMOR / ours = {r['online_speedup_vs_pymor']:.1f}"
        )
    b = out["burgers_deim"]
    print(
        f"burgers POD-DEIM (n={b['grid']}, {b['steps']} steps, r={b['basis_size']}, m={b['deim_points']}): "
        f"max rel err {b['rel_err']:.2e}, speed-up {b['speedup']:.1f} ({b['speedup_with_reconstruction']:.1f} "
        "with reconstruction)"
    )
    c = out["cg_iters"]
    print(
        f"CG to 1e-8: cold {c['cold']:.1f} iterations, learned initial guess ({c['initial_guess']}) "
        f"{c['learned']:.1f} (x{c['reduction']:.1f}, worst parameter x{c['min_reduction']:.1f})"
    )
    for n, r in c["by_rb_basis_size"].items():
        print(
            f"   RB basis {n:>2} initial guess: {r['iters']:.1f} iterations (x{r['reduction']:.1f}, "
            f"worst parameter x{r['min_reduction']:.1f})"
        )
    print(f"   POD-NN initial guess: {c['learned_pod_nn']:.1f} iterations (x{c['reduction_pod_nn']:.1f})")
    sv = out["solver_selection"]
    print(
        f"learned solver choice: {sv['selected']:.1f} matvecs vs best fixed ({sv['best_fixed_solver']}) "
        f"{sv['best_fixed']:.1f}, oracle {sv['oracle']:.1f}, plain CG {sv['plain_cg']:.1f}"
    )
    print(f"total {out['total_s']:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
