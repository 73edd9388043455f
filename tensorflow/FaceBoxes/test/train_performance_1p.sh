#!/bin/bash
# Fixed number of training steps on one device; prints the training throughput (FPS = images/s).
#   bash test/train_performance_1p.sh --data_path=DATA [--output_path=DIR] [--steps=20] [--device=cpu|gpu|npu]
#        [--batch_size=16] [--image_size=1024]
source "$(dirname "$0")/common.sh"
output_path="${output_path:-$cur_path/test/output/train_performance_1p}"
steps="${steps:-20}"
mkdir -p "$output_path"
log="$cur_path/test/output/train_performance_1p.log"
shards=$(NUM_SHARDS=${NUM_SHARDS:-16} prepare_shards "$data_path" "$output_path/train_shards") || exit 1
rm -rf "$output_path/model"
args="--data_path=$shards --output_path=$output_path/model --steps=$steps --device=$device --save_checkpoints_steps=1000000 --log_step_count_steps=1 $extra_args"
[ -n "$batch_size" ] && args="$args --batch_size=$batch_size"
[ -n "$image_size" ] && args="$args --image_size=$image_size"
"$PYTHON" train.py $args 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
[ $rc -ne 0 ] && { echo "error: training failed (rc $rc), see $log" >&2; exit $rc; }
"$PYTHON" tools/train_throughput.py "$output_path/model/train_log.jsonl" --batch_size="${batch_size:-16}" | tee -a "$log"
