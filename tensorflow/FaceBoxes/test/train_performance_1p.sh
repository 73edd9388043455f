#!/usr/bin/env bash
# A short training run on one device that prints ModelZoo's "Final Performance images/sec : N" (median step time
# after the first 2 steps, data loading included). Defaults: 20 steps, batch 16, 1024x1024 (the reference's).
#   bash test/train_performance_1p.sh --data_path=DATA [--steps=20] [--batch_size=16] [--image_size=1024]
#        [--device=cpu|gpu|npu] [--device_id=N] [--output_path=DIR]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/faceboxes.sh"
one_device "$@"
: >"$LOG_FILE"
STEPS="${STEPS:-20}"
shards_of "$DATA_PATH" "$OUTPUT_PATH/train_shards" 16
new_run
train_args --data_path="$SHARDS" --save_checkpoints_steps=1000000 --log_step_count_steps=1
run_logged "$PYTHON" "$MODEL_DIR/train.py" "${TRAIN_ARGS[@]}"
