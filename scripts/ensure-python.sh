#!/usr/bin/env bash
# Creates .venv with python-ref's pinned requirements; reuses it while the requirements are unchanged.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
req="$root/python-ref/requirements.txt"
venv="$root/.venv"
[ -f "$req" ] || exit 0
want=$(cat "$req" "$root/python-ref/pyproject.toml" 2>/dev/null | sha256sum | cut -c1-16)
# The .venv sits under the project's package.json ("type": "module"), so Node would load the
# CommonJS scripts Python packages ship (jupyter_builder's yarn.js, which JupyterLab runs) as ES
# modules and fail ("Dynamic require of "util" is not supported"). This package.json, the nearest
# one for every file in .venv, says they are CommonJS.
write_pkg() { [ -f "$venv/package.json" ] || { mkdir -p "$venv" && echo '{"type": "commonjs"}' > "$venv/package.json"; }; }
# The .ta language extension for JupyterLab is installed whether or not pip had work to do.
if [ -f "$venv/.tc-req-hash" ] && [ "$(cat "$venv/.tc-req-hash")" = "$want" ]; then write_pkg; bash "$root/scripts/ensure-labextension.sh"; exit 0; fi
echo "[setup] preparing the Python environment in .venv (first run takes a few minutes)" >&2
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
write_pkg
# pip's output goes to a log (the local indexes make it chatty); it is shown only if pip fails.
log="$venv/pip-install.log"
if ! { "$venv/bin/pip" install -q -r "$req" && "$venv/bin/pip" install -q --no-deps -e "$root/python-ref"; } >"$log" 2>&1; then
  grep -v "is ignored: it is neither a file nor a directory" "$log" >&2
  echo "[setup] pip failed; see $log" >&2
  exit 1
fi
echo "$want" > "$venv/.tc-req-hash"
bash "$root/scripts/ensure-labextension.sh"
