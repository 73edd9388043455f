#!/usr/bin/env bash
# Ascend data-parallel training with an HCCL rank table (one process per NPU):
#   bash scripts/run_distribute_ascend_train.sh RANK_TABLE_FILE DEVICE_NUM DATA_PATH [train.py flags]
# (msrun also works on Ascend: bash test/train_full_8p.sh --data_path=DIR --device=npu)
# Paths are relative to the current directory; rank 0 writes the run to test/output/distribute_ascend/ unless
# --output_path is given; rank r logs to test/output/train_rank<r>.log. All ranks stop when one fails; the script
# exits with that rank's status (0 when every rank finished).
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "Usage: bash scripts/run_distribute_ascend_train.sh RANK_TABLE_FILE DEVICE_NUM DATA_PATH [train.py flags]" >&2
  exit 2
fi
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export RANK_TABLE_FILE="$(realpath -m "$1")" RANK_SIZE="$2"; DATA_PATH="$(realpath -m "$3")"; shift 3
[[ "$RANK_SIZE" =~ ^[1-9][0-9]*$ ]] || { echo "error: DEVICE_NUM must be a whole number > 0 (got '$RANK_SIZE')" >&2; exit 2; }
[[ -f "$RANK_TABLE_FILE" ]] || { echo "error: rank table $RANK_TABLE_FILE not found" >&2; exit 2; }
[[ -f "$DATA_PATH/train/label.txt" ]] || { echo "error: DATA_PATH=$DATA_PATH has no train/label.txt" >&2; exit 2; }
OUT="$MODEL_DIR/test/output"
mkdir -p "$OUT"
pids=()
for ((i = 0; i < RANK_SIZE; i++)); do
  DEVICE_ID=$i RANK_ID=$i "$PYTHON" "$MODEL_DIR/train.py" --is_distributed --device_target=Ascend \
    --data_path="$DATA_PATH" --output_path="$OUT/distribute_ascend" "$@" > "$OUT/train_rank$i.log" 2>&1 &
  pids+=("$!")
done
echo "$RANK_SIZE processes started; logs: $OUT/train_rank*.log"
for ((left = RANK_SIZE; left > 0; left--)); do
  rc=0
  wait -n || rc=$?
  if ((rc != 0)); then                    # one rank failed: the others would wait for it in HCCL forever
    kill "${pids[@]}" 2>/dev/null || true
    wait || true
    echo "error: a rank failed (exit $rc), all stopped; last lines of the rank logs:" >&2
    for ((i = 0; i < RANK_SIZE; i++)); do tail -n 3 "$OUT/train_rank$i.log" >&2; done
    exit "$rc"
  fi
done
