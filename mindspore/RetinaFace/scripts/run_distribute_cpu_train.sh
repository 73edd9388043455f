#!/usr/bin/env bash
# Data-parallel training on CPU with msrun (one process per worker):
#   bash scripts/run_distribute_cpu_train.sh WORKER_NUM DATA_PATH [train.py flags]
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "Usage: bash scripts/run_distribute_cpu_train.sh WORKER_NUM DATA_PATH [train.py flags]" >&2
  exit 2
fi
N="$1"; DATA_PATH="$2"; shift 2
[[ -f "$DATA_PATH/train/label.txt" ]] || { echo "error: DATA_PATH=$DATA_PATH has no train/label.txt" >&2; exit 2; }
DATA_PATH="$(cd "$DATA_PATH" && pwd)"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
export PATH="$(dirname "$PYTHON"):$PATH"
export ONEDNN_MAX_CPU_ISA="${ONEDNN_MAX_CPU_ISA:-AVX2}" GLOG_v="${GLOG_v:-3}"
# msrun's scheduler drops a worker whose heartbeat is late; busy CPUs need a longer grace period
export MS_NODE_TIMEOUT="${MS_NODE_TIMEOUT:-600}" MS_RECEIVE_MSG_TIMEOUT="${MS_RECEIVE_MSG_TIMEOUT:-600}"
export MS_CPU_COMM_OP_TIMEOUT="${MS_CPU_COMM_OP_TIMEOUT:-600}"
# a free TCP port for msrun's scheduler unless MASTER_PORT is set (a fixed port may be taken by another job)
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mkdir -p test/output
msrun --worker_num="$N" --local_worker_num="$N" --master_port="${MASTER_PORT:-$(free_port)}" --log_dir=test/output/msrun_log \
  --join=True train.py --is_distributed --device_target=CPU --data_path="$DATA_PATH" "$@" || {
  rc=$?; echo "error: training failed (rc $rc); last lines of the worker logs:" >&2
  tail -n 3 test/output/msrun_log/worker_*.log >&2; exit "$rc"; }
