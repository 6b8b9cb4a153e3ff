#!/usr/bin/env bash
# Creates .venv with python-ref's pinned requirements; reuses it while the requirements are unchanged.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
req="$root/python-ref/requirements.txt"
venv="$root/.venv"
[ -f "$req" ] || exit 0
want=$(cat "$req" "$root/python-ref/pyproject.toml" 2>/dev/null | sha256sum | cut -c1-16)
if [ -f "$venv/.tc-req-hash" ] && [ "$(cat "$venv/.tc-req-hash")" = "$want" ]; then exit 0; fi
echo "[setup] preparing the Python environment in .venv (first run takes a few minutes)" >&2
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -r "$req" >&2
"$venv/bin/pip" install -q --no-deps -e "$root/python-ref" >&2
echo "$want" > "$venv/.tc-req-hash"
