#!/usr/bin/env bash
# What the browser and PDF tests of the report need: Debian's Chromium (driven by
# Playwright), poppler-utils (pdftotext, pdftoppm) and a CJK font for both.
# Idempotent: does nothing when all are present.
set -euo pipefail

have_all() {
  command -v chromium >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 \
    && command -v pdftotext >/dev/null 2>&1
}

if ! have_all; then
  echo "installing Chromium, poppler-utils and Noto CJK fonts for the report tests"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    chromium poppler-utils fonts-noto-cjk >/dev/null
fi
