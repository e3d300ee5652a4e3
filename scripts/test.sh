#!/usr/bin/env bash
# The whole test suite: lint (ruff), types (mypy), tests (pytest, DuckDB and Spark).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
ensure_uv
ensure_java
ensure_pdf_libs
bash scripts/browser.sh  # Chromium, poppler-utils, CJK fonts: the report's browser tests
# Bytecode compiled once at install: where PYTHONDONTWRITEBYTECODE is set, every
# process would otherwise compile pandas, Splink and the rest again (2 s for pandas).
uv sync --frozen --all-extras --quiet --compile-bytecode
echo "== ruff"; uv run --frozen ruff check src tests bench
echo "== mypy"; uv run --frozen mypy
echo "== pytest"
set +e
if [ "$#" -eq 0 ]; then
  # The whole-pipeline parity test (10,000 customers on DuckDB, then on Spark) spends most
  # of its five minutes waiting on Spark's scheduler, not computing: it runs in a pytest
  # process of its own beside the rest of the suite, and its output follows the suite's.
  parity_test=tests/pipeline/test_pipeline_parity.py
  parity_log=$(mktemp)
  uv run --frozen pytest -p no:cacheprovider "$parity_test" >"$parity_log" 2>&1 &
  parity_pid=$!
  uv run --frozen pytest --ignore="$parity_test"
  status=$?
  wait "$parity_pid"
  parity_status=$?
  echo "== pytest $parity_test (ran beside the suite)"
  cat "$parity_log"
  rm -f "$parity_log"
  if [ "$status" -eq 0 ] || [ "$status" -eq 5 ]; then
    [ "$parity_status" -ne 0 ] && status=$parity_status
  fi
else
  uv run --frozen pytest "$@"
  status=$?
fi
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$status"
