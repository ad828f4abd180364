"""Data pipeline benchmark (issue 14): samples per second of ``remodel_core.data.DataPipeline`` against
``torch.utils.data.DataLoader`` over a ``TensorDataset`` (num_workers 0 and 2) and against what users write
by hand (a seeded ``torch.randperm`` and ``torch.index_select`` per batch), at batch 256, 1024 and 8192 on
1M x 33 float32 samples; and the gather's bytes per second as a fraction of a plain memory copy
(``numpy.copyto`` of the whole array) measured in the same run.

Every figure is the best of ``--repeats`` passes (wall clock, one torch thread): on a shared machine the best
pass is the one least disturbed by other processes; the ratios compare passes of the same run. Each pass of
ours and of index_select walks one whole epoch, permutation included; DataLoader passes stop after
``--loader-samples`` samples (it is ~50x slower) and start timing at the first batch (worker start-up
excluded). ``ratio`` = ours / index_select. Without a CUDA device the copy/compute overlap is not measured.

    uv run --frozen python tools/bench/data_pipeline.py --json docs/bench/data_pipeline.json
    uv run --frozen python tools/bench/data_pipeline.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

BATCHES = (256, 1024, 8192)


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def ours(x: np.ndarray, batch: int, repeats: int, parallel: bool | None) -> float:
    from remodel_core.data import DataPipeline

    pipe = DataPipeline(x, batch_size=batch, seed=0, parallel=parallel)
    for _ in pipe:  # compile and warm up
        break

    def epoch() -> None:
        for _ in pipe:
            pass

    return x.shape[0] / _best(epoch, repeats)


def index_select(xt: torch.Tensor, batch: int, repeats: int) -> float:
    n = xt.shape[0]
    g = torch.Generator().manual_seed(0)

    def epoch() -> None:
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, batch):
            xt.index_select(0, perm[i : i + batch])

    return n / _best(epoch, repeats)


def dataloader(xt: torch.Tensor, batch: int, workers: int, samples: int, repeats: int) -> float:
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(
        TensorDataset(xt),
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        generator=torch.Generator().manual_seed(0),
        persistent_workers=workers > 0,
    )
    best = float("inf")
    for _ in range(repeats):
        it = iter(loader)
        next(it)  # workers started, first batch out
        t, seen = time.perf_counter(), 0
        for (b,) in it:
            seen += b.shape[0]
            if seen >= samples:
                break
        best = min(best, (time.perf_counter() - t) / max(seen, 1))
        del it
    return 1.0 / best


def memcpy_bandwidth(x: np.ndarray, repeats: int) -> float:
    dst = np.empty_like(x)
    np.copyto(dst, x)
    return x.nbytes / _best(lambda: np.copyto(dst, x), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=33)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--loader-samples", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="250k rows, 3 repeats, 30k DataLoader samples")
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="also time the threaded numba kernel (on a loaded machine it can take minutes)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeats, args.loader_samples = 250_000, 3, 30_000
    torch.set_num_threads(1)
    x = np.random.default_rng(0).standard_normal((args.rows, args.cols)).astype(np.float32)
    xt = torch.from_numpy(x)
    row_bytes = x.itemsize * args.cols
    load_before = os.getloadavg()
    memcpy = memcpy_bandwidth(x, args.repeats)
    rows: list[dict[str, Any]] = []
    fractions: dict[str, float] = {}
    print(f"{args.rows} x {args.cols} float32, memcpy {memcpy / 1e9:.2f} GB/s, load {load_before}")
    print(
        f"{'batch':>6} {'workers':>7} {'ours':>10} {'ours(par)':>10} {'index_sel':>10} {'DataLoader':>10} "
        f"{'ratio':>6} {'of memcpy':>9}"
    )
    for batch in BATCHES:
        o = ours(x, batch, args.repeats, parallel=False)
        op = ours(x, batch, args.repeats, parallel=True) if args.parallel else float("nan")
        best_ours = max(o, op) if args.parallel else o
        sel = index_select(xt, batch, args.repeats)
        fractions[str(batch)] = best_ours * row_bytes / memcpy
        for workers in (0, 2):
            dl = dataloader(xt, batch, workers, args.loader_samples, max(1, args.repeats // 3))
            rows.append(
                {
                    "batch": batch,
                    "workers": workers,
                    "ours_sps": best_ours,
                    "ours_serial_sps": o,
                    "ours_parallel_sps": op if args.parallel else None,
                    "dataloader_sps": dl,
                    "index_select_sps": sel,
                    "ratio": best_ours / sel,
                }
            )
            print(
                f"{batch:>6} {workers:>7} {o:>10.3g} {op:>10.3g} {sel:>10.3g} {dl:>10.3g} {best_ours / sel:>6.2f} "
                f"{fractions[str(batch)]:>9.2f}"
            )
    result = {
        "rows": rows,
        "fraction_of_memcpy": min(v for b, v in fractions.items() if int(b) >= 1024),
        "fraction_of_memcpy_by_batch": fractions,
        "memcpy_bytes_per_s": memcpy,
        "shape": [args.rows, args.cols],
        "repeats": args.repeats,
        "cuda": torch.cuda.is_available(),
        "cuda_overlap": None,
        "note": "ours_sps is the serial numba kernel (the better of serial and threaded with --parallel); "
        "no CUDA device: the copy/compute overlap is not measured",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        },
    }
    print(f"fraction of memcpy at batch >= 1024: {result['fraction_of_memcpy']:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
