#!/usr/bin/env bash
# Reference-style multi-GPU training:
#   bash scripts/run_distribute_gpu_train.sh DEVICE_NUM DEVICE_IDS [DATA_PATH] [train.py flags]
#   e.g. bash scripts/run_distribute_gpu_train.sh 4 0,1,2,3 /data/widerface
# Launches DEVICE_NUM data-parallel workers (batch 8 each) with msrun in the background; LAUNCHER=mpirun uses
# mpirun as the reference. DATA_PATH (default ./data/widerface) is relative to the current directory; rank 0 writes
# the run to test/output/distribute_gpu/ unless --output_path is given; logs in test/output/train.log.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "Usage: bash scripts/run_distribute_gpu_train.sh DEVICE_NUM DEVICE_IDS [DATA_PATH] [train.py flags]" >&2
  exit 2
fi
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
DEVICE_NUM="$1"; export CUDA_VISIBLE_DEVICES="$2"; shift 2
DATA_PATH="$(realpath -m "${1:-./data/widerface}")"; [[ $# -gt 0 ]] && shift
[[ -f "$DATA_PATH/train/label.txt" ]] || { echo "error: DATA_PATH=$DATA_PATH has no train/label.txt" >&2; exit 2; }
OUT="$MODEL_DIR/test/output"
mkdir -p "$OUT"
args=("$MODEL_DIR/train.py" --is_distributed --device_target=GPU --data_path="$DATA_PATH"
      --output_path="$OUT/distribute_gpu" "$@")
if [[ "${LAUNCHER:-msrun}" == "mpirun" ]]; then
  mpirun --allow-run-as-root -n "$DEVICE_NUM" --output-filename "$OUT/log_output" --merge-stderr-to-stdout \
    "$PYTHON" "${args[@]}" > "$OUT/train.log" 2>&1 &
else
  msrun_launch "$DEVICE_NUM" "$OUT/msrun_log" "${args[@]}" > "$OUT/train.log" 2>&1 &
fi
echo "training in the background; logs: $OUT/train.log (and $OUT/msrun_log/ or log_output/)"
