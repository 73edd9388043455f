#!/usr/bin/env bash
# Overfit check: MobileNet0.25 from scratch (640x640, batch 8, lr 0.02, a 300-step schedule: one epoch is one batch of
# the 8 images) on the 8 images of an overfit set, evaluated on the same images (--val_origin_size) after every 100
# steps, until easy AP >= 0.8 or --steps (default 300); exit 1 when the target is not reached. --data_path is the overfit set: an empty folder gets one from
# python ci/make_mini_widerface.py --overfit 8 --out DIR. A fresh run unless --resume.
#   bash test/train_overfit.sh --data_path=DIR [--device=cpu|gpu|npu] [--device_id=N] [--output_path=DIR]
#        [--steps=300] [--batch_size=8] [--checkpoint=CKPT] [--resume=auto|CKPT] [any train.py flag]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/scripts/env.sh"
source "$MODEL_DIR/test/lib/args.sh"
refuse device_num "train_overfit.sh trains on one device"
refuse epochs "the overfit run's schedule is one epoch (one batch of the 8 images) per step: use --steps"
TARGET_EASY_AP=0.8
EVERY=100                                              # steps between two evaluations
RECIPE_STEPS=300                                       # the recipe's schedule (lr 0.02, cosine over 300 steps)
if [[ ! -f "$DATA_PATH/train/label.txt" ]]; then
  [[ -z "$(ls -A "$DATA_PATH")" ]] || die "--data_path=$DATA_PATH has no train/label.txt and is not empty (give an overfit set, or an empty folder to create one)"
  run_logged "$PYTHON" "$REPO_ROOT/ci/make_mini_widerface.py" --overfit 8 --out "$DATA_PATH" --quiet
fi
if [[ -f "$DATA_PATH/mini_widerface_meta.json" ]] && ! grep -q '"overfit"' "$DATA_PATH/mini_widerface_meta.json"; then
  die "--data_path=$DATA_PATH is a mini WIDER FACE set, not an overfit set (python ci/make_mini_widerface.py --overfit 8 --out DIR)"
fi
STEPS="${STEPS:-$RECIPE_STEPS}" BATCH_SIZE="${BATCH_SIZE:-8}"
SCHEDULE=$((STEPS > RECIPE_STEPS ? STEPS : RECIPE_STEPS))   # the same for any --steps up to 300: resumable
EXTRA_ARGS=(--backbone=mobilenet0.25 --image_size=640 --lr=0.02 --epoch="$SCHEDULE" --num_workers=2
            --save_checkpoint_steps="$EVERY" --val_origin_size ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"})
FINAL_STEPS="$STEPS"
fresh_output
for ((target = EVERY; ; target += EVERY)); do
  ((target < FINAL_STEPS)) || target="$FINAL_STEPS"
  STEPS="$target"
  build_args
  run_logged "$PYTHON" "$MODEL_DIR/train.py" "${TRAIN_ARGS[@]}"
  run_logged "$PYTHON" "$MODEL_DIR/eval.py" "${EVAL_ARGS[@]}" --checkpoint="$(latest_checkpoint)"
  easy="$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["aps"]["easy"])' "$OUTPUT_PATH/eval_result.json")"
  if "$PYTHON" -c 'import sys; sys.exit(float(sys.argv[1]) < float(sys.argv[2]))' "$easy" "$TARGET_EASY_AP"; then
    echo "overfit: easy AP $easy >= $TARGET_EASY_AP after $target steps" | tee -a "$LOG_FILE"
    exit 0
  fi
  if ((target >= FINAL_STEPS)); then
    echo "overfit: easy AP $easy < $TARGET_EASY_AP after $target steps" | tee -a "$LOG_FILE" >&2
    exit 1
  fi
  RESUME=auto                                          # the next round continues this run
done
