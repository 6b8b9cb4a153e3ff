#!/usr/bin/env bash
# Finds Eigen 3.4 headers, or installs them: Debian's libeigen3-dev when we are root,
# otherwise nothing can be installed system-wide and we say how to fix it.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for d in "${EIGEN_INCLUDE_DIR:-}" /usr/include/eigen3 /usr/local/include/eigen3 "$root/.cache/eigen3"; do
  [ -n "$d" ] && [ -f "$d/Eigen/Core" ] && exit 0
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[setup] installing Eigen headers (libeigen3-dev)" >&2
  (apt-get -o DPkg::Lock::Timeout=300 install -y -q libeigen3-dev >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get -o DPkg::Lock::Timeout=300 install -y -q libeigen3-dev >/dev/null 2>&1; }) && exit 0
fi
echo "[setup] warning: no Eigen headers found; the eigen back end will be unavailable. Install libeigen3-dev or set EIGEN_INCLUDE_DIR." >&2
exit 0
