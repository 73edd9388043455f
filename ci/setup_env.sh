#!/usr/bin/env bash
# Create or update the zoo's virtual environment (.venv at the repository root).
#   bash ci/setup_env.sh            # idempotent: a second run with nothing changed returns in well under 5 s
#   ZOO_VENV=/path bash ci/setup_env.sh
# Installs ci/requirements.txt (pinned), every model's requirements.txt (constrained by the pins) and
# common/widerface_eval (editable). A failed install names the package that failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ZOO_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
STAMP="$VENV/.zoo_env_stamp"

req_files=("$ROOT/ci/requirements.txt")
while IFS= read -r f; do req_files+=("$f"); done < <(
  find "$ROOT/tensorflow" "$ROOT/pytorch" "$ROOT/mindspore" -mindepth 2 -maxdepth 2 -name requirements.txt 2>/dev/null | sort)

fingerprint() {
  { "$PY" --version 2>&1; cat "${req_files[@]}" "$ROOT/common/widerface_eval/pyproject.toml"; } | sha256sum | cut -d' ' -f1
}
want="$(fingerprint)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "[setup_env] $VENV is up to date"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "[setup_env] creating $VENV with $("$PY" --version 2>&1)"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
pip_install() { "$VPY" -m pip install --disable-pip-version-check -q "$@"; }

args=()
for f in "${req_files[@]}"; do args+=(-r "$f"); done
echo "[setup_env] installing ${#req_files[@]} requirement file(s) (pins: ci/requirements.txt)"
log="$(mktemp)"
if ! pip_install "${args[@]}" -c "$ROOT/ci/requirements.txt" >"$log" 2>&1; then
  echo "[setup_env] the combined install failed; retrying package by package to find the culprit" >&2
  failed=()
  while IFS= read -r line; do
    pkg="${line%%#*}"; pkg="$(echo "$pkg" | xargs)"
    [[ -z "$pkg" || "$pkg" == -* ]] && continue
    if ! pip_install "$pkg" -c "$ROOT/ci/requirements.txt" >>"$log" 2>&1; then failed+=("$pkg"); fi
  done < <(cat "${req_files[@]}")
  if ((${#failed[@]})); then
    echo "[setup_env] ERROR: could not install: ${failed[*]} (pip log: $log)" >&2
  else
    echo "[setup_env] ERROR: the combined install failed though each package installs alone (pip log: $log)" >&2
    grep -iE "error|conflict" "$log" | tail -5 >&2 || true
  fi
  exit 1
fi
if ! pip_install --no-deps -e "$ROOT/common/widerface_eval" >>"$log" 2>&1; then
  echo "[setup_env] ERROR: could not install common/widerface_eval (pip log: $log)" >&2
  exit 1
fi
if ! "$VPY" -m pip check >>"$log" 2>&1; then
  echo "[setup_env] ERROR: pip check reports broken requirements:" >&2
  "$VPY" -m pip check >&2 || true
  exit 1
fi
rm -f "$log"
echo "$want" >"$STAMP"
echo "[setup_env] ready: $VENV"
