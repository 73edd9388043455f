#!/usr/bin/env bash
# A short data-parallel training run on --device_num workers (as train_full_8p.sh) that prints ModelZoo's
# "Final Performance images/sec : N" for all workers together (global batch / median step time after the first 2).
# Defaults: 20 steps, batch 16 per worker, 1024x1024.
#   bash test/train_performance_8p.sh --data_path=DATA [--device=cpu|gpu|npu] [--device_num=N] [--steps=20]
#        [--batch_size=16] [--image_size=1024] [--output_path=DIR]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/faceboxes.sh"
: >"$LOG_FILE"
STEPS="${STEPS:-20}"
shards_of "$DATA_PATH" "$OUTPUT_PATH/train_shards" 16
new_run
train_args --data_path="$SHARDS" --save_checkpoints_steps=1000000 --log_step_count_steps=1
launch_workers "${TRAIN_ARGS[@]}"
