#!/bin/bash
# Full single-device training (reference schedule: 240k steps, batch 16, 1024x1024), then WIDER val evaluation.
#   bash test/train_full_1p.sh --data_path=DATA [--output_path=DIR] [--steps=240000] [--device=cpu|gpu|npu]
source "$(dirname "$0")/common.sh"
output_path="${output_path:-$cur_path/test/output/train_full_1p}"
steps="${steps:-240000}"
mkdir -p "$output_path"
log="$cur_path/test/output/train_full_1p.log"
shards=$(prepare_shards "$data_path" "$output_path/train_shards") || exit 1
args="--data_path=$shards --output_path=$output_path/model --steps=$steps --device=$device $extra_args"
[ -n "$batch_size" ] && args="$args --batch_size=$batch_size"
[ -n "$image_size" ] && args="$args --image_size=$image_size"
echo "training: $PYTHON train.py $args (log: $log)"
"$PYTHON" train.py $args 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
[ $rc -ne 0 ] && { echo "error: training failed (rc $rc), see $log" >&2; exit $rc; }
if [ -d "$data_path/WIDER_val/images" ]; then
    "$PYTHON" eval.py --checkpoint="$output_path/model" --data_path="$data_path" \
        --output_path="$output_path/eval" --device="$device" 2>&1 | tee -a "$log"
    exit ${PIPESTATUS[0]}
fi
echo "no WIDER_val/images under $data_path: evaluation skipped"
