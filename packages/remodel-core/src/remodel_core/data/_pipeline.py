"""The data pipeline: seeded shuffling, numba gathers into reusable (pinned) buffers, double-buffered
prefetch to a CUDA device, and hooks that replace samples between epochs."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numba
import numpy as np
import torch

from ._kernels import (
    PARALLEL_BYTES,
    _fisher_yates,
    _gather,
    _gather_parallel,
    _gather_serial,
    prefetch_plan,
    row_view,
    seeded_permutation,
    shuffle_state,
)

__all__ = ["DataPipeline", "as_array", "collapse_huge_pages"]

Batch = tuple[torch.Tensor, ...]


def as_array(a: Any, name: str = "arrays") -> np.ndarray:
    """A host array for the pipeline: a numpy array (memory-mapped ones included), a CPU tensor (shared,
    not copied) or the path of a ``.npy`` file (opened memory-mapped, read-only).

    Parameters
    ----------
    a : numpy.ndarray, torch.Tensor or path
        The samples, first dimension first.
    name : str
        The argument name used in error messages.

    Examples
    --------
    >>> as_array(torch.zeros(3, 2)).shape
    (3, 2)
    """
    if isinstance(a, str | os.PathLike):
        path = Path(a)
        if path.suffix != ".npy" or not path.is_file():
            raise ValueError(f"{name}: {str(path)!r} is not an existing .npy file")
        a = np.load(path, mmap_mode="r")
    if isinstance(a, torch.Tensor):
        if a.device.type != "cpu":
            raise ValueError(
                f"{name} must be on the host (the pipeline copies batches to the device); got a tensor "
                f"on {a.device}: index it on the device directly"
            )
        a = a.detach().numpy()
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be numpy arrays, CPU tensors or .npy paths, got {type(a).__name__}")
    if a.ndim < 1:
        raise ValueError(f"{name} must have a first (sample) dimension, got a 0-d array")
    if not a.flags.c_contiguous:
        if isinstance(a, np.memmap):
            raise ValueError(f"{name}: a memory-mapped array must be C-contiguous")
        a = np.ascontiguousarray(a)
    if a.dtype.hasobject:
        raise TypeError(f"{name} must hold numbers, got dtype {a.dtype}")
    return a


_MADV_COLLAPSE = 25  # linux/mman.h (Linux >= 6.1)
_HUGE = 1 << 21


def collapse_huge_pages(a: np.ndarray) -> bool:
    """Ask Linux to back the memory of ``a`` by 2 MiB pages now (``madvise(MADV_COLLAPSE)`` on the 2 MiB
    aligned part of it; the contents do not change). True when the kernel did; False where it cannot (not
    Linux, an older kernel, memory-mapped files, arrays under 2 MiB): the array is then used as it is.

    Parameters
    ----------
    a : numpy.ndarray
        The array (its whole buffer is advised).

    Examples
    --------
    >>> collapse_huge_pages(np.zeros(10))   # under 2 MiB: nothing to do
    False
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"a must be a numpy array, got {type(a).__name__}")
    if not sys.platform.startswith("linux") or isinstance(a, np.memmap) or a.nbytes < 2 * _HUGE:
        return False
    start = a.__array_interface__["data"][0]
    lo, hi = (start + _HUGE - 1) // _HUGE * _HUGE, (start + a.nbytes) // _HUGE * _HUGE
    if hi <= lo:  # pragma: no cover - excluded by the size check
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc.madvise(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo), _MADV_COLLAPSE) == 0


