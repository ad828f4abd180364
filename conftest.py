"""Fixtures shared by the tests of every package: torch on one intra-op thread.

The tests train tiny networks; on a loaded two-core machine torch's intra-op threads spin against each other
and a test that takes seconds on one thread can take minutes on two. The previous setting is restored after.
"""

from collections.abc import Iterator

import pytest
import torch


def _single_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One intra-op thread for the test that asks for it."""
    yield from _single_thread()


@pytest.fixture(scope="module")
def one_thread_module() -> Iterator[None]:
    """One intra-op thread for a whole module, its module-scoped fixtures included."""
    yield from _single_thread()
