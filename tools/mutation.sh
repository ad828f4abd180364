#!/usr/bin/env bash
# Mutation testing with cosmic-ray, fetched from PyPI for this run only (the project's lock is unchanged).
# Not part of CI. See tools/mutation.py for the options and docs/TESTING.md for the recorded scores.
#   tools/mutation.sh --module packages/remodel-core/src/remodel_core/integrate \
#       --tests packages/remodel-core/tests/test_core_integrate_odeint.py --sample 60
set -euo pipefail
cd "$(dirname "$0")/.."
exec uv run --frozen --with "cosmic-ray==8.7.0" python tools/mutation.py "$@"
