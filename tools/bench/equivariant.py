"""Equivariant networks on rotated digits (issue 18, item 5).

scikit-learn's digits upsampled to 29x29 (padded so that rotated digits stay in the frame); every model is trained
on upright digits only (the first 1,200 images) and tested on the other 597: upright, rotated by a random multiple
of 90° per image, and rotated by a random angle per image (bilinear). One training recipe for every model
(``CosineAdam`` through ``remodel_core.solve``): Adam, lr 3e-3, the step size decayed by a half-cosine to 0 over
20 epochs of batch 64, the same seeds (initialisation and batch order). Models: a plain CNN of the same layout
(``cnn``), native group CNNs for C8 and D8 (``c8``, ``d8``), escnn's C8 steerable CNN with the same layout
(``c8_escnn``: the same batch norm per field, ReLU, stride-2 equivariant pooling, group max pooling, spatial max
pooling and linear head; only the convolutions differ), the C8-equivariant stable ODE-ResNet with parabolic blocks
(``ode_resnet``) and the C8 PDE-based group CNN with diffusion and morphological layers (``pde_gcnn``, with
convection). ``--seed-models`` (default ``c8`` and ``c8_escnn``) are trained with every seed of ``--seeds``
(default 0-4): mean, spread, and a paired comparison against ``c8_escnn`` on the same seeds (``paired``).
``--matched``: parameter-matched C8 models (native wider or with the full group axis against escnn's 8,642
parameters) over ``--seeds``. Also: parameters, training time (wall and CPU), construction time (escnn: cold,
with an empty basis cache, in a fresh process, and warm), and the equivariance error to the exact group elements
(float32, ``check_equivariance``).

    uv run --frozen python tools/bench/equivariant.py --json docs/bench/equivariant.json
    uv run --frozen python tools/bench/equivariant.py --models --matched --json docs/bench/equivariant.json --update
    uv run --frozen python tools/bench/equivariant.py --quick
    uv run --frozen python tools/bench/equivariant.py --models --gap-study --json docs/bench/equivariant.json --update

``--gap-study``: the controlled native-vs-escnn study (``GAP_STUDY``, over ``--seeds``): the initial scale of the
native default, and native C8 with escnn's kernel space started from escnn's exact initial network in three
coordinate systems along the group axis (per element, unit-norm, orthonormal Fourier).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from remodel_core import TrainingProblem, solve
from remodel_core.optim import Adam
from remodel_equivariant import (
    GCNN,
    PDEGCNN,
    GroupConv2d,
    LiftingConv2d,
    ODEResNet,
    SteerableCNN,
    check_equivariance,
)
from remodel_equivariant._digits import digits_images, random_angles, rotate_images
from torch import nn

N_TRAIN = 1200
DE_MODELS = ("ode_resnet", "pde_gcnn")  # networks as differential equations: a longer training budget

# Parameter-matched C8 models (escnn's C8 with (4, 8, 8) fields has 8,642 parameters): native with the default
# group band-limit and wider fields, and native with the full (unconstrained) group axis and escnn's widths, which
# spans the same kernel space as escnn's basis (Gaussian rings x harmonics m <= 2) and has exactly its count.
MATCHED = {
    "c8_escnn_m": lambda quick: SteerableCNN(
        N=8,
        hidden=(2, 4, 4) if quick else (4, 8, 8),
        out_features=10,
        kernel_size=5,
        batch_norm=True,
        downsample=True,
        global_pool="max",
    ),
    "c8_wide": lambda quick: GCNN("C8", hidden=(3, 5, 5) if quick else (5, 10, 10), out_features=10, kernel_size=5),
    "c8_full": lambda quick: GCNN(
        "C8", hidden=(2, 4, 4) if quick else (4, 8, 8), out_features=10, kernel_size=5, group_bandwidth=None
    ),
    # the same, with escnn's ring widths (a delta at r = 0, sigma 0.4 on the outer ring): escnn's exact kernel space
    "c8_full_escnn_rings": lambda quick: GCNN(
        "C8",
        hidden=(2, 4, 4) if quick else (4, 8, 8),
        out_features=10,
        kernel_size=5,
        group_bandwidth=None,
        basis="escnn",
    ),
}


def _scaled(model: nn.Module, gain: float) -> nn.Module:
    """``model`` with the weights of its lifting and group convolutions multiplied by ``gain`` (the batch norm
    after every convolution makes the function unchanged; Adam's steps relative to the filters scale by
    ``1 / gain``)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LiftingConv2d):
                m.weight.mul_(gain)
            if isinstance(m, GroupConv2d):
                m.coef.mul_(gain)
    return model


