"""Data pipeline benchmark (issue 14): samples per second of ``remodel_core.data.DataPipeline`` against
``torch.utils.data.DataLoader`` over a ``TensorDataset`` (num_workers 0 and 2) and against what users write
by hand (a seeded ``torch.randperm`` and ``torch.index_select`` per batch), at batch 256, 1024 and 8192 on
1M x 33 float32 samples; and the gather's bytes per second as a fraction of a plain memory copy measured in
the same run.

Fairness. Ours and index_select each walk whole epochs, their permutation included, on one thread (one torch
thread, the serial numba kernel) over the same memory (the tensor shares the numpy array, so both see the
same pages, huge pages included). The copy references move the same bytes on one thread: ``memcpy`` is
``numpy.copyto`` of the whole array into another (what the issue names "a plain memory copy": 132 MB read,
132 MB written to memory); ``chunk copy`` copies the array in order, batch by batch, into one reused
batch-sized buffer (the pipeline's access pattern without the shuffle: the stricter reference, since its
writes stay in cache like the pipeline's). Passes of ours, index_select and both copies run round-robin
(``--repeats`` rounds) so that they see the same load, and each figure is the best of its passes: in CPU time
of this process (``time.process_time``; on a shared, loaded machine what the other processes disturb least)
and in wall time (what the issue asks; meaningful on a quiet machine: record ``uptime``). DataLoader figures
are wall clock (its workers are other processes), passes stop after ``--loader-samples`` samples (it is ~50x
slower) and start timing at the first batch (worker start-up excluded). ``ratio`` = ours / index_select.

``--profile`` adds where an epoch's time goes (CPU time, best of the repeats): the kernel alone over a
precomputed order, the shuffle alone, the Python and dispatch per batch (the rest), and the same split of the
index_select loop (randperm, gather). ``--sweep`` adds the row-size sweep behind
``remodel_core.data.prefetch_plan`` (8 B to 4 KiB rows, 128 MiB of data: the kernel with and without prefetch
against ``torch.index_select``). Without a CUDA device the copy/compute overlap is not measured.

    uv run --frozen python tools/bench/data_pipeline.py --profile --json docs/bench/data_pipeline.json
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


def _round_robin(fns: dict[str, Any], repeats: int) -> dict[str, tuple[float, float]]:
    """Best CPU and wall time of each function over ``repeats`` rounds, one call of each per round."""
    best = {k: [float("inf"), float("inf")] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            cpu, wall = time.process_time() - c, time.perf_counter() - t
            best[k][0], best[k][1] = min(best[k][0], cpu), min(best[k][1], wall)
    return {k: (v[0], v[1]) for k, v in best.items()}


def ours_epoch(x: np.ndarray, batch: int, parallel: bool | None):
    """One whole epoch of the pipeline per call (its permutation included), compiled and warm."""
    from remodel_core.data import DataPipeline

    pipe = DataPipeline(x, batch_size=batch, seed=0, parallel=parallel)
    for _ in pipe:  # compile and warm up
        pass

    def epoch() -> None:
        for _ in pipe:
            pass

    return epoch


def index_select_epoch(xt: torch.Tensor, batch: int):
    """What users write by hand: a seeded ``torch.randperm`` per epoch, ``index_select`` per batch."""
    n = xt.shape[0]
    g = torch.Generator().manual_seed(0)

    def epoch() -> None:
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, batch):
            xt.index_select(0, perm[i : i + batch])

    return epoch


def copy_fns(x: np.ndarray, batch: int) -> dict[str, Any]:
    """The copy references (same bytes as an epoch, one thread): ``memcpy`` (whole array into another) and
    ``chunk copy`` (in order, batch by batch, into one reused batch buffer)."""
    dst = np.empty_like(x)
    np.copyto(dst, x)
    buf = np.empty((batch, *x.shape[1:]), x.dtype)
    n = x.shape[0]

    def chunks() -> None:
        for i in range(0, n - batch + 1, batch):
            np.copyto(buf, x[i : i + batch])
        r = n % batch
        if r:
            np.copyto(buf[:r], x[n - r :])

    return {"memcpy": lambda: np.copyto(dst, x), "chunk_copy": chunks}


def profile(x: np.ndarray, xt: torch.Tensor, batch: int, repeats: int) -> dict[str, float]:
    """Where an epoch's CPU time goes (ms, best of ``repeats``): the gather kernel alone over a precomputed
    order, the shuffle alone, the whole pipeline epoch (the rest is Python and dispatch per batch); the
    index_select loop alone and torch.randperm alone."""
    from remodel_core.data import DataPipeline, prefetch_plan, row_view
    from remodel_core.data._kernels import _gather_serial

    n = x.shape[0]
    pipe = DataPipeline(x, batch_size=batch, seed=0, parallel=False)
    order = pipe._epoch_order(1).copy()
    src, buf = row_view(x), row_view(np.empty((batch, *x.shape[1:]), x.dtype))
    dist, pf = prefetch_plan(src.shape[1] * src.itemsize)
    perm_t = torch.from_numpy(order.astype(np.int64))
    g = torch.Generator().manual_seed(0)

    def kernel() -> None:
        for i in range(0, n, batch):
            _gather_serial(src, order, i, min(i + batch, n), buf if i + batch <= n else buf[: n - i], dist, pf)

    def sel() -> None:
        for i in range(0, n, batch):
            xt.index_select(0, perm_t[i : i + batch])

    fns = {
        "kernel": kernel,
        "shuffle": lambda: pipe._epoch_order(2),
        "pipeline_epoch": ours_epoch(x, batch, False),
        "index_select_gather": sel,
        "randperm": lambda: torch.randperm(n, generator=g),
        "index_select_epoch": index_select_epoch(xt, batch),
    }
    kernel()
    t = {k: v[0] * 1e3 for k, v in _round_robin(fns, repeats).items()}
    t["python_per_batch_us"] = (t["pipeline_epoch"] - t["kernel"] - t["shuffle"]) * 1e3 / -(-n // batch)
    return t


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


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=33)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--loader-samples", type=int, default=100_000)
    parser.add_argument("--no-loader", action="store_true", help="skip the DataLoader rows")
    parser.add_argument("--quick", action="store_true", help="250k rows, 3 repeats, 30k DataLoader samples")
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="also the threaded numba kernel against index_select with as many torch threads (wall clock)",
    )
    parser.add_argument("--profile", action="store_true", help="also where an epoch's time goes")
    parser.add_argument("--sweep", action="store_true", help="also the row-size sweep behind prefetch_plan")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeats, args.loader_samples = 250_000, 3, 30_000
    torch.set_num_threads(1)
    uptime_before = _uptime()
    x = np.random.default_rng(0).standard_normal((args.rows, args.cols)).astype(np.float32)
    xt = torch.from_numpy(x)  # the same memory (and pages) for both
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    by_batch: dict[str, dict[str, float]] = {}
    print(f"{args.rows} x {args.cols} float32, one thread, {uptime_before}")
    print("samples per second, CPU time (wall time); DataLoader: wall time")
    print(
        f"{'batch':>6} {'ours':>16} {'index_select':>16} {'ratio':>11} {'of memcpy':>11} {'of chunk cp':>11} "
        f"{'DL w=0':>8} {'DL w=2':>8}"
    )
    for batch in BATCHES:
        fns = {
            "ours": ours_epoch(x, batch, False),
            "index_select": index_select_epoch(xt, batch),
            **copy_fns(x, batch),
        }
        t = _round_robin(fns, args.repeats)
        n = args.rows
        o, o_wall = n / t["ours"][0], n / t["ours"][1]
        sel, sel_wall = n / t["index_select"][0], n / t["index_select"][1]
        f = {
            "memcpy": t["memcpy"][0] / t["ours"][0],
            "memcpy_wall": t["memcpy"][1] / t["ours"][1],
            "chunk_copy": t["chunk_copy"][0] / t["ours"][0],
            "chunk_copy_wall": t["chunk_copy"][1] / t["ours"][1],
            "memcpy_bytes_per_cpu_s": x.nbytes / t["memcpy"][0],
            "memcpy_bytes_per_wall_s": x.nbytes / t["memcpy"][1],
            "chunk_copy_bytes_per_cpu_s": x.nbytes / t["chunk_copy"][0],
        }
        by_batch[str(batch)] = f
        dls = []
        for workers in (0, 2):
            dl = (
                float("nan")
                if args.no_loader
                else dataloader(xt, batch, workers, args.loader_samples, max(1, args.repeats // 3))
            )
            dls.append(dl)
            rows.append(
                {
                    "batch": batch,
                    "workers": workers,
                    "ours_sps": o,
                    "ours_wall_sps": o_wall,
                    "dataloader_sps": None if args.no_loader else dl,
                    "index_select_sps": sel,
                    "index_select_wall_sps": sel_wall,
                    "ratio": o / sel,
                    "ratio_wall": o_wall / sel_wall,
                    "threads": 1,
                }
            )
        print(
            f"{batch:>6} {o / 1e6:>6.1f}M ({o_wall / 1e6:>5.1f}M) {sel / 1e6:>6.1f}M ({sel_wall / 1e6:>5.1f}M) "
            f"{o / sel:>4.2f} ({o_wall / sel_wall:>4.2f}) {f['memcpy']:>4.2f} ({f['memcpy_wall']:>4.2f}) "
            f"{f['chunk_copy']:>4.2f} ({f['chunk_copy_wall']:>4.2f}) {dls[0]:>8.3g} {dls[1]:>8.3g}",
            flush=True,
        )
    big = [v for b, v in by_batch.items() if int(b) >= 1024]
    result: dict[str, Any] = {
        "rows": rows,
        "fraction_of_memcpy": min(v["memcpy"] for v in big),
        "fraction_of_memcpy_wall": min(v["memcpy_wall"] for v in big),
        "fraction_of_chunk_copy": min(v["chunk_copy"] for v in big),
        "fraction_of_memcpy_by_batch": {b: v["memcpy"] for b, v in by_batch.items()},
        "copy_references_by_batch": by_batch,
        "shape": [args.rows, args.cols],
        "repeats": args.repeats,
        "timing": "ours, index_select and the copies: best of --repeats round-robin passes, CPU time of the "
        "process (*_wall_*: wall time), one thread each; DataLoader: wall time (its workers are other processes)",
        "cuda": torch.cuda.is_available(),
        "cuda_overlap": None,
        "note": "ours_sps is the serial numba kernel with software prefetch; fraction_of_memcpy: against "
        "numpy.copyto of the whole array (the plain memory copy of the issue); fraction_of_chunk_copy: against "
        "an in-order copy batch by batch into one reused buffer (stricter). No CUDA device: the copy/compute "
        "overlap is not measured",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_before": load_before,
            "uptime_before": uptime_before,
        },
    }
    print(
        f"fraction at batch >= 1024, CPU time (wall): of memcpy {result['fraction_of_memcpy']:.2f} "
        f"({result['fraction_of_memcpy_wall']:.2f}), of the chunk copy {result['fraction_of_chunk_copy']:.2f}"
    )
    if args.parallel:
        import numba

        threads = numba.get_num_threads()
        torch.set_num_threads(threads)
        par = []
        for batch in BATCHES:
            t = _round_robin(
                {"ours": ours_epoch(x, batch, True), "index_select": index_select_epoch(xt, batch)}, args.repeats
            )
            par.append(
                {
                    "batch": batch,
                    "threads": threads,
                    "ours_wall_sps": args.rows / t["ours"][1],
                    "index_select_wall_sps": args.rows / t["index_select"][1],
                    "ratio_wall": t["index_select"][1] / t["ours"][1],
                    "ratio_cpu": t["index_select"][0] / t["ours"][0],
                }
            )
            print(
                f"{threads} threads, batch {batch}: ours {par[-1]['ours_wall_sps'] / 1e6:.1f}M, index_select "
                f"{par[-1]['index_select_wall_sps'] / 1e6:.1f}M samples/wall-s, ratio {par[-1]['ratio_wall']:.2f} "
                f"(CPU time {par[-1]['ratio_cpu']:.2f})",
                flush=True,
            )
        torch.set_num_threads(1)
        result["parallel"] = par
    if args.profile:
        result["profile_ms"] = {}
        for batch in (1024, 8192):
            p = profile(x, xt, batch, args.repeats)
            result["profile_ms"][str(batch)] = p
            print(
                f"profile batch {batch} (CPU ms per epoch): pipeline {p['pipeline_epoch']:.1f} = kernel "
                f"{p['kernel']:.1f} + shuffle {p['shuffle']:.1f} + Python {p['python_per_batch_us']:.1f} us/batch; "
                f"index_select epoch {p['index_select_epoch']:.1f} = gather {p['index_select_gather']:.1f} + "
                f"randperm {p['randperm']:.1f}",
                flush=True,
            )
    if args.sweep:
        result["sweep"] = sweep(max(1, args.repeats // 2))
    result["machine"]["loadavg_after"] = os.getloadavg()
    result["machine"]["uptime_after"] = _uptime()
    print(result["machine"]["uptime_after"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
