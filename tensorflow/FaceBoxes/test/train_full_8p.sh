#!/bin/bash
# 8-device training: Ascend only (HCCL through npu_distributed_optimizer_wrapper, rank table file).
#   RANK_TABLE_FILE=/path/rank_table_8p.json bash test/train_full_8p.sh --data_path=DATA --device=npu [--steps=N]
source "$(dirname "$0")/common.sh"
if [ "$device" != "npu" ]; then
    echo "error: multi-device FaceBoxes training is Ascend-only (--device=npu with a RANK_TABLE_FILE); on $device use test/train_full_1p.sh" >&2
    exit 1
fi
if [ -z "$RANK_TABLE_FILE" ] || [ ! -f "$RANK_TABLE_FILE" ]; then
    echo "error: set RANK_TABLE_FILE to the HCCL rank table json of the 8 devices" >&2
    exit 1
fi
output_path="${output_path:-$cur_path/test/output/train_full_8p}"
steps="${steps:-${FACEBOXES_8P_STEPS:-30000}}"
mkdir -p "$output_path"
shards=$(prepare_shards "$data_path" "$output_path/train_shards") || exit 1
export RANK_SIZE=8
export JOB_ID=${JOB_ID:-10087}
pids=""
for ((i = 0; i < RANK_SIZE; i++)); do
    export RANK_ID=$i ASCEND_DEVICE_ID=$i DEVICE_ID=$i
    "$PYTHON" train.py --data_path="$shards" --output_path="$output_path/model" --steps="$steps" --device=npu \
        $extra_args > "$cur_path/test/output/train_full_8p_rank$i.log" 2>&1 &
    pids="$pids $!"
done
rc=0
for p in $pids; do wait "$p" || rc=1; done
[ $rc -ne 0 ] && { echo "error: a rank failed, see test/output/train_full_8p_rank*.log" >&2; exit 1; }
tail -n 3 "$cur_path/test/output/train_full_8p_rank0.log"
