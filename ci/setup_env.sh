#!/usr/bin/env bash
# Create or update the zoo's virtual environment (.venv at the repository root).
#   bash ci/setup_env.sh            # idempotent: a second run with nothing changed returns in well under 5 s
#   ZOO_VENV=/path bash ci/setup_env.sh
# Installs ci/requirements.txt (pinned), common/widerface_eval (editable), then whatever the models' own
# requirements.txt still need (constrained by the pins; ci/check_requirements.py decides, so that e.g.
# tensorflow>=1.15 is satisfied by tensorflow-cpu). A failed install names the package that failed.
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

log="$(mktemp)"
fail() { echo "[setup_env] ERROR: $*" >&2; exit 1; }

# 1. the pinned zoo packages (one resolver run; on failure, find the package that fails)
echo "[setup_env] installing the pinned packages of ci/requirements.txt"
if ! pip_install -r "$ROOT/ci/requirements.txt" >"$log" 2>&1; then
  echo "[setup_env] the combined install failed; retrying package by package to find the culprit" >&2
  failed=()
  while IFS= read -r line; do
    pkg="${line%%#*}"; pkg="$(echo "$pkg" | xargs)"
    [[ -z "$pkg" || "$pkg" == -* ]] && continue
    if ! pip_install "$pkg" -c "$ROOT/ci/requirements.txt" >>"$log" 2>&1; then failed+=("$pkg"); fi
  done <"$ROOT/ci/requirements.txt"
  if ((${#failed[@]})); then fail "could not install: ${failed[*]} (pip log: $log)"; fi
  grep -iE "error|conflict" "$log" | tail -5 >&2 || true
  fail "the combined install failed though each package installs alone (pip log: $log)"
fi
# 2. the shared evaluation package, editable
pip_install --no-deps -e "$ROOT/common/widerface_eval" >>"$log" 2>&1 \
  || fail "could not install common/widerface_eval (pip log: $log)"
# 3. what the models' own requirements.txt add (tensorflow>=1.15 is satisfied by tensorflow-cpu, etc.)
model_reqs=("${req_files[@]:1}")
if ((${#model_reqs[@]})); then
  extra="$("$VPY" "$ROOT/ci/check_requirements.py" "${model_reqs[@]}")" || fail "cannot read the models' requirements"
  if [[ -n "$extra" ]]; then
    while IFS= read -r pkg; do
      echo "[setup_env] installing $pkg (a model's requirements.txt)"
      pip_install "$pkg" -c "$ROOT/ci/requirements.txt" >>"$log" 2>&1 || fail "could not install: $pkg (pip log: $log)"
    done <<<"$extra"
  fi
fi
if ! "$VPY" -m pip check >>"$log" 2>&1; then
  "$VPY" -m pip check >&2 || true
  fail "pip check reports broken requirements (above)"
fi
rm -f "$log"
echo "$want" >"$STAMP"
echo "[setup_env] ready: $VENV"
