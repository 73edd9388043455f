#!/usr/bin/env bash
# Overfit check: the chenjun2hao configuration from scratch on an 8-image set whose val split is its train split
# (python ci/make_mini_widerface.py --overfit 8 --out DIR; generated into --data_path when that folder is empty),
# plain 384x384 letterbox (no augmentation; data loaded in the training process), Adam 2e-3, batch 8, no LR drop.
# After every 20 epochs (= steps) the WIDER evaluation of those images, until the easy AP reaches 0.8 (exit 0) or
# --epochs / --steps run out (exit 1).
#   bash test/train_overfit.sh --data_path=DIR [--device=cpu|gpu|npu] [--device_id=N] [--output_path=DIR]
#       [--epochs=N (default 400)] [--steps=N] [--batch_size=N] [--checkpoint=CKPT] [--resume=auto|CKPT] ...
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$MODEL_DIR/test/lib/model_args.sh"
one_device
TARGET=0.8 ROUND=20 LAST_EPOCH="${EPOCHS:-400}"
if [[ ! -e "$DATA_PATH/train/label.txt" ]]; then
  run_logged "$PYTHON" "$REPO_ROOT/ci/make_mini_widerface.py" --overfit 8 --out "$DATA_PATH" --quiet
elif ! grep -q '"overfit"' "$DATA_PATH/mini_widerface_meta.json" 2>/dev/null; then
  die "--data_path=$DATA_PATH: not an overfit set" \
      "(make one with: python ci/make_mini_widerface.py --overfit 8 --out DIR)"
fi
reached() {  # the easy AP of OUTPUT_PATH/eval_result.json is at least TARGET
  "$PYTHON" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["aps"]["easy"] < float(sys.argv[2]))' \
    "$OUTPUT_PATH/eval_result.json" "$TARGET"
}
last_logged() {  # KEY of the last line of OUTPUT_PATH/train_log.jsonl (0 without one)
  [[ -s "$OUTPUT_PATH/train_log.jsonl" ]] || { echo 0; return; }
  tail -n 1 "$OUTPUT_PATH/train_log.jsonl" |
    "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
first=$ROUND
if [[ -n "$RESUME" ]]; then first=$(( ($(last_logged epoch) / ROUND + 1) * ROUND )); fi  # the round after it
for ((epoch = first; ; epoch += ROUND)); do
  ((epoch < LAST_EPOCH)) || epoch=$LAST_EPOCH
  if ((epoch == first)); then start=(${NEW_RUN[@]+"${NEW_RUN[@]}"} ${START_ARGS[@]+"${START_ARGS[@]}"})
  else start=(--resume auto); fi
  run_logged "$PYTHON" "$MODEL_DIR/train.py" --input_size 384 --batch_size 8 --lr 2e-3 --lr_step 1000 --no_augment \
    --no_val --num_workers 0 --keep_checkpoints 1 "${RUN_ARGS[@]}" ${TRAIN_EXTRA[@]+"${TRAIN_EXTRA[@]}"} \
    --num_epochs "$epoch" "${start[@]}"
  evaluate
  if reached; then echo "train_overfit: easy AP >= $TARGET after epoch $epoch"; exit 0; fi
  last_step=$(last_logged step)
  if ((epoch >= LAST_EPOCH)) || [[ -n "$STEPS" && "$last_step" -ge "$STEPS" ]]; then break; fi
done
echo "train_overfit: easy AP below $TARGET at the limit (epoch $epoch, step $last_step)" >&2
exit 1
