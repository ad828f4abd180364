#!/usr/bin/env bash
# Layering: no domain package imports another, remodel_core imports none (tools/check_layering.py).
set -euo pipefail
cd "$(dirname "$0")/.."
uv run --frozen python tools/check_layering.py .
