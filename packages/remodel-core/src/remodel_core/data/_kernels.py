"""numba kernels of the data pipeline: row gathers into preallocated buffers, with a numpy reference."""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["gather_reference", "gather_rows", "row_view"]


@numba.njit(nogil=True, cache=True)
def _gather_serial(src, idx, out):  # pragma: no cover - compiled
    for i in range(idx.shape[0]):
        j = idx[i]
        for k in range(src.shape[1]):
            out[i, k] = src[j, k]


@numba.njit(parallel=True, nogil=True, cache=True)
def _gather_parallel(src, idx, out):  # pragma: no cover - compiled
    for i in numba.prange(idx.shape[0]):
        j = idx[i]
        for k in range(src.shape[1]):
            out[i, k] = src[j, k]


_UNITS = (np.dtype(np.uint64), np.dtype(np.uint32), np.dtype(np.uint16), np.dtype(np.uint8))

#: Batches of at least this many bytes are gathered by the threaded kernel (below it the threads cost more
#: than they save; on the shared two-core machine the threaded kernel lost at every batch of
#: tools/bench/data_pipeline.py, so the threshold is high).
PARALLEL_BYTES = 1 << 22


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


def gather_rows(src: np.ndarray, idx: np.ndarray, out: np.ndarray, *, parallel: bool | None = None) -> np.ndarray:
    """``out[i] = src[idx[i]]`` by a numba kernel (threaded over the rows for large batches), into the
    preallocated ``out``; returns ``out``. Equals :func:`gather_reference`.

    Parameters
    ----------
    src : numpy.ndarray
        The samples (first dimension), C-contiguous (in memory or memory-mapped).
    idx : numpy.ndarray of int64
        Row indices, each in ``[0, len(src))``.
    out : numpy.ndarray
        C-contiguous, shape ``(len(idx), *src.shape[1:])``, dtype of ``src``.
    parallel : bool, optional
        Threaded kernel; default: when the batch has at least ``PARALLEL_BYTES`` bytes.

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
    _gather(row_view(src), idx.astype(np.int64, copy=False), row_view(out), parallel)
    return out


def _gather(src: np.ndarray, idx: np.ndarray, out: np.ndarray, parallel: bool | None) -> None:
    """The unchecked kernel call (indices known valid; 2-D row views of the same unit)."""
    if parallel is None:
        parallel = out.nbytes >= PARALLEL_BYTES
    (_gather_parallel if parallel else _gather_serial)(src, idx, out)


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
