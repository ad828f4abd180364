"""numba kernels of the data pipeline: row gathers into preallocated buffers with software prefetch, and a
numpy reference.

Why prefetch: a shuffled gather reads rows at random addresses, so it is bound by memory latency, not
bandwidth. The out-of-order core overlaps only the few misses that fit in its window; ``llvm.prefetch`` of
the rows ``dist`` positions ahead keeps many more misses in flight. Measured on the two-core machine of
``tools/bench/data_pipeline.py`` (128 MiB of rows, one thread, CPU time; see ``--sweep``), the prefetching
kernel gathers 1.3-1.8x more rows per second than the same loop without prefetch and than
``torch.index_select`` at every row size from 8 B to 4 KiB and batch 256 to 8192, so the pipeline has no
torch path on the host.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "gather_reference",
    "gather_rows",
    "permutation_reference",
    "prefetch_plan",
    "row_view",
    "seeded_permutation",
]

_I8P = ir.IntType(8).as_pointer()
# the intrinsic's name is mangled by the pointer type: opaque pointers (LLVM >= 15 in llvmlite >= 0.45)
# print as "ptr", typed ones as "i8*"
_PREFETCH = "llvm.prefetch.p0" if str(_I8P) == "ptr" else "llvm.prefetch.p0i8"


@intrinsic
def _prefetch(typingctx, arr, row, offset):  # pragma: no cover - compiled
    """Prefetch (read, locality 1: into the outer caches) the byte ``offset`` of row ``row`` of a 2-D array."""
    sig = types.void(arr, row, offset)

    def codegen(context, builder, signature, args):
        aryty, rowty, offty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        row_i = context.cast(builder, args[1], rowty, types.intp)
        off_i = context.cast(builder, args[2], offty, types.intp)
        stride0 = builder.extract_value(ary.strides, 0)
        ptr = builder.gep(builder.bitcast(ary.data, _I8P), [builder.add(builder.mul(row_i, stride0), off_i)])
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [_I8P, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _PREFETCH)
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 1), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(nogil=True, cache=True, inline="always")
def _prefetch_row(src, j, pf_bytes):  # pragma: no cover - compiled
    for off in range(0, pf_bytes, 64):  # one prefetch per cache line, and the last byte (rows are not aligned)
        _prefetch(src, j, off)
    _prefetch(src, j, pf_bytes - 1)


@numba.njit(nogil=True, cache=True)
def _gather_range(src, order, a, b, out, out0, dist, pf_bytes, pf_end):  # pragma: no cover - compiled
    """``out[i - out0] = src[order[i]]`` for ``a <= i < b``, prefetching ``order[i + dist]`` while
    ``i + dist < pf_end`` (``pf_end`` may pass ``b``: the next batch's first rows are then on their way)."""
    if pf_bytes > 0:
        for i in range(a, min(a + dist, pf_end)):
            _prefetch_row(src, order[i], pf_bytes)
    for i in range(a, b):
        if pf_bytes > 0 and i + dist < pf_end:
            _prefetch_row(src, order[i + dist], pf_bytes)
        j = order[i]
        r = i - out0
        for k in range(src.shape[1]):
            out[r, k] = src[j, k]


@numba.njit(nogil=True, cache=True)
def _gather_serial(src, order, lo, hi, out, dist, pf_bytes):  # pragma: no cover - compiled
    _gather_range(src, order, lo, hi, out, lo, dist, pf_bytes, min(hi + dist, order.shape[0]))


@numba.njit(parallel=True, nogil=True, cache=True)
def _gather_parallel(src, order, lo, hi, out, dist, pf_bytes, chunks):  # pragma: no cover - compiled
    m = hi - lo
    for c in numba.prange(chunks):
        a = lo + (m * c) // chunks
        b = lo + (m * (c + 1)) // chunks
        _gather_range(src, order, a, b, out, lo, dist, pf_bytes, b)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LOW32 = np.uint64(0xFFFFFFFF)
_TWO32 = np.uint64(1 << 32)


@numba.njit(nogil=True, cache=True, inline="always")
def _splitmix64(s):  # pragma: no cover - compiled
    """One step of SplitMix64 (Steele, Lea & Flood, OOPSLA 2014): the new state and the output."""
    s = s + _GOLDEN
    z = (s ^ (s >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return s, z ^ (z >> np.uint64(31))


@numba.njit(nogil=True, cache=True, inline="always")
def _draw_below(s, bound):  # pragma: no cover - compiled
    """``(state, j)``, ``j`` uniform in ``[0, bound)`` without bias: Lemire's multiply-shift with rejection
    (ACM TOMACS 2019) on the high 32 bits of SplitMix64 (modulo with rejection on 64 bits for bounds above
    2**32)."""
    s, z = _splitmix64(s)
    if bound <= _TWO32:
        m = (z >> np.uint64(32)) * bound
        if (m & _LOW32) < bound:
            t = (_TWO32 - bound) % bound
            while (m & _LOW32) < t:
                s, z = _splitmix64(s)
                m = (z >> np.uint64(32)) * bound
        return s, np.int64(m >> np.uint64(32))
    t = (np.uint64(0) - bound) % bound  # 2**64 mod bound
    while z < t:
        s, z = _splitmix64(s)
    return s, np.int64(z % bound)


#: Fisher-Yates steps drawn ahead of the swap, their element prefetched (at most 63: the ring holds 64)
_SHUFFLE_AHEAD = 32


@numba.njit(nogil=True, cache=True)
def _fisher_yates(out, state):  # pragma: no cover - compiled
    """``out`` (length n) becomes a uniformly random permutation of ``0..n-1``: Durstenfeld's Fisher-Yates
    shuffle (Knuth, TAOCP vol. 2, 3.4.2 Algorithm P), each ``j`` uniform in ``[0, i]`` (:func:`_draw_below`).

    The draws do not depend on the array, so the ``j`` of step ``i - 32`` is drawn at step ``i`` (kept in a
    ring of 64) and ``out[j]`` prefetched: the random reads of the swaps are then in flight together
    (1.3-1.5x faster at 1M int32 on the bench machine; the same permutation, draw for draw)."""
    n = out.shape[0]
    for i in range(n):
        out[i] = i
    ring = np.empty(64, np.int64)
    s = np.uint64(state)
    for i in range(n - 1, max(0, n - 1 - _SHUFFLE_AHEAD), -1):
        s, j = _draw_below(s, np.uint64(i + 1))
        ring[i & 63] = j
        _prefetch(out, j, 0)
    for i in range(n - 1, 0, -1):
        j = ring[i & 63]
        ahead = i - _SHUFFLE_AHEAD
        if ahead >= 1:
            s, jn = _draw_below(s, np.uint64(ahead + 1))
            ring[ahead & 63] = jn
            _prefetch(out, jn, 0)
        tmp = out[i]
        out[i] = out[j]
        out[j] = tmp


def shuffle_state(seed: int, epoch: int) -> int:
    """The 64-bit SplitMix64 state of the permutation of ``(seed, epoch)``: ``numpy.random.SeedSequence``
    (stable across numpy versions) of ``[seed, epoch]``."""
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1, np.uint64)[0])


def seeded_permutation(n: int, seed: int, epoch: int = 0) -> np.ndarray:
    """A uniformly random permutation of ``0..n-1`` (int64), a pure function of ``(n, seed, epoch)``: the
    Fisher-Yates shuffle driven by SplitMix64 seeded through ``numpy.random.SeedSequence([seed, epoch])``,
    compiled by numba (4-8x faster than ``numpy.random.Generator.permutation`` at n = 1M on the bench machine,
    which made a third of an epoch of the pipeline). Equals :func:`permutation_reference`.

    Parameters
    ----------
    n : int
        Length, non-negative.
    seed : int
        Non-negative seed.
    epoch : int
        Non-negative epoch (each epoch another permutation).

    Examples
    --------
    >>> seeded_permutation(6, seed=0).tolist(), sorted(seeded_permutation(6, seed=0, epoch=1).tolist())
    ([3, 4, 2, 5, 1, 0], [0, 1, 2, 3, 4, 5])
    """
    for name, v in (("n", n), ("seed", seed), ("epoch", epoch)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
    out = np.empty(int(n), dtype=np.int64)
    _fisher_yates(out, np.uint64(shuffle_state(seed, epoch)))
    return out


def permutation_reference(n: int, seed: int, epoch: int = 0) -> np.ndarray:
    """:func:`seeded_permutation` in plain Python integers (the reference of the compiled kernel; slow).

    Parameters
    ----------
    n : int
        Length.
    seed, epoch : int
        As in :func:`seeded_permutation`.

    Examples
    --------
    >>> permutation_reference(6, seed=0).tolist()
    [3, 4, 2, 5, 1, 0]
    """
    mask = (1 << 64) - 1
    state = shuffle_state(seed, epoch)

    def draw() -> int:
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    a = list(range(n))
    for i in range(n - 1, 0, -1):
        bound = i + 1
        z = draw()
        if bound <= 1 << 32:
            m = (z >> 32) * bound
            while (m & 0xFFFFFFFF) < (1 << 32) % bound:  # Lemire: reject the low products below 2**32 mod bound
                m = (draw() >> 32) * bound
            j = m >> 32
        else:  # pragma: no cover - arrays of more than 2**32 samples
            while z < (1 << 64) % bound:
                z = draw()
            j = z % bound
        a[i], a[j] = a[j], a[i]
    return np.array(a, dtype=np.int64)


_UNITS = (np.dtype(np.uint64), np.dtype(np.uint32), np.dtype(np.uint16), np.dtype(np.uint8))

#: Batches of at least this many bytes are gathered by the threaded kernel (below it the threads cost more
#: than they save; on the shared two-core machine the threaded kernel lost at every batch of
#: tools/bench/data_pipeline.py, so the threshold is high).
PARALLEL_BYTES = 1 << 22


def prefetch_plan(row_bytes: int) -> tuple[int, int]:
    """The prefetch of a gather of rows of ``row_bytes`` bytes: ``(dist, pf_bytes)``, prefetch the first
    ``pf_bytes`` bytes of the row ``dist`` rows ahead.

    The rule, from the row-size sweep of ``tools/bench/data_pipeline.py --sweep``: keep about 32 KiB of
    rows in flight (``dist = 32768 // row_bytes`` clipped to [8, 64]: 64 rows up to 512 B, 32 at 1 KiB,
    8 from 4 KiB) and prefetch whole rows up to 1 KiB, only the first 256 B of longer rows (the hardware
    stream prefetcher follows a long row once it is entered).

    Parameters
    ----------
    row_bytes : int
        Bytes per row (sample), positive.

    Examples
    --------
    >>> prefetch_plan(132), prefetch_plan(1024), prefetch_plan(4096)
    ((64, 132), (32, 1024), (8, 256))
    """
    if isinstance(row_bytes, bool) or not isinstance(row_bytes, int | np.integer) or row_bytes < 1:
        raise ValueError(f"row_bytes must be a positive integer, got {row_bytes!r}")
    dist = int(min(64, max(8, 32768 // row_bytes)))
    return dist, int(row_bytes if row_bytes <= 1024 else 256)


def row_view(a: np.ndarray) -> np.ndarray:
    """``a`` as a 2-D C-contiguous array of unsigned integers, one row per sample (no copy).

    The widest unit (8, 4, 2 or 1 bytes) that divides the row length is chosen, so the kernel copies rows
    of any dtype and shape in as few moves as possible.

    Parameters
    ----------
    a : numpy.ndarray
        C-contiguous, at least 1-D.

    Examples
    --------
    >>> row_view(np.zeros((5, 33), dtype=np.float32)).dtype, row_view(np.zeros((5, 33), np.float32)).shape
    (dtype('uint32'), (5, 33))
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"a must be a numpy array, got {type(a).__name__}")
    if a.ndim < 1:
        raise ValueError("a must have at least one dimension (the samples)")
    if not a.flags.c_contiguous:
        raise ValueError("a must be C-contiguous")
    rows = a.reshape(a.shape[0], -1).view(np.uint8)
    nbytes = rows.shape[1]
    for unit in _UNITS:
        if nbytes % unit.itemsize == 0 and (a.ctypes.data % unit.itemsize == 0):
            return rows.view(unit)
    return rows  # pragma: no cover - uint8 always divides


def gather_rows(
    src: np.ndarray, idx: np.ndarray, out: np.ndarray, *, parallel: bool | None = None, prefetch: bool = True
) -> np.ndarray:
    """``out[i] = src[idx[i]]`` by a numba kernel (software prefetch of the rows ahead; threaded over
    chunks of rows for large batches), into the preallocated ``out``; returns ``out``. Equals
    :func:`gather_reference`.

    Parameters
    ----------
    src : numpy.ndarray
        The samples (first dimension), C-contiguous (in memory or memory-mapped).
    idx : numpy.ndarray of int
        Row indices, each in ``[0, len(src))``.
    out : numpy.ndarray
        C-contiguous, shape ``(len(idx), *src.shape[1:])``, dtype of ``src``.
    parallel : bool, optional
        Threaded kernel; default: when the batch has at least ``PARALLEL_BYTES`` bytes.
    prefetch : bool
        Software prefetch as planned by :func:`prefetch_plan` (off: the plain copy loop, for comparison).

    Examples
    --------
    >>> src = np.arange(12.0).reshape(6, 2)
    >>> gather_rows(src, np.array([4, 0]), np.empty((2, 2)))
    array([[8., 9.],
           [0., 1.]])
    """
    if not isinstance(idx, np.ndarray) or idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise TypeError("idx must be a 1-D numpy array of integers")
    if not isinstance(out, np.ndarray) or out.dtype != src.dtype or out.shape != (idx.shape[0], *src.shape[1:]):
        raise ValueError(f"out must be an array of dtype {src.dtype} and shape {(idx.shape[0], *src.shape[1:])}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= src.shape[0]):
        raise ValueError(f"idx must lie in [0, {src.shape[0]})")
    if not isinstance(prefetch, bool):
        raise TypeError(f"prefetch must be a bool, got {prefetch!r}")
    s, o = row_view(src), row_view(out)
    dist, pf_bytes = prefetch_plan(max(1, s.shape[1] * s.itemsize))
    _gather(s, np.ascontiguousarray(idx), 0, idx.shape[0], o, parallel, dist, pf_bytes if prefetch else 0)
    return out


def _gather(
    src: np.ndarray,
    order: np.ndarray,
    lo: int,
    hi: int,
    out: np.ndarray,
    parallel: bool | None,
    dist: int,
    pf_bytes: int,
) -> None:
    """The unchecked kernel call: ``out[:hi - lo] = src[order[lo:hi]]`` (indices known valid; 2-D row
    views of the same unit); the serial kernel also prefetches the first rows of ``order[hi:]``."""
    if parallel is None:
        parallel = (hi - lo) * src.shape[1] * src.itemsize >= PARALLEL_BYTES
    if parallel:
        # a few chunks per thread, >= 512 rows each (numba.get_num_threads inside the kernel defeats its cache)
        chunks = max(1, min(4 * numba.get_num_threads(), (hi - lo) // 512))
        _gather_parallel(src, order, lo, hi, out, dist, pf_bytes, chunks)
    else:
        _gather_serial(src, order, lo, hi, out, dist, pf_bytes)


def gather_reference(src: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The numpy reference of :func:`gather_rows`: ``src[idx]``.

    Parameters
    ----------
    src : numpy.ndarray
        The samples (first dimension).
    idx : array of int
        Row indices.

    Examples
    --------
    >>> gather_reference(np.arange(4), np.array([3, 1]))
    array([3, 1])
    """
    return np.asarray(src)[np.asarray(idx)]
