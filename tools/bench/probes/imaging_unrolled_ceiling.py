"""Probe (issue 17): the ceiling of an unconstrained ``UnrolledPGD`` (8 steps, 32 features, depth 4) trained from
scratch for ``budget`` CPU seconds (argument 1, default 800) on the bench's deblurring task (tools/bench/imaging.py),
float32 training, float64 evaluation on the validation astronaut and the cameraman. A one-off probe, not a bench:

    OMP_NUM_THREADS=1 uv run --frozen python tools/bench/probes/imaging_unrolled_ceiling.py 850
"""

import math
import sys
import time
from pathlib import Path

import torch
from remodel_imaging import GaussianBlur, camera, load_image, psnr, random_patches
from remodel_imaging._unrolled import UnrolledPGD, reconstruction_problem

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from imaging import BLUR, NOISE, problem  # noqa: E402  (the bench's task: blur, noise, seeds)

torch.set_num_threads(1)
BUDGET = float(sys.argv[1]) if len(sys.argv) > 1 else 800.0
ITERS, FEAT, DEPTH, P = 8, 32, 4, 48
LR0, LR1, BATCH = 2e-3, 1e-4, 8


truth, val_img = camera(128), load_image("astronaut", 128)
test, val = problem(truth, 0), problem(val_img, 1)
A128 = test.operator

torch.manual_seed(0)
net = UnrolledPGD(iters=ITERS, features=FEAT, depth=DEPTH)
A = GaussianBlur((P, P), sigma=BLUR)
patches = random_patches(2000, P, seed=3)
tp = reconstruction_problem(net, A, patches, noise_sigma=NOISE, batch_size=BATCH, seed=0)
clean, noisy = tp.data
opt = torch.optim.Adam(net.parameters(), lr=LR0)
gen = torch.Generator().manual_seed(0)


def evaluate(m):
    m2 = UnrolledPGD(iters=ITERS, features=FEAT, depth=DEPTH).double()
    m2.load_state_dict({k: v.double() for k, v in m.state_dict().items()})
    with torch.no_grad():
        xv = m2(val.y[None, None], A128)[0, 0]
        xt = m2(test.y[None, None], A128)[0, 0]
    return psnr(xv, val_img), psnr(xt, truth)


t0 = time.process_time()
step, losses = 0, []
while True:
    el = time.process_time() - t0
    if el >= BUDGET:
        break
    lr = LR1 + (LR0 - LR1) * 0.5 * (1 + math.cos(math.pi * el / BUDGET))
    for g in opt.param_groups:
        g["lr"] = lr
    idx = torch.randint(0, clean.shape[0], (BATCH,), generator=gen)
    loss = (net(noisy[idx], A) - clean[idx]).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(float(loss))
    step += 1
    if step % 100 == 0:
        print(
            f"step {step} cpu {time.process_time() - t0:.0f} lr {lr:.2e} loss {sum(losses[-100:]) / 100:.3e}",
            flush=True,
        )
    if step % 500 == 0:
        v, c = evaluate(net)
        print(f"   eval step {step}: val {v:.2f} camera {c:.2f}", flush=True)
train_cpu = time.process_time() - t0
v, c = evaluate(net)
torch.save(net.state_dict(), f"/tmp/imaging_unrolled_it{ITERS}_f{FEAT}_d{DEPTH}.pt")
print(
    f"FINAL UnrolledPGD iters={ITERS} features={FEAT} depth={DEPTH} patch={P}: {step} steps, {train_cpu:.0f} CPU s; "
    f"validation {v:.2f} dB, camera {c:.2f} dB",
    flush=True,
)