def _basis_matrix(layer: nn.Module) -> torch.Tensor:
    """``d filter / d weight`` of a one-field layer (the filter is linear in the weights), float64."""
    param = layer.weight if isinstance(layer, LiftingConv2d) else layer.coef
    cols = []
    with torch.no_grad():
        for i in range(param.numel()):
            param.zero_()
            param.view(-1)[i] = 1.0
            cols.append(layer.filter().reshape(-1).double().clone())
    return torch.stack(cols, 1)


def escnn_initialised_native(coordinates: str = "group") -> nn.Module:
    """Native C8 (4, 8, 8) with escnn's kernel space (escnn ring widths, full group axis) whose initial function
    is exactly escnn's C8 drawn from the same random state: escnn's initial filters are projected on the native
    basis (residual ~1e-7, they lie in its span), its head copied. Training then differs only by the coordinates
    Adam works in: ``"group"`` (native: one kernel per relative group element), ``"unit"`` (the same, every
    weight's expanded filter of unit norm, escnn's basis normalisation) or ``"fourier"`` (orthonormal real
    Fourier modes along the group axis, the coordinates of escnn's irrep blocks)."""
    esc = build("c8_escnn", False)  # draws escnn's initialisation from the current random state
    nat = GCNN(
        "C8",
        hidden=(4, 8, 8),
        out_features=10,
        kernel_size=5,
        basis="escnn",
        group_bandwidth=None,
        unit_columns=coordinates == "unit",
        group_coordinates="fourier" if coordinates == "fourier" else "group",
    )
    convs = [m for m in nat.modules() if isinstance(m, LiftingConv2d | GroupConv2d)]
    nat_coords = "fourier" if coordinates == "fourier" else "group"
    with torch.no_grad():
        for block, conv in zip(esc.blocks, convs):
            target = block[0].expand_parameters()[0].detach().double()  # [out * 8, in * 8, 5, 5]
            o, c = conv.out_channels, conv.in_channels
            lift = isinstance(conv, LiftingConv2d)
            unit = (LiftingConv2d if lift else GroupConv2d)(
                1,
                1,
                "C8",
                kernel_size=5,
                basis="escnn",
                bias=False,
                unit_columns=coordinates == "unit",
                **({} if lift else {"group_bandwidth": None, "group_coordinates": nat_coords}),
            )
            if not lift:
                unit.coef = nn.Parameter(unit.coef.detach().contiguous())
            a = _basis_matrix(unit)
            shape = (o, 8, c, 25) if lift else (o, 8, c, 8, 25)
            perm = (0, 2, 1, 3) if lift else (0, 2, 1, 3, 4)
            blocks = target.reshape(shape).permute(perm).reshape(o * c, -1)
            sol = torch.linalg.lstsq(a, blocks.T).solution.T.float()
            param = conv.weight if lift else conv.coef
            param.copy_(sol.reshape(param.shape))
        nat.head.linear.weight.copy_(esc.head.weight)
        nat.head.linear.bias.copy_(esc.head.bias)
    return nat


# Controlled study of the native-vs-escnn gap (``--gap-study``): one ingredient changed at a time.
GAP_STUDY = {
    # the initial filter energy per output map (``init_gain``): He's 2, escnn's generalised He (1 per output
    # map of its group convolutions), torch's nn.Conv2d default 1/3 (the default since the gain study)
    "c8_gain2": lambda quick: GCNN("C8", hidden=_widths(quick), out_features=10, kernel_size=5, init_gain=2.0),
    "c8_gain1": lambda quick: GCNN("C8", hidden=_widths(quick), out_features=10, kernel_size=5, init_gain=1.0),
    # the full group axis (escnn's kernel space and parameter count) with the default initialisation
    "c8_full_default": lambda quick: GCNN(
        "C8", hidden=_widths(quick), out_features=10, kernel_size=5, group_bandwidth=None
    ),
    "c8_init3": lambda quick: _scaled(build("c8", quick), 3.0),
    "c8_init0.33": lambda quick: _scaled(build("c8", quick), 1 / 3),
    "c8_escnn_init": lambda quick: escnn_initialised_native("group"),
    "c8_escnn_init_unit": lambda quick: escnn_initialised_native("unit"),
    "c8_escnn_init_fourier": lambda quick: escnn_initialised_native("fourier"),
}


