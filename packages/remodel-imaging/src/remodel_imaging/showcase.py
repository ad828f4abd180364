"""Showcase of remodel-imaging: TV reconstruction for deblurring, inpainting and MRI, and plug-and-play with a
certified 1-Lipschitz denoiser (fixed-point residual curves)."""

from __future__ import annotations

from pathlib import Path

from remodel_core import ShowcaseSection, Table, pyplot, solve

from ._data import camera
from ._metrics import psnr
from ._operators import GaussianBlur, Mask, SubsampledFourier
from ._problem import InverseProblem
from ._tv import TVPrimalDual


def showcase(out: Path, *, quick: bool = False, progress: bool = False) -> ShowcaseSection:
    """Reconstruct the cameraman from blurred, masked and Fourier-subsampled noisy data; writes a PNG.

    Examples
    --------
    >>> import tempfile
    >>> section = showcase(Path(tempfile.mkdtemp()), quick=True)   # doctest: +SKIP
    """
    plt = pyplot()

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    size, iters = (64, 150) if quick else (128, 400)
    x = camera(size)
    shape = tuple(x.shape)
    fourier = SubsampledFourier(SubsampledFourier.variable_density_mask(shape, fraction=0.25, seed=0))
    cases = [
        ("deblurring (Gaussian, sigma=1.5 px, noise 0.01)", GaussianBlur(shape, sigma=1.5), 0.01, 0.002),
        ("inpainting (50% pixels kept, noise 0.01)", Mask.random(shape, keep=0.5, seed=0), 0.01, 0.01),
        ("MRI (25% of k-space, noise 0.005)", fourier, 0.005, 0.002),
    ]
    rows, images, metrics = [], [], {}
    for i, (name, op, noise, lam) in enumerate(cases):
        prob = InverseProblem.simulate(op, x, noise_sigma=noise, seed=i)
        sol = solve(prob, TVPrimalDual(lam=lam), maxiters=iters, progress=progress)
        naive = op.adjoint(prob.y)  # blurred image / masked image / zero-filled reconstruction
        p0, p1 = psnr(naive, x), psnr(sol.u, x)
        rows.append([name, lam, sol.stats["iterations"], p0, p1, p1 - p0])
        images.append((name, naive, sol.u))
        metrics[f"psnr_gain_{['deblur', 'inpaint', 'mri'][i]}_db"] = p1 - p0

    fig, axes = plt.subplots(3, 3, figsize=(9, 9.4))
    for r, (name, naive, rec) in enumerate(images):
        for c, (img, title) in enumerate([(x, "ground truth"), (naive, "A* y"), (rec, "TV (primal-dual)")]):
            ax = axes[r, c]
            ax.imshow(img.numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"{title}" + ("" if c == 0 else f"\n{psnr(img, x):.2f} dB"), fontsize=9)
        axes[r, 0].set_ylabel(name.split(" (")[0])
    fig.tight_layout()
    fig.savefig(out / "imaging_reconstructions.png", dpi=100, bbox_inches="tight")
    plt.close(fig)

    # plug-and-play with a certified nonexpansive denoiser, trained here for a short while --------------------
    pnp_rows, curves = _pnp_section(x, quick=quick, progress=progress)
    n_img = len(curves)  # square images in narrow panels, a wider one for the residual curves (no blank gaps)
    fig, axes = plt.subplots(
        1, n_img + 1, figsize=(2.9 * n_img + 4.6, 3.3), gridspec_kw={"width_ratios": [1] * n_img + [1.6]}
    )
    for ax, (name, img) in zip(axes[:-1], curves.items()):
        ax.imshow(img[0].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"{name}\n{psnr(img[0], x):.2f} dB" if name != "ground truth" else name, fontsize=9)
    for name, img in curves.items():
        if img[1] is not None:
            axes[-1].semilogy(img[1], label=name)
    axes[-1].set_xlabel("iteration")
    axes[-1].set_title("fixed-point residual / relative change", fontsize=9)
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "imaging_pnp.png", dpi=100, bbox_inches="tight")
    plt.close(fig)

    table = Table(
        caption=f"TV reconstruction of the {size}x{size} cameraman (PSNR in dB)",
        header=["problem", "lambda", "iterations", "PSNR of A* y", "PSNR of TV", "gain"],
        rows=rows,
    )
    summary = (
        "Linear forward operators with exact adjoints (adjoint test to 1e-10 in float64) and total-variation "
        "reconstruction by the primal-dual algorithm of Chambolle & Pock (2011), run through `solve`. "
        "The naive reconstruction is the back-projection A* y (the degraded image, or the zero-filled "
        "inverse FFT for MRI)."
    )
    return ShowcaseSection(
        title="remodel-imaging: inverse problems with TV regularisation",
        summary=summary,
        tables=[
            table,
            Table(
                caption="Deblurring (Gaussian 1.5 px, noise 0.03): TV against plug-and-play",
                header=["method", "PSNR", "iterations", "final residual", "Lipschitz bound"],
                rows=pnp_rows,
            ),
        ],
        figures=[
            ("Degraded (A* y) vs TV-reconstructed images", Path("imaging_reconstructions.png")),
            ("Plug-and-play with a certified 1-Lipschitz denoiser, and residual curves", Path("imaging_pnp.png")),
        ],
        metrics=metrics,
    )


