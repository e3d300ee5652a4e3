#!/usr/bin/env bash
# Set up everything on a fresh machine, then run the demo on the embedded DuckDB engine.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ensure_uv
ensure_pdf_libs
# Bytecode compiled once at install: where PYTHONDONTWRITEBYTECODE is set, every
# process would otherwise compile pandas, Splink and the rest again (2 s for pandas).
uv sync --frozen --all-extras --quiet --compile-bytecode
uv run --frozen portraits demo "$@"
