"""Data pipeline benchmark (issue 14): samples per second of ``remodel_core.data.DataPipeline`` against
``torch.utils.data.DataLoader`` over a ``TensorDataset`` (num_workers 0 and 2) and against what users write
by hand (a seeded ``torch.randperm`` and ``torch.index_select`` per batch), at batch 256, 1024 and 8192 on
1M x 33 float32 samples; and the gather's bytes per second as a fraction of a plain memory copy
(``numpy.copyto`` of the whole array) measured in the same run.

Every figure of ours, of index_select and of the memory copy is the best of ``--repeats`` passes in CPU time
of this process (``time.process_time``, one torch thread, serial numba kernel): on a shared, loaded machine
CPU time is what the other processes disturb least (wall-clock figures are in the JSON too). DataLoader
figures are wall clock (its workers are other processes), passes stop after ``--loader-samples`` samples (it
is ~50x slower) and start timing at the first batch (worker start-up excluded). Each pass of ours and of
index_select walks one whole epoch, its permutation included. ``ratio`` = ours / index_select.
``--sweep`` adds the row-size sweep behind ``remodel_core.data.prefetch_plan`` (8 B to 4 KiB rows, 128 MiB of
data: the kernel with and without prefetch against ``torch.index_select``). Without a CUDA device the
copy/compute overlap is not measured.

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


def _best(fn, repeats: int) -> tuple[float, float]:
    """Best CPU time and best wall time of ``repeats`` calls."""
    cpu = wall = float("inf")
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        cpu, wall = min(cpu, time.process_time() - c), min(wall, time.perf_counter() - t)
    return cpu, wall


def ours(x: np.ndarray, batch: int, repeats: int, parallel: bool | None) -> tuple[float, float]:
    """Samples per CPU second and per wall second of whole epochs of the pipeline."""
    from remodel_core.data import DataPipeline

    pipe = DataPipeline(x, batch_size=batch, seed=0, parallel=parallel)
    for _ in pipe:  # compile and warm up
        break

    def epoch() -> None:
        for _ in pipe:
            pass

    cpu, wall = _best(epoch, repeats)
    return x.shape[0] / cpu, x.shape[0] / wall


def index_select(xt: torch.Tensor, batch: int, repeats: int) -> tuple[float, float]:
    n = xt.shape[0]
    g = torch.Generator().manual_seed(0)

    def epoch() -> None:
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, batch):
            xt.index_select(0, perm[i : i + batch])

    cpu, wall = _best(epoch, repeats)
    return n / cpu, n / wall


def _sweep_ours(x: np.ndarray, perm: np.ndarray, batch: int, prefetch: bool, repeats: int) -> float:
    """The kernel call of the pipeline (row views and prefetch plan made once, no per-batch checks)."""
    from remodel_core.data import prefetch_plan, row_view
    from remodel_core.data._kernels import _gather

    m = (x.shape[0] // batch) * batch
    src, buf = row_view(x), row_view(np.empty((batch, *x.shape[1:]), x.dtype))
    dist, pf_bytes = prefetch_plan(src.shape[1] * src.itemsize)
    pf_bytes = pf_bytes if prefetch else 0
    _gather(src, perm, 0, batch, buf, False, dist, pf_bytes)  # compile

    def run() -> None:
        for i in range(0, m, batch):
            _gather(src, perm, i, i + batch, buf, False, dist, pf_bytes)

    return m / _best(run, repeats)[0]


def _sweep_torch(xt: torch.Tensor, perm: torch.Tensor, batch: int, repeats: int) -> float:
    m = (xt.shape[0] // batch) * batch
    buf = torch.empty(batch, *xt.shape[1:], dtype=xt.dtype)

    def run() -> None:
        for i in range(0, m, batch):
            torch.index_select(xt, 0, perm[i : i + batch], out=buf)

    return m / _best(run, repeats)[0]


def sweep(repeats: int, total: int = 128 << 20) -> list[dict[str, Any]]:
    """Rows per CPU second of the gather kernel with and without prefetch and of ``torch.index_select``
    (``out=``, a seeded permutation precomputed) for row sizes 8 B to 4 KiB: the measurement behind
    ``prefetch_plan``."""
    out_rows = []
    for row_bytes in (8, 32, 132, 1024, 4096):
        n = total // row_bytes
        x = np.random.default_rng(0).integers(0, 255, (n, row_bytes), dtype=np.uint8)
        perm = np.random.default_rng(0).permutation(n)
        for batch in (256, 1024, 8192):
            figures = {
                "prefetch": _sweep_ours(x, perm, batch, True, repeats),
                "plain": _sweep_ours(x, perm, batch, False, repeats),
                "index_select": _sweep_torch(torch.from_numpy(x), torch.from_numpy(perm), batch, repeats),
            }
            out_rows.append(
                {"row_bytes": row_bytes, "batch": batch, **{f"{k}_rows_per_cpu_s": v for k, v in figures.items()}}
            )
            print(
                f"sweep row {row_bytes:>5} B batch {batch:>5}: prefetch {figures['prefetch'] / 1e6:6.2f} M, plain "
                f"{figures['plain'] / 1e6:6.2f} M, index_select {figures['index_select'] / 1e6:6.2f} M rows/CPU-s",
                flush=True,
            )
    return out_rows


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


def memcpy_bandwidth(x: np.ndarray, repeats: int) -> tuple[float, float]:
    dst = np.empty_like(x)
    np.copyto(dst, x)
    cpu, wall = _best(lambda: np.copyto(dst, x), repeats)
    return x.nbytes / cpu, x.nbytes / wall


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
        help="also time the threaded numba kernel (wall clock; on a loaded machine it can take minutes)",
    )
    parser.add_argument("--sweep", action="store_true", help="also the row-size sweep behind prefetch_plan")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeats, args.loader_samples = 250_000, 3, 30_000
    torch.set_num_threads(1)
    uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    x = np.random.default_rng(0).standard_normal((args.rows, args.cols)).astype(np.float32)
    xt = torch.from_numpy(x)
    row_bytes = x.itemsize * args.cols
    load_before = os.getloadavg()
    memcpy, memcpy_wall = memcpy_bandwidth(x, args.repeats)
    rows: list[dict[str, Any]] = []
    fractions: dict[str, float] = {}
    print(f"{args.rows} x {args.cols} float32, memcpy {memcpy / 1e9:.2f} GB/CPU-s, {uptime_before}")
    print("samples per CPU second (DataLoader: per wall second)")
    print(
        f"{'batch':>6} {'workers':>7} {'ours':>10} {'ours(par)':>10} {'index_sel':>10} {'DataLoader':>10} "
        f"{'ratio':>6} {'of memcpy':>9}"
    )
    for batch in BATCHES:
        o, o_wall = ours(x, batch, args.repeats, parallel=False)
        op = ours(x, batch, args.repeats, parallel=True)[1] if args.parallel else float("nan")
        sel, sel_wall = index_select(xt, batch, args.repeats)
        fractions[str(batch)] = o * row_bytes / memcpy
        for workers in (0, 2):
            dl = dataloader(xt, batch, workers, args.loader_samples, max(1, args.repeats // 3))
            rows.append(
                {
                    "batch": batch,
                    "workers": workers,
                    "ours_sps": o,
                    "ours_wall_sps": o_wall,
                    "ours_parallel_wall_sps": op if args.parallel else None,
                    "dataloader_sps": dl,
                    "index_select_sps": sel,
                    "index_select_wall_sps": sel_wall,
                    "ratio": o / sel,
                    "ratio_wall": o_wall / sel_wall,
                }
            )
            print(
                f"{batch:>6} {workers:>7} {o:>10.3g} {op:>10.3g} {sel:>10.3g} {dl:>10.3g} {o / sel:>6.2f} "
                f"{fractions[str(batch)]:>9.2f}",
                flush=True,
            )
    result = {
        "rows": rows,
        "fraction_of_memcpy": min(v for b, v in fractions.items() if int(b) >= 1024),
        "fraction_of_memcpy_by_batch": fractions,
        "memcpy_bytes_per_s": memcpy,
        "memcpy_bytes_per_wall_s": memcpy_wall,
        "shape": [args.rows, args.cols],
        "repeats": args.repeats,
        "timing": "ours, index_select, memcpy: best CPU time of the process (one thread); *_wall_*: best wall "
        "time; DataLoader: wall time (its workers are other processes)",
        "cuda": torch.cuda.is_available(),
        "cuda_overlap": None,
        "note": "ours_sps is the serial numba kernel with software prefetch (ours_parallel_wall_sps: the threaded "
        "one, with --parallel); no CUDA device: the copy/compute overlap is not measured",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_before": load_before,
            "uptime_before": uptime_before,
        },
    }
    print(f"fraction of memcpy at batch >= 1024: {result['fraction_of_memcpy']:.2f}")
    if args.sweep:
        result["sweep"] = sweep(max(1, args.repeats // 2))
    result["machine"]["loadavg_after"] = os.getloadavg()
    result["machine"]["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
