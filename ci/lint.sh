#!/usr/bin/env bash
# Lint: ruff over the whole repository (rules in the root pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
uv run --frozen ruff check .
