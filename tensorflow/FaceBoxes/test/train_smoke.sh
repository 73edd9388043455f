#!/bin/bash
# Smoke run for the zoo harness: a few training steps at a small input size on the (mini) WIDER set, then WIDER
# val evaluation; writes OUTPUT_PATH/smoke_result.json.
#   bash test/train_smoke.sh --data_path=DATA --device=cpu --output_path=DIR [--steps=30]
source "$(dirname "$0")/common.sh"
output_path="${output_path:-$cur_path/test/output/smoke}"
steps="${steps:-30}"
batch_size="${batch_size:-4}"
image_size="${image_size:-384}"
mkdir -p "$output_path"
output_path="$(cd "$output_path" && pwd)"
log="$cur_path/test/output/train_smoke.log"
: > "$log"
shards=$(NUM_SHARDS=4 prepare_shards "$data_path" "$output_path/train_shards" 2>>"$log") || { cat "$log" >&2; exit 1; }
rm -rf "$output_path/model"
"$PYTHON" train.py --data_path="$shards" --output_path="$output_path/model" --steps="$steps" \
    --batch_size="$batch_size" --image_size="$image_size" --device="$device" --shuffle_buffer_size=64 \
    --save_checkpoints_steps="$steps" --log_step_count_steps=10 $extra_args >>"$log" 2>&1 \
    || { tail -n 20 "$log" >&2; echo "error: smoke training failed, see $log" >&2; exit 1; }
"$PYTHON" eval.py --checkpoint="$output_path/model" --data_path="$data_path" --output_path="$output_path/eval" \
    --device="$device" >>"$log" 2>&1 \
    || { tail -n 20 "$log" >&2; echo "error: smoke evaluation failed, see $log" >&2; exit 1; }
"$PYTHON" tools/smoke_result.py --train_log="$output_path/model/train_log.jsonl" \
    --eval_result="$output_path/eval/eval_result.json" --batch_size="$batch_size" \
    --output="$output_path/smoke_result.json" 2>>"$log"
