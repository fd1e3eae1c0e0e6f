#!/usr/bin/env bash
# Make sure a headless Chromium is on PATH for the report's rendering test (tests/test_report_html.py).
# Idempotent: does nothing when `chromium` is already installed. Installs Debian's package when root.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "[chromium] chromium is missing and we are not root: install it yourself (apt-get install chromium)" >&2
  exit 1
fi
echo "[chromium] installing chromium (Debian package)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "[chromium] $(chromium --version)"
