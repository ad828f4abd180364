"""Probe B (issue 17): certified 1-Lipschitz denoiser from orthogonal convolutions (Cayley transform in the Fourier
domain, Trockman & Kolter, ICLR 2021) and MaxMin/GroupSort activations (Anil, Lucas & Grosse, ICML 2019),
averaged form D = (1-a) x + a N(x), trained at the PnP-PGD fixed point (deep equilibrium, Gilton et al. 2021,
Jacobian-free backprop, Fung et al. 2022) on the deblurring task;
evaluated with PnPPGD at 128x128 in float64. A one-off probe, not a bench:

    OMP_NUM_THREADS=1 uv run --frozen python tools/bench/probes/imaging_ortho_groupsort.py --budget 780 --crops 256
"""

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from remodel_core import solve
from remodel_imaging import (
    GaussianBlur,
    PnPPGD,
    camera,
    lipschitz_estimate,
    load_image,
    psnr,
    random_patches,
)
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from imaging import BLUR, NOISE, problem  # noqa: E402  (the bench's task: blur, noise, seeds)

torch.set_num_threads(1)


class CayleyConv(nn.Module):
    """Orthogonal circular C->C convolution: per frequency Q(w) = (I + A)^{-1} (I - A), A = skew-Hermitian part
    of the k x k kernel's symbol on the n1 x n2 grid."""

    def __init__(self, C, k, init=0.05):
        super().__init__()
        self.k = k
        self.weight = nn.Parameter(torch.randn(C, C, k, k) * init / (C * k * k) ** 0.5)
        self.bias = nn.Parameter(torch.zeros(C))

    def symbol(self, n1, n2, dtype, full=False):
        C, k = self.weight.shape[0], self.k
        W = self.weight.to(dtype)
        pad = F.pad(W, (0, n2 - k, 0, n1 - k)).roll((-(k // 2), -(k // 2)), dims=(-2, -1))
        S = (torch.fft.fft2(pad) if full else torch.fft.rfft2(pad)).permute(2, 3, 0, 1)  # (n1, m, C, C)
        A = 0.5 * (S - S.conj().transpose(-1, -2))
        eye = torch.eye(C, dtype=A.dtype)
        return torch.linalg.solve(eye + A, eye - A)

    def apply(self, z, Q):
        zh = torch.fft.rfft2(z)
        yh = torch.einsum("nmoi,binm->bonm", Q, zh)
        return torch.fft.irfft2(yh, s=z.shape[-2:]) + self.bias.to(z.dtype)[:, None, None]


def maxmin(z):
    a, b = z.chunk(2, dim=1)
    return torch.cat([torch.maximum(a, b), torch.minimum(a, b)], dim=1)


class OrthoGroupSortDenoiser(nn.Module):
    def __init__(self, channels=16, layers=6, kernel_size=3, alpha=0.9, init=0.05, act="maxmin"):
        super().__init__()
        self.C, self.act = channels, act
        if act == "soft":  # per-channel soft thresholds softplus(t) > 0 (1-Lipschitz, firmly nonexpansive)
            self.thr = nn.Parameter(torch.full((layers - 1, channels), math.log(math.expm1(0.01))))
        self.layers = nn.ModuleList([CayleyConv(channels, kernel_size, init) for _ in range(layers)])
        self.alpha_logit = nn.Parameter(torch.tensor(math.log(alpha / (1 - alpha))))
        self._cache = {}

    def Qs(self, n1, n2, dtype):
        return [layer.symbol(n1, n2, dtype) for layer in self.layers]

    def freeze(self):
        self._cache = {}
        return self

    def forward(self, x, Qs=None):
        squeeze = x.dim() == 2
        if squeeze:
            x = x[None, None]
        n1, n2 = x.shape[-2:]
        if Qs is None:
            if self.training:
                Qs = self.Qs(n1, n2, x.dtype)
            else:
                key = (n1, n2, x.dtype)
                if key not in self._cache:
                    with torch.no_grad():
                        self._cache[key] = self.Qs(n1, n2, x.dtype)
                Qs = self._cache[key]
        z = F.pad(x, (0, 0, 0, 0, 0, self.C - 1))  # isometric lift: channel 0 = x, the rest 0
        for i, (layer, Q) in enumerate(zip(self.layers, Qs)):
            z = layer.apply(z, Q)
            if i < len(self.layers) - 1:
                if self.act == "soft":
                    t = F.softplus(self.thr[i]).to(z.dtype)[:, None, None]
                    z = torch.sign(z) * torch.relu(z.abs() - t)
                else:
                    z = maxmin(z)
        a = torch.sigmoid(self.alpha_logit).to(x.dtype)
        out = (1 - a) * x + a * z[:, :1]  # projection on channel 0: norm 1
        return out[0, 0] if squeeze else out

    @torch.no_grad()
    def lipschitz_bound(self, n=128):
        """prod over layers of max_w ||Q_l(w)||_2 on the n x n grid (float64): the exact operator norms of the
        linear maps, times 1 for lift/MaxMin/projection; then (1-a) + a * prod."""
        prod = 1.0
        for layer in self.layers:
            Q = layer.symbol(n, n, torch.float64, full=True)
            prod *= float(torch.linalg.matrix_norm(Q, ord=2).max())
        a = float(torch.sigmoid(self.alpha_logit.double()))
        return (1 - a) + a * prod

    @torch.no_grad()
    def wrap_energy(self, n=128, half=32):
        """Largest fraction (over layers) of the energy of Q_l(I) (its spatial kernel on the n-grid) at offsets
        >= half in some axis: the part that differs when the same kernel is applied on a 2*half grid."""
        out = []
        for layer in self.layers:
            Q = layer.symbol(n, n, torch.float64, full=True).permute(2, 3, 0, 1)  # (C, C, n, n)
            K = torch.fft.ifft2(Q).real
            d = torch.arange(n)
            d = torch.minimum(d, n - d)
            far = (d[:, None] >= half) | (d[None, :] >= half)
            e = K.pow(2)
            out.append(float(e[..., far].sum() / e.sum()))
        return max(out)


def evaluate(net, prob, truth, step, relax=0.9, maxiters=2000):
    s = solve(prob, PnPPGD(denoiser=net, step=step, relaxation=relax, tol=1e-5), maxiters=maxiters)
    return psnr(s.u, truth), s


def double_copy(net, args):
    d = OrthoGroupSortDenoiser(args.channels, args.layers, args.kernel, act=args.act).double()
    d.load_state_dict({k: v.double() for k, v in net.state_dict().items()})
    return d.eval().freeze()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=800)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--crops", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--fp-iters", type=int, default=15)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--lr-end", type=float, default=1e-4)
    ap.add_argument("--step", type=float, default=1.9)
    ap.add_argument("--eval-every", type=float, default=0, help="CPU s between validation evals (0: none)")
    ap.add_argument("--act", type=str, default="maxmin", choices=("maxmin", "soft"))
    ap.add_argument("--init-scale", type=float, default=0.05)
    ap.add_argument("--init", type=str, default=None)
    ap.add_argument("--out", type=str, default="/tmp/imaging_ortho.pt")
    ap.add_argument("--eval-only", action="store_true")
    args = ap.parse_args()
    print(vars(args), flush=True)

    truth, val_img = camera(128), load_image("astronaut", 128)
    test, val = problem(truth, 0), problem(val_img, 1)
    torch.manual_seed(0)
    net = OrthoGroupSortDenoiser(args.channels, args.layers, args.kernel, init=args.init_scale, act=args.act)
    if args.init:
        net.load_state_dict(torch.load(args.init, weights_only=True))
    train_cpu = 0.0
    if not args.eval_only:
        P = args.patch
        A = GaussianBlur((P, P), sigma=BLUR)
        gamma = args.step / A.norm() ** 2
        clean = random_patches(args.crops, P, seed=5)
        g = torch.Generator().manual_seed(11)
        y = (A.apply(clean.double()) + NOISE * torch.randn(clean.shape, generator=g, dtype=torch.float64)).float()
        cache = A.apply_adjoint(y.double()).float()
        opt = torch.optim.Adam(net.parameters(), lr=args.lr)
        gen = torch.Generator().manual_seed(0)
        t0 = time.process_time()
        last_eval, step, losses = 0.0, 0, []
        net.train()
        while True:
            el = time.process_time() - t0
            if el >= args.budget:
                break
            lr = args.lr_end + (args.lr - args.lr_end) * 0.5 * (1 + math.cos(math.pi * el / args.budget))
            for pg in opt.param_groups:
                pg["lr"] = lr
            idx = torch.randint(0, args.crops, (args.batch,), generator=gen)
            yb, xb, x = y[idx], clean[idx], cache[idx]

            def grad_step(x, yb=yb):
                return x - gamma * A.apply_adjoint(A.apply(x) - yb).to(x.dtype)

            with torch.no_grad():
                Qs = net.Qs(P, P, torch.float32)
                for _ in range(args.fp_iters):
                    x = 0.1 * x + 0.9 * net(grad_step(x), Qs)
                cache[idx] = x
            loss = (net(grad_step(x)) - xb).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            step += 1
            if step % 50 == 0:
                print(
                    f"step {step} cpu {time.process_time() - t0:.0f} lr {lr:.2e} loss {sum(losses[-50:]) / 50:.3e} "
                    f"alpha {float(torch.sigmoid(net.alpha_logit)):.3f}",
                    flush=True,
                )
            if args.eval_every and time.process_time() - t0 - last_eval >= args.eval_every:
                tt = time.process_time()
                v, s = evaluate(double_copy(net, args), val, val_img, args.step)
                print(f"   eval step {step}: val {v:.2f} ({s.stats['iterations']} its)", flush=True)
                t0 += time.process_time() - tt  # eval time not counted as training
                last_eval = time.process_time() - t0
        train_cpu = time.process_time() - t0
        torch.save(net.state_dict(), args.out)
        print(f"trained {step} steps, {train_cpu:.0f} CPU s (eval excluded), saved {args.out}", flush=True)

    d = double_copy(net, args)
    print(
        f"certified bound (128 grid) {d.lipschitz_bound(128)!r}, alpha {float(torch.sigmoid(d.alpha_logit)):.4f}, "
        f"kernel energy beyond 32 px (wrap drift 64 vs 128 grid) {d.wrap_energy(128, 32):.2e}",
        flush=True,
    )
    res = {}
    for st in (1.0, 1.9):
        t = time.process_time()
        v, s = evaluate(d, val, val_img, st)
        res[st] = v
        print(
            f"validation step {st}: {v:.3f} dB, {s.stats['iterations']} its, fp residual "
            f"{s.history['fp_residual'][-1]:.2e}, {s.retcode.name}, {time.process_time() - t:.0f} CPU s",
            flush=True,
        )
    st = max(res, key=res.get)
    t = time.process_time()
    c, s = evaluate(d, test, truth, st)
    with torch.no_grad():
        z = s.u - st / s.stats["norm_A"] ** 2 * test.operator.apply_adjoint(test.operator.apply(s.u) - test.y)
    est = lipschitz_estimate(d, z[None, None], iters=50)
    print(
        f"FINAL ortho-{args.act} C={args.channels} L={args.layers} k={args.kernel}: train {train_cpu:.0f} CPU s; "
        f"step {st} chosen on validation ({res[st]:.3f} dB); camera {c:.3f} dB, {s.stats['iterations']} its, "
        f"fp residual {s.history['fp_residual'][-1]:.2e} ({s.retcode.name}), bound {d.lipschitz_bound(128)!r}, "
        f"power-iteration estimate {est:.4f}, {time.process_time() - t:.0f} CPU s",
        flush=True,
    )


if __name__ == "__main__":
    main()
