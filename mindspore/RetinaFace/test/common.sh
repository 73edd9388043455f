#!/usr/bin/env bash
# Sourced by the test/*.sh scripts: argument parsing, interpreter, environment, log folder.
#   --data_path=DIR (required)  --device=cpu|gpu|npu  --output_path=DIR  --backbone=resnet50|mobilenet0.25
#   --checkpoint=CKPT  --epochs=N  --steps=N  --device_num=N ; anything else is passed on to train.py
set -euo pipefail
MODEL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$MODEL_DIR"
export ONEDNN_MAX_CPU_ISA="${ONEDNN_MAX_CPU_ISA:-AVX2}"
export GLOG_v="${GLOG_v:-3}"
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
export PATH="$(dirname "$PYTHON"):$PATH"      # msrun lives next to the interpreter

DATA_PATH="" DEVICE="cpu" OUTPUT_PATH="" BACKBONE="resnet50" CHECKPOINT="" EPOCHS="" STEPS="" DEVICE_NUM=""
EXTRA_ARGS=()
for arg in "$@"; do
  case "$arg" in
    --data_path=*) DATA_PATH="${arg#*=}" ;;
    --device=*|--device_target=*) DEVICE="${arg#*=}" ;;
    --output_path=*) OUTPUT_PATH="${arg#*=}" ;;
    --backbone=*) BACKBONE="${arg#*=}" ;;
    --checkpoint=*) CHECKPOINT="${arg#*=}" ;;
    --epochs=*) EPOCHS="${arg#*=}" ;;
    --steps=*) STEPS="${arg#*=}" ;;
    --device_num=*) DEVICE_NUM="${arg#*=}" ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) EXTRA_ARGS+=("$arg") ;;
  esac
done
if [[ -z "$DATA_PATH" ]]; then
  echo "$(basename "$0"): error: --data_path=DIR is required (WIDER FACE root with train/label.txt, val/label.txt, ground_truth/)" >&2
  exit 2
fi
if [[ ! -d "$DATA_PATH" ]]; then
  echo "$(basename "$0"): error: --data_path=$DATA_PATH: no such directory" >&2
  exit 2
fi
DATA_PATH="$(cd "$DATA_PATH" && pwd)"
case "${DEVICE,,}" in
  cpu) DEVICE_TARGET=CPU ;; gpu) DEVICE_TARGET=GPU ;; npu|ascend) DEVICE_TARGET=Ascend ;;
  *) echo "$(basename "$0"): error: --device must be cpu, gpu or npu (got $DEVICE)" >&2; exit 2 ;;
esac
LOG_DIR="$MODEL_DIR/test/output"
OUTPUT_PATH="${OUTPUT_PATH:-$LOG_DIR}"
mkdir -p "$LOG_DIR" "$OUTPUT_PATH"
OUTPUT_PATH="$(cd "$OUTPUT_PATH" && pwd)"

# msrun's scheduler drops a worker whose heartbeat is late; busy CPUs need a longer grace period
export MS_NODE_TIMEOUT="${MS_NODE_TIMEOUT:-600}" MS_RECEIVE_MSG_TIMEOUT="${MS_RECEIVE_MSG_TIMEOUT:-600}"
export MS_CPU_COMM_OP_TIMEOUT="${MS_CPU_COMM_OP_TIMEOUT:-600}"

# a free TCP port for msrun's scheduler unless MASTER_PORT is set (a fixed port may be taken by another job)
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# launch N data-parallel workers with msrun (MindSpore's launcher) on one node
launch_distributed() {
  local n="$1"; shift
  msrun --worker_num="$n" --local_worker_num="$n" --master_port="${MASTER_PORT:-$(free_port)}" \
        --log_dir="$OUTPUT_PATH/msrun_log" --join=True "$@"
}
