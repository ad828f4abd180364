"""Test settings of remodel-rom: torch runs single-threaded inside these tests only (the root conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _single_torch_thread(one_thread):
    """Every remodel-rom test runs on one intra-op thread, restored after each test."""
