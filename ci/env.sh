# Sourced by ci/test.sh, ci/smoke.sh and ci/bench.sh (after setting TOOL to their log prefix): the repository root as
# working directory, the zoo's .venv created or brought up to date (ci/setup_env.sh) as $PY, the environment every
# model run gets, and ensure_mini_data DIR (generates the mini WIDER FACE there unless it is complete).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash ci/setup_env.sh || { echo "[$TOOL] environment setup failed" >&2; exit 1; }
PY="${ZOO_VENV:-$ROOT/.venv}/bin/python"
export ONEDNN_MAX_CPU_ISA="${ONEDNN_MAX_CPU_ISA:-AVX2}"   # MindSpore's oneDNN is ~100x slower here without it
export MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL=2 GLOG_v=3
# this checkout's evaluator, whichever checkout the venv's editable install points at (several worktrees, one venv)
export PYTHONPATH="$ROOT/common/widerface_eval${PYTHONPATH:+:$PYTHONPATH}"

ensure_mini_data() {
  if [[ ! -f "$1/mini_widerface_meta.json" ]]; then
    echo "[$TOOL] generating the mini dataset at $1"
    "$PY" ci/make_mini_widerface.py --out "$1" || { echo "[$TOOL] mini dataset generation failed" >&2; exit 1; }
  fi
}
