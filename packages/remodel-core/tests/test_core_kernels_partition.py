"""numba partition kernels against their numpy references: identical indices, weights to 1e-14, sum to 1."""

import numpy as np
import pytest
import torch
from remodel_core.kernels import (
    BoxDecomposition,
    Partition,
    box_partition,
    bump,
    partition_of_unity,
    partition_reference,
    weights_reference,
)

CASES = [
    dict(low=-1.0, high=1.0, subdomains=5, overlap=0.15),
    dict(low=0.0, high=3.0, subdomains=7, overlap=0.5),  # overlap wider than a cell: 3+ subdomains per point
    dict(low=(-1.0, 0.0), high=(1.0, 1.0), subdomains=(4, 3), overlap=0.1),
    dict(low=(0.0, 0.0), high=(1.0, 1.0), subdomains=3, overlap=0.05),
]


def _points(dec, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(dec.low, dec.high, size=(n, dec.dim))
    # add points exactly on cell edges and extended bounds (the comparisons must agree there too)
    edges = dec.bounds().reshape(-1)
    x[: min(n, edges.size), 0] = np.clip(edges[: min(n, edges.size)], dec.low[0], dec.high[0])
    return x


@pytest.mark.parametrize("case", CASES)
def test_partition_matches_reference(case):
    dec = BoxDecomposition(**case)
    x = _points(dec, 3000, seed=1)
    got, ref = box_partition(x, dec), partition_reference(x, dec)
    np.testing.assert_array_equal(got.offsets, ref.offsets)
    np.testing.assert_array_equal(got.indices, ref.indices)
    # each subdomain's points really lie in its closed extended box, and every point is somewhere
    bounds = dec.bounds()
    for k in range(dec.n_subdomains):
        idx = got.subdomain(k)
        assert np.all(np.diff(idx) > 0)
        assert np.all((x[idx] >= bounds[k, :, 0]) & (x[idx] <= bounds[k, :, 1]))
        outside = np.setdiff1d(np.arange(len(x)), idx)
        assert not np.any(np.all((x[outside] >= bounds[k, :, 0]) & (x[outside] <= bounds[k, :, 1]), axis=1))
    assert np.unique(got.indices).size == len(x)


@pytest.mark.parametrize("case", CASES)
def test_weights_match_reference_and_sum_to_one(case):
    dec = BoxDecomposition(**case)
    x = _points(dec, 3000, seed=2)
    ref = weights_reference(x, dec)
    fused = partition_of_unity(x, dec)
    given = partition_of_unity(x, dec, box_partition(x, dec))
    for got in (fused, given):
        np.testing.assert_array_equal(got.indices, ref.indices)
        np.testing.assert_allclose(got.weights, ref.weights, atol=1e-14, rtol=0)
        dense = got.dense_weights(len(x))
        np.testing.assert_allclose(dense.sum(axis=1), 1.0, atol=1e-14)
        assert np.all(got.weights >= 0)


def test_weights_are_one_away_from_overlaps_and_smooth():
    dec = BoxDecomposition(low=0.0, high=1.0, subdomains=2, overlap=0.1)
    x = np.linspace(0.0, 1.0, 2001)
    w = partition_of_unity(x, dec).dense_weights(len(x))
    np.testing.assert_allclose(w[x < 0.4, 0], 1.0, atol=1e-15)
    np.testing.assert_allclose(w[x > 0.6, 1], 1.0, atol=1e-15)
    np.testing.assert_allclose(w[:, 0], w[::-1, 1], atol=1e-12)  # mirror symmetry
    assert np.abs(np.diff(w[:, 0], 2)).max() < 1e-3  # no kinks on a fine grid


def test_bump_values():
    np.testing.assert_allclose(bump(np.array([0.0, 1.0, -1.0, 2.0])), [1.0, 0.0, 0.0, 0.0])
    assert 0 < bump(np.array([0.999]))[0] < 1e-100


def test_torch_and_1d_inputs_and_empty_subdomains():
    dec = BoxDecomposition(low=0.0, high=1.0, subdomains=4, overlap=0.01)
    x = torch.tensor([0.1, 0.12, 0.9], dtype=torch.float64)
    p = box_partition(x, dec)
    assert isinstance(p, Partition) and p.counts().tolist() == [2, 0, 0, 1]
    assert p.subdomain(1).size == 0


def test_bad_inputs():
    with pytest.raises(ValueError, match="overlap"):
        BoxDecomposition(low=0.0, high=1.0, subdomains=2, overlap=-0.1)
    with pytest.raises(ValueError, match="subdomains"):
        BoxDecomposition(low=0.0, high=1.0, subdomains=0, overlap=0.1)
    with pytest.raises(ValueError, match="low"):
        BoxDecomposition(low=(0.0, 0.0, 0.0), high=(1.0, 1.0, 1.0), subdomains=2, overlap=0.1)
    with pytest.raises(ValueError, match="low"):
        BoxDecomposition(low=1.0, high=0.0, subdomains=2, overlap=0.1)
    dec = BoxDecomposition(low=(0.0, 0.0), high=(1.0, 1.0), subdomains=2, overlap=0.1)
    with pytest.raises(ValueError, match="points"):
        box_partition(np.zeros((3, 3)), dec)
    with pytest.raises(ValueError, match="points"):
        box_partition(np.full((3, 2), np.nan), dec)
    with pytest.raises(TypeError, match="dec"):
        box_partition(np.zeros((3, 2)), "grid")
    no_overlap = BoxDecomposition(low=0.0, high=1.0, subdomains=2, overlap=0.0)
    with pytest.raises(ValueError, match="overlap must be > 0"):
        partition_of_unity(np.array([0.5]), no_overlap)
    with pytest.raises(ValueError, match="overlap must be > 0"):
        weights_reference(np.array([0.5]), no_overlap)
