#!/usr/bin/env bash
# Reference-style evaluation:  bash scripts/run_standalone_gpu_eval.sh DEVICE_ID CHECKPOINT [DATA_PATH] [eval.py flags]
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "Usage: bash scripts/run_standalone_gpu_eval.sh DEVICE_ID CHECKPOINT [DATA_PATH] [eval.py flags]" >&2
  exit 2
fi
export CUDA_VISIBLE_DEVICES="$1"; CKPT="$2"; shift 2
DATA_PATH="${1:-./data/widerface}"; [[ $# -gt 0 ]] && shift
[[ -f "$CKPT" ]] || { echo "error: checkpoint $CKPT not found" >&2; exit 2; }
[[ -f "$DATA_PATH/val/label.txt" ]] || { echo "error: DATA_PATH=$DATA_PATH has no val/label.txt" >&2; exit 2; }
CKPT="$(cd "$(dirname "$CKPT")" && pwd)/$(basename "$CKPT")"; DATA_PATH="$(cd "$DATA_PATH" && pwd)"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
mkdir -p test/output
"$PYTHON" eval.py --device_target=GPU --checkpoint="$CKPT" --data_path="$DATA_PATH" "$@" 2>&1 | tee test/output/eval.log
