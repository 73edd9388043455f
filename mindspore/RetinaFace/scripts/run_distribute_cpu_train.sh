#!/usr/bin/env bash
# Data-parallel training on CPU with msrun (one process per worker):
#   bash scripts/run_distribute_cpu_train.sh WORKER_NUM DATA_PATH [train.py flags]
# DATA_PATH is relative to the current directory; rank 0 writes the run to test/output/distribute_cpu/ unless
# --output_path is given; rank r logs to test/output/msrun_log/worker_r.log.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "Usage: bash scripts/run_distribute_cpu_train.sh WORKER_NUM DATA_PATH [train.py flags]" >&2
  exit 2
fi
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
N="$1"; DATA_PATH="$(realpath -m "$2")"; shift 2
mkdir -p "$MODEL_DIR/test/output"
msrun_launch "$N" "$MODEL_DIR/test/output/msrun_log" "$MODEL_DIR/train.py" --is_distributed --device_target=CPU \
  --data_path="$DATA_PATH" --output_path="$MODEL_DIR/test/output/distribute_cpu" "$@" || {
  rc=$?; echo "error: training failed (exit $rc); last lines of the worker logs:" >&2
  tail -n 3 "$MODEL_DIR"/test/output/msrun_log/worker_*.log >&2; exit "$rc"; }
