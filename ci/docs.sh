#!/usr/bin/env bash
# The API reference and the executed examples: sphinx-build over docs/ with warnings as errors.
# The output is docs/_build/html (index.html). `uv run --group docs` adds the docs group (sphinx, numpydoc,
# sphinx-gallery, furo) to the locked environment.  Extra arguments go to sphinx-build (e.g. -E to rebuild all).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MPLBACKEND=Agg HF_HUB_OFFLINE=1
uv run --frozen --group docs sphinx-build -W --keep-going -q -b html "$@" docs docs/_build/html
echo "docs: built docs/_build/html/index.html"
