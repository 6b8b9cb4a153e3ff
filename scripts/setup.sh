#!/usr/bin/env bash
# One idempotent set-up for every entry point (npm start, npm test, .ci/run).
# Each step checks a stamp first, so a warm run costs a few seconds.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { echo "[setup] $*" >&2; }

# 1. npm packages: reinstall only when package-lock.json changed.
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if [ ! -f node_modules/.tc-lock-hash ] || [ "$(cat node_modules/.tc-lock-hash)" != "$lock_hash" ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$lock_hash" > node_modules/.tc-lock-hash
fi

# 2. TypeScript build (incremental: a no-op build takes about a second), then the interpreter's
#    WebAssembly kernels (interpreter/fast/wasm/*.wat) and the eigen back end's C++ runtime (each only when changed).
npx tsc -p tsconfig.json
node scripts/build-assets.mjs

# 3. Eigen headers for the C++ back end (see docs/compiler.md).
bash scripts/ensure-eigen.sh

# 4. The Python environment for python-ref (HF transformers, torch, jupyter).
bash scripts/ensure-python.sh

# 5. Headless Chromium for the JupyterLab browser test (Debian's chromium; skipped loudly without it).
bash scripts/ensure-browser.sh
