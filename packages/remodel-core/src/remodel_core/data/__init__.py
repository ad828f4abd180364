"""A data pipeline for in-memory and memory-mapped scientific data (:class:`DataPipeline`): seeded
shuffling, numba gathers into reusable (pinned) buffers, double-buffered prefetch to a CUDA device on a
side stream, and hooks for adaptive sampling between epochs. :class:`PipelineProblem` and :class:`Streamed`
make the pipeline the data of a training problem solved by :func:`remodel_core.solve`.

Examples
--------
>>> import numpy as np
>>> from remodel_core.data import DataPipeline
>>> pipe = DataPipeline(np.random.default_rng(0).standard_normal((100, 3)), batch_size=32, seed=1)
>>> [tuple(b[0].shape) for b in pipe]
[(32, 3), (32, 3), (32, 3), (4, 3)]
"""

from ._kernels import (
    PARALLEL_BYTES,
    gather_reference,
    gather_rows,
    permutation_reference,
    prefetch_plan,
    row_view,
    seeded_permutation,
)
from ._pipeline import DataPipeline, as_array, collapse_huge_pages
from ._solve import PipelineProblem, Streamed

__all__ = [
    "PARALLEL_BYTES",
    "DataPipeline",
    "PipelineProblem",
    "Streamed",
    "as_array",
    "collapse_huge_pages",
    "gather_reference",
    "gather_rows",
    "permutation_reference",
    "prefetch_plan",
    "row_view",
    "seeded_permutation",
]
