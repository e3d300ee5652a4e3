#!/usr/bin/env bash
# Set up everything on a fresh machine, then run the demo on the embedded DuckDB engine.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ensure_uv
ensure_pdf_libs
uv sync --frozen --all-extras --quiet
uv run --frozen portraits demo "$@"
