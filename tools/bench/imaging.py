"""Deblurring of scikit-image's cameraman with TV, plug-and-play and unrolled networks, against deepinv (issue 17).

Task: the 128x128 cameraman (``skimage.data.camera`` anti-aliased from 512), periodic Gaussian blur of width
1.5 px, white Gaussian noise sigma = 0.03 (seed 0). The camera image is never used for training or to choose
a parameter: every parameter (TV weight, PnP step and relaxation, deepinv's step) is chosen on a validation
problem, the astronaut (``skimage.data.astronaut``, grey, 128x128) with the same blur and noise, from the
same grid for REMODEL and deepinv. Denoisers are trained here on the CPU from scratch (no download) on random
32x32 patches of the other bundled images (``remodel_imaging.TRAINING_IMAGES``) with flips/rotations, noise
0.03, Adam, the same steps and batches for every denoiser, through ``remodel_core.solve``.

Methods:

* ``tv``: ``TVPrimalDual`` (preconditioned primal-dual, exact Fourier data prox, H1 warm start, stopping
  at a relative primal-dual gap of 1e-4); ``tv_today`` is the package's previous ``ChambollePock`` on the same
  lambda. ``iters_to_converged`` counts the iterations after which the PSNR stays within 0.01 dB of its value
  at convergence.
* ``deepinv_tv``: ``deepinv.optim.PGD`` with ``TVPrior`` (its inner TV denoiser at its defaults) and ``L2``,
  the same lambda and the same objective (isotropic forward differences, Neumann boundary, ``1/2 ||Ax - y||^2``),
  stepsize 1.9/||A||^2, run until deepinv's own residual is at most 1e-5 (at most 1,000 iterations; PSNR and
  objective every 50 iterations in ``trace_iteration_psnr_objective_residual``). Both solvers run to
  convergence on the same problem, so the comparison is of minimisers; each row's ``objective`` is recorded.
* ``pnp_lipschitz``: ``PnPPGD`` with the certified ``ConvexRidgeDenoiser`` of a convex ridge regulariser ``R``
  (CRR-NN of Goujon et al. 2023) used variationally: ``R`` and its weight ``lambda`` are learned for this task
  (``ConvexRidgeVariational`` / ``train_regulariser``: 20 unrolled FISTA steps on ``||Ax - y||^2/2 + lambda R(x)``
  from a Tikhonov start, trained end to end on 40x40 training patches with the same blur and noise, cosine-
  annealed Adam); PnP then uses the denoiser at strength ``mu = gamma lambda`` with 30 gradient steps of size
  ``2/(2+L)`` (about ``prox_{gamma lambda R}``, certified Lipschitz bound 1), step 1.9, Krasnoselskii-Mann
  relaxation 0.9, so that the iteration provably converges and its fixed point approaches the minimiser of the
  convex objective; ``lambda`` x (0.7, 1, 1.4) is chosen on the validation image. Its power-iteration estimate at
  the solution is recorded next to the bound, and the denoiser's PSNR as a Gaussian denoiser at noise 0.03 (at
  the chosen strength) next to TV's proximal map (weight chosen on validation): ``tv_prox_denoiser``.
* ``pnp_sll``: ``PnPPGD`` (Krasnoselskii-Mann relaxation) with ``LipschitzDenoiser`` (relaxed clip SLL layers,
  certified Lipschitz bound 1), the previous 1-Lipschitz denoiser.
* ``pnp_dncnn``: ``PnPPGD`` with the unconstrained ``DnCNN`` (no Lipschitz control).
* ``deepinv_pnp``: ``deepinv.optim.PGD`` with ``PnP`` prior and ``deepinv.models.DnCNN`` of the same depth and
  width, trained here the same way.
* ``unrolled``: ``UnrolledPGD`` trained end to end on 40x40 training patches with the same blur and noise.

Metrics: PSNR, SSIM (``skimage.metrics``), iterations, final fixed-point residual ``||x_k - x_{k-1}|| /
||x_{k-1}||`` (deepinv's own residual for its methods), Lipschitz bound/estimate of the denoiser.

    uv run --frozen python tools/bench/imaging.py --json docs/bench/imaging.json
    uv run --frozen python tools/bench/imaging.py --quick
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from typing import Any

import torch
from remodel_core import solve
from remodel_imaging import (
    FISTA,
    ChambollePock,
    ConvexRidgeDenoiser,
    ConvexRidgeVariational,
    DiscrepancyPrinciple,
    DnCNN,
    GaussianBlur,
    InverseProblem,
    LipschitzDenoiser,
    PnPPGD,
    TVPrimalDual,
    camera,
    fgp_tv_prox,
    lipschitz_bound,
    lipschitz_estimate,
    load_image,
    psnr,
    random_patches,
    ssim,
    train_denoiser,
    train_regulariser,
    tv_objective,
)
from remodel_imaging._unrolled import Unrolled, UnrolledPGD, train_reconstruction

FULL = dict(
    size=128,
    patches=4000,
    patch=32,
    den_iters=500,
    lip=dict(channels=8, hidden=16, depth=6, activation="clip", relaxed=True),
    lip_sigmas=(0.03,),
    crr=dict(channels=16, kernel_size=5, thresholds=(0.002, 0.006, 0.018)),
    crr_unrolled=20,
    crr_iters=600,
    crr_lr=5e-3,
    crr_lr_end=5e-4,
    crr_patches=4000,
    crr_patch=40,
    crr_pnp_steps=30,
    crr_pnp_iters=1500,
    crr_lam_factors=(0.7, 1.0, 1.4),
    dncnn=dict(depth=6, features=16),
    unrolled=dict(iters=5, features=16, depth=3),
    unrolled_iters=300,
    unrolled_patch=40,
    pnp_iters=300,
    tv_iters=3000,
    deepinv_tv_iters=1000,
    deepinv_tv_every=50,
    deepinv_tv_tol=1e-5,
    lams=(0.002, 0.003, 0.005, 0.008, 0.012),
)
QUICK = dict(
    size=64,
    patches=400,
    patch=24,
    den_iters=40,
    lip=dict(channels=4, hidden=8, depth=3, activation="clip", relaxed=True),
    lip_sigmas=(0.03,),
    crr=dict(channels=8, kernel_size=5),
    crr_unrolled=10,
    crr_iters=40,
    crr_lr=5e-3,
    crr_lr_end=5e-4,
    crr_patches=400,
    crr_patch=24,
    crr_pnp_steps=20,
    crr_pnp_iters=300,
    crr_lam_factors=(0.7, 1.0),
    dncnn=dict(depth=4, features=8),
    unrolled=dict(iters=2, features=8, depth=2),
    unrolled_iters=20,
    unrolled_patch=24,
    pnp_iters=100,
    tv_iters=600,
    deepinv_tv_iters=400,
    deepinv_tv_every=20,
    deepinv_tv_tol=1e-5,
    lams=(0.003, 0.008),
)
BLUR, NOISE, LR, BATCH = 1.5, 0.03, 2e-3, 16
METHODS = (
    "tv",
    "fista",
    "tv_discrepancy",
    "tv_today",
    "deepinv_tv",
    "pnp_lipschitz",
    "pnp_sll",
    "pnp_dncnn",
    "deepinv_pnp",
    "unrolled",
)
STEPS = (1.0, 1.9)  # gamma ||A||^2 of PnP-PGD (and deepinv's stepsize times ||A||^2)
RELAX = (1.0, 0.5)  # Krasnoselskii-Mann relaxation of PnPPGD (REMODEL only: deepinv's PGD has none)
KM_RELAX = 0.9  # relaxation of PnP with the certified denoiser (< 1: convergence by Krasnoselskii-Mann)


def problem(img: torch.Tensor, seed: int = 0) -> InverseProblem:
    A = GaussianBlur(tuple(img.shape), sigma=BLUR)
    return InverseProblem.simulate(A, img, noise_sigma=NOISE, seed=seed)


def iters_to_converged(history: list[float], tol_db: float = 0.01) -> int:
    final = history[-1]
    k = len(history)
    while k > 0 and abs(history[k - 1] - final) <= tol_db:
        k -= 1
    return k + 1


def record(x: torch.Tensor, truth: torch.Tensor, **extra: Any) -> dict[str, Any]:
    x = x.detach().double().reshape(truth.shape)
    return {"psnr": psnr(x, truth), "ssim": ssim(x, truth), **extra}


def _noisy(img: torch.Tensor, sigma: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return img + sigma * torch.randn(img.shape, generator=g, dtype=img.dtype)


def denoise_psnr(net: torch.nn.Module, img: torch.Tensor, sigma: float) -> float:
    """PSNR of ``net`` on ``img`` plus Gaussian noise ``sigma`` (seed 7)."""
    with torch.no_grad():
        return psnr(net(_noisy(img, sigma).float()[None, None])[0, 0].double(), img)


def tv_prox_reference(truth: torch.Tensor, val_img: torch.Tensor, sigma: float) -> dict[str, float]:
    """TV's proximal map (FGP) as a Gaussian denoiser: weight chosen on the validation image, then the test image."""
    weights = (0.005, 0.01, 0.015, 0.02, 0.03, 0.04)
    val = [psnr(fgp_tv_prox(_noisy(val_img, sigma), t, iters=300)[0], val_img) for t in weights]
    t = weights[max(range(len(weights)), key=val.__getitem__)]
    test = psnr(fgp_tv_prox(_noisy(truth, sigma), t, iters=300)[0], truth)
    return {"weight": t, "psnr_validation": max(val), "psnr_test": test, "sigma": sigma}


