#!/usr/bin/env bash
# The zoo's smoke run: sets up .venv and the mini dataset if missing, then a short training plus WIDER
# evaluation of every model on --device cpu (default), gpu or npu. Writes ci/output/smoke_summary.{json,md}.
#   bash ci/smoke.sh [--device cpu|gpu|npu] [--models FaceBoxes,CenterFace] [--timeout SECONDS]
set -uo pipefail
TOOL=smoke
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
DATA="${ZOO_MINI_DATA:-$ROOT/ci/data/mini_widerface}"
ensure_mini_data "$DATA"
exec "$PY" ci/smoke.py --data_path "$DATA" "$@"
