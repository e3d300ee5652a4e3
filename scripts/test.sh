#!/usr/bin/env bash
# The whole test suite: lint (ruff), types (mypy), tests (pytest, DuckDB and Spark).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ensure_uv
ensure_java
ensure_pdf_libs
bash scripts/browser.sh  # Chromium, poppler-utils, CJK fonts: the report's browser tests
uv sync --frozen --all-extras --quiet
echo "== ruff"; uv run --frozen ruff check src tests bench
echo "== mypy"; uv run --frozen mypy
echo "== pytest"
set +e
uv run --frozen pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$status"
