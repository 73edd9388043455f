#!/usr/bin/env bash
# Trains on the 8-image overfit set until it detects those images: 300 steps at 640x640, batch 8, no augmentation,
# then the WIDER evaluation on the same images (resized to 640x640 as in training); fails unless easy AP >= 0.8.
# DATA is the set of `python ci/make_mini_widerface.py --overfit 8 --out DATA`; an empty DATA folder is filled
# with it first.
#   bash test/train_overfit.sh --data_path=DATA [--device=cpu|gpu|npu] [--output_path=DIR] [--steps=300]
#        [--batch_size=8]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/faceboxes.sh"
one_device "$@"
: >"$LOG_FILE"
STEPS="${STEPS:-300}"
BATCH_SIZE="${BATCH_SIZE:-8}"
if [[ -z "$(ls -A "$DATA_PATH")" ]]; then
  run_logged "$PYTHON" "$REPO_ROOT/ci/make_mini_widerface.py" --overfit 8 --out "$DATA_PATH" --quiet
fi
shards_of "$DATA_PATH" "$OUTPUT_PATH/train_shards" 2
new_run
train_args --data_path="$SHARDS" --image_size=640 --no_augmentation --shuffle_buffer_size=16 \
  --save_checkpoints_steps="$STEPS" --log_step_count_steps=25
run_logged "$PYTHON" "$MODEL_DIR/train.py" "${TRAIN_ARGS[@]}"
evaluate_run --image_size=640
"$PYTHON" - "$OUTPUT_PATH/eval_result.json" <<'PY' | tee -a "$LOG_FILE"
import json, sys
aps = json.load(open(sys.argv[1]))["aps"]
print("overfit AP easy %.3f medium %.3f hard %.3f (target: easy >= 0.8)" % (aps["easy"], aps["medium"], aps["hard"]))
sys.exit(0 if aps["easy"] >= 0.8 else 1)
PY
