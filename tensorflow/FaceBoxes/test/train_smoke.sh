#!/usr/bin/env bash
# The zoo's smoke run: a few steps (default 30) at 384x384, batch 4, on DATA (the mini WIDER set), the WIDER val
# evaluation of the result at native size, then ci/smoke.py --summarize writes OUTPUT_PATH/smoke_result.json.
#   bash test/train_smoke.sh --data_path=DATA [--device=cpu|gpu|npu] [--output_path=DIR] [--steps=30]
#        [--batch_size=4] [--image_size=384]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/faceboxes.sh"
one_device "$@"
: >"$LOG_FILE"
STEPS="${STEPS:-30}"
BATCH_SIZE="${BATCH_SIZE:-4}"
shards_of "$DATA_PATH" "$OUTPUT_PATH/train_shards" 4
new_run
train_args --data_path="$SHARDS" --image_size=384 --shuffle_buffer_size=64 --save_checkpoints_steps="$STEPS" \
  --log_step_count_steps=10
run_logged "$PYTHON" "$MODEL_DIR/train.py" "${TRAIN_ARGS[@]}"
evaluate_run
run_logged "$PYTHON" "$REPO_ROOT/ci/smoke.py" --summarize "$OUTPUT_PATH"
