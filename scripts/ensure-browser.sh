#!/usr/bin/env bash
# Finds a headless Chromium for the JupyterLab browser test, or installs Debian's `chromium`
# when we are root. Quick (a file check) when it is already there; never fails set-up:
# without a browser the browser test reports itself as skipped.
set -uo pipefail
for b in "${TENSORCORE_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  [ -n "$b" ] && [ -x "$b" ] && exit 0
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[setup] installing chromium for the JupyterLab browser test" >&2
  (apt-get -o DPkg::Lock::Timeout=300 install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get -o DPkg::Lock::Timeout=300 install -y -q chromium >/dev/null 2>&1; }) && exit 0
fi
echo "[setup] warning: no chromium found; the JupyterLab browser test will be skipped. Install Debian's chromium or set TENSORCORE_CHROMIUM." >&2
exit 0
