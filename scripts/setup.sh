#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine: the Debian packages the recipe's
# tests and the browser tests use (Python, PyTorch and ONNX from Debian: no PyPI here; Chromium), then
# the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
# chromium: the browser tests drive Debian's Chromium (Playwright cannot download its own here).
# python3-pytest-xdist: the recipe's tests run on every core (`npm test`), each test file on one of them.
DEB=(python3 python3-torch python3-onnx python3-numpy python3-scipy python3-pil python3-pytest python3-pytest-xdist
     libopenblas0-pthread chromium)
missing=()
for p in "${DEB[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# npm 11 asks before running install scripts; nothing here needs one (.npmrc skips onnxruntime-node's).
npm ci --no-audit --no-fund
