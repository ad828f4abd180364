"""numba kernels where they beat numpy on the CPU, each with a plain numpy reference the tests compare against.

Overlapping domain decomposition of collocation points: :class:`BoxDecomposition` (a grid of boxes in one
or two dimensions, widened by an overlap), :func:`box_partition` (points per subdomain) and
:func:`partition_of_unity` (smooth weights summing to one), with references :func:`partition_reference`
and :func:`weights_reference`.

Examples
--------
>>> import numpy as np
>>> dec = BoxDecomposition(low=(-1.0, 0.0), high=(1.0, 1.0), subdomains=(4, 2), overlap=0.1)
>>> x = np.random.default_rng(0).uniform((-1, 0), (1, 1), size=(1000, 2))
>>> p = partition_of_unity(x, dec)
>>> p.n_subdomains, bool(np.array_equal(p.indices, partition_reference(x, dec).indices))
(8, True)
"""

from ._decomposition import BoxDecomposition, Partition
from ._partition import box_partition, partition_of_unity
from ._reference import bump, partition_reference, weights_reference

__all__ = [
    "BoxDecomposition",
    "Partition",
    "box_partition",
    "bump",
    "partition_of_unity",
    "partition_reference",
    "weights_reference",
]