def _pnp_section(x, *, quick: bool, progress: bool):
    """TV, PnP with a trained 1-Lipschitz denoiser and with a DnCNN on one deblurring problem."""
    import torch

    from ._data import random_patches
    from ._denoisers import DnCNN, train_denoiser
    from ._lipschitz import LipschitzDenoiser, lipschitz_bound
    from ._pnp import PnPPGD

    steps = 40 if quick else 400
    patches = random_patches(300 if quick else 3000, 24 if quick else 32, seed=0)
    torch.manual_seed(0)
    lip = train_denoiser(
        LipschitzDenoiser(channels=4 if quick else 8, hidden=8 if quick else 16, depth=3 if quick else 6),
        patches,
        noise_sigma=0.03,
        iters=steps,
        lr=2e-3,
        progress=progress,
    ).u.eval()
    torch.manual_seed(0)
    dncnn = train_denoiser(
        DnCNN(depth=4 if quick else 6, features=8 if quick else 16),
        patches,
        noise_sigma=0.03,
        iters=steps,
        lr=2e-3,
        progress=progress,
    ).u.eval()
    prob = InverseProblem.simulate(GaussianBlur(tuple(x.shape), sigma=1.5), x, noise_sigma=0.03, seed=0)
    tv = solve(prob, TVPrimalDual(lam=0.003), maxiters=1000)
    p_lip = solve(prob, PnPPGD(denoiser=lip, step=1.9, relaxation=0.9, tol=1e-5), maxiters=300)
    p_dn = solve(prob, PnPPGD(denoiser=dncnn, step=1.9, relaxation=1.0, tol=1e-5), maxiters=300)
    rows = [
        ["TV (primal-dual)", psnr(tv.u, x), tv.stats["iterations"], tv.history["rel_change"][-1], "-"],
        [
            "PnP-PGD, 1-Lipschitz",
            psnr(p_lip.u, x),
            p_lip.stats["iterations"],
            p_lip.history["fp_residual"][-1],
            lipschitz_bound(lip.net),
        ],
        ["PnP-PGD, DnCNN", psnr(p_dn.u, x), p_dn.stats["iterations"], p_dn.history["fp_residual"][-1], "none"],
    ]
    curves = {
        "ground truth": (x, None),
        "observation": (prob.y, None),
        "TV": (tv.u, tv.history["rel_change"]),
        "PnP 1-Lipschitz": (p_lip.u, p_lip.history["fp_residual"]),
        "PnP DnCNN": (p_dn.u, p_dn.history["fp_residual"]),
    }
    return rows, curves
