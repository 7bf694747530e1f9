#!/usr/bin/env bash
# Set up everything dataladder needs in .venv (idempotent: a second run only checks).
#   ./setup.sh          the package and its runtime dependencies
#   ./setup.sh --ray    also Ray, for `--executor ray`
#   ./setup.sh --test   also Ray and the test and benchmark tools (pytest, lm-eval, headless Chromium)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
EXTRAS=""
STAMP=".venv/.dataladder-setup"
if [[ "${1:-}" == "--test" ]]; then
  EXTRAS="[test,bench,ray]"
  STAMP=".venv/.dataladder-setup-test"
elif [[ "${1:-}" == "--ray" ]]; then
  EXTRAS="[ray]"
  STAMP=".venv/.dataladder-setup-ray"
fi
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
HASH=$(sha256sum pyproject.toml setup.sh | sha256sum | cut -c1-16)
if [[ ! -f $STAMP || "$(cat "$STAMP")" != "$HASH" ]]; then
  # torch first and pinned: the machine carries its CPU wheel; any other version pulls CUDA packages.
  .venv/bin/python -m pip install -q torch==2.13.0
  .venv/bin/python -m pip install -q -e ".$EXTRAS"
  echo "$HASH" > "$STAMP"
fi
if [[ $EXTRAS == *test* ]] && ! { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }; then
  # The report's browser test uses Debian's Chromium and ChromeDriver.
  SUDO=""; if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