class PlainCNN(nn.Module):
    """The same layout as GCNN without symmetry: conv-BN-ReLU blocks with stride-2 average pooling between them,
    then global max pooling and a linear layer."""

    def __init__(self, hidden: tuple[int, ...], kernel_size: int = 5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for i, c in enumerate(hidden):
            k = kernel_size if i == 0 else 3
            layers += [nn.Conv2d(c_in, c, k, padding=k // 2), nn.BatchNorm2d(c), nn.ReLU()]
            if i + 1 < len(hidden):
                layers.append(nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False))
            c_in = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).amax(dim=(-2, -1)))


def _widths(quick: bool) -> tuple[int, ...]:
    return (2, 4, 4) if quick else (4, 8, 8)


def build(name: str, quick: bool) -> nn.Module:
    """The model ``name``: kernel size 5 in every group convolution (as escnn's), width ``f`` fields."""
    f = _widths(quick)
    if name in MATCHED:
        return MATCHED[name](quick)
    if name in GAP_STUDY:
        return GAP_STUDY[name](quick)
    if name == "cnn":
        return PlainCNN(tuple(8 * c for c in f))  # as many channels as C8's fields have maps
    if name == "c8":
        return GCNN("C8", hidden=f, out_features=10, kernel_size=5)
    if name == "d8":
        return GCNN("D8", hidden=f, out_features=10, kernel_size=5)
    if name == "c8_escnn":
        return SteerableCNN(
            N=8, hidden=f, out_features=10, kernel_size=5, batch_norm=True, downsample=True, global_pool="max"
        )
    if name == "ode_resnet":
        return ODEResNet("C8", widths=f[:2], depth=2, out_features=10, kernel_size=3)
    if name == "pde_gcnn":
        return PDEGCNN("C8", hidden=f, out_features=10, kernel_size=3)
    raise ValueError(name)


def escnn_build_times(quick: bool, cpu: bool = False) -> tuple[float, float]:
    """Construction time of the escnn C8 model in a fresh process with an empty basis cache (cold), then again
    in another fresh process with the cache filled (warm): wall seconds, or with ``cpu`` the pair of
    ``(wall, cpu)`` pairs (``time.process_time``, robust to other jobs on the machine)."""
    code = (
        "import sys, time; sys.path.insert(0, 'tools/bench'); import equivariant as b; "
        "from remodel_equivariant._escnn import escnn_modules; escnn_modules(); "
        f"t, c = time.perf_counter(), time.process_time(); b.build('c8_escnn', {quick!r}); "
        "print(time.perf_counter() - t, time.process_time() - c)"
    )
    times = []
    with tempfile.TemporaryDirectory() as cache:
        env = {**__import__("os").environ, "REMODEL_CACHE_DIR": cache, "OMP_NUM_THREADS": "1"}
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
            wall, cpu_s = (float(v) for v in out.stdout.strip().splitlines()[-1].split())
            times.append((wall, cpu_s) if cpu else wall)
    return times[0], times[1]