class DataPipeline:
    """Minibatches of scientific data (tensors, numpy arrays, memory-mapped ``.npy`` files, collocation sets,
    trajectories, images): seeded shuffling, gathers into reusable buffers, prefetch to the device.

    Each epoch visits the samples in the order ``seeded_permutation(n, seed, epoch)`` (a Fisher-Yates
    shuffle by SplitMix64 seeded through ``numpy.random.SeedSequence([seed, epoch])``: the same samples in
    the same order for the same seed, whatever happened before). A batch is gathered by
    a numba kernel (:func:`~remodel_core.data.gather_rows`) into one of two preallocated host buffers; the
    CPU path yields tensors that share these buffers (no copy, no allocation per batch). With a CUDA
    ``device`` the host buffers are pinned, and batch ``k + 1`` is gathered and copied with
    ``non_blocking=True`` on a side CUDA stream while the consumer computes on batch ``k`` (double
    buffering with events, so neither a host nor a device buffer is overwritten while in use).

    A yielded batch stays valid until the next batch is requested (copy it to keep it longer).

    Adaptive sampling (RAR, RAD, ...) changes the samples between epochs without rebuilding the pipeline:
    :meth:`replace` overwrites some rows, :meth:`set_arrays` swaps in new arrays (any number of rows, same
    row shape), and :meth:`on_epoch_end` registers a hook ``fn(pipeline)`` run when an epoch ends. Changes
    made during an epoch take effect when the next one starts.

    Parameters
    ----------
    *arrays : numpy.ndarray, torch.Tensor or path
        The data, sharing their first dimension (see :func:`as_array`). In-memory arrays are shared with
        the caller (:meth:`replace` writes into them).
    batch_size : int
        Samples per batch.
    shuffle : bool
        Seeded permutation per epoch (else the stored order).
    seed : int
        Seed of the permutations.
    drop_last : bool
        Drop the last incomplete batch of an epoch.
    device : str or torch.device
        Where the batches go ("cpu" or a CUDA device).
    parallel : bool, optional
        Force the threaded (True) or serial (False) gather kernel; default by batch size.
    huge_pages : bool
        Back the in-memory arrays by 2 MiB pages (Linux ``madvise(MADV_COLLAPSE)``, contents unchanged; see
        :func:`collapse_huge_pages`): a shuffled gather misses the TLB on nearly every row of 4 KiB pages.
        Measured at 1M x 33 float32 from ``torch.randn`` (4 KiB pages): 49.0 -> 31.6 ms per epoch, for
        0.33 CPU-s once. numpy already asks for huge pages for its large arrays.

    Examples
    --------
    >>> x = np.arange(10.0).reshape(5, 2)
    >>> y = np.arange(5)
    >>> pipe = DataPipeline(x, y, batch_size=2, seed=0)
    >>> [b[1].tolist() for b in pipe]
    [[2, 3], [4, 1], [0]]
    >>> len(pipe), pipe.epoch
    (3, 1)
    >>> pipe.replace([0], np.array([[-1.0, -1.0]]), np.array([7]))   # applied when the next epoch starts
    >>> sorted(int(v) for b in pipe for v in b[1])
    [1, 2, 3, 4, 7]
    """

    def __init__(
        self,
        *arrays: Any,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        device: str | torch.device = "cpu",
        parallel: bool | None = None,
        huge_pages: bool = False,
    ) -> None:
        if not arrays:
            raise ValueError("arrays: give at least one array")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last), ("huge_pages", huge_pages)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
        if parallel is not None and not isinstance(parallel, bool):
            raise TypeError(f"parallel must be a bool or None, got {parallel!r}")
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device must name a torch device, got {device!r}") from err
        if self.device.type not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or a CUDA device, got {device!r}")
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device is {device!r} but no CUDA device is available")
        self.batch_size, self.shuffle, self.seed = int(batch_size), shuffle, int(seed)
        self.drop_last, self.parallel, self.huge_pages = drop_last, parallel, huge_pages
        self.arrays = self._check(arrays)
        if huge_pages:
            for a in self.arrays:
                collapse_huge_pages(a)
        self.epoch = 0  # the epoch in progress (or the next one to start)
        self.position = 0  # batches of that epoch already handed out
        self._staged: list[Callable[[], None]] = []
        self._hooks: list[Callable[[DataPipeline], Any]] = []
        self._stream_iter: Iterator[Batch] | None = None
        self._orders: list[np.ndarray | None] = [None, None]
        self._make_buffers()

    # set-up -------------------------------------------------------------------------------------------
    def _check(self, arrays: tuple[Any, ...], like: list[np.ndarray] | None = None) -> list[np.ndarray]:
        out = [as_array(a, "arrays") for a in arrays]
        sizes = {a.shape[0] for a in out}
        if len(sizes) != 1:
            raise ValueError(f"arrays must share their first dimension, got sizes {sorted(sizes)}")
        if 0 in sizes:
            raise ValueError("arrays must hold at least one sample")
        for a in out:
            try:
                torch.from_numpy(np.empty((0,), dtype=a.dtype))
            except TypeError as err:
                raise TypeError(f"arrays: dtype {a.dtype} has no torch equivalent") from err
        if like is not None:
            if len(out) != len(like):
                raise ValueError(f"arrays: expected {len(like)} arrays, got {len(out)}")
            for new, old in zip(out, like):
                if new.shape[1:] != old.shape[1:] or new.dtype != old.dtype:
                    raise ValueError(
                        f"arrays: rows of shape {old.shape[1:]} and dtype {old.dtype} expected, got "
                        f"{new.shape[1:]} and {new.dtype}"
                    )
        return out

    def _make_buffers(self) -> None:
        b, cuda = self.batch_size, self.device.type == "cuda"
        self._host: list[list[np.ndarray]] = []  # [slot][array]
        self._host_t: list[list[torch.Tensor]] = []
        for _ in range(2):
            ts = [
                torch.from_numpy(np.empty((0,), a.dtype)).new_empty((b, *a.shape[1:]), pin_memory=cuda)
                for a in self.arrays
            ]
            self._host_t.append(ts)
            self._host.append([t.numpy() for t in ts])
        # row views made once (not per batch): the kernel's 2-D unsigned views of the sources and buffers
        self._host_views = [[row_view(h) for h in hs] for hs in self._host]
        self._full = [tuple(ts) for ts in self._host_t]
        # per slot, per array: (source row view, buffer row view, dist, pf_bytes), rebuilt when arrays change
        self._src_views: tuple[list[np.ndarray], list[list[tuple[np.ndarray, np.ndarray, int, int]]]] | None = None
        if cuda:  # pragma: no cover - no CUDA device on the test machines
            self._dev = [[t.new_empty(t.shape, device=self.device) for t in ts] for ts in self._host_t]
            self._copy_stream = torch.cuda.Stream(device=self.device)
            self._host_free = [torch.cuda.Event() for _ in range(2)]  # the H2D copy out of host slot done
            self._ready = [torch.cuda.Event() for _ in range(2)]  # device slot filled
            self._dev_free = [torch.cuda.Event() for _ in range(2)]  # consumer done with device slot

    # sizes and order ----------------------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        """Samples per epoch (the current arrays' first dimension)."""
        return int(self.arrays[0].shape[0])

    def __len__(self) -> int:
        n, b = self.n_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def order(self, epoch: int) -> np.ndarray:
        """The sample order of ``epoch`` (int64): a seeded permutation, or ``arange`` without shuffling.

        Examples
        --------
        >>> DataPipeline(np.zeros(4), batch_size=2, seed=3).order(0).tolist()
        [3, 2, 1, 0]
        """
        if not self.shuffle:
            return np.arange(self.n_samples, dtype=np.int64)
        return seeded_permutation(self.n_samples, self.seed, int(epoch))

    def _epoch_order(self, epoch: int) -> np.ndarray:
        """:meth:`order` written into one of two reusable arrays (by the parity of the epoch; a fresh 8 MB
        array per epoch cost a few ms of page faults at 1M samples), of int32 below 2**31 samples: the same
        permutation (the shuffle's draws do not depend on the element type) in half the memory, which made
        the shuffle 1.8x faster and the gather's reads of the order half as many bytes at 1M samples."""
        n = self.n_samples
        slot = epoch % 2 if self.shuffle else 0
        buf = self._orders[slot]
        if buf is None or buf.shape[0] != n:
            buf = self._orders[slot] = np.empty(n, dtype=np.int32 if n < 2**31 else np.int64)
            if not self.shuffle:
                buf[:] = np.arange(n)
        if self.shuffle:
            _fisher_yates(buf, np.uint64(shuffle_state(self.seed, epoch)))
        return buf

    # adaptive sampling --------------------------------------------------------------------------------
    def replace(self, rows: Any, *values: Any) -> None:
        """Overwrite the samples ``rows`` of every array with ``values`` (one per array) when the next epoch
        starts (at once between epochs).

        Parameters
        ----------
        rows : array of int
            Row indices.
        *values : arrays
            New rows, one array per pipeline array, of shape ``(len(rows), *row_shape)``.
        """
        idx = np.asarray(rows)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise TypeError("rows must be a 1-D array of integer indices")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_samples):
            raise ValueError(f"rows must lie in [0, {self.n_samples})")
        if len(values) != len(self.arrays):
            raise ValueError(f"values: expected {len(self.arrays)} arrays (one per pipeline array), got {len(values)}")
        vals = []
        for a, v in zip(self.arrays, values):
            v = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
            if v.shape != (idx.size, *a.shape[1:]):
                raise ValueError(f"values: expected shape {(idx.size, *a.shape[1:])}, got {v.shape}")
            if not a.flags.writeable:
                raise ValueError(
                    "replace needs writeable arrays; these are read-only (a .npy opened with "
                    "mmap_mode='r'): use set_arrays with new arrays instead"
                )
            vals.append(v)

        def apply() -> None:
            for a, v in zip(self.arrays, vals):
                a[idx] = v

        self._stage(apply)

    def set_arrays(self, *arrays: Any) -> None:
        """Swap in new arrays (any number of samples, the same row shapes and dtypes) when the next epoch
        starts (at once between epochs); the buffers are kept."""
        new = self._check(arrays, like=self.arrays)

        def apply() -> None:
            self.arrays = new
            if self.huge_pages:
                for a in new:
                    collapse_huge_pages(a)

        self._stage(apply)

    def on_epoch_end(self, hook: Callable[[DataPipeline], Any]) -> None:
        """Run ``hook(pipeline)`` whenever an epoch ends (e.g. a sampler that calls :meth:`replace`)."""
        if not callable(hook):
            raise TypeError(f"hook must be callable, got {type(hook).__name__}")
        self._hooks.append(hook)

    def _stage(self, change: Callable[[], None]) -> None:
        if self.position == 0:
            change()
        else:
            self._staged.append(change)

    def _end_epoch(self) -> None:
        self.epoch += 1
        self.position = 0
        for hook in self._hooks:
            hook(self)
        for change in self._staged:
            change()
        self._staged.clear()

    # iteration ----------------------------------------------------------------------------------------
    def _bounds(self, k: int) -> tuple[int, int]:
        return k * self.batch_size, min((k + 1) * self.batch_size, self.n_samples)

    def _gather_host(self, slot: int, order: np.ndarray, lo: int, hi: int) -> None:
        """Host buffer ``slot`` gets the rows ``order[lo:hi]`` (the kernel also prefetches the first rows of
        the next batch, ``order[hi:]``, so they are on their way when that batch is gathered)."""
        for src, buf, dist, pf_bytes in self._jobs()[slot]:
            _gather(src, order, lo, hi, buf, self.parallel, dist, pf_bytes)

    def _jobs(self) -> list[list[tuple[np.ndarray, np.ndarray, int, int]]]:
        """Per host slot, per array: ``(source row view, buffer row view, dist, pf_bytes)`` (made once per
        set of arrays, not per batch)."""
        if self._src_views is None or self._src_views[0] is not self.arrays:
            views = []
            for a in self.arrays:
                v = row_view(a)
                views.append((v, *prefetch_plan(max(1, v.shape[1] * v.itemsize))))
            jobs = [[(v, buf, dist, pf) for (v, dist, pf), buf in zip(views, hv)] for hv in self._host_views]
            self._src_views = (self.arrays, jobs)
        return self._src_views[1]

    def __iter__(self) -> Iterator[Batch]:
        """The rest of the current epoch (all of it when it has not started)."""
        order = self._epoch_order(self.epoch)
        nb = len(self)
        if self.device.type == "cuda":  # pragma: no cover - no CUDA device on the test machines
            yield from self._cuda_epoch(order, nb)
        else:
            yield from self._cpu_epoch(order, nb)
        self._end_epoch()

    def _cpu_epoch(self, order: np.ndarray, nb: int) -> Iterator[Batch]:
        """The CPU path. The full batches go through a lean loop (about 1 us of Python per batch: the
        kernel call of each array and the yield of a prebuilt tuple of tensors that share the buffers);
        the last, partial one through :meth:`_gather_host`."""
        b, n = self.batch_size, self.n_samples
        full = min(nb, n // b)
        start = self.position
        if start < full:
            jobs, out = self._jobs(), self._full
            parallel = self.parallel
            if parallel is None:
                row_bytes = sum(v.shape[1] * v.itemsize for v, _, _, _ in jobs[0])
                parallel = b * row_bytes >= PARALLEL_BYTES
            if parallel:
                chunks = max(1, min(4 * numba.get_num_threads(), b // 512))
                for k in range(start, full):
                    lo = k * b
                    for src, buf, dist, pf in jobs[k & 1]:
                        _gather_parallel(src, order, lo, lo + b, buf, dist, pf, chunks)
                    self.position = k + 1
                    yield out[k & 1]
            elif len(jobs[0]) == 1:  # one array: the common case, one kernel call per batch
                (s0, b0, d0, p0), (s1, b1, d1, p1) = jobs[0][0], jobs[1][0]
                t0, t1 = out
                for k in range(start, full):
                    lo = k * b
                    if k & 1:
                        _gather_serial(s1, order, lo, lo + b, b1, d1, p1)
                        self.position = k + 1
                        yield t1
                    else:
                        _gather_serial(s0, order, lo, lo + b, b0, d0, p0)
                        self.position = k + 1
                        yield t0
            else:
                for k in range(start, full):
                    lo = k * b
                    for src, buf, dist, pf in jobs[k & 1]:
                        _gather_serial(src, order, lo, lo + b, buf, dist, pf)
                    self.position = k + 1
                    yield out[k & 1]
        for k in range(max(start, full), nb):  # the last, partial batch
            lo, hi = self._bounds(k)
            slot = k % 2
            self._gather_host(slot, order, lo, hi)
            self.position = k + 1
            yield tuple(t[: hi - lo] for t in self._host_t[slot])

    def _cuda_schedule(self, k: int, order: np.ndarray) -> None:  # pragma: no cover - needs CUDA
        lo, hi = self._bounds(k)
        slot = k % 2
        self._host_free[slot].synchronize()  # the previous copy out of this pinned buffer has finished
        self._gather_host(slot, order, lo, hi)
        with torch.cuda.stream(self._copy_stream):
            self._copy_stream.wait_event(self._dev_free[slot])  # the consumer is done with this device buffer
            for h, d in zip(self._host_t[slot], self._dev[slot]):
                d[: hi - lo].copy_(h[: hi - lo], non_blocking=True)
            self._host_free[slot].record(self._copy_stream)
            self._ready[slot].record(self._copy_stream)

    def _cuda_epoch(self, order: np.ndarray, nb: int) -> Iterator[Batch]:  # pragma: no cover - needs CUDA
        start = self.position
        if start < nb:
            self._cuda_schedule(start, order)
        for k in range(start, nb):
            if k + 1 < nb:
                self._cuda_schedule(k + 1, order)  # prefetch: overlaps the consumer's work on batch k
            lo, hi = self._bounds(k)
            slot = k % 2
            current = torch.cuda.current_stream(self.device)
            current.wait_event(self._ready[slot])
            self.position = k + 1
            yield tuple(d[: hi - lo] for d in self._dev[slot])
            self._dev_free[slot].record(current)

    def next_batch(self) -> Batch:
        """The next batch of an endless stream over the epochs (what a training loop asks for).

        Examples
        --------
        >>> pipe = DataPipeline(np.arange(3), batch_size=2, shuffle=False)
        >>> [pipe.next_batch()[0].tolist() for _ in range(3)]
        [[0, 1], [2], [0, 1]]
        """
        if self._stream_iter is None:
            self._stream_iter = self._forever()
        return next(self._stream_iter)

    def _forever(self) -> Iterator[Batch]:
        while True:
            yield from iter(self)

    # persistence --------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, int]:
        """Where the stream stands: ``{"epoch", "position"}`` (the order is a function of seed and epoch).

        Examples
        --------
        >>> pipe = DataPipeline(np.arange(5), batch_size=2)
        >>> _ = pipe.next_batch(); pipe.state_dict()
        {'epoch': 0, 'position': 1}
        """
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue from a :meth:`state_dict` (the next batch is the one after the saved position)."""
        try:
            epoch, position = int(state["epoch"]), int(state["position"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"state must hold integer 'epoch' and 'position', got {state!r}") from err
        if epoch < 0 or not 0 <= position <= len(self):
            raise ValueError(f"state out of range: epoch {epoch}, position {position} of {len(self)} batches")
        self.epoch, self.position = epoch, position
        self._stream_iter = None
