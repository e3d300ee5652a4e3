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
