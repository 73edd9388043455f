#!/usr/bin/env bash
# The zoo's smoke run: sets up .venv and the mini dataset if missing, then a short training plus WIDER
# evaluation of every model on --device cpu (default), gpu or npu. Writes ci/output/smoke_summary.{json,md}.
#   bash ci/smoke.sh [--device cpu|gpu|npu] [--models FaceBoxes,CenterFace] [--timeout SECONDS]
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash ci/setup_env.sh || { echo "[smoke] environment setup failed" >&2; exit 1; }
PY="${ZOO_VENV:-$ROOT/.venv}/bin/python"
export ONEDNN_MAX_CPU_ISA="${ONEDNN_MAX_CPU_ISA:-AVX2}"
export MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL=2 GLOG_v=3
DATA="${ZOO_MINI_DATA:-$ROOT/ci/data/mini_widerface}"
if [[ ! -f "$DATA/mini_widerface_meta.json" ]]; then
  echo "[smoke] generating the mini dataset at $DATA"
  "$PY" ci/make_mini_widerface.py --out "$DATA" || { echo "[smoke] mini dataset generation failed" >&2; exit 1; }
fi
exec "$PY" ci/smoke.py --data_path "$DATA" "$@"
