#!/usr/bin/env bash
# Installs the prebuilt JupyterLab extension for the .ta language (labextension/prebuilt, built by
# scripts/build-labextension.mjs) into the .venv's JupyterLab; a no-op while the copy is current.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/labextension/prebuilt"
dest="$root/.venv/share/jupyter/labextensions/tensorcore-lab"
[ -f "$src/package.json" ] && [ -d "$root/.venv/share/jupyter" ] || exit 0
if [ -d "$dest" ] && diff -rq "$src" "$dest" >/dev/null 2>&1; then exit 0; fi
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
cp -r "$src" "$dest"
echo "[setup] installed the .ta language extension into JupyterLab ($dest)" >&2