def build_times(quick: bool, repeats: int = 5) -> dict[str, float]:
    """Construction times in seconds: native C8 and escnn C8 (the benchmark's models and a wide (16, 32, 64) one),
    best of ``repeats`` in this process after a first build, and escnn's first build in a fresh process with an
    empty (cold) and a filled (warm) basis cache."""
    from remodel_equivariant._escnn import escnn_modules

    escnn_modules()

    cpu_best: dict[str, float] = {}

    def best(key: str, make) -> float:
        times, cpus = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            make()
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        cpu_best[key + "_cpu"] = min(cpus)
        return min(times)

    (cold, cold_cpu), (warm, warm_cpu) = escnn_build_times(quick, cpu=True)
    out = {
        "c8_native_best": best("c8_native_best", lambda: build("c8", quick)),
        "c8_escnn_best": best("c8_escnn_best", lambda: build("c8_escnn", quick)),
        "c8_escnn_fresh_cold": cold,
        "c8_escnn_fresh_warm": warm,
        "wide_native_best": best("wide_native_best", lambda: GCNN("C8", hidden=(16, 32, 64), kernel_size=5)),
        "wide_escnn_best": best("wide_escnn_best", lambda: SteerableCNN(N=8, hidden=(16, 32, 64), kernel_size=5)),
    }
    out.update(cpu_best, c8_escnn_fresh_cold_cpu=cold_cpu, c8_escnn_fresh_warm_cpu=warm_cpu)
    out["speedup_best"] = out["c8_escnn_best"] / out["c8_native_best"]
    out["speedup_fresh_warm"] = out["c8_escnn_fresh_warm"] / out["c8_native_best"]
    out["speedup_fresh_cold"] = out["c8_escnn_fresh_cold"] / out["c8_native_best"]
    out["speedup_wide"] = out["wide_escnn_best"] / out["wide_native_best"]
    for key in ("best", "fresh_warm", "fresh_cold"):  # the same ratios in CPU seconds
        out[f"speedup_{key}_cpu"] = out[f"c8_escnn_{key}_cpu"] / out["c8_native_best_cpu"]
    out["speedup_wide_cpu"] = out["wide_escnn_best_cpu"] / out["wide_native_best_cpu"]
    return out


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def _loss(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(model(xb), yb)


class _CosineAdam(torch.optim.Adam):
    """``torch.optim.Adam`` whose step size follows a half-cosine from ``lr`` at the first step to 0 after
    ``total`` steps (Loshchilov & Hutter, "SGDR", ICLR 2017, without restarts)."""

    def __init__(self, params: Any, *, total: int, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self._total, self._count = total, 0
        self._base = [g["lr"] for g in self.param_groups]

    def step(self, closure: Any = None) -> Any:
        scale = 0.5 * (1.0 + math.cos(math.pi * min(self._count, self._total) / self._total))
        for group, base in zip(self.param_groups, self._base):
            group["lr"] = base * scale
        self._count += 1
        return super().step(closure)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CosineAdam(Adam):
    """The benchmark's training recipe, the same for every model: Adam (``lr``, torch's defaults otherwise) with
    the step size decayed by a half-cosine to 0 over ``total`` iterations (``total = 0``: constant step)."""

    total: int = 0

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        if self.total <= 0:
            return super().make_optimizer(model)
        params = [p for p in model.parameters() if p.requires_grad]
        return _CosineAdam(params, total=self.total, lr=self.lr, betas=self.betas, eps=self.eps)


RECIPE = {"lr": 3e-3, "schedule": "cosine"}  # set by main from --lr / --schedule


def run_model(
    name: str, quick: bool, seed: int, iters: int, batch: int, data: tuple, *, verbose: bool = True
) -> dict[str, Any]:
    """Build ``name`` with ``seed``, train it on the upright digits, evaluate it; ``train_cpu_s`` is the training's
    CPU time (``time.process_time``, one thread), less sensitive than ``train_s`` to other jobs on the machine."""
    x_train, y_train, x_test, y_test, x_rot90, x_rand = data
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    model = build(name, quick)
    build_s = time.perf_counter() - t0
    prob = TrainingProblem(model=model, loss=_loss, data=(x_train, y_train), batch_size=batch, name=name)
    t0, c0 = time.perf_counter(), time.process_time()
    total = iters if RECIPE["schedule"] == "cosine" else 0
    sol = solve(prob, CosineAdam(lr=RECIPE["lr"], total=total), maxiters=iters, seed=seed, progress=False)
    train_s, train_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    trained = sol.u.eval()
    group = "D8" if name == "d8" else "C8"
    row = {
        "acc_upright": evaluate(trained, x_test, y_test),
        "acc_rot90": evaluate(trained, x_rot90, y_test),
        "acc_rot_random": evaluate(trained, x_rand, y_test),
        "params": sum(p.numel() for p in trained.parameters()),
        "equiv_err": check_equivariance(trained, group, x_test[:8]),
        "train_s": train_s,
        "train_cpu_s": train_cpu_s,
        "build_s": build_s,
        "iterations": iters,
    }
    if verbose:
        print(
            f"{name:<11} {row['acc_upright']:8.3f} {row['acc_rot90']:8.3f} {row['acc_rot_random']:8.3f} "
            f"{row['params']:8d} {row['equiv_err']:10.2e} {train_s:8.1f} {train_cpu_s:8.1f} {build_s:8.3f}",
            flush=True,
        )
    return row


def _summary(rows: list[dict[str, Any]], seeds: list[int]) -> dict[str, Any]:
    """Per-seed figures of one model, their mean and sample standard deviation."""
    entry: dict[str, Any] = {"params": rows[0]["params"], "seeds": seeds}
    for key in ("acc_upright", "acc_rot90", "acc_rot_random", "equiv_err", "train_cpu_s"):
        vals = torch.tensor([r[key] for r in rows], dtype=torch.float64)
        entry[key] = vals.tolist()
        entry[key + "_mean"] = float(vals.mean())
        entry[key + "_std"] = float(vals.std()) if len(vals) > 1 else 0.0
    return entry


def _summary_line(name: str, entry: dict[str, Any]) -> str:
    return (
        f"{name:<11} upright {entry['acc_upright_mean']:.3f} ± {entry['acc_upright_std']:.3f}  "
        f"random {entry['acc_rot_random_mean']:.3f} ± {entry['acc_rot_random_std']:.3f}  "
        f"params {entry['params']}  cpu {entry['train_cpu_s_mean']:.0f} s  (seeds {entry['seeds']})"
    )


def matched_study(
    quick: bool, seeds: list[int], iters: int, batch: int, data: tuple, names: list[str] | None = None
) -> dict[str, Any]:
    """The parameter-matched C8 models of ``MATCHED``, each trained with every seed (initialisation and batch
    order; the test rotations stay those of seed 0): per-seed figures, mean and sample standard deviation."""
    print(f"parameter-matched C8, seeds {seeds}")
    study: dict[str, Any] = {}
    for name in names or MATCHED:
        rows = [run_model(name, quick, s, iters, batch, data) for s in seeds]
        study[name] = _summary(rows, seeds)
        print(_summary_line(name, study[name]), flush=True)
    return study


def paired(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Paired comparison of two seed studies on their common seeds (the same seed gives both models the same batch
    order): per-seed differences ``a - b`` of the accuracies, their mean and sample standard deviation, and
    wins/ties/losses of ``a``."""
    common = [s for s in a["seeds"] if s in b["seeds"]]
    out: dict[str, Any] = {"seeds": common}
    for key in ("acc_upright", "acc_rot_random"):
        d = torch.tensor(
            [a[key][a["seeds"].index(s)] - b[key][b["seeds"].index(s)] for s in common], dtype=torch.float64
        )
        out[key + "_diff"] = d.tolist()
        out[key + "_diff_mean"] = float(d.mean())
        out[key + "_diff_std"] = float(d.std()) if len(d) > 1 else 0.0
        tol = 0.5 / 597  # below one test image: a tie
        out[key + "_wtl"] = [int((d > tol).sum()), int((d.abs() <= tol).sum()), int((d < -tol).sum())]
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small models, two epochs (about a minute)")
    ap.add_argument("--json", type=Path, help="write the figures to this JSON file")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument(
        "--de-epochs",
        type=int,
        default=None,
        help="epochs of the ODE-ResNet and the PDE-G-CNN (default: --epochs, the same recipe as every model)",
    )
    ap.add_argument("--lr", type=float, default=3e-3, help="Adam's initial step size (every model)")
    ap.add_argument(
        "--schedule",
        choices=("cosine", "constant"),
        default="cosine",
        help="step-size schedule of every model: half-cosine decay to 0 over the run (default) or constant",
    )
    ap.add_argument("--models", nargs="*", default=["cnn", "c8", "d8", "c8_escnn", "ode_resnet", "pde_gcnn"])
    ap.add_argument("--build-only", action="store_true", help="only the construction times (best of 5)")
    ap.add_argument("--matched", action="store_true", help="also the parameter-matched C8 study over --seeds")
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument(
        "--seed-models",
        nargs="*",
        default=["c8", "c8_escnn"],
        help="models of --models trained with every seed of --seeds (seed_study; paired native-vs-escnn "
        "comparison on the same seeds); the others with --seed only",
    )
    ap.add_argument("--matched-models", nargs="*", default=None, help="only these models of the matched study")
    ap.add_argument(
        "--gap-study",
        nargs="*",
        default=None,
        help="the controlled native-vs-escnn study over --seeds (models of GAP_STUDY; none named: all)",
    )
    ap.add_argument(
        "--seed-study",
        action="store_true",
        help="train every model of --models with each of --seeds (the row is the first seed's; mean and spread "
        "in seed_study)",
    )
    ap.add_argument(
        "--update",
        action="store_true",
        help="merge into an existing --json file (rows of the models run here are replaced)",
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.build_only:
        times = build_times(args.quick)
        for k, v in times.items():
            print(f"{k:<22} {v:10.4f}")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"build": times, "machine": platform.platform()}, indent=2))
        return times
    epochs = args.epochs or (2 if args.quick else 20)
    RECIPE.update(lr=args.lr, schedule=args.schedule)
    batch = 64
    x, y = digits_images(29)
    x_train, y_train, x_test, y_test = x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]
    gen = torch.Generator().manual_seed(args.seed + 1)
    k90 = torch.randint(0, 4, (len(x_test),), generator=gen)
    x_rot90 = torch.stack([torch.rot90(img, int(k), (-2, -1)) for img, k in zip(x_test, k90)])
    x_rand = rotate_images(x_test, random_angles(len(x_test), seed=args.seed + 2).float())
    data = (x_train, y_train, x_test, y_test, x_rot90, x_rand)
    iters = epochs * math.ceil(N_TRAIN / batch)
    de_epochs = args.de_epochs or epochs
    de_iters = de_epochs * math.ceil(N_TRAIN / batch)
    out: dict[str, Any] = {
        "task": "digits 29x29, trained upright, tested rotated",
        "epochs": epochs,
        "de_epochs": de_epochs,
        "batch": batch,
        "iterations": iters,
        "n_train": N_TRAIN,
        "n_test": len(x_test),
        "machine": platform.platform(),
        "recipe": f"Adam lr {args.lr:g}, {args.schedule} step size over the run, batch {batch}, same seeds",
        "models": {},
    }

    print(
        f"{'model':<11} {'upright':>8} {'rot90':>8} {'random':>8} {'params':>8} {'equiv err':>10} "
        f"{'train s':>8} {'cpu s':>8} {'build s':>8}"
    )
    seed_study: dict[str, Any] = {}
    for name in args.models:
        many = args.seed_study or name in args.seed_models
        seeds = args.seeds if many else [args.seed]
        n_iters = de_iters if name in DE_MODELS else iters
        rows = [run_model(name, args.quick, s, n_iters, batch, data) for s in seeds]
        row = rows[0]
        if many:
            seed_study[name] = _summary(rows, seeds)
            out["seed_study"] = seed_study
            print(_summary_line(name, seed_study[name]), flush=True)
        if name == "c8_escnn":
            row["build_s_cold"], row["build_s_warm"] = escnn_build_times(args.quick)
            row["build_s"] = row["build_s_warm"]
        row["epochs"] = de_epochs if name in DE_MODELS else epochs
        out["models"][name] = row
        write(args, out)  # after every model, so that a run stopped early keeps what it measured
    if args.matched:
        out["matched"] = matched_study(args.quick, args.seeds, iters, batch, data, args.matched_models)
    if args.gap_study is not None:
        out["gap_study"] = matched_study(args.quick, args.seeds, iters, batch, data, args.gap_study or list(GAP_STUDY))
    if "c8_escnn" in seed_study:
        out["paired"] = {
            name: paired(seed_study[name], seed_study["c8_escnn"]) for name in seed_study if name != "c8_escnn"
        }
        for name, p in out["paired"].items():
            print(
                f"{name} - c8_escnn on seeds {p['seeds']}: upright {p['acc_upright_diff_mean']:+.4f} "
                f"± {p['acc_upright_diff_std']:.4f} (wins/ties/losses {p['acc_upright_wtl']}), random "
                f"{p['acc_rot_random_diff_mean']:+.4f} ± {p['acc_rot_random_diff_std']:.4f} "
                f"(wins/ties/losses {p['acc_rot_random_wtl']})"
            )
        write(args, out)
    m = out["models"]
    if "c8" in m and "c8_escnn" in m:
        out["build_speedup_c8_vs_escnn_warm"] = m["c8_escnn"]["build_s_warm"] / m["c8"]["build_s"]
        out["build_speedup_c8_vs_escnn_cold"] = m["c8_escnn"]["build_s_cold"] / m["c8"]["build_s"]
        print(
            f"C8 build: native {m['c8']['build_s']:.3f} s, escnn warm {m['c8_escnn']['build_s_warm']:.2f} s, "
            f"cold {m['c8_escnn']['build_s_cold']:.2f} s"
        )
    write(args, out)
    return out


def write(args: argparse.Namespace, out: dict[str, Any]) -> None:
    """Write ``out`` to ``--json`` (with ``--update``: merged into the file's rows as it was when the run began)."""
    if not args.json:
        return
    if args.update:
        if not hasattr(args, "_old"):
            args._old = json.loads(args.json.read_text()) if args.json.exists() else {"models": {}}
        merged = {**args._old, **{k: v for k, v in out.items() if k != "models"}}
        merged["models"] = {**args._old.get("models", {}), **out["models"]}
        for key in ("seed_study", "gap_study", "matched", "paired"):  # studies: merged model by model
            if key in out and key in args._old:
                merged[key] = {**args._old[key], **out[key]}
        out = merged
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