# deepinv ------------------------------------------------------------------------------------------------------
def deepinv_physics(A: GaussianBlur):
    import deepinv as dinv

    return dinv.physics.LinearPhysics(A=lambda x, **kw: A.apply(x), A_adjoint=lambda y, **kw: A.apply_adjoint(y))


def deepinv_pgd(prob: InverseProblem, prior, *, lam: float, step: float, sigma: float | None, max_iter: int):
    import deepinv as dinv

    A = prob.operator
    physics = deepinv_physics(A)
    gamma = step / A.norm() ** 2
    model = dinv.optim.PGD(
        data_fidelity=dinv.optim.data_fidelity.L2(),
        prior=prior,
        lambda_reg=lam,
        stepsize=gamma,
        g_param=sigma,
        max_iter=max_iter,
        crit_conv="residual",
        thres_conv=1e-5,
        early_stop=True,
    )
    y = prob.y[None, None]
    with torch.no_grad():
        x, metrics = model(y, physics, x_gt=prob.x_true[None, None], compute_metrics=True)
    res = metrics["residual"][0]
    return x[0, 0].double(), len(res), (res[-1] if res else math.nan)


def deepinv_tv_to_convergence(prob: InverseProblem, lam: float, *, step: float, max_iter: int, tol: float, every: int):
    """deepinv's PGD with its ``TVPrior`` (inner TV solver at deepinv's defaults, warm-restarted across calls) run
    until deepinv's own residual ``||x_k - x_{k-1}|| / ||x_{k-1}||`` is at most ``tol`` (its early stop) or
    ``max_iter`` iterations, in chunks of ``every`` iterations each started from the last iterate (PGD keeps no
    other state; the TV prior keeps its warm restart). Returns the image, the iterations, the last residual and
    the trace ``[(iteration, psnr, objective, residual)]`` after each chunk (PSNR and objective computed here,
    as for the other rows: deepinv's own PSNR metric reads about 0.27 dB higher on the same image)."""
    import deepinv as dinv
    from deepinv.optim.prior import TVPrior

    A = prob.operator
    model = dinv.optim.PGD(
        data_fidelity=dinv.optim.data_fidelity.L2(),
        prior=TVPrior(),
        lambda_reg=lam,
        stepsize=step / A.norm() ** 2,
        max_iter=every,
        crit_conv="residual",
        thres_conv=tol,
        early_stop=True,
    )
    physics, y = deepinv_physics(A), prob.y[None, None]
    x, its, res, trace = None, 0, math.nan, []
    while its < max_iter and not res <= tol:
        with torch.no_grad():
            x, metrics = model(y, physics, init=x, x_gt=prob.x_true[None, None], compute_metrics=True)
        its += len(metrics["residual"][0])
        res = float(metrics["residual"][0][-1])
        xd = x[0, 0].double()
        trace.append((its, psnr(xd, prob.x_true), tv_objective(xd, prob, lam), res))
    return x[0, 0].double(), its, res, trace


