#!/usr/bin/env bash
# Ascend data-parallel training with an HCCL rank table (one process per NPU):
#   bash scripts/run_distribute_ascend_train.sh RANK_TABLE_FILE DEVICE_NUM DATA_PATH [train.py flags]
# (msrun also works on Ascend: bash test/train_full_8p.sh --data_path=DIR --device=npu)
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "Usage: bash scripts/run_distribute_ascend_train.sh RANK_TABLE_FILE DEVICE_NUM DATA_PATH [train.py flags]" >&2
  exit 2
fi
export RANK_TABLE_FILE="$(realpath "$1")"; export RANK_SIZE="$2"; DATA_PATH="$(realpath "$3")"; shift 3
[[ -f "$RANK_TABLE_FILE" ]] || { echo "error: rank table $RANK_TABLE_FILE not found" >&2; exit 2; }
[[ -f "$DATA_PATH/train/label.txt" ]] || { echo "error: DATA_PATH=$DATA_PATH has no train/label.txt" >&2; exit 2; }
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
mkdir -p test/output
for ((i = 0; i < RANK_SIZE; i++)); do
  export DEVICE_ID=$i RANK_ID=$i
  "$PYTHON" train.py --is_distributed --device_target=Ascend --data_path="$DATA_PATH" "$@" \
    > "test/output/train_rank$i.log" 2>&1 &
done
echo "$RANK_SIZE processes started; logs: test/output/train_rank*.log"
wait
