#!/usr/bin/env bash
# Run every test suite of the zoo, each in its own pytest process:
#   common/widerface_eval/tests, ci/tests, and <framework>/<Model>/tests (cwd = the model folder).
# Sets up .venv and the mini dataset if missing. Ends with one aggregate line "TOTAL: N passed, N failed".
#   bash ci/test.sh [suite-path ...] [-- pytest args]     e.g. bash ci/test.sh pytorch/CenterFace -- -k parity
set -uo pipefail
TOOL=test
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export ZOO_MINI_DATA="${ZOO_MINI_DATA:-$ROOT/ci/data/mini_widerface}"
export ZOO_SHARED="${ZOO_SHARED:-$ROOT/../shared}"
export PYTHONDONTWRITEBYTECODE=1
ensure_mini_data "$ZOO_MINI_DATA"

suites=(); pytest_args=()
while (($#)); do
  if [[ "$1" == "--" ]]; then shift; pytest_args=("$@"); break; fi
  suites+=("$1"); shift
done
if ((${#suites[@]} == 0)); then
  suites=(common/widerface_eval)
  [[ -d ci/tests ]] && suites+=(ci)
  for d in tensorflow/*/ pytorch/*/ mindspore/*/; do
    [[ -d "$d/tests" ]] && suites+=("${d%/}")
  done
fi

outdir="$ROOT/ci/output/tests"
mkdir -p "$outdir"
total_p=0; total_f=0; total_s=0; bad=0
summary=()
for s in "${suites[@]}"; do
  name="${s//\//_}"
  xml="$outdir/$name.xml"
  rm -f "$xml"
  echo
  echo "=============================== $s ==============================="
  start=$(date +%s)
  (cd "$ROOT/$s" && "$PY" -m pytest tests -q -p no:cacheprovider --junitxml="$xml" -o junit_family=xunit2 ${pytest_args[@]+"${pytest_args[@]}"})
  rc=$?
  secs=$(( $(date +%s) - start ))
  read -r p f sk < <("$PY" - "$xml" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print(0, 0, 0); sys.exit()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = sum(int(x.get("tests", 0)) for x in suites)
f = sum(int(x.get("failures", 0)) + int(x.get("errors", 0)) for x in suites)
s = sum(int(x.get("skipped", 0)) for x in suites)
print(t - f - s, f, s)
PYEOF
)
  if [[ $rc -ne 0 && $rc -ne 5 && $f -eq 0 ]]; then f=1; fi   # collection error, crash or interrupt
  if [[ $rc -eq 5 ]]; then echo "[test] $s: no tests collected"; fi
  ((total_p += p, total_f += f, total_s += sk))
  ((f > 0)) && bad=1
  summary+=("$(printf '%-28s %5d passed %4d failed %4d skipped %6ds' "$s" "$p" "$f" "$sk" "$secs")")
done
echo
echo "=============================== summary ==============================="
printf '%s\n' "${summary[@]}"
echo "TOTAL: $total_p passed, $total_f failed, $total_s skipped"
exit $bad
