#!/usr/bin/env bash
# Reference-style evaluation on one GPU:
#   bash scripts/run_standalone_gpu_eval.sh DEVICE_ID CHECKPOINT [DATA_PATH] [eval.py flags]
# DATA_PATH (default ./data/widerface) and CHECKPOINT are relative to the current directory; results go to
# test/output/eval/ (eval_result.json, predictions/) unless --output_path is given; the log to test/output/eval.log.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "Usage: bash scripts/run_standalone_gpu_eval.sh DEVICE_ID CHECKPOINT [DATA_PATH] [eval.py flags]" >&2
  exit 2
fi
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export CUDA_VISIBLE_DEVICES="$1"; CKPT="$(realpath -m "$2")"; shift 2
DATA_PATH="$(realpath -m "${1:-./data/widerface}")"; [[ $# -gt 0 ]] && shift
mkdir -p "$MODEL_DIR/test/output"
"$PYTHON" "$MODEL_DIR/eval.py" --device_target=GPU --checkpoint="$CKPT" --data_path="$DATA_PATH" \
  --output_path="$MODEL_DIR/test/output/eval" "$@" 2>&1 | tee "$MODEL_DIR/test/output/eval.log"