class _FloatWrap(torch.nn.Module):
    """deepinv's denoiser interface ``D(x, sigma)`` around a float32 network, in float64 in and out."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, sigma: Any = None) -> torch.Tensor:
        return self.net(x.float()).to(x.dtype)


# training -------------------------------------------------------------------------------------------------------
def train(
    net: torch.nn.Module,
    patches: torch.Tensor,
    cfg: dict,
    name: str,
    *,
    sigma: float = NOISE,
    cache: str | None = None,
    key: str = "",
    iters: int | None = None,
    lr: float = LR,
    lr_end: float | None = None,
) -> tuple[torch.nn.Module, float]:
    """Train a denoiser; with ``cache`` a directory, reuse the weights of an identical earlier training (same
    class, configuration, noise level, steps, patches and seed: ``key`` names them)."""
    path = None
    iters = cfg["den_iters"] if iters is None else iters
    if cache is not None:
        os.makedirs(cache, exist_ok=True)
        decay = "" if lr_end is None else f"-{lr_end}"
        n = patches.shape[0]
        path = os.path.join(cache, f"{name.replace(' ', '_')}_{key}_s{sigma}_it{iters}_lr{lr}{decay}_p{n}.pt")
        if os.path.exists(path):
            net.load_state_dict(torch.load(path, weights_only=True))
            print(f"  loaded {name} from {path}", flush=True)
            return net.eval(), math.nan
    t = time.process_time()
    sol = train_denoiser(net, patches, noise_sigma=sigma, iters=iters, lr=lr, lr_end=lr_end, batch_size=BATCH, seed=0)
    wall = time.process_time() - t
    if path is not None:
        torch.save(sol.u.state_dict(), path)
    loss = sol.history["loss"]
    tail = loss[-50:]
    print(
        f"  trained {name} (sigma {sigma}): {sol.stats['iterations']} steps, {wall:.0f} CPU s, "
        f"final mean loss {sum(tail) / len(tail):.2e}",
        flush=True,
    )
    return sol.u.eval(), wall


def _cached_regulariser(cfg: dict, up: int, cache: str | None) -> ConvexRidgeVariational:
    """Train (or, with ``cache``, reload) the convex ridge regulariser and its weight for the deblurring task."""
    rec = ConvexRidgeVariational(ConvexRidgeDenoiser(**cfg["crr"]), unrolled_steps=cfg["crr_unrolled"], lam=0.1)
    key = "_".join(f"{k}{v}" for k, v in cfg["crr"].items())
    path = None
    if cache is not None:
        os.makedirs(cache, exist_ok=True)
        path = os.path.join(
            cache,
            f"crr_variational_{key}_K{cfg['crr_unrolled']}_it{cfg['crr_iters']}_lr{cfg['crr_lr']}-{cfg['crr_lr_end']}"
            f"_p{cfg['crr_patches']}x{up}.pt",
        )
        if os.path.exists(path):
            rec.load_state_dict(torch.load(path, weights_only=True))
            print(f"  loaded the convex ridge regulariser from {path}", flush=True)
            return rec.eval()
    sol = train_regulariser(
        rec,
        GaussianBlur((up, up), sigma=BLUR),
        random_patches(cfg["crr_patches"], up, seed=0),
        noise_sigma=NOISE,
        iters=cfg["crr_iters"],
        lr=cfg["crr_lr"],
        lr_end=cfg["crr_lr_end"],
        batch_size=8,
        seed=0,
    )
    loss = sol.history["loss"][-50:]
    print(f"  trained the convex ridge regulariser: final mean loss {sum(loss) / len(loss):.2e}", flush=True)
    if path is not None:
        torch.save(sol.u.state_dict(), path)
    return sol.u.eval()


def run(cfg: dict, methods: tuple[str, ...] = METHODS, cache: str | None = None) -> dict[str, Any]:
    torch.set_num_threads(1)
    t_all, c_all = time.perf_counter(), time.process_time()
    size = cfg["size"]
    truth, val_img = camera(size), load_image("astronaut", size)
    test, val = problem(truth), problem(val_img, seed=1)
    out: dict[str, dict[str, Any]] = {}
    timing: dict[str, float] = {}  # process CPU seconds (the machine is shared: wall time is not comparable)
    _last: dict[str, torch.Tensor] = {}
    tv_prox: dict[str, float] = {}  # TV's proximal map as a denoiser (the reference of the learned denoisers)

    # TV: lambda by validation, then ours (primal-dual, FISTA) vs today's solver vs deepinv -----------------------
    best = None
    for lam in cfg["lams"]:
        s = solve(val, TVPrimalDual(lam=lam), maxiters=cfg["tv_iters"])
        p = psnr(s.u, val_img)
        if best is None or p > best[1]:
            best = (lam, p)
    lam = best[0]
    print(f"TV: lambda {lam} chosen on the validation image ({best[1]:.2f} dB)", flush=True)
    for name, alg in (("tv", TVPrimalDual(lam=lam)), ("fista", FISTA(lam=lam))):
        if name not in methods:
            continue
        t = time.process_time()
        s = solve(test, alg, maxiters=cfg["tv_iters"])
        timing[name] = time.process_time() - t
        _last[name] = s.u
        out[name] = record(
            s.u,
            truth,
            iters=s.stats["iterations"],
            fp_residual=s.history["rel_change"][-1],
            lipschitz=None,
            lam=lam,
            retcode=s.retcode.name,
            gap=s.stats["gap"],
            iters_to_converged=iters_to_converged(s.history["psnr"]),
            cpu_s=timing[name],
        )
        if name == "fista":
            out[name]["inner_iterations"] = s.stats["inner_iterations"]
        print(f"{name}: {out[name]['psnr']:.2f} dB, {s.stats['iterations']} iterations, {timing[name]:.1f} CPU s")
    if "tv_discrepancy" in methods:
        t = time.process_time()
        s = solve(test, DiscrepancyPrinciple(algorithm=TVPrimalDual(), bracket=(1e-3, 3e-2)))
        timing["tv_discrepancy"] = time.process_time() - t
        out["tv_discrepancy"] = record(
            s.u,
            truth,
            iters=s.stats["inner_solves"],
            fp_residual=None,
            lipschitz=None,
            lam=s.stats["lam"],
            lam_validation=lam,
            residual=s.stats["residual"],
            target=s.stats["target"],
            retcode=s.retcode.name,
            cpu_s=timing["tv_discrepancy"],
        )
        print(f"tv_discrepancy: lambda {s.stats['lam']:.4g}, {out['tv_discrepancy']['psnr']:.2f} dB", flush=True)
    if "tv_today" in methods:
        t = time.process_time()
        s_old = solve(test, ChambollePock(lam=lam, tol=0.0), maxiters=cfg["tv_iters"])
        timing["tv_today"] = time.process_time() - t
        _last["tv_today"] = s_old.u
        out["tv_today"] = record(
            s_old.u,
            truth,
            iters=s_old.stats["iterations"],
            fp_residual=s_old.history["rel_change"][-1],
            lipschitz=None,
            lam=lam,
            iters_to_converged=iters_to_converged(s_old.history["psnr"]),
            cpu_s=timing["tv_today"],
        )
    if "deepinv_tv" in methods:
        # like for like: the same lambda, the same discretisation (isotropic forward differences, Neumann boundary)
        # and the same objective; deepinv's PGD is run until its own residual reaches tol (it used to stop at a
        # 100-iteration cap, short of the minimiser: trace[k] shows the PSNR on the way)
        t = time.process_time()
        x_d, it_d, res_d, trace = deepinv_tv_to_convergence(
            test,
            lam,
            step=max(STEPS),
            max_iter=cfg["deepinv_tv_iters"],
            tol=cfg["deepinv_tv_tol"],
            every=cfg["deepinv_tv_every"],
        )
        timing["deepinv_tv"] = time.process_time() - t
        _last["deepinv_tv"] = x_d
        out["deepinv_tv"] = record(
            x_d,
            truth,
            iters=it_d,
            fp_residual=res_d,
            lipschitz=None,
            lam=lam,
            step=max(STEPS),
            converged=res_d <= cfg["deepinv_tv_tol"],
            trace_iteration_psnr_objective_residual=trace,
            cpu_s=timing["deepinv_tv"],
        )

    # denoisers and PnP: denoiser noise level, step and relaxation by validation ----------------------------------
    patches = random_patches(cfg["patches"], cfg["patch"], seed=0)

    def pnp(prob: InverseProblem, net: torch.nn.Module, step: float, relax: float):
        iters = cfg["crr_pnp_iters"] if isinstance(net, ConvexRidgeDenoiser) else cfg["pnp_iters"]
        return solve(prob, PnPPGD(denoiser=net, step=step, relaxation=relax, tol=1e-5), maxiters=iters)

    # grids of (training noise, network, denoiser strength mu or None, step, relaxation), scored on validation
    candidates: dict[str, list[tuple[float, torch.nn.Module, float | None, float, float]]] = {}
    if "pnp_lipschitz" in methods:
        # the convex ridge regulariser R and its weight lambda learned for this task (bilevel: K unrolled FISTA
        # steps on ||Ax - y||^2/2 + lambda R(x) over training patches with the same blur and noise), then PnP-PGD
        # with its certified denoiser ~ prox_{gamma lambda R}: the fixed point is the minimiser of the convex
        # objective; lambda x (0.7, 1, 1.4) chosen on validation. KM_RELAX < 1 makes convergence a theorem for the
        # nonexpansive PnP map D o (I - gamma grad f) (Bauschke & Combettes, Thm 5.15) without moving its fixed points
        up = cfg["crr_patch"]
        torch.manual_seed(0)
        t = time.process_time()
        rec = _cached_regulariser(cfg, up, cache)
        timing["train_convex_ridge"] = time.process_time() - t
        gamma = max(STEPS) / test.operator.norm() ** 2
        den = rec.pnp_denoiser(gamma, steps=cfg["crr_pnp_steps"])
        lam_crr = rec.lam
        print(f"  convex ridge regulariser: learned lambda {lam_crr:.4g}", flush=True)
        candidates["pnp_lipschitz"] = [
            (NOISE, den, gamma * lam_crr * f, max(STEPS), KM_RELAX) for f in cfg["crr_lam_factors"]
        ]
    if "pnp_sll" in methods:
        key = "_".join(f"{k}{v}" for k, v in cfg["lip"].items())
        candidates["pnp_sll"] = []
        for sig in cfg["lip_sigmas"]:
            torch.manual_seed(0)
            net, timing[f"train_sll_{sig}"] = train(
                LipschitzDenoiser(**cfg["lip"]), patches, cfg, "LipschitzDenoiser", sigma=sig, cache=cache, key=key
            )
            candidates["pnp_sll"] += [(sig, net, None, st, rl) for st in STEPS for rl in RELAX]
    if "pnp_dncnn" in methods:
        torch.manual_seed(0)
        key = "_".join(f"{k}{v}" for k, v in cfg["dncnn"].items())
        dncnn, timing["train_dncnn"] = train(DnCNN(**cfg["dncnn"]), patches, cfg, "DnCNN", cache=cache, key=key)
        candidates["pnp_dncnn"] = [(NOISE, dncnn, None, st, rl) for st in STEPS for rl in RELAX]
    for name, grid in candidates.items():
        scores = []
        for i, (_, net, mu, st, rl) in enumerate(grid):
            if mu is not None:
                net.strength = mu
            scores.append((psnr(pnp(val, net, st, rl).u, val_img), i))
            print(f"  {name} validation: mu {mu}, step {st}, relaxation {rl}: {scores[-1][0]:.2f} dB", flush=True)
        sig, net, mu, st, rl = grid[max(scores)[1]]
        if mu is not None:
            net.strength = mu
        bound = lipschitz_bound(net) if name in ("pnp_lipschitz", "pnp_sll") else None
        t = time.process_time()
        s = pnp(test, net, st, rl)
        timing[name] = time.process_time() - t
        with torch.no_grad():
            z = s.u - st / s.stats["norm_A"] ** 2 * test.operator.apply_adjoint(test.operator.apply(s.u) - test.y)
        est = lipschitz_estimate(net, z.float()[None, None], iters=50)
        # the denoiser alone at its training noise and strength, on the test and validation images, against TV's
        # proximal map with its weight chosen on the validation image (a diagnosis, not a choice)
        den_psnr, den_val = denoise_psnr(net, truth, sig), denoise_psnr(net, val_img, sig)  # at strength mu
        if not tv_prox:
            tv_prox.update(tv_prox_reference(truth, val_img, sig))
        out[name] = record(
            s.u,
            truth,
            iters=s.stats["iterations"],
            fp_residual=s.history["fp_residual"][-1],
            lipschitz=bound,
            lipschitz_estimate=est,
            denoiser_sigma=sig,
            denoiser_strength=mu,
            lam=None if mu is None else mu / st * s.stats["norm_A"] ** 2,
            denoiser_steps=getattr(net, "steps", None),
            denoiser_psnr_on_test=den_psnr,
            denoiser_psnr_on_validation=den_val,
            step=st,
            relaxation=rl,
            retcode=s.retcode.name,
            fp_residual_curve=s.history["fp_residual"],
            cpu_s=timing[name],
        )
        print(
            f"{name}: sigma {sig}, mu {mu}, step {st}, relaxation {rl} chosen on validation; "
            f"{out[name]['psnr']:.2f} dB (denoiser alone on the test/validation image {den_psnr:.2f}/{den_val:.2f} dB, "
            f"TV prox {tv_prox['psnr_test']:.2f}/{tv_prox['psnr_validation']:.2f} dB)",
            flush=True,
        )

    if "deepinv_pnp" in methods:
        from deepinv.models import DnCNN as DeepinvDnCNN
        from deepinv.optim.prior import PnP

        torch.manual_seed(0)
        dinv_net = DeepinvDnCNN(
            in_channels=1, out_channels=1, depth=cfg["dncnn"]["depth"], nf=cfg["dncnn"]["features"], pretrained=None
        )
        # the same initialisation scheme as REMODEL's DnCNN (PyTorch's default for Conv2d): deepinv's own Kaiming
        # initialisation starts from a residual map far from the identity (mean square 0.5 on [0, 1] images) and
        # trained with the same steps ended as a worse denoiser than the identity
        for m in dinv_net.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.reset_parameters()
        key = "_".join(f"{k}{v}" for k, v in cfg["dncnn"].items()) + "_torchinit"
        dinv_net, timing["train_deepinv_dncnn"] = train(
            _DeepinvAdapter(dinv_net), patches, cfg, "deepinv DnCNN", cache=cache, key=key
        )
        dinv_net = dinv_net.net
        prior = PnP(denoiser=_FloatWrap(dinv_net))
        scores = [
            (psnr(deepinv_pgd(val, prior, lam=1.0, step=st, sigma=NOISE, max_iter=cfg["pnp_iters"])[0], val_img), st)
            for st in STEPS
        ]
        _, st = max(scores)
        t = time.process_time()
        x_d, it_d, res_d = deepinv_pgd(test, prior, lam=1.0, step=st, sigma=NOISE, max_iter=cfg["pnp_iters"])
        timing["deepinv_pnp"] = time.process_time() - t
        est = lipschitz_estimate(dinv_net, x_d.float()[None, None], iters=50)
        out["deepinv_pnp"] = record(
            x_d,
            truth,
            iters=it_d,
            fp_residual=res_d,
            lipschitz=None,
            lipschitz_estimate=est,
            step=st,
            cpu_s=timing["deepinv_pnp"],
        )

    # unrolled ---------------------------------------------------------------------------------------------------
    if "unrolled" in methods:
        up = cfg["unrolled_patch"]
        upatches = random_patches(cfg["patches"] // 4, up, seed=3)
        torch.manual_seed(0)
        t = time.process_time()
        sol = train_reconstruction(
            UnrolledPGD(**cfg["unrolled"]),
            GaussianBlur((up, up), sigma=BLUR),
            upatches,
            noise_sigma=NOISE,
            iters=cfg["unrolled_iters"],
            lr=LR,
            batch_size=8,
            seed=0,
        )
        timing["train_unrolled"] = time.process_time() - t
        s = solve(test, Unrolled(network=sol.u.eval()))
        out["unrolled"] = record(s.u, truth, iters=cfg["unrolled"]["iters"], fp_residual=None, lipschitz=None)

    for name, x in _last.items():
        out[name]["objective"] = tv_objective(x, test, lam)
    timing["total_cpu"] = time.process_time() - c_all
    timing["total_wall"] = time.perf_counter() - t_all
    speedup = None
    if "tv" in out and "tv_today" in out:
        speedup = out["tv_today"]["iters_to_converged"] / out["tv"]["iters_to_converged"]
    return {
        "task": f"deblurring camera {size}x{size}, periodic Gaussian blur sigma={BLUR} px, noise sigma={NOISE}",
        "methods": out,
        "observation_psnr": psnr(test.y, truth),
        "tv_speedup_iters": speedup,
        "tv_prox_denoiser": tv_prox or None,
        "timing_cpu_s": timing,
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "threads": 1,
            "loadavg": os.getloadavg(),
        },
    }


class _DeepinvAdapter(torch.nn.Module):
    """Train deepinv's DnCNN (``forward(x, sigma)``) with the same loop: ``(B, 1, H, W) -> (B, 1, H, W)``."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64x64 image, tiny networks (about a minute)")
    parser.add_argument("--json", type=str, default=None, help="write the results to this JSON file")
    parser.add_argument(
        "--methods", type=str, default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}"
    )
    parser.add_argument("--cache", type=str, default=None, help="directory to save/reuse trained denoisers")
    parser.add_argument("--crr-channels", type=int, default=None, help="override the convex ridge filters count")
    parser.add_argument("--crr-kernel-size", type=int, default=None, help="override the convex ridge kernel size")
    parser.add_argument(
        "--crr-thresholds", type=str, default=None, help="override the convex ridge clip thresholds (comma-separated)"
    )
    parser.add_argument("--crr-iters", type=int, default=None, help="override the convex ridge training steps")
    args = parser.parse_args()
    methods = tuple(m for m in args.methods.split(",") if m)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"--methods: unknown {unknown}; choose from {list(METHODS)}")
    cfg = dict(QUICK if args.quick else FULL)
    cfg["crr"] = dict(cfg["crr"])
    if args.crr_channels is not None:
        cfg["crr"]["channels"] = args.crr_channels
    if args.crr_kernel_size is not None:
        cfg["crr"]["kernel_size"] = args.crr_kernel_size
    if args.crr_thresholds is not None:
        cfg["crr"]["thresholds"] = tuple(float(t) for t in args.crr_thresholds.split(",") if t)
    if args.crr_iters is not None:
        cfg["crr_iters"] = args.crr_iters
    out = run(cfg, methods, args.cache)
    keys = ["psnr", "ssim", "iters", "fp_residual", "lipschitz"]
    print(f"\n{out['task']} (observation {out['observation_psnr']:.2f} dB)")
    print(f"{'method':16s}" + "".join(f"{k:>14s}" for k in keys))
    for name, m in out["methods"].items():
        cells = []
        for k in keys:
            v = m.get(k)
            cells.append(f"{'-':>14s}" if v is None else (f"{v:14.4g}" if isinstance(v, float) else f"{v:>14}"))
        print(f"{name:16s}" + "".join(cells))
    m = out["methods"]
    if "pnp_lipschitz" in m and "tv" in m:
        lip = m["pnp_lipschitz"]
        print(
            f"\npnp_lipschitz - tv = {lip['psnr'] - m['tv']['psnr']:+.2f} dB; Lipschitz bound "
            f"{lip['lipschitz']}, estimate {lip['lipschitz_estimate']:.4f}"
        )
    if out["tv_speedup_iters"] is not None:
        print(
            f"TV iterations to converged PSNR: {m['tv']['iters_to_converged']} vs "
            f"{m['tv_today']['iters_to_converged']} (today's solver)"
        )
    print(f"total {out['timing_cpu_s']['total_cpu']:.0f} CPU s, {out['timing_cpu_s']['total_wall']:.0f} s wall")
    if args.json:
        slim = json.loads(json.dumps(out))
        for m in slim["methods"].values():
            curve = m.pop("fp_residual_curve", None)
            if curve is not None:
                m["fp_residual_curve_every10"] = curve[::10]
        with open(args.json, "w") as fh:
            json.dump(slim, fh, indent=1)


if __name__ == "__main__":
    main()
