"""The showcase of remodel-rom: reduced-basis and POD-Galerkin reduction of the thermal block, and POD-DEIM Burgers.

Figures: the singular-value decay of the snapshots, the error (and the RB error bound) against basis size,
and a reconstructed temperature field beside the full one.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from remodel_core import ShowcaseSection, Table, pyplot, solve

from ._burgers import BurgersModel
from ._heat import heat_model
from ._opinf import OperatorInference
from ._pod import POD
from ._problem import ReductionProblem
from ._reductors import PODGalerkin, RBGreedy
from ._stationary import thermal_block


def showcase(out: Path, *, quick: bool = False, progress: bool = False) -> ShowcaseSection:
    """Run the rom showcase, write its figures under ``out`` and return its report section.

    Examples
    --------
    >>> import tempfile
    >>> section = showcase(Path(tempfile.mkdtemp()), quick=True)   # doctest: +SKIP
    """
    plt = pyplot()

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n, n_train, n_test, nmax = (48, 40, 10, 16) if quick else (100, 100, 30, 24)
    fom = thermal_block(blocks=(2, 2), n=n)
    rng = np.random.default_rng(0)
    test = fom.sample(n_test, rng)
    t = time.perf_counter()
    truths = [fom.solve(mu) for mu in test]
    t_full = (time.perf_counter() - t) / n_test
    rb_sol = solve(ReductionProblem(fom, training=n_train), RBGreedy(basis_size=nmax), seed=1, progress=progress)
    pod_sol = solve(ReductionProblem(fom, training=n_train), PODGalerkin(basis_size=nmax), seed=1, progress=progress)
    rb, pod = rb_sol.u, pod_sol.u
    sizes = list(range(1, rb.basis_size + 1))
    curves: dict[str, list[float]] = {"RB greedy": [], "POD-Galerkin": [], "RB error bound": []}
    for k in sizes:
        for name, rom in (("RB greedy", rb), ("POD-Galerkin", pod)):
            r = rom.truncate(min(k, rom.basis_size))
            errs = [fom.energy_norm(u - r.reconstruct(r.solve(mu))) / fom.energy_norm(u) for u, mu in zip(truths, test)]
            curves[name].append(max(errs))
        r = rb.truncate(k)
        curves["RB error bound"].append(max(r.estimate_error(mu) / fom.energy_norm(u) for u, mu in zip(truths, test)))
    r = rb.truncate(rb.basis_size)
    t_online = np.inf
    for _ in range(5):  # best of five rounds, after a warm-up round
        t = time.perf_counter()
        for mu in test:
            r.solve(mu)
        t_online = min(t_online, (time.perf_counter() - t) / n_test)

    figures = []
    fig, ax = plt.subplots(figsize=(5, 3.5))
    s = pod.singular_values
    ax.semilogy(np.arange(1, len(s) + 1), s / s[0], "o-", ms=3)
    ax.set_xlabel("index")
    ax.set_ylabel("singular value / first")
    ax.set_title("POD singular values (energy product)")
    fig.tight_layout()
    fig.savefig(out / "rom_singular_values.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    figures.append(
        ("Singular values of the thermal-block snapshots in the energy product", Path("rom_singular_values.png"))
    )

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, vals in curves.items():
        ax.semilogy(sizes, vals, "--" if "bound" in name else "-o", ms=3, label=name)
    ax.set_xlabel("basis size")
    ax.set_ylabel("max relative energy error")  # a longer label does not fit the axes' height
    ax.set_title(f"Error over {n_test} test parameters")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "rom_error_vs_basis.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    figures.append(("Error against basis size, with the RB a-posteriori bound", Path("rom_error_vs_basis.png")))

    mu = test[0]
    u, ur = truths[0], r.reconstruct(r.solve(mu))
    fig, axes = plt.subplots(1, 3, figsize=(11.5, 3.6), layout="constrained")  # room for the colour bars
    for ax, field, title in zip(axes, (u, ur, u - ur), ("full model", f"RB, basis {r.basis_size}", "difference")):
        cmap = "RdBu" if title == "difference" else "inferno"
        im = ax.imshow(fom.field(field), origin="lower", extent=(0, 1, 0, 1), cmap=cmap)
        ax.set_title(title)
        # the difference is ~1e-7: tick labels with their exponent, no offset text colliding with the title
        fig.colorbar(im, ax=ax, shrink=0.8, format="%.1e" if title == "difference" else None)
    fig.suptitle("mu = (" + ", ".join(f"{m:.2f}" for m in mu) + ")")
    fig.savefig(out / "rom_fields.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    figures.append(("Thermal block temperature: full solution, RB reconstruction, difference", Path("rom_fields.png")))

    # Burgers with POD-DEIM
    burgers = BurgersModel(
        n=1000 if quick else 4000,
        nt=2000 if quick else 8000,
        T=1.0,
        save_every=20 if quick else 80,
        parameter_ranges=((0.5, 1.0), (0.002, 0.02)),
    )
    brng = np.random.default_rng(2)
    btrain, btest = burgers.sample(10 if quick else 30, brng), burgers.sample(3, brng)
    r_b = 15 if quick else 20
    brom = solve(ReductionProblem(burgers, training=btrain), PODGalerkin(basis_size=r_b, deim_size=2 * r_b)).u
    brom.solve(btest[0])
    b_err, tb_full, tb_rom = [], 0.0, 0.0
    for bmu in btest:
        t = time.perf_counter()
        U = burgers.solve(bmu)
        tb_full += time.perf_counter() - t
        t = time.perf_counter()
        a = brom.solve(bmu)
        tb_rom += time.perf_counter() - t
        b_err.append(np.linalg.norm(U - brom.reconstruct(a)) / np.linalg.norm(U))
    # heat equation: intrusive POD-Galerkin against operator inference learned from the first 60% of the run
    heat = heat_model(n=16 if quick else 32, nt=60, T=0.3)
    hmu = np.array([0.2, 0.8, 0.5, 0.3])
    U = heat.solve(hmu)
    k_train = int(0.6 * heat.nt)
    opinf_rows = []
    for r_h in (4, 8, 12):
        hpod = POD(n_components=r_h).fit(U[: k_train + 1])
        Qh = hpod.transform(U)
        galerkin = hpod.reduce(heat)
        e_gal = np.linalg.norm(galerkin.reconstruct(galerkin.solve(hmu)) - U) / np.linalg.norm(U)
        oi = OperatorInference(operators="cA", regularization=1e-10).fit(Qh[:k_train], Qh[1 : k_train + 1])
        e_oi = np.linalg.norm(hpod.inverse_transform(oi.rollout(Qh[0], heat.nt)) - U) / np.linalg.norm(U)
        e_proj = np.linalg.norm(hpod.inverse_transform(Qh) - U) / np.linalg.norm(U)
        opinf_rows.append([r_h, e_proj, e_gal, e_oi])
    opinf_table = Table(
        caption=f"Heat equation ({heat.n_dofs} DoFs, {heat.nt} implicit Euler steps): relative "
        f"error over the whole run, models built from the first {k_train} steps",
        header=["basis size", "POD projection", "POD-Galerkin (intrusive)", "operator inference (non-intrusive)"],
        rows=opinf_rows,
    )

    rows = [
        [k, curves["POD-Galerkin"][k - 1], curves["RB greedy"][k - 1], curves["RB error bound"][k - 1]]
        for k in sizes
        if k in (5, 10, 15, 20, 24) or k == sizes[-1]
    ]
    table = Table(
        caption=f"Thermal block 2x2 ({fom.n_dofs} DoFs): max relative energy error on {n_test} test parameters",
        header=["basis size", "POD-Galerkin", "RB greedy", "RB bound"],
        rows=rows,
    )
    metrics = {
        "dofs": fom.n_dofs,
        "rb_max_rel_err": curves["RB greedy"][-1],
        "pod_max_rel_err": curves["POD-Galerkin"][-1],
        "rb_online_s": t_online,
        "full_solve_s": t_full,
        "rb_speedup": t_full / t_online,
        "burgers_deim_rel_err": float(max(b_err)),
        "burgers_deim_speedup": tb_full / tb_rom,
    }
    summary = (
        f"The 2x2 thermal block (P1 elements assembled with numba, {fom.n_dofs} unknowns, mu in [0.1, 1]^4) reduced by "
        f"the reduced-basis weak greedy with a residual error bound and by POD-Galerkin from {n_train} training "
        f"solves. With {r.basis_size} basis functions the RB model's largest relative energy error on {n_test} test "
        f"parameters is {curves['RB greedy'][-1]:.2e} (bound {curves['RB error bound'][-1]:.2e}, which holds on every "
        f"test parameter), its online solve takes {t_online * 1e6:.0f} us against {t_full * 1e3:.1f} ms for the full "
        f"solve (speed-up {t_full / t_online:.0f}). Viscous Burgers (n={burgers.n}, {burgers.nt} IMEX steps) with "
        f"POD-DEIM ({brom.basis_size} modes, {len(brom.points)} DEIM points): relative error {max(b_err):.1e}, "
        f"speed-up {tb_full / tb_rom:.0f}."
    )
    summary += (
        " Operator inference (Peherstorfer & Willcox 2016) learns the reduced heat-equation operators "
        "from projected snapshots alone, without access to the full model's matrices; the second table "
        "compares it with the intrusive Galerkin model (with many modes the least-squares data matrix "
        "becomes ill-conditioned and the regularised fit stops improving before the intrusive model does)."
    )
    metrics["opinf_rel_err"] = opinf_rows[-1][3]
    metrics["heat_galerkin_rel_err"] = opinf_rows[-1][2]
    return ShowcaseSection(
        title="Model order reduction (remodel-rom)",
        summary=summary,
        tables=[table, opinf_table],
        figures=figures,
        metrics=metrics,
    )
