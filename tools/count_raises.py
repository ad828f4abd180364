"""pytest plugin: count the ``pytest.raises`` blocks that passed (each is one bad call checked), per test file.

    PYTHONPATH=tools uv run --frozen pytest -p count_raises packages/*/tests/*bad_input*.py \
        packages/*/tests/*reliability*.py tests/test_bad_input.py
"""

import collections

import pytest

COUNTS = collections.Counter()
_orig = pytest.raises


class _Counting:
    def __init__(self, ctx, key):
        self.ctx, self.key = ctx, key

    def __enter__(self):
        return self.ctx.__enter__()

    def __exit__(self, *exc):
        out = self.ctx.__exit__(*exc)
        if out:
            COUNTS[self.key] += 1
        return out


def counting(*args, **kwargs):
    import inspect

    frame = inspect.stack()[1]
    key = frame.filename.split("/packages/")[-1].split("/tests/")[0] if "/packages/" in frame.filename else "tests"
    key = f"{key}:{frame.filename.rsplit('/', 1)[-1]}"
    ctx = _orig(*args, **kwargs)
    if len(args) >= 2 or "func" in kwargs:  # the function form raises at once
        COUNTS[key] += 1
        return ctx
    return _Counting(ctx, key)


def pytest_configure(config):
    pytest.raises = counting


def pytest_terminal_summary(terminalreporter):
    total = sum(COUNTS.values())
    for k, v in sorted(COUNTS.items()):
        terminalreporter.write_line(f"RAISES {v:5d} {k}")
    terminalreporter.write_line(f"RAISES TOTAL {total}")
