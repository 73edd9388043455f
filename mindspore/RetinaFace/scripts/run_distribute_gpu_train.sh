#!/usr/bin/env bash
# Reference-style multi-GPU training:  bash scripts/run_distribute_gpu_train.sh DEVICE_NUM DEVICE_IDS [DATA_PATH] [train.py flags]
#   e.g. bash scripts/run_distribute_gpu_train.sh 4 0,1,2,3 /data/widerface
# Launches DEVICE_NUM data-parallel workers (batch 8 each) with msrun; LAUNCHER=mpirun uses mpirun as the reference.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "Usage: bash scripts/run_distribute_gpu_train.sh DEVICE_NUM DEVICE_IDS [DATA_PATH] [train.py flags]" >&2
  exit 2
fi
DEVICE_NUM="$1"; DEVICE_IDS="$2"; shift 2
DATA_PATH="${1:-./data/widerface}"; [[ $# -gt 0 ]] && shift
[[ -f "$DATA_PATH/train/label.txt" ]] || { echo "error: DATA_PATH=$DATA_PATH has no train/label.txt" >&2; exit 2; }
DATA_PATH="$(cd "$DATA_PATH" && pwd)"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
export PATH="$(dirname "$PYTHON"):$PATH"
export CUDA_VISIBLE_DEVICES="$DEVICE_IDS"
# a free TCP port for msrun's scheduler unless MASTER_PORT is set (a fixed port may be taken by another job)
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mkdir -p test/output
if [[ "${LAUNCHER:-msrun}" == "mpirun" ]]; then
  mpirun --allow-run-as-root -n "$DEVICE_NUM" --output-filename test/output/log_output --merge-stderr-to-stdout \
    "$PYTHON" train.py --is_distributed --device_target=GPU --data_path="$DATA_PATH" "$@" > test/output/train.log 2>&1 &
else
  msrun --worker_num="$DEVICE_NUM" --local_worker_num="$DEVICE_NUM" --master_port="${MASTER_PORT:-$(free_port)}" \
    --log_dir=test/output/msrun_log --join=True \
    train.py --is_distributed --device_target=GPU --data_path="$DATA_PATH" "$@" > test/output/train.log 2>&1 &
fi
echo "training in the background; logs: test/output/train.log (and test/output/msrun_log/ or log_output/)"
