#!/usr/bin/env bash
# Idempotent set-up, in levels, so each entry point prepares only what it needs:
#   main  npm packages, the TypeScript build and assets, Eigen        (npm start)
#   lab   main + the Python environment with JupyterLab               (npm run lab)
#   all   lab + headless Chromium for the JupyterLab browser test,    (npm test, npm run setup; the default)
#         and llama.cpp's prebuilt CPU binaries (node-llama-cpp) for the GGUF test
# Each step checks a stamp first, so a warm run costs a few seconds.
set -euo pipefail
level="${1:-all}"
case "$level" in main|lab|all) ;; *) echo "usage: scripts/setup.sh [main|lab|all]" >&2; exit 2 ;; esac
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
[ "$level" = main ] && exit 0

# 4. The Python environment for python-ref (HF transformers, torch, jupyter).
bash scripts/ensure-python.sh
[ "$level" = lab ] && exit 0

# 5. Headless Chromium for the JupyterLab browser test (Debian's chromium; skipped loudly without it).
bash scripts/ensure-browser.sh

# 6. llama.cpp (node-llama-cpp's prebuilt CPU binaries, ~85 MB, pinned in bench/llamacpp) for
#    tests/e2e/gguf.e2e.ts, which runs the peer's own loader on the GGUF files export-gguf writes.
#    Reinstalled only when its lock file changed; without it that test is skipped loudly.
node --input-type=module -e '
const m = await import("./dist/bench/llamacpp.js");
const err = m.ensureLlamaPackage((s) => console.error(s.replace("[bench]", "[setup]")));
if (err) console.error(`[setup] WARNING: ${err}: tests/e2e/gguf.e2e.ts will be skipped`);
'
