"""Showcase of remodel-equivariant: accuracy against rotation angle on digits (native C8 group CNN against a plain
CNN, both trained on upright digits), feature maps rotating with the input, equivariance errors, and the
stability of ODE blocks."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
from remodel_core import ShowcaseSection, Table, TrainingProblem, pyplot, solve
from remodel_core.optim import Adam

from ._digits import digits_images, rotate_images
from ._equivariance import check_equivariance, equivariance_error, rot90
from ._gconv import GCNN
from ._ode import ODEResNet
from ._pde import PDEGCNN
from ._stable import HamiltonianBlock, ParabolicBlock
from ._steerable import PlainCNN


def _train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, iters: int, progress: bool) -> torch.nn.Module:
    prob = TrainingProblem(
        model=model,
        loss=lambda m, xb, yb: F.cross_entropy(m(xb), yb),
        data=(x, y),
        batch_size=64,
        name=type(model).__name__,
    )
    return solve(prob, Adam(lr=3e-3), maxiters=iters, seed=0, progress=progress).u.eval()


def _accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def _growth(blocks: list, x: torch.Tensor, delta: torch.Tensor) -> list[float]:
    """``||F_l(x + δ) - F_l(x)|| / ||δ||`` after each of the blocks ``F_1 ... F_L``."""
    a, b, out = x, x + delta, []
    with torch.no_grad():
        for block in blocks:
            a, b = block(a), block(b)
            out.append(float((a - b).norm() / delta.norm()))
    return out


def showcase(out: Path, *, quick: bool = False, progress: bool = False) -> ShowcaseSection:
    """Train a native C8 group CNN and a plain CNN on upright digits and measure accuracy against the rotation
    angle of the test digits; show feature maps rotating with the input; measure equivariance errors of every
    native model and perturbation growth through stable ODE blocks.

    Examples
    --------
    >>> import tempfile
    >>> section = showcase(Path(tempfile.mkdtemp()), quick=True)   # doctest: +SKIP
    """
    plt = pyplot()

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)

    # 1. digits trained upright, tested at every angle
    x, y = digits_images(29)
    n_train = 1200
    iters = 150 if quick else 400
    x_train, y_train, x_test, y_test = x[:n_train], y[:n_train], x[1200:1500], y[1200:1500]
    torch.manual_seed(0)
    fields = (4, 8) if quick else (4, 8, 8)
    models = {
        "plain CNN": PlainCNN(N=8, hidden=fields, out_features=10, kernel_size=5),
        "C8 group CNN (native)": GCNN("C8", hidden=fields, out_features=10, kernel_size=5),
    }
    trained = {name: _train(m, x_train, y_train, iters, progress) for name, m in models.items()}
    angles = list(range(0, 361, 30 if quick else 15))
    curves = {
        name: [_accuracy(m, rotate_images(x_test, math.radians(a)), y_test) for a in angles]
        for name, m in trained.items()
    }

    # 2. equivariance errors of every native model (exact elements) and of a plain CNN
    probe = torch.randn(4, 1, 21, 21, generator=gen)
    torch.manual_seed(1)
    zoo = [
        ("GCNN C8", GCNN("C8", hidden=(2, 2), out_features=10, kernel_size=5), "C8"),
        ("GCNN D8", GCNN("D8", hidden=(2, 2), out_features=10, kernel_size=5), "D8"),
        ("ODE-ResNet C8 (parabolic)", ODEResNet("C8", widths=(2, 2), depth=2, out_features=10), "C8"),
        ("PDE-G-CNN C8", PDEGCNN("C8", hidden=(2, 2), out_features=10), "C8"),
        ("plain CNN", PlainCNN(N=4, hidden=(2, 2), out_features=10), "C4"),
    ]
    rows, metrics = [], {}
    for name, model, group in zoo:
        model.eval()
        err = check_equivariance(model, group, probe)
        rows.append([name, group, err, sum(p.numel() for p in model.parameters())])
        metrics[f"equiv_error_{name.split(' ')[0]}_{group}"] = err
    for name, curve in curves.items():
        key = "c8" if "C8" in name else "cnn"
        metrics[f"acc_upright_{key}"] = curve[0]
        metrics[f"acc_mean_over_angles_{key}"] = sum(curve) / len(curve)

    # 3. feature maps rotate with the input
    maps = GCNN("C8", hidden=(2,), kernel_size=5, pool=False, downsample=False).eval()
    digit = x_test[:1]
    with torch.no_grad():
        fm, fm_rot = maps(digit)[0, 0], maps(torch.rot90(digit, 1, (-2, -1)))[0, 0]
    metrics["feature_map_rotation_error"] = equivariance_error(maps, rot90(1), digit, output_action=rot90(1))

    # 4. stability: growth of a perturbation through L blocks with the same random convolution weights
    depth, channels = (16 if quick else 64), 4
    torch.manual_seed(1)
    parabolic = [ParabolicBlock(channels, kernel_size=3) for _ in range(depth)]
    for block in parabolic:
        block.h = 0.9 * block.stable_step((16, 16))
    hamiltonian = [HamiltonianBlock(channels // 2, h=0.2) for _ in range(depth)]

    def plain_block(block: ParabolicBlock):  # y + h relu(K y + b): a generic residual block, same K and h
        return lambda y: y + block.h * torch.relu(F.conv2d(y, block.weight, block.bias, padding=1))

    plain = [plain_block(b) for b in parabolic]
    y0 = torch.randn(1, channels, 16, 16, generator=gen)
    delta = 1e-3 * torch.randn(1, channels, 16, 16, generator=gen)
    growth = {
        "plain residual": _growth(plain, y0, delta),
        "parabolic": _growth(parabolic, y0, delta),
        "Hamiltonian": _growth(hamiltonian, y0, delta),
    }
    for name, g in growth.items():
        metrics[f"growth_{name.replace(' ', '_')}"] = g[-1]

    fig, axes = plt.subplots(1, 4, figsize=(17, 4), gridspec_kw={"width_ratios": [1.6, 0.8, 0.8, 1.4]})
    for name, curve in curves.items():
        axes[0].plot(angles, curve, "o-", ms=3, label=name)
    axes[0].set(
        xlabel="rotation of the test digits (degrees)",
        ylabel="accuracy",
        ylim=(0, 1.25),
        title="trained on upright digits only",
    )
    axes[0].set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    axes[0].set_xticks(range(0, 361, 45))
    axes[0].legend(loc="upper center", ncol=2, fontsize=8)
    axes[1].imshow(fm.numpy(), cmap="viridis")
    axes[1].set_title("C8 feature map", fontsize=9)
    axes[2].imshow(fm_rot.numpy(), cmap="viridis")
    axes[2].set_title("... of the digit rotated 90°", fontsize=9)
    for ax in axes[1:3]:
        ax.set_xticks([])
        ax.set_yticks([])
    for name, g in growth.items():
        axes[3].semilogy(range(1, depth + 1), g, "o-", ms=3, label=name)
    axes[3].set(xlabel="depth", ylabel="||F(x+δ) - F(x)|| / ||δ||", title="perturbation growth through blocks")
    axes[3].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "equivariant_errors.png", dpi=100, bbox_inches="tight")
    plt.close(fig)

    acc_rows = [
        [name, curve[0], curves[name][angles.index(90)], sum(curve) / len(curve)] for name, curve in curves.items()
    ]
    tables = [
        Table(
            caption=f"Digits 29x29, {n_train} upright training images, {iters} Adam steps; accuracy on "
            f"{len(x_test)} test digits",
            header=["model", "upright", "rotated 90°", "mean over angles"],
            rows=acc_rows,
        ),
        Table(
            caption=f"Equivariance errors to the exact group elements on {probe.shape[0]} random 21x21 images",
            header=["model", "group", "relative error", "parameters"],
            rows=rows,
        ),
        Table(
            caption=f"Perturbation growth after {depth} blocks",
            header=["block", "growth"],
            rows=[[k, v[-1]] for k, v in growth.items()],
        ),
    ]
    summary = (
        "Native group CNNs (plain torch, band-limited kernels) are invariant to the exact rotations of their "
        "group to float32 round-off and generalise from upright digits to rotated ones, where a plain CNN of the "
        "same layout fails; their feature maps rotate with the input. Parabolic blocks (Ruthotto & Haber 2020) "
        "with h below 2/||K||^2 are non-expansive, Hamiltonian blocks neither grow nor damp perturbations, while "
        "generic residual blocks with the same weights amplify them."
    )
    c8, cnn = curves["C8 group CNN (native)"], curves["plain CNN"]
    headline = (
        f"C8 group CNN: {sum(c8) / len(c8):.0%} mean accuracy over rotation angles against "
        f"{sum(cnn) / len(cnn):.0%} for a plain CNN (both trained upright)"
    )
    return ShowcaseSection(
        title="remodel-equivariant: group CNNs and stable networks",
        summary=summary,
        tables=tables,
        headline=headline,
        figures=[
            (
                "Accuracy against rotation angle; C8 feature maps rotate with the input; "
                "perturbation growth with depth",
                Path("equivariant_errors.png"),
            )
        ],
        metrics=metrics,
    )
