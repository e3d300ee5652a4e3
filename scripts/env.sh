# Shared set-up steps for scripts/*.sh (sourced, not run).

ensure_uv() {
  if ! command -v uv >/dev/null 2>&1; then
    echo "installing uv (the package manager that reads uv.lock)"
    python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
    export PATH="$HOME/.local/bin:$PATH"
  fi
}

ensure_java() {
  # The Spark engine needs a Java runtime (17 or 21).
  if ! command -v java >/dev/null 2>&1; then
    echo "installing a Java runtime for Spark"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  fi
}

ensure_pdf_libs() {
  # PDF reports: WeasyPrint draws text with Pango (a system library, not a wheel).
  if ! ldconfig -p 2>/dev/null | grep -q "libpango-1.0.so"; then
    echo "installing Pango for PDF reports"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 >/dev/null
  fi
}
