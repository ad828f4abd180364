"""Shared fixtures of the remodel-core tests."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny problems: one intra-op thread is much faster than two on a shared machine (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
