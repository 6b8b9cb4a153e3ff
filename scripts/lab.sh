#!/usr/bin/env bash
# `npm run lab`: JupyterLab from the project's environment (.venv), with the TensorCore and tslab
# kernels installed into that environment and notebooks/ open. Arguments go to `jupyter lab`
# (`npm run lab -- --no-browser --port 8890`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh lab
venv="$root/.venv"
# Both kernelspecs go into the environment, not the user's home: rewritten each time (a few ms),
# so they always point at this checkout's node and build.
node bin/tensorcore.js kernel install --prefix "$venv" >/dev/null
if ! out=$(node_modules/.bin/tslab install --python "$venv/bin/python" --binary "$root/node_modules/.bin/tslab" --prefix "$venv" 2>&1); then
  echo "[lab] warning: the tslab kernel was not installed: $out" >&2
fi
echo "[lab] JupyterLab from $venv, kernels: TensorCore, TypeScript (tslab); notebooks in $root/notebooks" >&2
export PATH="$venv/bin:$PATH"
# Jupyter refuses to run as root without this (containers often are root).
root_flag=(); [ "$(id -u)" = 0 ] && root_flag=(--allow-root)
exec "$venv/bin/jupyter" lab --notebook-dir="$root/notebooks" "${root_flag[@]}" "$@"
