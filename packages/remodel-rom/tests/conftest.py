"""Test settings of remodel-rom: torch runs single-threaded inside these tests only.

The networks here are tiny; on a loaded machine torch's intra-op threads spin against each other and a test
that takes seconds single-threaded can take minutes. The previous setting is restored after each test.
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
