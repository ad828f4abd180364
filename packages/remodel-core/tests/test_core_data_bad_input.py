"""Bad input to remodel_core.data: a clear TypeError/ValueError naming the argument, at the call."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from remodel_core.data import DataPipeline, as_array, gather_rows, prefetch_plan, row_view, seeded_permutation

X = np.zeros((10, 3), np.float32)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": -3}, "batch_size"),
        ({"batch_size": 1.5}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"batch_size": "8"}, "batch_size"),
        ({"batch_size": None}, "batch_size"),
        ({"batch_size": 2, "seed": -1}, "seed"),
        ({"batch_size": 2, "seed": 1.0}, "seed"),
        ({"batch_size": 2, "seed": True}, "seed"),
        ({"batch_size": 2, "shuffle": "yes"}, "shuffle"),
        ({"batch_size": 2, "shuffle": 1}, "shuffle"),
        ({"batch_size": 2, "drop_last": 1}, "drop_last"),
        ({"batch_size": 2, "parallel": "x"}, "parallel"),
        ({"batch_size": 2, "parallel": 1}, "parallel"),
        ({"batch_size": 2, "device": "tpu"}, "device"),
        ({"batch_size": 2, "device": "nonsense"}, "device"),
        ({"batch_size": 2, "device": 3.5}, "device"),
    ],
)
def test_pipeline_options(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        DataPipeline(X, **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_device_without_cuda():
    with pytest.raises(ValueError, match="device"):
        DataPipeline(X, batch_size=2, device="cuda")


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ((), "arrays"),
        ((X, np.zeros(9)), "arrays"),
        ((np.zeros((0, 3)),), "arrays"),
        ((np.float32(1.0),), "arrays"),
        (([1, 2, 3],), "arrays"),
        ((np.array([object()] * 10),), "arrays"),
        (("data.csv",), "arrays"),
        (("missing.npy",), "arrays"),
        ((np.zeros(10, dtype="datetime64[s]"),), "arrays"),
        ((None,), "arrays"),
    ],
)
def test_pipeline_arrays(arrays, match):
    with pytest.raises((TypeError, ValueError), match=match):
        DataPipeline(*arrays, batch_size=2)


def test_as_array_checks():
    with pytest.raises(ValueError, match="name"):
        as_array(np.array(2.0), "name")
    with pytest.raises(TypeError, match="points"):
        as_array({"a": 1}, "points")


@pytest.mark.parametrize(
    ("rows", "values", "match"),
    [
        (np.zeros((1, 1), int), (np.zeros((1, 3)),), "rows"),
        ([10], (np.zeros((1, 3)),), "rows"),
        ([-1], (np.zeros((1, 3)),), "rows"),
        ([0.5], (np.zeros((1, 3)),), "rows"),
        ([0], (), "values"),
        ([0], (np.zeros((1, 3)), np.zeros(1)), "values"),
        ([0], (np.zeros((2, 3)),), "values"),
        ([0, 1], (np.zeros((2, 4)),), "values"),
    ],
)
def test_replace(rows, values, match):
    pipe = DataPipeline(X.copy(), batch_size=2)
    with pytest.raises((TypeError, ValueError), match=match):
        pipe.replace(rows, *values)


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ((np.zeros((5, 4), np.float32),), "rows of shape"),
        ((np.zeros((5, 3), np.float64),), "dtype"),
        ((X, X), "expected 1 arrays"),
        ((np.zeros((0, 3), np.float32),), "arrays"),
    ],
)
def test_set_arrays(arrays, match):
    pipe = DataPipeline(X, batch_size=2)
    with pytest.raises(ValueError, match=match):
        pipe.set_arrays(*arrays)


def test_hook_and_state():
    pipe = DataPipeline(X, batch_size=2)
    with pytest.raises(TypeError, match="hook"):
        pipe.on_epoch_end(3)
    for state in ({}, {"epoch": "a", "position": 0}, {"epoch": 0, "position": 99}, {"epoch": -1, "position": 0}, None):
        with pytest.raises(ValueError, match="state"):
            pipe.load_state_dict(state)


@pytest.mark.parametrize(
    ("idx", "out", "match"),
    [
        (np.array([0.0]), np.empty((1, 3), np.float32), "idx"),
        (np.array([[0]]), np.empty((1, 3), np.float32), "idx"),
        ([0], np.empty((1, 3), np.float32), "idx"),
        (np.array([10]), np.empty((1, 3), np.float32), "idx"),
        (np.array([-1]), np.empty((1, 3), np.float32), "idx"),
        (np.array([0]), np.empty((2, 3), np.float32), "out"),
        (np.array([0]), np.empty((1, 3), np.float64), "out"),
        (np.array([0]), [[0, 0, 0]], "out"),
    ],
)
def test_gather_rows(idx, out, match):
    with pytest.raises((TypeError, ValueError), match=match):
        gather_rows(X, idx, out)


def test_row_view():
    with pytest.raises(TypeError, match="a must"):
        row_view([1, 2])
    with pytest.raises(ValueError, match="contiguous"):
        row_view(np.zeros((4, 4))[:, ::2])
    with pytest.raises(ValueError, match="dimension"):
        row_view(np.zeros(()))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((-1, 0, 0), "n"),
        ((2.0, 0, 0), "n"),
        ((True, 0, 0), "n"),
        ((3, -1, 0), "seed"),
        ((3, "0", 0), "seed"),
        ((3, None, 0), "seed"),
        ((3, 0, -2), "epoch"),
        ((3, 0, 1.5), "epoch"),
    ],
)
def test_seeded_permutation(args, match):
    with pytest.raises(ValueError, match=match):
        seeded_permutation(*args)


@pytest.mark.parametrize("row_bytes", [0, -8, 1.5, True, "64", None])
def test_prefetch_plan(row_bytes):
    with pytest.raises(ValueError, match="row_bytes"):
        prefetch_plan(row_bytes)


@pytest.mark.parametrize("prefetch", [1, None, "yes"])
def test_gather_rows_prefetch_flag(prefetch):
    with pytest.raises(TypeError, match="prefetch"):
        gather_rows(X, np.array([0]), np.empty((1, 3), np.float32), prefetch=prefetch)


@pytest.mark.parametrize("flag", ["yes", 1, None])
def test_huge_pages_flag(flag):
    with pytest.raises(TypeError, match="huge_pages"):
        DataPipeline(X, batch_size=2, huge_pages=flag)


@pytest.mark.parametrize("a", [[1.0, 2.0], torch.zeros(3), None])
def test_collapse_huge_pages(a):
    from remodel_core.data import collapse_huge_pages

    with pytest.raises(TypeError, match="a must"):
        collapse_huge_pages(a)
